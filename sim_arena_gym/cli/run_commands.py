"""``sim-arena run``, ``demo``, ``agents`` and ``scenarios``: run policies on scenarios and traces.

Examples::

    sim-arena demo
    sim-arena run --scenario canonical-mixed-errors --policy oracle --render ansi
    sim-arena run --scenario canonical-very-bad-cpu --policy heuristic --save-trace fixed.sktrace
    sim-arena run --trace fixed.sktrace --workload shop/web --target 3 --policy noop
    sim-arena agents
    sim-arena scenarios --set canonical
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from sim_arena_gym.cli import UsageError
from sim_arena_gym.cli.backend_flags import add_backend_arguments, backend_config

#: Largest ``--steps`` (every run bounded).
MAX_STEPS = 100_000


def bounded_int(low: int, high: int) -> Any:
    """An argparse ``type`` for an integer within ``[low, high]`` (a usage error otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: expected {low} to {high}")
        return value

    parse.__name__ = "integer"
    return parse


#: The scenario ``sim-arena demo`` runs by default.
DEMO_SCENARIO = "canonical-slightly-bad-cpu"
#: The env's reward modes (``sim_arena_gym.env.rewards.REWARDS``), written out so that building the parser
#: imports no env code; tests/test_cli_help.py keeps the two equal.
REWARD_MODES = ("binary", "gradual", "penalty")


def register(commands: Any, trace_commands: Any) -> None:
    """Add ``run``, ``demo``, ``agents`` and ``scenarios``."""
    run = commands.add_parser(
        "run",
        help="run a policy on a scenario or a trace, step by step",
        description=(
            "Run one episode of a policy on a scenario (by id) or on any SimKube trace, printing every step: "
            "the action, why it was blocked, the pods Ready/Pending/total, the reward and the scheduler's message."
        ),
    )
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--scenario", metavar="ID", help="scenario id (see `sim-arena scenarios`)")
    source.add_argument("--trace", metavar="FILE", type=Path, help="a SimKube trace (.sktrace or .json)")
    run.add_argument("--workload", metavar="NS/NAME",
                     help="with --trace: the Deployment to repair (default: the trace's only Deployment)")
    run.add_argument("--nodes", metavar="JSON",
                     help='with --trace: node pools, e.g. \'{"count": 3, "cpu": "16", "memory": "32Gi"}\' '
                          "(default: 3 nodes of 16 CPU / 32Gi)")
    run.add_argument("--target", metavar="N", type=bounded_int(1, 10_000),
                     help="with --trace: Ready replicas wanted (default: the workload's replicas)")
    run.add_argument("--floors", metavar="JSON",
                     help='with --trace: usage floors per container, e.g. \'{"web": {"cpu": "500m", "memory": "1Gi"}}\'')
    _episode_options(run, policy_default="heuristic")
    run.add_argument("--save-trace", metavar="OUT", type=Path,
                     help="write the repaired trace (a valid SimKube trace) to OUT after the episode; never onto "
                          "the input trace, a scenario's trace file or the committed set (traces/) without "
                          "--overwrite, and never onto a directory, device or symlink")
    run.add_argument("--overwrite", action="store_true",
                     help="with --save-trace: allow replacing the input trace or a committed scenario file")
    run.set_defaults(func=cmd_run)

    demo = commands.add_parser(
        "demo",
        help="a demo episode: the heuristic agent repairs a canonical scenario (what `make demo` runs)",
        description="Watch the heuristic agent repair a canonical scenario, with the cluster drawn at every step.",
    )
    demo.add_argument("--scenario", metavar="ID", default=DEMO_SCENARIO,
                      help=f"a canonical scenario (default {DEMO_SCENARIO})")
    demo.add_argument("--policy", metavar="NAME", default="heuristic", help="policy (default heuristic)")
    add_backend_arguments(demo)
    demo.set_defaults(func=cmd_demo)

    ag = commands.add_parser("agents", help="list the policies usable with --policy",
                             description="List the policies usable with --policy, each with what it does.")
    ag.set_defaults(func=cmd_agents)

    sc = commands.add_parser("scenarios", help="list scenarios",
                             description="List the scenarios of a set: id, family, split, target, oracle steps, description.")
    sc.add_argument("--set", dest="set_name", metavar="NAME", default="all",
                    help="train, test, canonical, all (default) or the path of an index.json")
    sc.set_defaults(func=cmd_scenarios)


def _episode_options(p: argparse.ArgumentParser, *, policy_default: str) -> None:
    p.add_argument("--policy", metavar="NAME", default=policy_default,
                   help=f"policy (default {policy_default}; see `sim-arena agents`)")
    p.add_argument("--reward-mode", choices=REWARD_MODES, default="gradual", help="reward mode (default gradual)")
    p.add_argument("--steps", metavar="N", type=bounded_int(1, MAX_STEPS), default=20,
                   help=f"step budget, 1 to {MAX_STEPS} (default 20)")
    p.add_argument("--seed", metavar="S", type=bounded_int(0, 2**63 - 1), default=0,
                   help="seed for reset and the policy, a non-negative integer (default 0)")
    p.add_argument("--render", choices=("ansi", "none"), default="none",
                   help="draw the cluster after every step (ansi) or not (default)")
    add_backend_arguments(p)


# ---------------------------------------------------------------------------------------------------
# Lookups


def find_scenario(scenario_id: str) -> Any:
    """The scenario called ``scenario_id``: a canonical demo (held in memory) or any scenario of the
    default index. Raises ``UsageError`` naming close matches."""
    from sim_arena_gym.scenarios.generate import canonical_scenarios

    known = {s.id: s for s in canonical_scenarios()}
    if scenario_id in known:
        return known[scenario_id]
    try:
        from sim_arena_gym.scenarios.index import load_scenario_set

        for s in load_scenario_set("all"):
            known.setdefault(s.id, s)
    except Exception:  # no index on this machine: only the canonical demos are known
        pass
    if scenario_id in known:
        return known[scenario_id]
    close = difflib.get_close_matches(scenario_id, list(known), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; list them with `sim-arena scenarios`"
    raise UsageError(f"unknown scenario {scenario_id!r}{hint}")


def _policy(name: str, env: Any, seed: int) -> Any:
    import agents

    if name not in agents.available():
        close = difflib.get_close_matches(name, agents.available(), n=2)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"unknown policy {name!r}{hint} (available: {', '.join(agents.available())})")
    kwargs = {"seed": seed} if name == "random" else {}
    return agents.make(name, env=env, **kwargs)


def _json_arg(text: str | None, flag: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{flag}: not valid JSON ({exc.msg} at column {exc.colno}): {text}") from None


def build_env(args: argparse.Namespace, *, render: str | None) -> Any:
    """The env an invocation of ``run`` describes (``UsageError`` for bad input)."""
    from sim_arena_gym.env.simkube_env import SimKubeEnv, scenario_from_trace

    if not 1 <= args.steps <= MAX_STEPS:
        raise UsageError(f"--steps {args.steps}: must be within [1, {MAX_STEPS}]")
    if getattr(args, "trace", None) is not None:
        try:
            scenario = scenario_from_trace(
                args.trace,
                workload=args.workload,
                nodes=_json_arg(args.nodes, "--nodes"),
                target=args.target,
                usage_floors=_json_arg(args.floors, "--floors"),
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    else:
        for flag in ("workload", "nodes", "target", "floors"):
            if getattr(args, flag, None) is not None:
                raise UsageError(f"--{flag} goes with --trace, not --scenario")
        scenario = find_scenario(args.scenario)
    return SimKubeEnv(
        scenarios=[scenario], reward_mode=args.reward_mode, max_steps=args.steps, render_mode=render,
        **backend_config(args),
    )


# ---------------------------------------------------------------------------------------------------
# The episode printer


def _requests_text(info: dict[str, Any]) -> str:
    parts = []
    for name, req in info["requests"].items():
        res = ", ".join(f"{k} {v}" for k, v in req.items()) or "no requests"
        lim = info["limits"].get(name) or {}
        if lim:
            res += " (limits " + ", ".join(f"{k} {v}" for k, v in lim.items()) + ")"
        parts.append(f"{name}: {res}")
    return "; ".join(parts)


def _pods_text(info: dict[str, Any]) -> str:
    text = f"{info['ready']}/{info['target']} Ready, {info['pending']} Pending, {info['total']} total"
    if info.get("oom_killed"):
        text += f", {info['oom_killed']} OOMKilled"
    if info.get("throttled"):
        text += f", {info['throttled']} throttled"
    return text


def _changes(start: dict[str, Any], end: dict[str, Any]) -> list[str]:
    out = []
    for name, req in end["requests"].items():
        before = start["requests"].get(name, {})
        for key, value in req.items():
            if before.get(key) != value:
                out.append(f"{name} {key} request {before.get(key, 'unset')} -> {value}")
    for name, lim in end["limits"].items():
        before = start["limits"].get(name, {})
        for key, value in lim.items():
            if before.get(key) != value:
                out.append(f"{name} {key} limit {before.get(key, 'unset')} -> {value}")
    if start["replicas"] != end["replicas"]:
        out.append(f"replicas {start['replicas']} -> {end['replicas']}")
    return out


def run_episode(env: Any, policy: Any, policy_name: str, *, seed: int, render: bool, out: TextIO) -> dict[str, Any]:
    """Run one episode, printing it; returns a summary dict."""
    u = env.unwrapped
    obs, info = env.reset(seed=seed)
    scenario = u.scenario
    start = info
    w = out.write
    w(f"scenario  {scenario.id}  ({scenario.workload}, target {info['target']} Ready)\n")
    if scenario.description:
        w(f"          {scenario.description}\n")
    w(f"policy    {policy_name}, reward mode {u.config['reward_mode']}, budget {u.max_steps} steps, seed {seed}\n")
    w(f"start     {_pods_text(info)}; replicas {info['replicas']}; {_requests_text(info)}\n")
    if info["scheduling_message"]:
        w(f"          pending: {info['scheduling_message']}\n")
    if render:
        w("\n" + env.render().rstrip() + "\n")
    total_reward = 0.0
    steps = 0
    terminated = truncated = False
    if info["success"]:
        w("\nthe workload is already healthy: nothing to repair\n")
    else:
        w("\n")
        while not (terminated or truncated):
            action = policy.act(obs, info)
            obs, reward, terminated, truncated, info = env.step(action)
            steps += 1
            total_reward += reward
            w(f"step {steps:>2}  {info['action']:<13}  {_pods_text(info):<36}  reward {reward:+.3f}\n")
            if info["blocked"]:
                w(f"         blocked: {info['blocked']}\n")
            if info["scheduling_message"]:
                w(f"         pending: {info['scheduling_message']}\n")
            if render:
                w("\n" + env.render().rstrip() + "\n\n")
    success = bool(info["success"])
    w("\n")
    if success:
        verdict = f"REPAIRED in {steps} step{'s' if steps != 1 else ''}"
    elif truncated:
        verdict = f"NOT REPAIRED: the {u.max_steps}-step budget ran out"
    else:
        verdict = "NOT REPAIRED"
    oracle = scenario.oracle_steps
    w(f"result    {verdict}" + (f" (oracle: {oracle})" if oracle is not None else "") + f", return {total_reward:+.3f}\n")
    w(f"final     {_pods_text(info)}; replicas {info['replicas']}; {_requests_text(info)}\n")
    changes = _changes(start, info)
    w(f"changes   {'; '.join(changes) if changes else 'none'}\n")
    return {"success": success, "steps": steps, "return": total_reward, "info": info}


def _nodes_arg(scenario: Any) -> str:
    from sim_arena_gym.scenarios.model import NodePool

    default = NodePool()
    pools = []
    for p in scenario.node_pools:
        d: dict[str, Any] = {"count": p.count, "cpu": p.cpu, "memory": p.memory}
        if p.pods != default.pods:
            d["pods"] = p.pods
        if len(scenario.node_pools) > 1:
            d["name"] = p.name
        if dict(p.labels) != dict(default.labels):
            d["labels"] = dict(p.labels)
        if tuple(p.taints) != tuple(default.taints):
            d["taints"] = [t.to_dict() for t in p.taints]
        pools.append(d)
    return json.dumps(pools[0] if len(pools) == 1 else pools, separators=(",", ":"))


def _save(env: Any, path: Path, out: TextIO, *, overwrite: bool = False) -> None:
    from sim_arena_gym.trace.codec import save_trace

    u = env.unwrapped
    scenario = u.scenario
    written = save_trace(u.current_trace(), path, overwrite=overwrite, protected=[scenario.trace_path])
    ref = scenario.workload
    workload = f"{ref.namespace}/{ref.name}" if ref.kind == "Deployment" else str(ref)
    cmd = f"sim-arena run --trace {written} --workload {workload} --nodes '{_nodes_arg(scenario)}' --target {u.constants.target}"
    if scenario.usage_floors:
        cmd += f" --floors '{json.dumps({k: dict(v) for k, v in scenario.usage_floors.items()}, separators=(',', ':'))}'"
    out.write(f"saved     {written}\n          rerun: {cmd}\n")


# ---------------------------------------------------------------------------------------------------
# Commands


def cmd_run(args: argparse.Namespace) -> int:
    """``sim-arena run``: one episode of a policy on a scenario or trace; exit 0."""
    render = args.render == "ansi"
    if args.save_trace is not None:  # refuse a bad destination before running the episode
        from sim_arena_gym.trace.files import check_destination

        check_destination(args.save_trace, overwrite=args.overwrite, protected=[getattr(args, "trace", None)])
    env = build_env(args, render="ansi" if render else None)
    try:
        policy = _policy(args.policy, env, args.seed)
        run_episode(env, policy, args.policy, seed=args.seed, render=render, out=sys.stdout)
        if args.save_trace is not None:
            _save(env, args.save_trace, sys.stdout, overwrite=args.overwrite)
    finally:
        env.close()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``sim-arena demo``: a rendered episode on a canonical scenario; exit 1 when not repaired."""
    from sim_arena_gym.env.simkube_env import SimKubeEnv
    from sim_arena_gym.scenarios.generate import canonical_scenarios

    canon = {s.id: s for s in canonical_scenarios()}
    if args.scenario not in canon:
        raise UsageError(f"demo scenario {args.scenario!r}: choose a canonical one: {', '.join(canon)}")
    env = SimKubeEnv(scenarios=[canon[args.scenario]], render_mode="ansi", **backend_config(args))
    try:
        policy = _policy(args.policy, env, 0)
        out = sys.stdout
        out.write(
            "sim-arena demo: a Deployment's pods stay Pending because they ask for more than the nodes have.\n"
            f"The {args.policy} agent edits its requests and replicas; every step re-simulates the trace.\n\n"
        )
        result = run_episode(env, policy, args.policy, seed=0, render=True, out=out)
        out.write(
            "\nTry: sim-arena run --scenario canonical-mixed-errors --policy oracle --render ansi\n"
            "     sim-arena agents        (the policies)\n"
            "     sim-arena scenarios     (the scenario sets)\n"
        )
    finally:
        env.close()
    return 0 if result["success"] else 1


def cmd_agents(args: argparse.Namespace) -> int:
    """``sim-arena agents``: list the policies."""
    import agents

    rows = agents.describe()
    width = max(len(n) for n in rows)
    for name, text in rows.items():
        print(f"{name:<{width}}  {text}")
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    """``sim-arena scenarios``: list the scenarios of a set."""
    from sim_arena_gym.scenarios.generate import canonical_scenarios

    name = args.set_name
    if name == "canonical":
        scenarios = canonical_scenarios()
        try:
            from sim_arena_gym.scenarios.index import load_scenario_set

            indexed = {s.id: s for s in load_scenario_set("canonical")}
            scenarios = [indexed.get(s.id, s) for s in scenarios]
        except Exception:
            pass
    else:
        from sim_arena_gym.scenarios.index import load_scenario_set

        try:
            scenarios = load_scenario_set(name)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    rows = [
        (s.id, s.family, s.split or "-", str(s.target_replicas if s.target_replicas is not None else "-"),
         "-" if s.oracle_steps is None else str(s.oracle_steps), s.description)
        for s in scenarios
    ]  # fmt: skip
    head = ("ID", "FAMILY", "SPLIT", "TARGET", "ORACLE", "DESCRIPTION")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    print("  ".join(h.ljust(widths[i]) if i < 5 else h for i, h in enumerate(head)))
    for r in rows:
        print("  ".join(c.ljust(widths[i]) if i < 5 else c for i, c in enumerate(r)))
    print(f"\n{len(rows)} scenario{'s' if len(rows) != 1 else ''}")
    return 0

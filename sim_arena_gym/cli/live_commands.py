"""``sim-arena serve`` and ``sim-arena mcp``: the live cluster for tool-using agents (docs/LIVE_CLUSTER.md).

Examples::

    sim-arena serve --scenario canonical-very-bad-cpu --port 6443 --kubeconfig-out /tmp/live.kubeconfig
    kubectl --kubeconfig /tmp/live.kubeconfig -n shop describe pod
    kubectl --kubeconfig /tmp/live.kubeconfig -n shop set resources deploy/web --requests=cpu=16
    sim-arena mcp --scenarios canonical        # MCP tools over stdio
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from sim_arena_gym.cli import UsageError
from sim_arena_gym.cli.run_commands import REWARD_MODES


def register(commands: Any, trace_commands: Any) -> None:
    """Add ``serve`` and ``mcp``."""
    p = commands.add_parser(
        "serve",
        help="serve a scenario as a live Kubernetes cluster (127.0.0.1) that kubectl can inspect and repair",
        description=(
            "An API server on 127.0.0.1 presenting one scenario as a running cluster: nodes, namespaces, "
            "Deployments, ReplicaSets, Pods and Events. Repairs of the target workload (kubectl set resources, "
            "kubectl scale, kubectl patch of any type, PUT) are validated, checked against the env's safeguards, "
            "re-simulated and scored as Gym env steps; other writes are refused. GET /sim-arena/v1/episode gives "
            "the episode; on exit (Ctrl-C, SIGTERM, or --exit-when-done) the final report is printed as JSON."
        ),
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--scenario", metavar="ID", help="scenario id (see `sim-arena scenarios`)")
    source.add_argument("--trace", metavar="FILE", type=Path, help="a SimKube trace (.sktrace or .json)")
    p.add_argument("--workload", metavar="NS/NAME", help="with --trace: the Deployment to repair")
    p.add_argument("--nodes", metavar="JSON", help="with --trace: node pools (as for `sim-arena run`)")
    p.add_argument("--target", metavar="N", type=int, help="with --trace: Ready replicas wanted")
    p.add_argument("--floors", metavar="JSON", help="with --trace: usage floors per container")
    _common(p)
    p.add_argument("--port", metavar="N", type=int, default=0, help="TCP port on 127.0.0.1 (default: any free port)")
    p.add_argument("--kubeconfig-out", metavar="PATH", type=Path, help="write a kubeconfig for the cluster here")
    p.add_argument("--report", metavar="PATH", type=Path, help="also write the final report (JSON) here")
    p.add_argument("--trace-out", metavar="PATH", type=Path, help="write the edited trace here on exit")
    p.add_argument("--exit-when-done", action="store_true",
                   help="stop once the episode is over (repaired, or the step budget spent)")
    p.set_defaults(func=cmd_serve)

    m = commands.add_parser(
        "mcp",
        help="serve scenarios as Model Context Protocol tools over stdio (needs the `mcp` extra)",
        description=(
            "An MCP server (stdio) exposing the live cluster as tools: list/describe pods, deployments, nodes "
            "and events, the scheduling message, set requests/limits, scale, episode_status, and reset to the "
            "next scenario of the set. Scores are the Gym env's."
        ),
    )
    m.add_argument("--scenarios", metavar="SET", default="canonical",
                   help="scenario set (canonical, train, test, all) or an index.json path (default canonical)")
    m.add_argument("--scenario", metavar="ID", help="start on this scenario (default: the set's first)")
    _common(m)
    m.set_defaults(func=cmd_mcp)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reward-mode", choices=REWARD_MODES, default="gradual", help="reward mode (default gradual)")
    p.add_argument("--steps", metavar="N", type=int, default=20, help="step budget: edits allowed (default 20)")


def _config(args: argparse.Namespace) -> dict[str, Any]:
    if args.steps < 1:
        raise UsageError(f"--steps {args.steps}: must be at least 1")
    return {"reward_mode": args.reward_mode, "max_steps": args.steps}


def _scenario(args: argparse.Namespace) -> Any:
    from sim_arena_gym.cli.run_commands import _json_arg, find_scenario
    from sim_arena_gym.env.simkube_env import scenario_from_trace

    if args.trace is None:
        for flag in ("workload", "nodes", "target", "floors"):
            if getattr(args, flag) is not None:
                raise UsageError(f"--{flag} goes with --trace, not --scenario")
        return find_scenario(args.scenario)
    try:
        return scenario_from_trace(args.trace, workload=args.workload, nodes=_json_arg(args.nodes, "--nodes"),
                                   target=args.target, usage_floors=_json_arg(args.floors, "--floors"))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _check_out(path: Path | None, flag: str) -> None:
    if path is not None and not path.parent.is_dir():
        raise UsageError(f"{flag} {path}: folder {path.parent} does not exist")


def cmd_serve(args: argparse.Namespace) -> int:
    """``sim-arena serve``: a scenario as a live Kubernetes API until interrupted."""
    from sim_arena_gym.live import EPISODE_PATH, LiveCluster

    if not 0 <= args.port < 65536:
        raise UsageError(f"--port {args.port}: expected 0-65535")
    for path, flag in ((args.kubeconfig_out, "--kubeconfig-out"), (args.report, "--report"), (args.trace_out, "--trace-out")):
        _check_out(path, flag)
    scenario = _scenario(args)
    config = _config(args)
    try:
        cluster = LiveCluster([scenario], config, port=args.port, kubeconfig_path=args.kubeconfig_out)
    except OSError as exc:
        raise UsageError(f"--port {args.port}: cannot listen on 127.0.0.1 ({exc.strerror})") from None
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with cluster:
            print(f"live cluster serving {scenario.id} at {cluster.url}", flush=True)
            if args.kubeconfig_out is not None:
                print(f"kubeconfig: {args.kubeconfig_out}", flush=True)
            print(f"episode: {cluster.url}{EPISODE_PATH}", flush=True)
            try:
                while not stop.wait(0.05):
                    if args.exit_when_done and cluster.done:
                        break
            except KeyboardInterrupt:
                pass
            report = cluster.episode_status()
            if args.trace_out is not None:
                from sim_arena_gym.trace.codec import save_trace

                save_trace(cluster.env.current_trace(), args.trace_out)
                report["trace"] = str(args.trace_out)
    finally:
        signal.signal(signal.SIGTERM, previous)
    text = json.dumps(report, sort_keys=True)
    if args.report is not None:
        tmp = args.report.with_name(args.report.name + ".tmp")
        tmp.write_text(text + "\n")
        tmp.replace(args.report)
    print(text, flush=True)
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    """``sim-arena mcp``: scenarios as MCP tools over stdio."""
    try:
        from sim_arena_gym.live.mcp_server import serve_stdio
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "mcp":
            raise UsageError("sim-arena mcp needs the mcp extra: pip install 'sim-arena-gym[mcp]'") from None
        raise
    from sim_arena_gym.env.simkube_env import resolve_scenarios

    try:
        scenarios = resolve_scenarios(args.scenarios)
    except ValueError as exc:
        raise UsageError(f"--scenarios {args.scenarios}: {exc}") from None
    if args.scenario is not None and args.scenario not in {s.id for s in scenarios}:
        raise UsageError(f"--scenario {args.scenario}: not in the set {args.scenarios}")
    serve_stdio(scenarios, _config(args), first=args.scenario)
    print("mcp server stopped", file=sys.stderr)
    return 0

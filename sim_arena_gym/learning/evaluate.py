"""Evaluate hand-coded agents and saved models side by side, per scenario family and overall.

Every agent plays every scenario of the split ``episodes_per_scenario`` times (episodes pinned with
``reset(options={"scenario": id})``, seeds ``seed, seed + 1, ...``), so all agents see the same tasks.
Per family and overall:

- ``success_rate``: repaired episodes / episodes, in [0, 1];
- ``mean_steps``: mean steps of the repaired episodes (``None`` when none was repaired);
- ``mean_over_allocation``: mean over-allocation of the final requests in the repaired episodes, as the
  reward's ``waste`` term defines it (requests above the usage floors, as a share of a node, in [0, 1];
  ``None`` when none was repaired);
- ``mean_return``: mean undiscounted episode return under the env's reward mode.

Hand-coded agents need no torch; models are loaded only when given.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from sim_arena_gym.learning.config import DEFAULT_ENV_ID, LearningConfigError
from sim_arena_gym.learning.envs import make_env
from sim_arena_gym.scenarios.index import _atomic_write as atomic_write  # temp file + rename, shared

#: Metric keys of a summary, in table order.
METRICS = ("success_rate", "mean_steps", "mean_over_allocation", "mean_return")
#: Column headers of the terminal table.
HEADERS = {"success_rate": "success", "mean_steps": "steps", "mean_over_allocation": "over-alloc",
           "mean_return": "return"}  # fmt: skip
OVERALL = "overall"
RESULTS_FORMAT = "sim-arena-evaluation/v1"


@dataclass(frozen=True)
class Episode:
    """One played episode; ``over_allocation`` is the final requests' waste in [0, 1]."""

    agent: str
    scenario: str
    family: str
    episode: int
    success: bool
    steps: int
    over_allocation: float
    episode_return: float


@dataclass
class AgentEntry:
    """An agent to evaluate: a hand-coded one (``kind="agent"``), a text policy (``kind="text-agent"``,
    played through the live cluster's text interface) or a saved model (``kind="model"``)."""

    name: str
    kind: str
    path: str | None = None
    algorithm: str | None = None
    run: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "model":
            out.update(path=self.path, algorithm=self.algorithm, run=self.run)
        return out


def summarize(episodes: Sequence[Episode]) -> dict[str, Any]:
    """The four metrics (see the module docstring) plus ``episodes``, over ``episodes``."""
    wins = [e for e in episodes if e.success]
    return {
        "episodes": len(episodes),
        "success_rate": len(wins) / len(episodes) if episodes else 0.0,
        "mean_steps": statistics.fmean(e.steps for e in wins) if wins else None,
        "mean_over_allocation": statistics.fmean(e.over_allocation for e in wins) if wins else None,
        "mean_return": statistics.fmean(e.episode_return for e in episodes) if episodes else 0.0,
    }


def final_over_allocation(env: Any) -> float:
    """Over-allocation of the env's current requests (the reward's ``waste``, in [0, 1])."""
    from sim_arena_gym.env.rewards import waste

    u = env.unwrapped
    return float(waste(u.view, u.context, u.safeguards))


def play_episode(env: Any, policy: Any, *, seed: int, scenario_id: str) -> tuple[float, int, dict[str, Any]]:
    """One episode of ``policy`` on scenario ``scenario_id``: ``(return, steps, final info)``; an
    episode whose start is already healthy takes no step."""
    obs, info = env.reset(seed=seed, options={"scenario": scenario_id})
    total = 0.0
    steps = 0
    terminated = bool(info["success"])
    truncated = False
    while not (terminated or truncated):
        obs, reward, terminated, truncated, info = env.step(policy.act(obs, info))
        total += float(reward)
        steps += 1
    return total, steps, info


def play(env: Any, policy: Any, name: str, *, episodes_per_scenario: int = 1, seed: int = 0) -> list[Episode]:
    """Play every scenario of ``env``'s set ``episodes_per_scenario`` times with ``policy``; a policy
    with ``text_interface = True`` plays through :class:`~sim_arena_gym.live.text.TextToolEnv`."""
    if getattr(policy, "text_interface", False):  # a text policy: kubectl-style text in, tool calls out
        from sim_arena_gym.live.text import TextToolEnv

        text_env = TextToolEnv(env)
        try:
            return _play(text_env, policy, name, episodes_per_scenario, seed)
        finally:
            text_env.cluster.close()  # leaves the wrapped env open: the caller closes it
    return _play(env, policy, name, episodes_per_scenario, seed)


def _play(env: Any, policy: Any, name: str, episodes_per_scenario: int, seed: int) -> list[Episode]:
    out: list[Episode] = []
    k = 0
    for scenario in env.unwrapped.scenarios:
        for episode in range(episodes_per_scenario):
            total, steps, info = play_episode(env, policy, seed=seed + k, scenario_id=scenario.id)
            k += 1
            out.append(Episode(name, scenario.id, scenario.family, episode, bool(info["success"]), steps,
                               final_over_allocation(env), total))  # fmt: skip
    return out


def parse_model_arg(text: str) -> tuple[str | None, str]:
    """``"LABEL=PATH"`` or ``"PATH"`` -> ``(label or None, path)``."""
    if "=" in text and not Path(text).exists():
        label, path = text.split("=", 1)
        if label and path:
            return label, path
    return None, text


def model_entry(text: str) -> AgentEntry:
    """An :class:`AgentEntry` for ``--model [LABEL=]PATH``; the label defaults to the run folder's name
    (for ``.../NAME/model.zip`` or a run folder) or the file's stem."""
    from sim_arena_gym.learning.models import detect_algorithm, model_file

    label, path = parse_model_arg(text)
    zpath = model_file(path)
    run: dict[str, Any] = {}
    run_json = zpath.parent / "run.json"
    if run_json.is_file():
        try:
            run = json.loads(run_json.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            run = {}
    if label is None:
        label = zpath.parent.name if zpath.stem in ("model", "best_model") and zpath.parent.name else zpath.stem
        if zpath.stem == "best_model":
            label += "/best"
    return AgentEntry(name=label, kind="model", path=str(zpath), algorithm=detect_algorithm(zpath), run=run)


def agent_entries(agent_names: Sequence[str], model_args: Sequence[str]) -> list[AgentEntry]:
    """Entries for hand-coded agent names and ``--model`` arguments (names must be unique)."""
    import agents

    entries = []
    for name in agent_names:
        if name in agents.TEXT_NAMES:
            entries.append(AgentEntry(name=name, kind="text-agent"))
            continue
        if name not in agents.available():
            known = ", ".join([*agents.available(), *agents.TEXT_NAMES])
            raise LearningConfigError(f"--agents: unknown agent {name!r}; available: {known}")
        entries.append(AgentEntry(name=name, kind="agent"))
    entries.extend(model_entry(m) for m in model_args)
    seen: set[str] = set()
    for e in entries:
        if e.name in seen:
            raise LearningConfigError(f"--model: two agents are called {e.name!r}; label them with --model LABEL=PATH")
        seen.add(e.name)
    return entries


def make_policy(entry: AgentEntry, env: Any, seed: int) -> Any:
    """The policy of an evaluation entry: a hand-coded agent, a text agent or a trained model."""
    import agents

    if entry.kind == "text-agent":
        return agents.make_text(entry.name)
    if entry.kind == "agent":
        return agents.make(entry.name, env=env, **({"seed": seed} if entry.name == "random" else {}))
    from sim_arena_gym.learning.models import ModelPolicy

    policy = ModelPolicy(entry.path)  # type: ignore[arg-type]
    model = policy.model
    if model.observation_space.shape != env.observation_space.shape or model.action_space != env.action_space:
        raise LearningConfigError(
            f"--model {entry.path!r}: trained on observations {model.observation_space.shape} and actions "
            f"{model.action_space}, but this env has {env.observation_space.shape} and {env.action_space}; "
            "evaluate it with the --env it was trained on"
        )
    return policy


@dataclass
class Evaluation:
    """The outcome of :func:`evaluate`: every episode and the summaries, by agent then family."""

    env_id: str
    split: str
    episodes_per_scenario: int
    seed: int
    reward_mode: str
    scenario_count: int
    agents: list[AgentEntry]
    episodes: list[Episode]
    families: list[str]

    def summary(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{agent: {family or "overall": metrics}}``."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for entry in self.agents:
            mine = [e for e in self.episodes if e.agent == entry.name]
            per = {fam: summarize([e for e in mine if e.family == fam]) for fam in self.families}
            per[OVERALL] = summarize(mine)
            out[entry.name] = per
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RESULTS_FORMAT,
            "env_id": self.env_id,
            "split": self.split,
            "episodes_per_scenario": self.episodes_per_scenario,
            "seed": self.seed,
            "reward_mode": self.reward_mode,
            "scenarios": self.scenario_count,
            "families": list(self.families),
            "agents": [a.to_json() for a in self.agents],
            "summary": self.summary(),
        }


def evaluate(
    agents_to_run: Sequence[AgentEntry],
    *,
    env_id: str = DEFAULT_ENV_ID,
    split: str = "test",
    episodes_per_scenario: int = 1,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
) -> Evaluation:
    """Play every agent on every scenario of ``split``; see the module docstring for the metrics."""
    if episodes_per_scenario < 1:
        raise LearningConfigError(f"--episodes-per-scenario {episodes_per_scenario}: must be at least 1")
    if not agents_to_run:
        raise LearningConfigError("nothing to evaluate: name --agents and/or --model")
    env = make_env(env_id, split, env_kwargs)
    try:
        scenarios = env.unwrapped.scenarios
        families = list(dict.fromkeys(s.family for s in scenarios))
        episodes: list[Episode] = []
        for entry in agents_to_run:
            policy = make_policy(entry, env, seed)
            episodes.extend(play(env, policy, entry.name, episodes_per_scenario=episodes_per_scenario, seed=seed))
        reward_mode = str(env.unwrapped.config["reward_mode"])
    finally:
        env.close()
    return Evaluation(env_id, split, episodes_per_scenario, seed, reward_mode, len(scenarios),
                      list(agents_to_run), episodes, families)  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Output


def format_metric(key: str, value: Any) -> str:
    """How the table, the CSV and the docs print a metric (``-`` for ``None``)."""
    if value is None:
        return "-"
    if key == "success_rate":
        return f"{100 * value:.1f}%"
    if key == "mean_return":
        return f"{value:.3f}"
    if key == "mean_over_allocation":
        return f"{value:.3f}"
    return f"{value:.2f}"


def table_text(evaluation: Evaluation, *, families: bool = True) -> str:
    """The terminal table: one block per family (and ``overall``), one row per agent."""
    summary = evaluation.summary()
    width = max([len("agent")] + [len(a.name) for a in evaluation.agents])
    groups = ([*evaluation.families, OVERALL] if families else [OVERALL])
    lines = [f"{evaluation.scenario_count} scenarios ({evaluation.split}), {evaluation.episodes_per_scenario} "
             f"episode(s) each, reward mode {evaluation.reward_mode}, env {evaluation.env_id}"]  # fmt: skip
    head = f"{'agent':<{width}}  " + "  ".join(f"{HEADERS[m]:>10}" for m in METRICS)
    for group in groups:
        n = summary[evaluation.agents[0].name][group]["episodes"]
        lines += ["", f"== {group} ({n} episodes per agent)", head]
        for a in evaluation.agents:
            row = summary[a.name][group]
            lines.append(f"{a.name:<{width}}  " + "  ".join(f"{format_metric(m, row[m]):>10}" for m in METRICS))
    return "\n".join(lines) + "\n"


def csv_text(evaluation: Evaluation) -> str:
    """One row per (agent, family or overall): raw numbers (empty cell for ``None``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["split", "agent", "kind", "algorithm", "family", "episodes", *METRICS])
    summary = evaluation.summary()
    for a in evaluation.agents:
        for group in [*evaluation.families, OVERALL]:
            row = summary[a.name][group]
            writer.writerow([evaluation.split, a.name, a.kind, a.algorithm or "", group, row["episodes"],
                             *("" if row[m] is None else repr(float(row[m])) for m in METRICS)])  # fmt: skip
    return buf.getvalue()


def write_results(evaluation: Evaluation, out_dir: str | Path, *, plots: bool = True) -> list[Path]:
    """``results.json``, ``results.csv`` and (with ``plots``) ``plots/<family>.png`` per family plus
    ``plots/overall.png`` under ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    written = []
    json_path = out / "results.json"
    atomic_write(json_path, (json.dumps(evaluation.to_json(), indent=2) + "\n").encode())
    written.append(json_path)
    csv_path = out / "results.csv"
    atomic_write(csv_path, csv_text(evaluation).encode())
    written.append(csv_path)
    if plots:
        from sim_arena_gym.learning.plots import family_bar_charts

        written.extend(family_bar_charts(evaluation.to_json(), out / "plots"))
    return written

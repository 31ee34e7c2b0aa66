"""Batch runs: every trace of a folder (or every scenario of a split) as an episode per policy, on the
embedded or the simkube backend, with failures recorded and skipped.

:func:`batch_items` turns a SOURCE into items: a folder of ``.sktrace`` / ``.json`` traces (each a
one-off scenario with the ``workload`` / ``nodes`` / ``target`` defaults; a file that cannot be a
scenario is an item carrying its error), or a split name / scenario index path. :func:`run_batch`
plays each good item once per policy (:func:`~sim_arena_gym.learning.evaluate.play_episode`, seed
``seed`` for every episode), in this process or, for the embedded backend, in ``jobs`` processes.
A failing episode (backend error, bad scenario) becomes a row with its error; Ctrl-C stops the batch,
keeps the finished rows and closes (cleans up) the env it was in. Rows: :class:`BatchRow`.
"""

from __future__ import annotations

import csv
import io
import json
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Sequence

from sim_arena_gym.learning.evaluate import AgentEntry, atomic_write, make_policy, play_episode

__all__ = ["BatchItem", "BatchRow", "batch_items", "rows_csv", "rows_json", "run_batch", "summary_text", "write_rows"]

TRACE_SUFFIXES = (".sktrace", ".json")
RESULTS_FORMAT = "sim-arena-batch/v1"


@dataclass(frozen=True)
class BatchItem:
    """One trace or scenario: ``scenario`` when it can be played, else ``error`` says why not."""

    source: str
    scenario: Any = None
    error: str = ""


@dataclass(frozen=True)
class BatchRow:
    """One episode (or one item that could not be played, ``error`` set and the numbers empty).

    ``final_requests``: the target's containers' requests at the end, ``name: cpu X, memory Y; ...``;
    ``final_replicas``: its replicas at the end; ``episode_return``: undiscounted return."""

    source: str
    scenario: str
    policy: str
    success: bool | None = None
    steps: int | None = None
    final_requests: str = ""
    final_replicas: int | None = None
    episode_return: float | None = None
    error: str = ""


def batch_items(source: str | Path, *, workload: str | None = None, nodes: Any = None,
                target: int | None = None) -> list[BatchItem]:
    """The items of ``source`` (see the module docstring). A split name or index that cannot be
    loaded raises ``ValueError``; a bad trace in a folder is an item with its error."""
    path = Path(source)
    if path.is_dir():
        from sim_arena_gym.env.simkube_env import scenario_from_trace
        from sim_arena_gym.trace.errors import TraceError

        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in TRACE_SUFFIXES)
        if not files:
            raise ValueError(f"{path}: no .sktrace or .json traces in this folder")
        items = []
        for f in files:
            try:
                scenario = scenario_from_trace(f, workload=workload, nodes=nodes, target=target)
            except (TraceError, ValueError, OSError) as exc:
                items.append(BatchItem(str(f), error=str(exc)))
            else:
                items.append(BatchItem(str(f), scenario))
        return items
    from sim_arena_gym.scenarios.index import load_scenario_set

    return [BatchItem(s.id, s) for s in load_scenario_set(str(source))]


def _requests_text(info: dict[str, Any]) -> str:
    return "; ".join(f"{name}: " + (", ".join(f"{k} {v}" for k, v in req.items()) or "none")
                     for name, req in info["requests"].items())


def _play(item: BatchItem, entry: AgentEntry, env_kwargs: dict[str, Any], seed: int) -> BatchRow:
    """One episode of ``entry`` on ``item`` in a fresh env (closed, so cleaned up, whatever happens)."""
    from sim_arena_gym.env.simkube_env import SimKubeEnv

    scenario_id = item.scenario.id
    try:
        env = SimKubeEnv(scenarios=[item.scenario], **env_kwargs)
    except Exception as exc:  # noqa: BLE001 - a bad scenario or option is this row's error
        return BatchRow(item.source, scenario_id, entry.name, error=f"{type(exc).__name__}: {exc}")
    try:
        total, steps, info = play_episode(env, make_policy(entry, env, seed), seed=seed, scenario_id=scenario_id)
        return BatchRow(item.source, scenario_id, entry.name, bool(info["success"]), steps, _requests_text(info),
                        int(info["replicas"]), total)  # fmt: skip
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - backend errors, timeouts, bad traces: recorded, batch goes on
        return BatchRow(item.source, scenario_id, entry.name, error=str(exc) or type(exc).__name__)
    finally:
        env.close()


def _play_chunk(tasks: Sequence[tuple[BatchItem, AgentEntry]], env_kwargs: dict[str, Any], seed: int) -> list[BatchRow]:
    """:func:`_play` for each task, in a worker process."""
    return [_play(item, entry, env_kwargs, seed) for item, entry in tasks]


def run_batch(
    items: Sequence[BatchItem],
    policies: Sequence[AgentEntry],
    *,
    env_kwargs: dict[str, Any] | None = None,
    seed: int = 0,
    jobs: int = 1,
    on_row: Callable[[BatchRow], None] | None = None,
) -> tuple[list[BatchRow], bool]:
    """Play every good item once per policy; ``(rows in item x policy order, interrupted)``.

    Items with an error give one row each (policy ``-``). ``jobs`` > 1 runs the episodes in that
    many processes (the embedded backend; the simkube backend runs one Simulation at a time anyway).
    ``on_row`` is called as each row is done (progress)."""
    env_kwargs = dict(env_kwargs or {})
    tasks: list[tuple[int, BatchItem, AgentEntry | None]] = []
    for item in items:
        if item.error:
            tasks.append((len(tasks), item, None))
        else:
            base = len(tasks)
            tasks.extend((base + k, item, e) for k, e in enumerate(policies))
    done: dict[int, BatchRow] = {}

    def finish(index: int, row: BatchRow) -> None:
        done[index] = row
        if on_row is not None:
            on_row(row)

    interrupted = False
    todo = []
    for index, item, entry in tasks:
        if entry is None:
            finish(index, BatchRow(item.source, "", "-", error=item.error))
        else:
            todo.append((index, item, entry))
    try:
        if jobs <= 1 or len(todo) <= 1:
            for index, item, entry in todo:
                finish(index, _play(item, entry, env_kwargs, seed))
        else:
            # chunks of episodes per task: an embedded episode takes milliseconds, less than a task's overhead
            size = max(1, min(32, len(todo) // (jobs * 4)))
            chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {pool.submit(_play_chunk, [(item, entry) for _, item, entry in chunk], env_kwargs, seed):
                           [index for index, _, _ in chunk] for chunk in chunks}
                try:
                    pending = set(futures)
                    while pending:
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for f in finished:
                            for index, row in zip(futures[f], f.result()):
                                finish(index, row)
                except KeyboardInterrupt:
                    for f in futures:
                        f.cancel()
                    raise
    except KeyboardInterrupt:
        interrupted = True
    return [done[i] for i in sorted(done)], interrupted


def summary_text(rows: Sequence[BatchRow]) -> str:
    """The summary table: a line per row, then successes and errors."""
    head = ("SOURCE", "POLICY", "SUCCESS", "STEPS", "REPLICAS", "RETURN", "FINAL REQUESTS / ERROR")
    table = []
    for r in rows:
        name = Path(r.source).name if "/" in r.source else r.source
        if r.error:
            table.append((name, r.policy, "error", "-", "-", "-", r.error))
        else:
            table.append((name, r.policy, "yes" if r.success else "no", str(r.steps), str(r.final_replicas),
                          f"{r.episode_return:+.3f}", r.final_requests))
    widths = [max(len(t[i]) for t in table + [head]) for i in range(6)]
    lines = ["  ".join(c.ljust(widths[i]) if i < 6 else c for i, c in enumerate(t)).rstrip() for t in [head, *table]]
    played = [r for r in rows if not r.error]
    wins = sum(1 for r in played if r.success)
    lines.append(f"\n{len(played)} episode{'s' if len(played) != 1 else ''} played, {wins} repaired, "
                 f"{len(rows) - len(played)} error{'s' if len(rows) - len(played) != 1 else ''}")
    return "\n".join(lines) + "\n"


def rows_json(rows: Sequence[BatchRow], *, interrupted: bool = False) -> str:
    """The batch rows as the JSON results document (``format``, ``interrupted``, ``rows``)."""
    return json.dumps({"format": RESULTS_FORMAT, "interrupted": interrupted, "rows": [asdict(r) for r in rows]},
                      indent=2) + "\n"


def rows_csv(rows: Sequence[BatchRow]) -> str:
    """The batch rows as CSV, one header line of the :class:`BatchRow` fields."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([f.name for f in fields(BatchRow)])
    for r in rows:
        writer.writerow(["" if v is None else v for v in asdict(r).values()])
    return buf.getvalue()


def write_rows(rows: Sequence[BatchRow], path: Path, *, interrupted: bool = False) -> Path:
    """``rows`` as CSV (``.csv``) or JSON (any other suffix), written atomically."""
    text = rows_csv(rows) if path.suffix.lower() == ".csv" else rows_json(rows, interrupted=interrupted)
    atomic_write(path, text.encode("utf-8"))
    return path

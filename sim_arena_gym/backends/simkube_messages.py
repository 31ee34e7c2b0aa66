"""Scheduler messages as one run would see them alone on the cluster.

Runs sharing a cluster make their own nodes, each tainted ``sim-arena.io/run=<run>:NoSchedule``
(the first taint on the node) that only the run's pods tolerate. The scheduler's FailedScheduling
message counts every node, so another run's node shows up as
``1 node(s) had untolerated taint {sim-arena.io/run: <other run>}`` (``node(s) had untolerated
taint(s)`` from Kubernetes 1.35) and, after ``preemption:``, under ``Preemption is not helpful for
scheduling``. :func:`without_other_runs` takes them out and sets the node count to the run's own, so
the message, and the pending reasons the observation is built from, are what the run would get alone.
"""

from __future__ import annotations

import re

from sim_arena_gym.backends.simkube_names import LABEL_RUN

__all__ = ["without_other_runs"]

_HEAD = re.compile(r"^0/(\d+) nodes are available: ")
_RUN_TAINT = re.compile(r"^(\d+) node\(s\) had untolerated taint \{" + re.escape(LABEL_RUN) + r": [0-9a-f]{8}\}$")
_GENERIC_TAINT = re.compile(r"^(\d+) (node\(s\) had untolerated taint\(s\))$")
_NOT_HELPFUL = re.compile(r"^(\d+) (Preemption is not helpful for scheduling)$")


def _histogram(part: str) -> tuple[int, list[str]] | None:
    m = _HEAD.match(part)
    if not m or not part.endswith("."):
        return None
    return int(m.group(1)), part[m.end():-1].split(", ")


def _subtract(entries: list[str], pattern: re.Pattern[str], count: int) -> tuple[list[str], int]:
    """Take up to ``count`` nodes off the first entry matching ``pattern``; returns (entries, taken)."""
    out, taken = [], 0
    for entry in entries:
        m = pattern.match(entry)
        if m and taken < count:
            n = int(m.group(1))
            take = min(n, count - taken)
            taken += take
            if n > take:
                out.append(f"{n - take} {m.group(2)}")
            continue
        out.append(entry)
    return out, taken


def without_other_runs(message: str, own_nodes: int) -> str:
    """``message`` with the nodes of other runs taken out (see the module docstring); a message of
    another shape, or one whose foreign nodes cannot all be accounted for, is returned unchanged."""
    main, sep, preemption = message.partition(" preemption: ")
    parsed = _histogram(main)
    if parsed is None:
        return message
    total, entries = parsed
    foreign = total - own_nodes
    if foreign <= 0:
        return message
    kept, taken = [], 0
    for entry in entries:
        m = _RUN_TAINT.match(entry)
        if m:
            taken += int(m.group(1))
        else:
            kept.append(entry)
    if taken < foreign:
        kept, more = _subtract(kept, _GENERIC_TAINT, foreign - taken)
        taken += more
    if taken != foreign or not kept:
        return message
    out = f"0/{own_nodes} nodes are available: {', '.join(kept)}."
    if sep:
        parsed = _histogram(preemption)
        if parsed is None or parsed[0] != total:
            return message
        rest, taken = _subtract(parsed[1], _NOT_HELPFUL, foreign)
        if taken != foreign or not rest:
            return message
        out += f" preemption: 0/{own_nodes} nodes are available: {', '.join(rest)}."
    return out

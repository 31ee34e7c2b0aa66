"""Rendering: an ``ansi`` table and an ``rgb_array`` picture of node occupancy (numpy only, no pygame).

Both read a :class:`Frame`, a snapshot of what the env shows at one step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim_arena_gym.env.state import ScenarioContext, StateView
from sim_arena_gym.quantity import format_cpu, format_memory
from sim_arena_gym.sim.outcome import PENDING, RUNNING

#: Pods of the target workload listed in the ansi table before the rest is summarised.
MAX_PODS_LISTED = 12
#: Width of the occupancy bars in the ansi table (characters).
BAR_WIDTH = 14


@dataclass(frozen=True, slots=True)
class Frame:
    """What one rendered step shows.

    Attributes:
        ctx: the scenario.
        view: the simulated state.
        step: steps taken in the episode.
        max_steps: the step budget.
        action: name of the last action, ``None`` right after reset.
        blocked: the last action's blocked reason, or ``None``.
        reward: the last step's reward, ``None`` right after reset.
    """

    ctx: ScenarioContext
    view: StateView
    step: int
    max_steps: int
    action: str | None
    blocked: str | None
    reward: float | None


def _bar(used: int, alloc: int, width: int = BAR_WIDTH) -> str:
    frac = 0.0 if alloc <= 0 else min(1.0, used / alloc)
    full = int(round(frac * width))
    return "█" * full + "░" * (width - full)


def _status(view: StateView, target: int) -> str:
    if view.success:
        return "REPAIRED"
    if view.pending:
        return "PENDING"
    if view.oom_killed:
        return "CRASHLOOP"
    return "NOT READY" if view.ready < target else "OVER TARGET"


def render_ansi(frame: Frame) -> str:
    """A plain-text table: header, workload status, requests, nodes, pods, pending message."""
    ctx, view = frame.ctx, frame.view
    c = ctx.constants
    lines: list[str] = []
    head = f"{ctx.scenario.id}  step {frame.step}/{frame.max_steps}"
    if frame.action is not None:
        head += f"  action {frame.action}"
    if frame.reward is not None:
        head += f"  reward {frame.reward:+.3f}"
    lines.append(head)
    lines.append(
        f"{ctx.workload_key}: {view.ready}/{c.target} Ready, {view.pending} Pending, "
        f"{view.total} total, replicas {view.state.replicas}  [{_status(view, c.target)}]"
    )
    limits = dict(view.limits)
    for name, items in view.requests:
        req = ", ".join(f"{k} {v}" for k, v in items) or "none"
        lim = ", ".join(f"{k} {v}" for k, v in limits.get(name, ())) or "none"
        lines.append(f"  container {name}: requests {req}; limits {lim}")
    if view.oom_killed or view.throttled:
        lines.append(f"  {view.oom_killed} OOMKilled, {view.throttled} CPU-throttled")
    if frame.blocked:
        lines.append(f"  blocked: {frame.blocked}")
    lines.append("")
    outcome = view.outcome
    name_w = max([4] + [len(n.name) for n in outcome.nodes])
    cpu_txt = [f"{format_cpu(n.requested_cpu_millis)}/{format_cpu(n.allocatable_cpu_millis)}" for n in outcome.nodes]
    mem_txt = [
        f"{format_memory(n.requested_memory_bytes)}/{format_memory(n.allocatable_memory_bytes)}" for n in outcome.nodes
    ]
    cw = max([9] + [len(t) for t in cpu_txt])
    mw = max([9] + [len(t) for t in mem_txt])
    lines.append(
        f"{'NODE':<{name_w}}  {'CPU':<{BAR_WIDTH}} {'requested':>{cw}}  {'MEMORY':<{BAR_WIDTH}} {'requested':>{mw}}  PODS"
    )
    for n, ct, mt in zip(outcome.nodes, cpu_txt, mem_txt):
        lines.append(
            f"{n.name:<{name_w}}  {_bar(n.requested_cpu_millis, n.allocatable_cpu_millis)} {ct:>{cw}}  "
            f"{_bar(n.requested_memory_bytes, n.allocatable_memory_bytes)} {mt:>{mw}}  "
            f"{n.pod_count}/{n.allocatable_pods}"
        )
    pods = outcome.pods_of(ctx.workload_key)
    lines.append("")
    if pods:
        pw = max(len(p.name) for p in pods[:MAX_PODS_LISTED])
        lines.append(f"{'POD':<{pw}}  {'PHASE':<8} {'READY':<5}  {'NODE':<{name_w}}  NOTE")
        for p in pods[:MAX_PODS_LISTED]:
            note = p.reason or ""
            if p.last_state:
                note = f"{note} (last state {p.last_state})".strip()
            if p.throttled:
                note = (note + " throttled").strip()
            lines.append(
                f"{p.name:<{pw}}  {p.phase:<8} {'yes' if p.ready else 'no':<5}  {p.node or '-':<{name_w}}  {note}".rstrip()
            )
        if len(pods) > MAX_PODS_LISTED:
            lines.append(f"... and {len(pods) - MAX_PODS_LISTED} more pods of {ctx.workload_key}")
    else:
        lines.append(f"no pods of {ctx.workload_key}")
    others = [p for p in outcome.pods if p.workload != ctx.workload_key and p.phase in (PENDING, RUNNING)]
    if others:
        running = sum(1 for p in others if p.phase == RUNNING)
        lines.append(f"other workloads: {running} pods Running, {len(others) - running} Pending")
    if view.scheduling_message:
        lines.append("")
        lines.append(f"pending: {view.scheduling_message}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------
# rgb_array

_BG = (24, 26, 32)
_EMPTY = (62, 66, 80)
_OTHER = (128, 132, 150)
_TARGET_CPU = (52, 152, 219)
_TARGET_MEM = (155, 89, 182)
_PENDING = (231, 76, 60)
_OK = (46, 204, 113)

#: Image height in pixels; the width grows with the node count (fixed within an episode).
IMAGE_HEIGHT = 160
_BAR_TOP, _BAR_H, _STRIP_TOP = 8, 112, 132


def render_rgb(frame: Frame) -> np.ndarray:
    """An ``(160, W, 3)`` ``uint8`` picture: per node a CPU and a memory bar (blue / purple = the target
    workload's requests, grey = other pods, dark = free), and a bottom strip with one red square per
    Pending pod of the target, or a green band once the workload is repaired."""
    ctx, view = frame.ctx, frame.view
    nodes = view.outcome.nodes
    n = max(1, len(nodes))
    block = 40 if n <= 16 else max(6, 640 // n)
    width = max(96, n * block + 8)
    img = np.empty((IMAGE_HEIGHT, width, 3), dtype=np.uint8)
    img[:] = _BG
    key = ctx.workload_key
    mine_cpu: dict[str, int] = {}
    mine_mem: dict[str, int] = {}
    for p in view.outcome.pods:
        if p.workload == key and p.node is not None and p.phase in (PENDING, RUNNING):
            mine_cpu[p.node] = mine_cpu.get(p.node, 0) + p.cpu_request_millis
            mine_mem[p.node] = mine_mem.get(p.node, 0) + p.memory_request_bytes
    bar_w = max(2, (block - 6) // 2)
    for i, node in enumerate(nodes):
        x0 = 4 + i * block + 2
        _draw_bar(img, x0, bar_w, node.requested_cpu_millis, mine_cpu.get(node.name, 0), node.allocatable_cpu_millis, _TARGET_CPU)
        _draw_bar(
            img, x0 + bar_w + 2, bar_w, node.requested_memory_bytes, mine_mem.get(node.name, 0),
            node.allocatable_memory_bytes, _TARGET_MEM,
        )  # fmt: skip
    strip = img[_STRIP_TOP : IMAGE_HEIGHT - 6, 4 : width - 4]
    if view.success:
        strip[:] = _OK
    else:
        for j in range(min(view.pending, max(1, (width - 8) // 12))):
            strip[4:16, j * 12 + 2 : j * 12 + 12] = _PENDING
    return img


def _draw_bar(img: np.ndarray, x0: int, w: int, used: int, mine: int, alloc: int, colour: tuple[int, int, int]) -> None:
    img[_BAR_TOP : _BAR_TOP + _BAR_H, x0 : x0 + w] = _EMPTY
    if alloc <= 0:
        return
    used_px = int(round(min(1.0, used / alloc) * _BAR_H))
    mine_px = min(used_px, int(round(min(1.0, mine / alloc) * _BAR_H)))
    bottom = _BAR_TOP + _BAR_H
    img[bottom - used_px : bottom, x0 : x0 + w] = _OTHER
    img[bottom - mine_px : bottom, x0 : x0 + w] = colour

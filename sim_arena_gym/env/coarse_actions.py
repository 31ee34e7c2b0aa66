"""The ``coarse`` action set: fine and proportional moves per resource, optionally per container slot.

The ``default`` set moves a request by a fixed step (500m CPU, 256Mi memory). From 40Gi on 32Gi nodes
that is 32 steps to a repair, more than the 20-step budget, although an operator fixes it in one edit.
The ``coarse`` set adds a *proportional* move per resource and direction, so any repair within the caps
is a few steps away, and fine moves finish the job:

=========================  =====================================================================
move                       effect on each edited container's request
=========================  =====================================================================
``<r>_up`` / ``<r>_down``  + / - the fixed step (``cpu_step`` 500m, ``memory_step`` 256Mi), as ``default``
``<r>_up_medium``          x 8/7, rounded up to a multiple of the fixed step (at least one step more)
``<r>_down_medium``        x 7/8, rounded down to a multiple of the fixed step (at least one step less)
``<r>_up_coarse``          x 4/3, rounded up likewise
``<r>_down_coarse``        x 3/4, rounded down likewise
=========================  =====================================================================

A coarse move that would cross a cap stops at the cap (16 CPU, 32Gi, one step) and is blocked only
when the request already sits there; a fine move past a cap is blocked, as in ``default``. ``x 4/3``
undoes ``x 3/4`` (and ``x 8/7`` undoes ``x 7/8``) up to the rounding. Two proportional sizes and the
fixed step together land in any window of a few hundred MiB within a handful of moves: ``x 3/4`` covers
distance fast, ``x 7/8`` comes within an eighth, fixed steps finish. Limits follow the same rule as ``default``: a request raised above
its limit raises the limit with it; lowering a request leaves the limit alone.

Layouts (the position is the action id):

* ``edit_containers="all"`` or ``"first"`` (15 actions): the 7 of ``default`` in the same order
  (``noop, cpu_up, memory_up, cpu_down, memory_down, replicas_up, replicas_down``), then
  ``cpu_up_medium, memory_up_medium, cpu_down_medium, memory_down_medium``, then the same four
  ``*_coarse``.
* ``edit_containers="slots"`` (``1 + 12 * MAX_CONTAINER_SLOTS + 2`` = 39 actions): ``noop``; then for
  each container slot ``k`` in ``0 .. MAX_CONTAINER_SLOTS - 1`` (the ``k``-th regular container of the
  pod template) the twelve moves ``c<k>_cpu_up, c<k>_memory_up, c<k>_cpu_down, c<k>_memory_down``,
  the same four ``*_medium`` and the same four ``*_coarse``; then ``replicas_up, replicas_down``. A move on a slot the pod template does not have is blocked
  (``"container slot 2 is empty: the pod template has 2 containers"``), so it is masked; containers
  beyond the last slot are never edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from sim_arena_gym.env.actions import (
    NOOP,
    REPLICAS_DOWN,
    REPLICAS_UP,
    ActionSet,
    ActionSpec,
    EditState,
    EditTarget,
    Safeguards,
    Transition,
    apply_action,
    make_action_set,
)
from sim_arena_gym.quantity import format_cpu, format_memory

#: Most container slots the ``slots`` layout has actions for (containers beyond it are not edited).
MAX_CONTAINER_SLOTS = 3
#: Proportional moves by size: ``(numerator, denominator)`` of the factor down (up is its inverse).
FACTORS: dict[str, tuple[int, int]] = {"medium": (7, 8), "coarse": (3, 4)}


@dataclass(frozen=True, slots=True)
class MoveSpec:
    """One move of the ``coarse`` set.

    Attributes:
        name: action name (``"c1_memory_down_coarse"``).
        resource: ``"cpu"`` or ``"memory"``.
        sign: ``+1`` raises, ``-1`` lowers.
        size: ``"fine"`` (the fixed step), ``"medium"`` (x 8/7, x 7/8) or ``"coarse"`` (x 4/3, x 3/4).
        slot: the container slot it edits, or ``None`` for the env's edited containers.
        help: one line for humans.
    """

    name: str
    resource: str
    sign: int
    size: str
    slot: int | None
    help: str


def _moves(slot: int | None) -> list[MoveSpec]:
    prefix = "" if slot is None else f"c{slot}_"
    where = "the edited containers" if slot is None else f"container slot {slot}"
    out = []
    for size in ("fine", "medium", "coarse"):
        for sign, word in ((+1, "up"), (-1, "down")):
            for resource in ("cpu", "memory"):
                if size == "fine":
                    how = "+ one step" if sign > 0 else "- one step"
                else:
                    num, den = FACTORS[size]
                    how = f"x {den}/{num}" if sign > 0 else f"x {num}/{den}"
                name = f"{prefix}{resource}_{word}" + ("" if size == "fine" else f"_{size}")
                out.append(MoveSpec(name, resource, sign, size, slot, f"{resource} request of {where} {how}"))
    return out


def coarse_layout(edit_containers: str) -> tuple[ActionSpec | MoveSpec, ...]:
    """The actions of the ``coarse`` set for ``edit_containers`` (see the module docstring)."""
    if edit_containers == "slots":
        moves: list[ActionSpec | MoveSpec] = [NOOP]
        for k in range(MAX_CONTAINER_SLOTS):
            moves.extend(_moves(k))
        return (*moves, REPLICAS_UP, REPLICAS_DOWN)
    moves = _moves(None)
    fine = [m for m in moves if m.size == "fine"]
    proportional = [m for m in moves if m.size != "fine"]
    # default order for the first seven: noop, cpu_up, memory_up, cpu_down, memory_down, replicas_up/down
    return (NOOP, *fine, REPLICAS_UP, REPLICAS_DOWN, *proportional)


def make_any_action_set(name: str, guards: Safeguards, edit_containers: str = "all") -> ActionSet:
    """The action set called ``name``: ``coarse`` here, every other name from
    :func:`~sim_arena_gym.env.actions.make_action_set`."""
    if name == "coarse":
        return CoarseActionSet(guards, edit_containers)
    return make_action_set(name, guards, edit_containers)


class CoarseActionSet(ActionSet):
    """The ``coarse`` action set (see the module docstring)."""

    def __init__(self, guards: Safeguards, edit_containers: str = "all") -> None:
        super().__init__("coarse", coarse_layout(edit_containers), guards)  # type: ignore[arg-type]
        self.edit_containers = edit_containers

    def apply(self, state: EditState, action: int, target: EditTarget) -> Transition:
        return _apply(self.actions[action], state, target, self.guards)

    def transitions(self, state: EditState, target: EditTarget) -> tuple[Transition, ...]:
        guards = self.guards
        return tuple([_apply(a, state, target, guards) for a in self.actions])


def proportional_value(value: int, sign: int, step: int, size: str = "coarse") -> int:
    """``value`` times the factor of ``size`` (:data:`FACTORS`): up (``sign > 0``, e.g. x 4/3) rounded
    up to a multiple of ``step``, down (x 3/4) rounded down, moved by at least one ``step``. Units are
    those of ``value`` (millicores or bytes)."""
    num, den = FACTORS[size]
    if sign > 0:
        raised = -(-value * den // num)
        new = -(-raised // step) * step
        return max(new, value + step)
    lowered = value * num // den
    new = lowered // step * step
    return min(new, value - step)


def _apply(spec: ActionSpec | MoveSpec, state: EditState, target: EditTarget, guards: Safeguards) -> Transition:
    if isinstance(spec, ActionSpec):
        return apply_action(spec, state, target, guards)
    if spec.slot is None:
        indices: Sequence[int] = target.edit_indices
    else:
        if spec.slot >= len(target.container_names):
            n = len(target.container_names)
            return state, f"container slot {spec.slot} is empty: the pod template has {n} container{'s' * (n != 1)}"
        indices = (spec.slot,)
    if spec.resource == "cpu":
        step, low, high = guards.cpu_step_millis, guards.cpu_min_millis, guards.cpu_max_millis
        requests, limits, fmt = state.cpu, state.cpu_limit, format_cpu
    else:
        step, low, high = guards.memory_step_bytes, guards.memory_min_bytes, guards.memory_max_bytes
        requests, limits, fmt = state.memory, state.memory_limit, format_memory
    new_requests = list(requests)
    new_limits = list(limits)
    for i in indices:
        old = requests[i] or 0
        if spec.size != "fine":
            new = proportional_value(old, spec.sign, step, spec.size)
            if spec.sign > 0 and new > high:
                new = max(high, old) if old < high else new
            elif spec.sign < 0 and new < low:
                new = min(low, old) if old > low else new
        else:
            new = old + spec.sign * step
        if spec.sign > 0 and new > high:
            return state, _reason(spec, fmt(new), f"would exceed the {_cap_text(spec.resource, high)} cap", target, i)
        if spec.sign < 0 and new < low:
            shown = fmt(new) if new >= 0 else f"-{fmt(-new)}"
            return state, _reason(spec, shown, f"would go below the minimum of {fmt(low)}", target, i)
        new_requests[i] = new
        limit = limits[i]
        if limit is not None and limit < new:
            new_limits[i] = new
    if spec.resource == "cpu":
        return EditState(tuple(new_requests), state.memory, tuple(new_limits), state.memory_limit, state.replicas), None
    return EditState(state.cpu, tuple(new_requests), state.cpu_limit, tuple(new_limits), state.replicas), None


def _cap_text(resource: str, high: int) -> str:
    return f"{format_cpu(high)} CPU" if resource == "cpu" else f"{format_memory(high)} memory"


def _reason(spec: MoveSpec, shown: str, what: str, target: EditTarget, i: int) -> str:
    where = f" (container {target.container_names[i]})" if spec.slot is not None or len(target.edit_indices) > 1 else ""
    per = " per container" if "cap" in what else ""
    return f"{spec.resource} request {shown} {what}{per}{where}"

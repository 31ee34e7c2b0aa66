"""Action sets: what each discrete action does to the target workload, under safeguards.

An action never touches a trace. It maps one small immutable :class:`EditState` (the target
workload's requests, limits and replicas, in millicores / bytes / pods) to the next one; the env
materialises the edited trace only when a backend must run it. An action that would break a
safeguard is *blocked*: the state is left unchanged and a reason is returned, such as
``"cpu request 16500m would exceed the 16 CPU cap per container"``.

Action sets are chosen by name (``ACTION_SETS``), as HighwayEnv chooses its action types:

========  =================  ===============================================================
index     ``default``        effect
========  =================  ===============================================================
0         ``noop``           nothing
1         ``cpu_up``         CPU request of each edited container + ``cpu_step``
2         ``memory_up``      memory request of each edited container + ``memory_step``
3         ``cpu_down``       CPU request of each edited container - ``cpu_step``
4         ``memory_down``    memory request of each edited container - ``memory_step``
5         ``replicas_up``    ``spec.replicas`` + ``replica_step``
6         ``replicas_down``  ``spec.replicas`` - ``replica_step``
========  =================  ===============================================================

The ``requests`` set is the first five (no replica changes).

Only the bound an action moves towards is checked: a request that starts above a cap (a trace asking
17 CPU) may always be lowered, one that starts below a floor may always be raised.

Limits follow the apiserver's rule ``request <= limit``: raising a request above its limit raises the
limit to the new request; lowering a request leaves the limit where it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, NamedTuple, Sequence

from sim_arena_gym.quantity import format_cpu, format_memory, read_cpu_millis, read_memory_bytes


class EditState(NamedTuple):
    """The target workload as the agent has edited it: all an episode's state.

    One entry per regular container of the pod template (``spec.containers``, in order); ``None``
    means the field is not set in the trace. A plain tuple, so hashing and comparing are cheap.

    Attributes:
        cpu: CPU request per container, millicores.
        memory: memory request per container, bytes.
        cpu_limit: CPU limit per container, millicores.
        memory_limit: memory limit per container, bytes.
        replicas: ``spec.replicas`` of the workload, pods.
    """

    cpu: tuple[int | None, ...]
    memory: tuple[int | None, ...]
    cpu_limit: tuple[int | None, ...]
    memory_limit: tuple[int | None, ...]
    replicas: int


@dataclass(frozen=True, slots=True)
class Safeguards:
    """Step sizes and hard caps. CPU in millicores, memory in bytes, replicas in pods.

    A per-container request must stay within ``[*_min, *_max]``; replicas within
    ``[replicas_min, replicas_max]``. The floors default to one step (see ``default_config``)."""

    cpu_step_millis: int = 500
    memory_step_bytes: int = 256 * 2**20
    replica_step: int = 1
    cpu_max_millis: int = 16_000
    memory_max_bytes: int = 32 * 2**30
    replicas_max: int = 100
    cpu_min_millis: int = 500
    memory_min_bytes: int = 256 * 2**20
    replicas_min: int = 1

    @classmethod
    def from_config(
        cls,
        *,
        cpu_step: str | int,
        memory_step: str | int,
        replica_step: int,
        caps: Mapping[str, object],
    ) -> "Safeguards":
        """Build from the env config (quantities as Kubernetes strings, see ``SimKubeEnv.default_config``)."""
        cpu_step_m = _positive(read_cpu_millis(cpu_step), "cpu_step", cpu_step)
        mem_step_b = _positive(read_memory_bytes(memory_step), "memory_step", memory_step)
        if not isinstance(replica_step, int) or isinstance(replica_step, bool) or replica_step < 1:
            raise ValueError(f"replica_step {replica_step!r}: expected a positive integer")
        min_cpu = caps.get("min_cpu")
        min_memory = caps.get("min_memory")
        min_replicas = caps.get("min_replicas", 1)
        max_replicas = caps.get("replicas", 100)
        for key, value in (("replicas", max_replicas), ("min_replicas", min_replicas)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"caps[{key!r}] {value!r}: expected a non-negative integer")
        guards = cls(
            cpu_step_millis=cpu_step_m,
            memory_step_bytes=mem_step_b,
            replica_step=replica_step,
            cpu_max_millis=read_cpu_millis(caps.get("cpu", "16")),
            memory_max_bytes=read_memory_bytes(caps.get("memory", "32Gi")),
            replicas_max=int(max_replicas),  # type: ignore[arg-type]
            cpu_min_millis=cpu_step_m if min_cpu is None else read_cpu_millis(min_cpu),
            memory_min_bytes=mem_step_b if min_memory is None else read_memory_bytes(min_memory),
            replicas_min=int(min_replicas),  # type: ignore[arg-type]
        )
        if guards.cpu_min_millis > guards.cpu_max_millis:
            raise ValueError(f"caps: min_cpu {format_cpu(guards.cpu_min_millis)} is above the cpu cap")
        if guards.memory_min_bytes > guards.memory_max_bytes:
            raise ValueError(f"caps: min_memory {format_memory(guards.memory_min_bytes)} is above the memory cap")
        if guards.replicas_min > guards.replicas_max:
            raise ValueError(f"caps: min_replicas {guards.replicas_min} is above the replicas cap")
        return guards


def _positive(value: int, key: str, raw: object) -> int:
    if value <= 0:
        raise ValueError(f"{key} {raw!r}: must be positive")
    return value


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One discrete action.

    Attributes:
        name: stable name, used in ``info["action"]`` and by agents (``"cpu_up"``).
        resource: ``"none"``, ``"cpu"``, ``"memory"`` or ``"replicas"``.
        sign: ``+1`` raises, ``-1`` lowers, ``0`` does nothing.
        help: one line for humans.
    """

    name: str
    resource: str
    sign: int
    help: str


NOOP = ActionSpec("noop", "none", 0, "leave the workload as it is")
CPU_UP = ActionSpec("cpu_up", "cpu", +1, "raise the CPU request of the edited containers by one step")
MEMORY_UP = ActionSpec("memory_up", "memory", +1, "raise the memory request of the edited containers by one step")
CPU_DOWN = ActionSpec("cpu_down", "cpu", -1, "lower the CPU request of the edited containers by one step")
MEMORY_DOWN = ActionSpec("memory_down", "memory", -1, "lower the memory request of the edited containers by one step")
REPLICAS_UP = ActionSpec("replicas_up", "replicas", +1, "add replica_step replicas")
REPLICAS_DOWN = ActionSpec("replicas_down", "replicas", -1, "remove replica_step replicas")

#: Action sets by name; the position in the tuple is the action's integer id.
ACTION_SETS: dict[str, tuple[ActionSpec, ...]] = {
    "default": (NOOP, CPU_UP, MEMORY_UP, CPU_DOWN, MEMORY_DOWN, REPLICAS_UP, REPLICAS_DOWN),
    "requests": (NOOP, CPU_UP, MEMORY_UP, CPU_DOWN, MEMORY_DOWN),
}

#: Action names of the ``default`` set, index = action id.
DEFAULT_ACTIONS: tuple[str, ...] = tuple(a.name for a in ACTION_SETS["default"])


@dataclass(frozen=True, slots=True)
class EditTarget:
    """What an action may touch in one scenario's workload.

    Attributes:
        container_names: names of the pod template's regular containers, in order.
        edit_indices: positions of the containers that resource actions edit.
        scalable: whether the workload has ``spec.replicas`` (a bare Pod has not).
    """

    container_names: tuple[str, ...]
    edit_indices: tuple[int, ...]
    scalable: bool = True


#: Result of applying an action: the next state and ``None``, or the unchanged state and a reason.
Transition = tuple[EditState, "str | None"]


class ActionSet:
    """A named tuple of :class:`ActionSpec` plus the safeguards that bound them."""

    def __init__(self, name: str, actions: Sequence[ActionSpec], guards: Safeguards) -> None:
        self.name = name
        self.actions: tuple[ActionSpec, ...] = tuple(actions)
        self.names: tuple[str, ...] = tuple(a.name for a in self.actions)
        self.guards = guards
        self._index = {n: i for i, n in enumerate(self.names)}
        #: Per action, ``(state, target) -> Transition`` with the action's constants bound
        #: (:func:`_applier`); ``None`` when some action is not an :class:`ActionSpec`.
        self._appliers: tuple | None = (
            tuple([_applier(a, guards) for a in self.actions])
            if all(type(a) is ActionSpec for a in self.actions)
            else None
        )

    def __len__(self) -> int:
        return len(self.actions)

    def index(self, name: str) -> int:
        """Action id of ``name``; ``KeyError`` naming the valid actions if it is not in this set."""
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"action {name!r} is not in action set {self.name!r}: {list(self.names)}") from None

    def apply(self, state: EditState, action: int, target: EditTarget) -> Transition:
        """The state after ``action``, or ``(state, reason)`` when a safeguard blocks it."""
        return apply_action(self.actions[action], state, target, self.guards)

    def transitions(self, state: EditState, target: EditTarget) -> tuple[Transition, ...]:
        """``apply`` for every action, in action-id order (what masks and planners need); through
        the per-action appliers (:func:`_applier`, the same transitions as :func:`apply_action`)."""
        appliers = self._appliers
        if appliers is None:
            guards = self.guards
            return tuple([apply_action(a, state, target, guards) for a in self.actions])
        return tuple([apply(state, target) for apply in appliers])


#: Action sets built by a factory rather than listed in :data:`ACTION_SETS` (their layout depends on
#: ``edit_containers``): ``coarse`` (:func:`sim_arena_gym.env.coarse_actions.make_any_action_set`, the
#: factory the env calls, which hands every other name to this one).
BUILT_ACTION_SETS: tuple[str, ...] = ("coarse",)


def make_action_set(name: str, guards: Safeguards, edit_containers: str = "all") -> ActionSet:
    """The action set called ``name`` (see :data:`ACTION_SETS`)."""
    if edit_containers == "slots":
        raise ValueError(f"edit_containers 'slots' needs action_set 'coarse', not {name!r}")
    try:
        actions = ACTION_SETS[name]
    except KeyError:
        raise ValueError(f"action_set {name!r}: expected one of {sorted([*ACTION_SETS, *BUILT_ACTION_SETS])}") from None
    return ActionSet(name, actions, guards)


def mask_of(transitions: Sequence[Transition]) -> tuple[int, ...]:
    """1 for every action that is not blocked, else 0 (``noop`` is never blocked)."""
    return tuple([0 if blocked else 1 for _, blocked in transitions])


def apply_action(spec: ActionSpec, state: EditState, target: EditTarget, guards: Safeguards) -> Transition:
    """Apply one action under ``guards``; see the module docstring for the rules.

    This runs seven times per simulated state (once per action, for the mask), so it is written for
    speed: the next :class:`EditState` is built directly (:func:`_state`) rather than with
    ``_replace``, and a blocked reason is formatted only when an action is blocked."""
    resource = spec.resource
    sign = spec.sign
    if sign == 0 or resource == "none":
        return state, None
    if resource == "replicas":
        return _apply_replicas(sign, state, target, guards)
    if resource == "cpu":
        step, low, high = guards.cpu_step_millis, guards.cpu_min_millis, guards.cpu_max_millis
        requests, limits = state.cpu, state.cpu_limit
    else:
        step, low, high = guards.memory_step_bytes, guards.memory_min_bytes, guards.memory_max_bytes
        requests, limits = state.memory, state.memory_limit
    new_requests = list(requests)
    new_limits = list(limits)
    delta = sign * step
    for i in target.edit_indices:
        new = (requests[i] or 0) + delta
        if _past_bound(new, delta, low, high):
            return state, _blocked_reason(resource, new, delta, low, high, target, i)
        new_requests[i] = new
        limit = limits[i]
        if limit is not None and limit < new:
            new_limits[i] = new
    if resource == "cpu":
        return _state((tuple(new_requests), state.memory, tuple(new_limits), state.memory_limit, state.replicas)), None
    return _state((state.cpu, tuple(new_requests), state.cpu_limit, tuple(new_limits), state.replicas)), None


def _past_bound(new: int, delta: int, low: int, high: int) -> bool:
    """A request moved by ``delta`` to ``new`` passes the bound it moves towards (the cap ``high``
    going up, the floor ``low`` going down). Only that bound is checked, so a request that starts
    outside the caps (17 CPU in a trace) can always be brought back within them."""
    return new > high if delta > 0 else delta < 0 and new < low


def _state(fields: tuple) -> EditState:
    """``EditState(*fields)`` without the keyword-handling ``__new__`` of a NamedTuple (the same
    object: a tuple of class EditState with those five fields)."""
    return _tuple_new(EditState, fields)


_tuple_new = tuple.__new__


def _replicas_applier(sign: int, guards: Safeguards) -> "Callable[[EditState, EditTarget], Transition]":
    """``(state, target) -> Transition`` of the replicas action of direction ``sign`` under
    ``guards`` (the step and the bound it moves towards read once); the one place of the replicas rule."""
    delta = sign * guards.replica_step
    high, low = guards.replicas_max, guards.replicas_min

    def apply(state: EditState, target: EditTarget) -> Transition:
        if not target.scalable:
            return state, "the workload is a bare Pod: it has no replicas to change"
        new = state[4] + delta
        if sign > 0:
            if new > high:
                return state, f"replicas {new} would exceed the cap of {high}"
        elif new < low:
            return state, f"replicas {new} would go below the minimum of {low}"
        return _state((state[0], state[1], state[2], state[3], new)), None

    return apply


def _noop(state: EditState, target: EditTarget) -> Transition:
    """The transition of an action that changes nothing."""
    return state, None


def _applier(spec: ActionSpec, guards: Safeguards) -> "Callable[[EditState, EditTarget], Transition]":
    """``lambda state, target: apply_action(spec, state, target, guards)``, the same transition,
    with the action's field positions, step and bound read once, and the common target of one
    edited container written out (:meth:`ActionSet.transitions` runs seven of these per simulated
    state). The fields an action leaves alone are the state's own tuples (equal either way)."""
    resource, sign = spec.resource, spec.sign
    if sign == 0 or resource == "none":
        return _noop
    if resource == "replicas":
        return _replicas_applier(sign, guards)
    if resource == "cpu":
        step, low, high, req_at = guards.cpu_step_millis, guards.cpu_min_millis, guards.cpu_max_millis, 0
    else:
        step, low, high, req_at = guards.memory_step_bytes, guards.memory_min_bytes, guards.memory_max_bytes, 1
    lim_at = req_at + 2  # EditState: cpu, memory, cpu_limit, memory_limit, replicas
    delta = sign * step

    def apply(state: EditState, target: EditTarget) -> Transition:
        indices = target.edit_indices
        if len(indices) != 1:
            return apply_action(spec, state, target, guards)
        (i,) = indices
        requests = state[req_at]
        new = (requests[i] or 0) + delta
        if _past_bound(new, delta, low, high):
            return state, _blocked_reason(resource, new, delta, low, high, target, i)
        if len(requests) == 1:
            new_requests: tuple = (new,)
        else:
            new_requests = (*requests[:i], new, *requests[i + 1 :])
        limits = state[lim_at]
        limit = limits[i]
        if limit is not None and limit < new:
            limits = (new,) if len(limits) == 1 else (*limits[:i], new, *limits[i + 1 :])
        if req_at == 0:
            return _state((new_requests, state[1], limits, state[3], state[4])), None
        return _state((state[0], new_requests, state[2], limits, state[4])), None

    return apply


def _blocked_reason(resource: str, new: int, delta: int, low: int, high: int, target: EditTarget, i: int) -> str:
    """Why a CPU / memory action is blocked: its new request ``new`` (of container ``i``) is past the
    cap (``delta > 0``) or the floor."""
    fmt = format_cpu if resource == "cpu" else format_memory
    where = f" (container {target.container_names[i]})" if len(target.edit_indices) > 1 else ""
    if delta > 0:
        cap_text = f"{format_cpu(high)} CPU" if resource == "cpu" else f"{format_memory(high)} memory"
        return f"{resource} request {fmt(new)} would exceed the {cap_text} cap per container{where}"
    shown = fmt(new) if new >= 0 else f"-{fmt(-new)}"
    return f"{resource} request {shown} would go below the minimum of {fmt(low)}{where}"


def _apply_replicas(sign: int, state: EditState, target: EditTarget, guards: Safeguards) -> Transition:
    return _replicas_applier(sign, guards)(state, target)


def check_edit(prev: EditState, new: EditState, target: EditTarget, guards: Safeguards) -> str | None:
    """Why a direct edit from ``prev`` to ``new`` breaks a safeguard, or ``None`` when it is allowed.

    The same rules as the actions, for an edit of any size (what ``kubectl set resources`` or
    ``kubectl scale`` makes): only changed values are checked, and only against the bound they move
    towards (a request that starts above a cap may always be lowered); a changed request must stay
    within ``[*_min, *_max]`` and replicas within ``[replicas_min, replicas_max]``; only the edited
    containers (``target.edit_indices``) may change; a request may not be removed; a request may not
    end above its limit. Units as in :class:`EditState` (millicores, bytes, pods)."""
    for resource, requests, new_requests, limits, new_limits, low, high in (
        ("cpu", prev.cpu, new.cpu, prev.cpu_limit, new.cpu_limit, guards.cpu_min_millis, guards.cpu_max_millis),
        ("memory", prev.memory, new.memory, prev.memory_limit, new.memory_limit,
         guards.memory_min_bytes, guards.memory_max_bytes),
    ):
        fmt = format_cpu if resource == "cpu" else format_memory
        for i, name in enumerate(target.container_names):
            old, value = requests[i], new_requests[i]
            changed = value != old or new_limits[i] != limits[i]
            if changed and i not in target.edit_indices:
                return f"container {name} is not edited in this scenario (only {_edited(target)})"
            if value != old:
                if value is None:
                    return f"the {resource} request of container {name} may not be removed"
                delta = value - (old or 0)
                if (delta > 0 and value > high) or (delta < 0 and value < low):
                    return _blocked_reason(resource, value, delta, low, high, target, i)
            limit = new_limits[i]
            if changed and value is not None and limit is not None and value > limit:
                return f"{resource} request {fmt(value)} of container {name} is above its limit {fmt(limit)}"
    if new.replicas != prev.replicas:
        if not target.scalable:
            return "the workload is a bare Pod: it has no replicas to change"
        if new.replicas > prev.replicas and new.replicas > guards.replicas_max:
            return f"replicas {new.replicas} would exceed the cap of {guards.replicas_max}"
        if new.replicas < prev.replicas and new.replicas < guards.replicas_min:
            return f"replicas {new.replicas} would go below the minimum of {guards.replicas_min}"
    return None


def _edited(target: EditTarget) -> str:
    return ", ".join(target.container_names[i] for i in target.edit_indices)

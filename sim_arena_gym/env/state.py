"""Episode state and what the env knows about one scenario.

* :class:`ScenarioContext`: everything about a scenario that is fixed for an episode -- its trace,
  the target workload, the initial :class:`~sim_arena_gym.env.actions.EditState`, the normalising
  constants (:class:`ScenarioConstants`) and the usage floors. Built once per scenario and reused.
  :meth:`ScenarioContext.materialize` writes an edit state into the trace (fast path and memo
  described there).
* :class:`StateView`: what one backend run says about one edit state, reduced to the numbers the
  observation, reward, info and render need. Views are immutable and memoised in an
  :class:`OutcomeCache` keyed by ``(scenario index, edit state)``: a backend is deterministic, so a
  cached view is exactly what a new run would give.

Units: CPU in millicores, memory in bytes, counts in pods.
"""

from __future__ import annotations

import functools
import sys
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Hashable, Mapping

import numpy as np

from sim_arena_gym.env.actions import EditState, EditTarget, Transition, mask_of
from sim_arena_gym.limits import MAX_NODES_PER_POOL
from sim_arena_gym.optioncheck import check_int, check_quantity
from sim_arena_gym.quantity import (
    cpu_millis,
    format_cpu,
    format_memory,
    memory_bytes,
    read_cpu_millis,
    read_memory_bytes,
)
from sim_arena_gym.scenarios.model import Scenario
from sim_arena_gym.sim.outcome import ClusterOutcome
from sim_arena_gym.sim.edited import derive_edited_deployment as _derive
from sim_arena_gym.trace.derived import EditFacts, keep_derived, note_resource_edit
from sim_arena_gym.trace.model import Trace
from sim_arena_gym.trace.recent import RecentMemo

if TYPE_CHECKING:  # pragma: no cover
    from sim_arena_gym.env.actions import ActionSet

#: Pending reasons with their own observation flag; anything else counts as "other".
KNOWN_REASONS: tuple[str, ...] = ("Insufficient cpu", "Insufficient memory", "Too many pods")


@dataclass(frozen=True, slots=True)
class ScenarioConstants:
    """Per-scenario constants, known at reset, that normalise observations and rewards.

    Attributes:
        target: pods that must be Running and Ready (``Scenario.target_replicas`` or the workload's
            replicas in the trace).
        node_cpu_millis: the largest node's allocatable CPU (millicores).
        node_memory_bytes: the largest node's allocatable memory (bytes).
        cluster_cpu_millis: allocatable CPU of all nodes together (millicores).
        cluster_memory_bytes: allocatable memory of all nodes together (bytes).
        node_count: number of nodes.
        replicas_cap: the replicas safeguard (pods).
    """

    target: int
    node_cpu_millis: int
    node_memory_bytes: int
    cluster_cpu_millis: int
    cluster_memory_bytes: int
    node_count: int
    replicas_cap: int


@dataclass(frozen=True, slots=True)
class ContainerFloor:
    """A container's usage floor (what the app really uses); ``None`` where none is declared."""

    cpu_millis: int | None = None
    memory_bytes: int | None = None


class ScenarioContext:
    """One scenario, loaded: base trace, target workload, initial state, constants, floors.

    Attributes:
        index: position of the scenario in the env's scenario list (the cache key).
        scenario: the scenario.
        trace: the unedited trace.
        target: what resource/replica actions may touch (containers, scalability).
        initial: the edit state found in the trace (the workload's last applied spec).
        constants: normalising constants.
        floors: per container (same order as ``target.container_names``), the usage floor.
        success_rule: ``"target"`` (the target workload alone decides success) or ``"cluster"`` (the
            target must also have no throttled pod, and every other workload all its pods Ready).
    """

    __slots__ = (
        "index", "scenario", "trace", "target", "initial", "constants", "floors", "workload_key",
        "_editor", "_initial_pods", "success_rule", "keep_traces", "_base_parse", "kept_transitions",
    )  # fmt: skip

    def __init__(
        self,
        index: int,
        scenario: Scenario,
        trace: Trace,
        target: EditTarget,
        initial: EditState,
        constants: ScenarioConstants,
        floors: tuple[ContainerFloor, ...],
        success_rule: str = "target",
    ) -> None:
        self.index = index
        self.success_rule = success_rule
        self.scenario = scenario
        self.trace = trace
        self.target = target
        self.initial = initial
        self.constants = constants
        self.floors = floors
        self.workload_key = str(scenario.workload)
        self._editor: Any = None
        self._initial_pods = initial[:4]
        #: Whether :meth:`materialize` keeps each state's trace in :data:`_KEPT_TRACES` (set by an
        #: env without an outcome cache, see there).
        self.keep_traces = False
        #: The target object's parse, from which :meth:`_note_facts` derives each edited copy's
        #: (``None``: not parsed yet; ``False``: none, the readers check and parse copies in full).
        self._base_parse: Any = None
        #: With :attr:`keep_traces`: recent states' transitions under an action set, by
        #: ``(action set, plain state)`` (:func:`build_view`; an env without an outcome cache
        #: simulates a state again each time it returns to it, and its moves are the same each time).
        self.kept_transitions = RecentMemo(_KEPT_TRANSITIONS_SIZE)

    def materialize(self, state: EditState) -> Trace:
        """The trace with ``state`` written into the target workload.

        The edit goes into the workload's last applied occurrence (the spec the cluster ends with, the
        one the agent repairs, as ``kubectl edit`` would); earlier occurrences keep their history. Only
        fields that differ from the trace's own values are written (so an unedited state gives
        the original trace object, and unchanged quantities keep their original spelling).

        The result is exactly ``edit_workload(self.trace, self.scenario.workload, requests=...,
        limits=..., replicas=..., occurrences="last")`` with those differences as canonical
        ``format_cpu`` / ``format_memory`` texts (``tests/test_env_fastpaths.py`` checks it byte for
        byte). Two things make it cheap, as the env materialises a trace on every simulated state:

        * the edit is done by a :class:`~sim_arena_gym.trace.workloads._LastOccurrenceEditor`
          prepared once per scenario (no per-call lookups or re-validation of the env's own texts;
          anything unusual goes to ``edit_workload`` and its errors);
        * the first trace made with the state's requests and limits (and its replicas) is memoised
          per (context, requests-and-limits state) in :data:`_POD_EDITS`; a state that differs
          from it only in replicas gets them written into a copy of its object
          (``_LastOccurrenceEditor.with_replicas``; the base trace's replicas:
          ``without_replicas``, which is then memoised instead). States that differ only in
          replicas thus share one pod template, and a state seen again gives the very same pod
          template (the same trace when its replicas are those memoised), so the backend's parse
          caches (keyed by object identity) hit instead of parsing a fresh copy -- which costs more
          than the edit itself;
        * each new edited copy of the target is recorded with its parse and pods, derived from the
          base object's parse (:meth:`_note_facts`), so that the backend's validator and parser skip
          walking it (default env, train split, per miss: validate + parse 29 -> 8 us, this method
          about 9 us more; end to end a gain within the shared test machine's noise).
        """
        init = self.initial
        if state == init:
            return self.trace
        if self.keep_traces:
            key = (self, state)
            kept = _KEPT_TRACES.get(key)
            if kept is not None:
                try:
                    _KEPT_TRACES.move_to_end(key)
                except KeyError:
                    pass
                return kept
            kept = _KEPT_TRACES[key] = self._materialize(state)
            base = self.trace
            if kept is not base:
                for event, base_event in zip(kept.events, base.events):
                    if event is not base_event:
                        for obj in event.applied_objs:
                            keep_derived(obj)  # read again: memoised in the readers' lasting tables
            _trim(_KEPT_TRACES, _KEPT_TRACES_SIZE)
            return kept
        return self._materialize(state)

    def _materialize(self, state: EditState) -> Trace:
        """:meth:`materialize` of a state other than the initial one, without :data:`_KEPT_TRACES`."""
        init = self.initial
        editor = self._editor
        if editor is None:
            from sim_arena_gym.trace.workloads import _LastOccurrenceEditor

            editor = self._editor = _LastOccurrenceEditor(self.trace, self.scenario.workload)
        replicas = state.replicas if state.replicas != init.replicas else None
        pods = state[:4]  # (cpu, memory, cpu_limit, memory_limit): what the pod template holds
        if pods == self._initial_pods:
            edited = editor.edit(replicas=replicas)
            self._note_facts(editor, edited, None)
            return edited
        key = (self, pods)
        entry = _POD_EDITS.get(key)
        if entry is None:
            editor.check_replicas(replicas)  # edit_workload reports bad replicas before the rest
            names = self.target.container_names
            requests: dict[str, dict[str, str | None]] = {}
            limits: dict[str, dict[str, str | None]] = {}
            for i, name in enumerate(names):
                _diff(requests, name, "cpu", init.cpu[i], state.cpu[i], format_cpu)
                _diff(requests, name, "memory", init.memory[i], state.memory[i], format_memory)
                _diff(limits, name, "cpu", init.cpu_limit[i], state.cpu_limit[i], format_cpu)
                _diff(limits, name, "memory", init.memory_limit[i], state.memory_limit[i], format_memory)
            edited = editor.edit(requests=requests or None, limits=limits or None, replicas=replicas)
            _POD_EDITS[key] = (edited, replicas, self._note_facts(editor, edited, None))
            _trim(_POD_EDITS, _POD_EDITS_SIZE)
            return edited
        try:
            _POD_EDITS.move_to_end(key)
        except KeyError:
            pass
        edited, written, template = entry
        if replicas == written:
            return edited  # the very trace made for this state before
        if replicas is not None:
            edited = editor.with_replicas(edited, replicas)
            self._note_facts(editor, edited, template)
            return edited
        edited = editor.without_replicas(edited)  # the trace's own replicas, kept from now on
        _POD_EDITS[key] = (edited, None, self._note_facts(editor, edited, template))
        return edited

    def _note_facts(self, editor: Any, edited: Trace, template: Any) -> Any:
        """Record with ``edited``'s target object (an edited copy the editor just made) its parse and
        pods (:class:`~sim_arena_gym.trace.derived.EditFacts`), derived from the base object's parse
        (:func:`~sim_arena_gym.sim.edited.derive_edited_deployment`; ``template``: the parsed pod
        template it shares with an earlier copy, if any), so that the backend's validator and parser
        need not walk it. Nothing is recorded where the derivation declines: the readers then check
        and parse the copy in full, with their usual errors. Returns the parsed pod template, or
        ``None``."""
        base = self._base_parse
        if base is False:
            return None
        event_index, position = editor._places[0]
        old = self.trace.events[event_index].applied_objs[position]
        if base is None:
            from sim_arena_gym.sim.parse import ObjectParser
            from sim_arena_gym.trace.errors import TraceError

            try:
                base = ObjectParser().parse_object(old)
            except TraceError:
                base = None
            if base is None or base.kind != "Deployment":
                self._base_parse = False
                return None
            self._base_parse = base
        obj = edited.events[event_index].applied_objs[position]
        if obj is old:
            return None
        parsed = _derive(base, old, obj, template)
        if parsed is None:
            return None
        note_resource_edit(old, obj, EditFacts(parsed.spec.replicas, parsed))
        return parsed.spec.template


#: Plain states (``tuple(state)``) by value, so that equal ones share one object: views of
#: neighbouring states then hold one copy of each state instead of each their own (see
#: :func:`intern_plain`). One table for the process, bounded like :data:`_POD_EDITS`.
_PLAIN_STATES: dict[tuple, tuple] = {}
#: Entries of :data:`_PLAIN_STATES` before it is cleared: about 2.4 per simulated state (the state
#: and its new neighbours), so this covers an outcome cache of the default size.
_INTERN_LIMIT = 1 << 18


def intern_plain(plain: tuple) -> tuple:
    """The one object used for plain states equal to ``plain``. Interning only saves memory: the
    table is simply cleared when full, and the env relies on identity only within one view (see
    :attr:`StateView.moves`)."""
    found = _PLAIN_STATES.get(plain)
    if found is None:
        if len(_PLAIN_STATES) >= _INTERN_LIMIT:
            _PLAIN_STATES.clear()
        found = _PLAIN_STATES[plain] = plain
    return found

#: Traces with a pod-template state written, the replicas written with it (``None``: the base
#: trace's) and the derived parse of its pod template (``None``: none, see
#: :meth:`ScenarioContext._note_facts`), keyed by ``(context, (cpu, memory, cpu_limit, memory_limit))``, least recently used first
#: (see :meth:`ScenarioContext.materialize`). One LRU for the
#: whole process, so that its size bounds the memory it holds (about 2.5 KB per entry: the copied
#: path of the edited object and the trace around it) however many scenarios and envs there are; a
#: context of a closed env stays referenced until its entries age out.
#:
#: It is small on purpose: most of its hits are states next to a recent one (a replicas move after a
#: resource move), which a few entries keep (train split, random agent: 21.5% of the outcome cache's
#: misses hit here with 4 to 64 entries, 30% with 1,024), while every entry (a dozen dicts, the
#: trace and its event) that lives long is more objects for each full garbage collection to walk;
#: 16 entries die young. The hits lost cost less than those collections did.
_POD_EDITS: "OrderedDict[tuple[ScenarioContext, tuple[tuple[int | None, ...], ...]], tuple[Trace, int | None, Any]]" = (
    OrderedDict()
)
_POD_EDITS_SIZE = 16

#: Each state's trace, keyed by ``(context, state)``, least recently used first, for contexts whose
#: :attr:`ScenarioContext.keep_traces` is set: an env without an outcome cache sets it, as there a
#: state is simulated again each time it is visited and its backend's caches (keyed by the identity
#: of the trace's objects) are what avoids the work; a state seen again then gives the very same
#: trace, so validating and parsing it hit those caches. One LRU for the process (about 2.5 KB an
#: entry, the trace and the copied path of its object).
_KEPT_TRACES: "OrderedDict[tuple[ScenarioContext, EditState], Trace]" = OrderedDict()
_KEPT_TRACES_SIZE = 4096

#: Entries per generation of :attr:`ScenarioContext.kept_transitions` (two generations, see
#: trace/recent.py): a state's seven transitions are about 1 KB.
_KEPT_TRANSITIONS_SIZE = 1024


def _trim(lru: OrderedDict, size: int) -> None:
    """Drop the least recently used entry of ``lru`` when it holds more than ``size``."""
    if len(lru) > size:
        try:  # tolerate another thread evicting at the same time
            lru.popitem(last=False)
        except KeyError:
            pass


def _diff(out: dict[str, dict[str, str | None]], name: str, key: str, old: int | None, new: int | None, fmt: Any) -> None:
    if new != old:
        out.setdefault(name, {})[key] = None if new is None else fmt(new)


# ---------------------------------------------------------------------------------------------------
# Loading


_TRACE_CACHE: "OrderedDict[tuple[str, int, int], Trace]" = OrderedDict()
_TRACE_CACHE_SIZE = 64


def load_trace_cached(path: str | Path) -> Trace:
    """Read a trace file, cached per process by (resolved path, modification time, size), so that
    several envs (a vector env, ``check_env`` re-making the env) share one parsed trace."""
    from sim_arena_gym.trace.codec import load_trace

    p = Path(path)
    try:
        st = p.stat()
        key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        return load_trace(p)  # raises the codec's clear error
    trace = _TRACE_CACHE.get(key)
    if trace is None:
        trace = load_trace(p)
        _TRACE_CACHE[key] = trace
        if len(_TRACE_CACHE) > _TRACE_CACHE_SIZE:
            _TRACE_CACHE.popitem(last=False)
    else:
        _TRACE_CACHE.move_to_end(key)
    return trace


def load_scenario_trace(scenario: Scenario) -> Trace:
    """The scenario's trace: ``scenario.trace`` when held in memory, else read (cached) from
    ``trace_path``."""
    if scenario.trace is not None:
        return scenario.trace
    if scenario.trace_path is None:
        from sim_arena_gym.trace.errors import TraceError

        raise TraceError(f"scenario {scenario.id!r} has neither a trace nor a trace file")
    return load_trace_cached(scenario.trace_path)


#: Values of the ``success_rule`` config key (see :class:`ScenarioContext`).
SUCCESS_RULES: tuple[str, ...] = ("target", "cluster")


def build_context(
    index: int, scenario: Scenario, *, edit_containers: str, replicas_cap: int, success_rule: str = "target"
) -> ScenarioContext:
    """Load ``scenario`` and derive its context. Raises ``TraceError`` for a bad trace or workload."""
    from sim_arena_gym.trace.errors import WorkloadError
    from sim_arena_gym.trace.workloads import find_workload

    from sim_arena_gym.trace.validate import validate_trace

    trace = load_scenario_trace(scenario)
    validate_trace(trace)  # the types and ranges the apiserver would enforce, and the pod bound
    info = find_workload(trace, scenario.workload)
    containers = tuple(info.containers)
    if not containers:
        raise WorkloadError(f"workload {scenario.workload} has no containers to edit", file=trace.source)
    names = tuple(c.name for c in containers)
    cpu: list[int | None] = []
    memory: list[int | None] = []
    cpu_limit: list[int | None] = []
    memory_limit: list[int | None] = []
    for c in containers:
        lim_cpu = _opt(c.limits.get("cpu"), read_cpu_millis)
        lim_mem = _opt(c.limits.get("memory"), read_memory_bytes)
        req_cpu = _opt(c.requests.get("cpu"), read_cpu_millis)
        req_mem = _opt(c.requests.get("memory"), read_memory_bytes)
        # The apiserver defaults a missing request to the limit; the scheduler sees that value.
        cpu.append(lim_cpu if req_cpu is None else req_cpu)
        memory.append(lim_mem if req_mem is None else req_mem)
        cpu_limit.append(lim_cpu)
        memory_limit.append(lim_mem)
    initial = EditState(tuple(cpu), tuple(memory), tuple(cpu_limit), tuple(memory_limit), int(info.replicas))
    if edit_containers == "first":
        edit_indices: tuple[int, ...] = (0,)
    else:
        edit_indices = tuple(range(len(names)))
    target = EditTarget(names, edit_indices, scalable=scenario.workload.kind != "Pod")
    pools = [p for p in scenario.node_pools if p.count > 0]
    for p in pools:
        check_int(f"node pool {p.name!r} count", p.count, low=0, high=MAX_NODES_PER_POOL.value())
        check_quantity(f"node pool {p.name!r} cpu", p.cpu, "cpu")
        check_quantity(f"node pool {p.name!r} memory", p.memory)
    node_cpu = max((read_cpu_millis(p.cpu) for p in pools), default=0)
    node_mem = max((read_memory_bytes(p.memory) for p in pools), default=0)
    target_pods = int(scenario.target_replicas if scenario.target_replicas is not None else info.replicas)
    if target_pods < 1:
        raise WorkloadError(
            f"workload {scenario.workload} asks for {target_pods} replicas, so there is nothing to repair; "
            "give the scenario a target of at least 1 Ready pod (target=N)",
            file=trace.source,
        )
    constants = ScenarioConstants(
        target=target_pods,
        node_cpu_millis=node_cpu,
        node_memory_bytes=node_mem,
        cluster_cpu_millis=sum(read_cpu_millis(p.cpu) * p.count for p in pools),
        cluster_memory_bytes=sum(read_memory_bytes(p.memory) * p.count for p in pools),
        node_count=sum(p.count for p in pools),
        replicas_cap=replicas_cap,
    )
    floors = tuple(
        ContainerFloor(
            _floor(scenario.usage_floors, n, "cpu"),
            _floor(scenario.usage_floors, n, "memory"),
        )
        for n in names
    )
    return ScenarioContext(index, scenario, trace, target, initial, constants, floors, success_rule)


def _floor(floors: Mapping[str, Mapping[str, Any]], container: str, resource: str) -> int | None:
    """A usage floor in millicores / bytes, ``None`` where undeclared (``OptionError`` naming it if bad)."""
    value = (floors.get(container) or {}).get(resource)
    if value is None:
        return None
    return check_quantity(f"usage_floors[{container!r}][{resource!r}]", value, resource)


def _opt(value: object, parse: Any) -> int | None:
    return None if value is None else parse(value)


# ---------------------------------------------------------------------------------------------------
# Views


class StateView:
    """What one backend run says about one edit state, reduced for the env (immutable by convention).

    Attributes:
        state: the edit state that was simulated.
        outcome: the backend's :class:`ClusterOutcome` (for rendering and planners).
        ready, pending, total: pods of the target workload (Running+Ready, Pending, non-terminal).
        oom_killed: Running pods not Ready because a container is OOMKilled (CrashLoopBackOff).
        throttled: Ready pods whose CPU request is below the usage floor.
        success: exactly ``target`` pods Ready, none Pending, no other pod left (with the ``cluster``
            success rule also: no throttled target pod, ``others_unready == 0`` and ``others_pending == 0``).
        others_desired: pods the other workloads of the trace want (sum of their desired replicas).
        others_ready: of those, pods Running and Ready (at most each workload's desired).
        others_pending: Pending pods of the other workloads.
        others_unready: ``others_desired - others_ready`` (pods the other workloads miss).
        oom_containers: names of the target's containers that are OOMKilled, as ``kubectl describe
            pod`` shows them (memory limit, or request without a limit, below the usage floor), listed
            only while some target pod is OOMKilled; ``()`` otherwise.
        throttled_containers: likewise, the containers whose CPU request is below the floor, while
            some target pod is throttled.
        pending_reasons: distinct pending reasons, sorted (``("Insufficient cpu",)``).
        scheduling_message: FailedScheduling message of a Pending target pod (``""`` if none).
        free_cpu_fraction, free_memory_fraction: unrequested share of the cluster's allocatable.
        pod_cpu_millis, pod_memory_bytes: the pod template's requests, summed over containers.
        requests, limits: per container, ``((name, (("cpu", "500m"), ("memory", "256Mi"))), ...)``.
        transitions: ``(next state, blocked reason)`` per action id (built on first access from
            :attr:`moves`).
        moves: the same with each next state as a plain tuple (``tuple(state)``), the form the env
            steps with; a move that leaves the state unchanged holds :attr:`plain` itself.
        plain: ``tuple(state)``, the state as the outcome cache keys it.
        mask: 1/0 per action id (not blocked / blocked).
        obs: the state-dependent part of the observation (read-only float32 array).
        info_base: the part of the env's ``info`` dict that depends on this view and its scenario
            only, as a template the env copies on every step (all keys in order, ``None`` for the
            per-step and mutable values); ``None`` until the env sets it. Views with equal values
            share one, so it is never handed out. Not part of the record (a tuple holding a dict
            stays tracked by the garbage collector); the record keeps ``info_id`` instead.
        info_id: the env's number for :attr:`info_base` (an ``int``, ``None`` until the env sets it),
            by which a view made from a record finds its template again.
        record: every field above except ``state`` and ``outcome``, as one tuple of plain values
            (numbers, strings, tuples of them, read-only arrays): what the outcome cache keeps. Such
            a tuple holds nothing the garbage collector has to walk, so a cache of many thousands of
            records costs the collector almost nothing (views would cost it dozens of objects each).
    """

    __slots__ = (
        "_state", "_outcome", "_resimulate", "_transitions", "_record", "plain", "ready", "pending", "total",
        "oom_killed", "throttled", "success", "pending_reasons", "scheduling_message", "free_cpu_fraction",
        "free_memory_fraction", "pod_cpu_millis", "pod_memory_bytes", "requests", "limits", "_moves", "mask",
        "mask_array", "obs",
        "others_desired", "others_ready", "others_pending", "others_unready", "oom_containers",
        "throttled_containers", "info_base", "info_id",
    )  # fmt: skip

    def __init__(self) -> None:
        self._state = None
        self.info_base = None
        self.info_id = None

    @property
    def state(self) -> EditState:
        """The edit state that was simulated. A view made from a record builds it from
        :attr:`plain` on first access (a step that only moves between cached states never needs it)."""
        state = self._state
        if state is None:
            state = self._state = _tuple_new(EditState, self.plain)
        return state

    @state.setter
    def state(self, value: EditState) -> None:
        self._state = value

    outcome: ClusterOutcome
    ready: int
    pending: int
    total: int
    oom_killed: int
    throttled: int
    success: bool
    others_desired: int
    others_ready: int
    others_pending: int
    others_unready: int
    oom_containers: tuple[str, ...]
    throttled_containers: tuple[str, ...]
    pending_reasons: tuple[str, ...]
    info_base: dict[str, Any] | None
    info_id: int | None
    scheduling_message: str
    free_cpu_fraction: float
    free_memory_fraction: float
    pod_cpu_millis: int
    pod_memory_bytes: int
    requests: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    limits: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    plain: tuple
    mask: tuple[int, ...]
    mask_array: np.ndarray
    obs: np.ndarray

    @property
    def outcome(self) -> ClusterOutcome:
        """The backend's outcome of :attr:`state`. A view made from a cached record
        (:meth:`from_record`) has none yet: it is simulated again on first access -- the same
        outcome, since backends are deterministic -- and kept by the view."""
        outcome = self._outcome
        if outcome is None:
            outcome = self._outcome = self._resimulate(self.state)
        return outcome

    @outcome.setter
    def outcome(self, value: ClusterOutcome) -> None:
        self._outcome = value

    @property
    def transitions(self) -> tuple[Transition, ...]:
        """``(next state, blocked reason)`` per action id, as :class:`EditState` objects; a move that
        leaves the state unchanged gives :attr:`state` itself."""
        found = self._transitions
        if found is None:
            state, plain = self.state, self.plain
            found = self._transitions = tuple(
                [(state if p is plain else _tuple_new(EditState, p), reason) for p, reason in self.moves]
            )
        return found

    @property
    def moves(self) -> tuple[tuple[tuple, str | None], ...]:
        """:attr:`transitions` with each next state as a plain tuple (the other states interned, see
        :func:`intern_plain`); a move that leaves the state unchanged holds :attr:`plain` itself."""
        found = self._moves
        if found is None:
            state, plain = self.state, self.plain
            found = self._moves = tuple(
                [(plain if s is state else intern_plain(tuple(s)), r) for s, r in self._transitions]
            )
        return found

    @property
    def record(self) -> tuple:
        """Every field but ``state`` and ``outcome`` as one tuple of plain values (see the class
        docstring); built on first access (only the outcome cache needs it)."""
        found = self._record
        if found is None:
            found = self._record = (
                self.plain, self.ready, self.pending, self.total, self.oom_killed, self.throttled, self.success,
                self.pending_reasons, self.scheduling_message, self.free_cpu_fraction, self.free_memory_fraction,
                self.pod_cpu_millis, self.pod_memory_bytes, self.requests, self.limits, self.moves, self.mask,
                self.mask_array, self.obs, self.others_desired, self.others_ready, self.others_pending,
                self.others_unready, self.oom_containers, self.throttled_containers, self.info_id,
            )  # fmt: skip
        return found

    @classmethod
    def from_record(cls, record: tuple, resimulate: Any) -> "StateView":
        """The view a cached :attr:`record` stands for (its outcome re-simulated on demand)."""
        view = _new_view(cls)
        view._record = record
        (
            view.plain, view.ready, view.pending, view.total, view.oom_killed, view.throttled, view.success,
            view.pending_reasons, view.scheduling_message, view.free_cpu_fraction, view.free_memory_fraction,
            view.pod_cpu_millis, view.pod_memory_bytes, view.requests, view.limits, view._moves, view.mask,
            view.mask_array, view.obs, view.others_desired, view.others_ready, view.others_pending,
            view.others_unready, view.oom_containers, view.throttled_containers, view.info_id,
        ) = record  # fmt: skip
        view.info_base = None
        view._state = None  # built from plain when asked (see state)
        view._outcome = None
        view._resimulate = resimulate
        view._transitions = None
        return view

    def requests_dict(self) -> dict[str, dict[str, str]]:
        """Fresh ``{container: {"cpu": "500m", "memory": "256Mi"}}`` (requests)."""
        return fresh_quantities(self.requests)

    def limits_dict(self) -> dict[str, dict[str, str]]:
        """Fresh ``{container: {...}}`` (limits; a resource without a limit is absent)."""
        return fresh_quantities(self.limits)


def fresh_quantities(named: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]) -> dict[str, dict[str, str]]:
    """``{name: dict(items) for name, items in named}`` (fresh dicts from :attr:`StateView.requests`
    or ``limits``), one container without the comprehension (the env does this on every step)."""
    if len(named) == 1:
        ((name, items),) = named
        return {name: dict(items)}
    return {name: dict(items) for name, items in named}


_new_view = object.__new__
_tuple_new = tuple.__new__


def build_view(
    ctx: ScenarioContext,
    state: EditState,
    outcome: ClusterOutcome,
    actions: "ActionSet",
    encoder: Any,
    resimulate: Any = None,
    *,
    intern: bool = False,
) -> StateView:
    """Reduce ``outcome`` (the run of ``state``) to a :class:`StateView`, with the encoder's state part.

    This runs once per simulated state (on every step when the outcome cache is off), so the plain
    parts are written for speed: the node totals are summed in one pass, the per-container totals and
    quantity tuples come from memos (:func:`_total`, :func:`_named_quantities`: immutable results of
    a few recurring values), and equal masks share one read-only array (:func:`_mask_array`). Every
    value is the same as computed the obvious way. ``resimulate(state) -> ClusterOutcome`` is how a
    view made from its record (:meth:`StateView.from_record`) gets its outcome back. With ``intern``
    (the env sets it when its outcome cache is on) the plain state is interned for the process
    (:func:`intern_plain`), so that cached records share it; without a cache that would only keep
    states alive for nothing. The plain moves and the record are built only when asked for."""
    wl = outcome.workload(ctx.workload_key)
    target = ctx.constants.target
    view = StateView()
    view.state = state
    plain = view.plain = intern_plain(tuple(state)) if intern else tuple(state)
    view._outcome = outcome
    view._resimulate = resimulate
    view.ready = int(wl.ready)
    view.pending = int(wl.pending)
    view.total = int(wl.total)
    view.oom_killed = int(wl.crashlooping)
    view.throttled = int(wl.throttled)
    view.success = bool(wl.ready == target and wl.pending == 0 and wl.total == target)
    others_desired = others_ready = others_pending = 0
    for key, other in outcome.workloads.items():
        if key != ctx.workload_key:
            others_desired += other.desired
            others_ready += other.ready if other.ready < other.desired else other.desired
            others_pending += other.pending
    view.others_desired = others_desired
    view.others_ready = others_ready
    view.others_pending = others_pending
    view.others_unready = others_desired - others_ready
    view.oom_containers = _below_floor(ctx, state, "memory") if view.oom_killed else ()
    view.throttled_containers = _below_floor(ctx, state, "cpu") if view.throttled else ()
    if ctx.success_rule == "cluster" and view.success:
        view.success = wl.throttled == 0 and others_ready == others_desired and others_pending == 0
    view.pending_reasons = tuple(sorted(wl.pending_reasons))
    view.scheduling_message = wl.scheduling_message
    alloc_cpu = alloc_mem = used_cpu = used_mem = 0
    for n in outcome.nodes:
        alloc_cpu += n.allocatable_cpu_millis
        alloc_mem += n.allocatable_memory_bytes
        used_cpu += n.requested_cpu_millis
        used_mem += n.requested_memory_bytes
    view.free_cpu_fraction = _clip01(1.0 - used_cpu / alloc_cpu) if alloc_cpu > 0 else 0.0
    view.free_memory_fraction = _clip01(1.0 - used_mem / alloc_mem) if alloc_mem > 0 else 0.0
    names = ctx.target.container_names
    view.pod_cpu_millis = _total(state.cpu)
    view.pod_memory_bytes = _total(state.memory)
    view.requests = _named_quantities(names, state.cpu, state.memory)
    view.limits = _named_quantities(names, state.cpu_limit, state.memory_limit)
    if ctx.keep_traces:
        key = (actions, plain)
        kept = ctx.kept_transitions.get(key)
        if kept is None:
            transitions = actions.transitions(state, ctx.target)
            ctx.kept_transitions.put(key, (state, transitions))
        else:
            # The state the transitions were made from (equal to ``state``): a blocked or no-op
            # move gives that very object back, and the env tells an unchanged step by identity.
            view.state, transitions = kept
    else:
        transitions = actions.transitions(state, ctx.target)
    view._moves = None  # built from the transitions when the record is (see StateView.moves)
    view._transitions = transitions
    mask = view.mask = mask_of(transitions)
    view.mask_array = _mask_array(mask)
    obs = encoder.encode_state(view, ctx)
    obs.flags.writeable = False
    view.obs = obs
    view._record = None
    return view


def _below_floor(ctx: ScenarioContext, state: EditState, resource: str) -> tuple[str, ...]:
    """Names of the containers whose ``resource`` is below their usage floor, by the simulator's rule
    (memory: the limit, or the request without one; CPU: the request)."""
    out = []
    for i, (name, floor) in enumerate(zip(ctx.target.container_names, ctx.floors)):
        if resource == "memory":
            value = state.memory_limit[i] if state.memory_limit[i] is not None else state.memory[i]
            low = floor.memory_bytes
        else:
            value = state.cpu[i] if state.cpu[i] is not None else state.cpu_limit[i]
            low = floor.cpu_millis
        if low is not None and value is not None and value < low:
            out.append(name)
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def _total(values: tuple[int | None, ...]) -> int:
    """Sum of the set values (a pod's request from its containers'); memoised on the tuple."""
    return sum(v or 0 for v in values)


@functools.lru_cache(maxsize=4096)
def _named_quantities(
    names: tuple[str, ...], cpu: tuple[int | None, ...], memory: tuple[int | None, ...]
) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """``((name, (("cpu", "500m"), ("memory", "256Mi"))), ...)`` per container (memoised: an
    immutable tuple of the same few values). Built from a list, so that the pairs exist before the
    tuple holding them: the garbage collector stops tracking a tuple of untracked values only when it
    meets the values first, and a tuple it keeps tracking would keep every record holding it tracked."""
    return tuple([(name, _quantities(cpu[i], memory[i])) for i, name in enumerate(names)])


@functools.lru_cache(maxsize=4096)
def _quantities(cpu: int | None, memory: int | None) -> tuple[tuple[str, str], ...]:
    """``(("cpu", "500m"), ("memory", "256Mi"))`` for the values that are set (memoised: the result
    is an immutable tuple, and the same few values recur)."""
    out: list[tuple[str, str]] = []
    if cpu is not None:
        out.append(("cpu", format_cpu(cpu)))
    if memory is not None:
        out.append(("memory", format_memory(memory)))
    return tuple(out)


_MASK_ARRAYS: dict[tuple[int, ...], np.ndarray] = {}


def _mask_array(mask: tuple[int, ...]) -> np.ndarray:
    """``mask`` as a read-only ``int8`` array; views with equal masks share one (it is read-only, and
    the env hands out copies)."""
    array = _MASK_ARRAYS.get(mask)
    if array is None:
        array = np.array(mask, dtype=np.int8)
        array.flags.writeable = False
        if len(_MASK_ARRAYS) >= 4096:
            _MASK_ARRAYS.clear()
        _MASK_ARRAYS[mask] = array
    return array


def _clip01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


class OutcomeCache:
    """A bounded LRU of view records (:attr:`StateView.record`) keyed by ``(scenario index, plain
    state)`` (``tuple(state)``).

    The MDP is deterministic (a backend replays the same trace to the same outcome), so memoising is
    exact: a hit returns what a new run would. ``maxsize=0`` disables it.

    Memory is bounded by ``maxsize`` entries and reported by :meth:`stats` (``bytes``): the sizes
    (``sys.getsizeof``) of what each entry holds on its own -- the key, the record, its moves, mask,
    reasons and observation; objects shared between entries (interned plain states, quantity
    texts, mask arrays) are not counted. Records hold no outcome (a view made from one re-simulates
    it on demand), so an entry is a few hundred bytes, not a replay, and holds nothing the garbage
    collector walks."""

    def __init__(self, maxsize: int) -> None:
        if not isinstance(maxsize, int) or isinstance(maxsize, bool) or maxsize < 0:
            raise ValueError(f"outcome_cache_size {maxsize!r}: expected a non-negative integer")
        self.maxsize = maxsize
        self._data: "OrderedDict[Hashable, tuple]" = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: Hashable) -> tuple | None:
        view = self._data.get(key)
        if view is None:
            self.misses += 1
            return None
        self.hits += 1
        self._data.move_to_end(key)
        return view

    def peek(self, key: Hashable) -> tuple | None:
        """Like :meth:`get` without touching recency or statistics."""
        return self._data.get(key)

    def put(self, key: Hashable, view: tuple) -> None:
        if self.maxsize == 0:
            return
        data = self._data
        old = data.get(key)
        if old is not None:
            self.bytes -= _entry_bytes(key, old)
        data[key] = view
        self.bytes += _entry_bytes(key, view)
        if len(data) > self.maxsize:
            gone_key, gone = data.popitem(last=False)
            self.bytes -= _entry_bytes(gone_key, gone)

    def clear(self) -> None:
        self._data.clear()
        self.hits = self.misses = 0
        self.bytes = 0

    def stats(self) -> Mapping[str, int]:
        """``size``, ``maxsize`` (entries), ``hits``, ``misses`` and ``bytes`` (see the class docstring)."""
        return {
            "size": len(self._data), "maxsize": self.maxsize, "hits": self.hits, "misses": self.misses,
            "bytes": self.bytes,
        }  # fmt: skip


_getsizeof = sys.getsizeof


def _entry_bytes(key: Any, record: tuple) -> int:
    """What one cache entry holds on its own, in bytes (see :class:`OutcomeCache`)."""
    return (
        _getsizeof(key) + _getsizeof(record) + _getsizeof(record[15]) + _getsizeof(record[16])
        + _getsizeof(record[7]) + _getsizeof(record[18])
    )  # fmt: skip

"""Resume a replay from a saved state: the cost of a run follows what changed, not the trace's length.

An edit of a trace path-copies what it changes (trace model's sharing rule): every event before the
edited one is the very same object as in the trace it was made from. A replay's state before event
``i``, once the timers due by ``events[i].ts`` have run, depends only on events ``0 .. i-1`` and that
``ts`` (and on the node set, the options, SimKube mode, the target workload and its usage floors, the
pod lifecycles and the work limits), so two traces that share their first ``i`` events by identity
and the time of the next reach the same state there. :class:`SnapshotCache` keeps such states
(:meth:`Replay.copy <sim_arena_gym.sim.replay.Replay.copy>` of a replay stopped before an event) and
runs each new trace from the latest one it shares, replaying only the events from the first one that
differs.

Where to save: for each context (node set, SimKube mode, target) the cache remembers the events of
the last trace it ran. A new trace that shares its first ``d`` events with that one (``d`` >= 1) and
has no saved state at ``d`` saves one on the way (one copy, at the boundary before ``events[d]``):
an agent editing one workload changes the same event again and again, so the next traces resume
there. The state is saved once the timers due by ``events[d].ts`` have run (a Deployment's progress
deadline, a Job's TTL), so a resumed run does not run them again; it fits only traces whose
``events[d]`` comes at that same ``ts`` (an edit changes objects, not times). A saved state is never
run: each resume runs a copy of it, so it stays valid.

Bounds (defaults; :class:`SnapshotCache` takes others): at most :data:`MAX_CONTEXTS` contexts,
:data:`PER_CONTEXT` saved states each, and :data:`MAX_SAVED_PODS` pods over all saved states (least recently used contexts go first; a state
with more pods than that is not saved). A saved state holds its pods, controllers and node usage,
about 1 KiB per pod plus about 2 KiB per state (``benchmarks/bench_sim.py`` prints the measured
figure), and a reference to the trace it was taken from.

The outcome is the full replay's, exactly (``tests/test_sim_snapshot.py`` compares both on random
traces and edits of every occurrence).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from sim_arena_gym.limits import MAX_CRON_RUNS, MAX_PODS_CREATED, MAX_TIMER_INSTANTS
from sim_arena_gym.sim.cluster import NodeSet
from sim_arena_gym.sim.options import SimOptions
from sim_arena_gym.sim.parse import ObjectParser
from sim_arena_gym.sim.replay import Replay, UsageFloors
from sim_arena_gym.trace.model import Trace, TraceEvent

__all__ = ["MAX_CONTEXTS", "MAX_SAVED_PODS", "PER_CONTEXT", "SnapshotCache", "shared_prefix"]

#: Contexts (node set, SimKube mode, target) remembered.
MAX_CONTEXTS = 128
#: Saved states per context.
PER_CONTEXT = 4
#: Pods over all saved states.
MAX_SAVED_PODS = 50_000


def shared_prefix(a: tuple[TraceEvent, ...], b: tuple[TraceEvent, ...]) -> int:
    """How many leading events ``a`` and ``b`` share by identity."""
    if a is b:
        return len(a)
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] is b[i]:
        i += 1
    return i


class _Saved:
    """A replay stopped before ``events[index]`` (never run again), with what its state depends on."""

    __slots__ = ("replay", "index", "ts", "events", "options", "floors", "lifecycles", "limits", "pods")

    def __init__(self, replay: Replay, index: int, limits: tuple[int, int, int]) -> None:
        self.replay = replay
        self.index = index
        self.events = events = replay.trace.events
        #: ``events[index].ts``: the timers up to it have run in the saved state (None: after the last event)
        self.ts = events[index].ts if index < len(events) else None
        self.options = replay.options
        self.floors = replay.floors
        self.lifecycles = replay.trace.pod_lifecycles
        self.limits = limits
        self.pods = len(replay.pods)

    def fits(self, trace: Trace, options: SimOptions, floors: UsageFloors, limits: tuple[int, int, int]) -> bool:
        """Whether ``trace`` reaches this state: same leading events (by identity) and same inputs."""
        index = self.index
        events = trace.events
        if len(events) < index:
            return False
        ts = self.ts
        if ts is not None and (len(events) == index or events[index].ts != ts):
            return False  # the saved state ran the timers up to its own events[index].ts
        mine = self.events
        if events is not mine:
            for k in range(index):
                if events[k] is not mine[k]:
                    return False
        return (
            (self.options is options or self.options == options)
            and (self.floors is floors or self.floors == floors)
            and (self.lifecycles is trace.pod_lifecycles or self.lifecycles == trace.pod_lifecycles)
            and self.limits == limits
        )


class _Context:
    """What is remembered for one (node set, SimKube mode, target)."""

    __slots__ = ("nodeset", "last_events", "saved")

    def __init__(self, nodeset: NodeSet) -> None:
        self.nodeset = nodeset  # held: the key uses its id
        self.last_events: tuple[TraceEvent, ...] = ()
        self.saved: list[_Saved] = []  # most recently used last


class SnapshotCache:
    """Saved replay states by context and shared leading events; see the module docstring.

    Not shared between threads: each backend has its own (a context's entries are replaced, never
    changed, so a concurrent reader sees an old or a new list, both valid).
    """

    def __init__(
        self, *, max_contexts: int = MAX_CONTEXTS, per_context: int = PER_CONTEXT, max_saved_pods: int = MAX_SAVED_PODS
    ) -> None:
        self.max_contexts = max_contexts
        self.per_context = per_context
        self.max_saved_pods = max_saved_pods
        self._contexts: OrderedDict[tuple[int, bool, str | None], _Context] = OrderedDict()
        self.saved_pods = 0
        self.resumed = 0  #: runs that resumed from a saved state
        self.events_skipped = 0  #: events those runs did not replay

    def __len__(self) -> int:
        return sum(len(c.saved) for c in self._contexts.values())

    def clear(self) -> None:
        self._contexts.clear()
        self.saved_pods = 0

    def replay(
        self,
        trace: Trace,
        nodeset: NodeSet,
        parser: ObjectParser,
        options: SimOptions,
        *,
        simkube_mode: bool,
        target: str | None,
        floors: UsageFloors,
    ) -> Replay:
        """A replay of ``trace`` that has run (resumed from a saved state where one fits); the
        arguments are :class:`~sim_arena_gym.sim.replay.Replay`'s. Errors are the full replay's."""
        key = (id(nodeset), simkube_mode, target)
        contexts = self._contexts
        context = contexts.get(key)
        if context is None or context.nodeset is not nodeset:
            context = _Context(nodeset)
            contexts[key] = context
            if len(contexts) > self.max_contexts:
                self._drop(next(iter(contexts)))
        else:
            contexts.move_to_end(key)
        events = trace.events
        limits = (MAX_PODS_CREATED.value(), MAX_TIMER_INSTANTS.value(), MAX_CRON_RUNS.value())
        best: _Saved | None = None
        for saved in context.saved:
            if (best is None or saved.index > best.index) and saved.fits(trace, options, floors, limits):
                best = saved
        shared = shared_prefix(events, context.last_events)
        context.last_events = events
        save_at = shared if shared >= 1 and (best is None or shared > best.index) else None
        if best is not None:
            replay = best.replay.copy(trace)
            start = best.index
            saved_list = context.saved
            if saved_list[-1] is not best:
                context.saved = [s for s in saved_list if s is not best] + [best]
            self.resumed += 1
            self.events_skipped += start
        else:
            replay = Replay(trace, nodeset, parser, options, simkube_mode=simkube_mode, target=target, floors=floors)
            start = 0
        copy = replay.run(start=start, save_at=save_at)
        if copy is not None:
            self._keep(key, context, _Saved(copy, save_at, limits))  # type: ignore[arg-type]
        return replay

    def _keep(self, key: Any, context: _Context, saved: _Saved) -> None:
        """Add ``saved`` to ``context`` within the bounds (see the module docstring)."""
        if saved.pods > self.max_saved_pods:
            return
        kept = context.saved + [saved]
        while len(kept) > self.per_context:
            self.saved_pods -= kept.pop(0).pods
        self.saved_pods += saved.pods
        context.saved = kept
        contexts = self._contexts
        while self.saved_pods > self.max_saved_pods:
            oldest = next(iter(contexts))
            if oldest != key:  # least recently used contexts first (this one is the most recent)
                self._drop(oldest)
            elif len(context.saved) > 1:
                self.saved_pods -= context.saved[0].pods
                context.saved = context.saved[1:]
            else:
                break

    def _drop(self, key: Any) -> None:
        context = self._contexts.pop(key)
        self.saved_pods -= sum(s.pods for s in context.saved)

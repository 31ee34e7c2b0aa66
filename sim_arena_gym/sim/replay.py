"""Replay a trace: events in time order, controllers and the scheduler settling after each instant.

What a replay does (trace-format spec 1.5, 1.7, 5.2-5.3; scheduling spec 4.2):

* Events are applied in file order at their ``ts``. Applied objects are created or updated (a
  Deployment whose template changed rolls out, one whose ``replicas`` changed scales); deleted objects
  are removed by identity (``kind``, namespace, name: SimKube's deletion stubs carry nothing else),
  with their pods (background cascade). Applied objects come before deleted ones, as in SimKube's
  driver. Kinds that are not modelled are ignored, as are objects owned by a DaemonSet.
* SimKube mode (``Scenario.simkube_mode``, default on) mutates every pod as the driver's webhook does:
  ``nodeSelector.type=virtual`` (overwriting an existing ``type``) and the toleration
  ``{key: kwok-provider, operator: Exists, effect: NoSchedule}``.
* Pods become Running and Ready as soon as they are bound (KWOK ``pod-ready`` stage, no delay).
  A pod whose owner has a ``Finished`` entry in ``pod_lifecycles`` succeeds ``end - start`` seconds
  after it started (at least one second); the n-th pod of an owner takes entry ``n mod len`` of the
  owner's first hash (the driver ignores the hash for built-in kinds). Succeeded pods free their
  requests.
* Between instants, timers run in time order: pod completions, CronJob schedules, Deployment progress
  deadlines and ``minReadySeconds``, Job TTLs.
* After each instant, dirty controllers and the scheduler run in turn until nothing changes; pending
  pods are retried whenever a bound pod goes away (checklist 21).
* Usage floors (``Scenario.usage_floors``, per container of the target workload only): a container
  whose memory limit (or request, without a limit) is below the floor is OOMKilled: the pod is Running
  but not Ready (``CrashLoopBackOff``) and still holds its requests; a CPU request below the floor
  marks the pod throttled (still Ready). Design note, ``shared/docs/design.md`` section 2.

The observation time is the last event's ``ts`` plus ``SimOptions.observe_after_seconds`` (or
``SimOptions.observe_at_ts``).
"""

from __future__ import annotations

import heapq
from typing import Any, Mapping

from sim_arena_gym.quantity import QuantityError, read_cpu_millis, read_memory_bytes
from sim_arena_gym.sim.cluster import RUNNING, SUCCEEDED, Cluster, NodeSet, Pod
from sim_arena_gym.sim.copying import StateCopier
from sim_arena_gym.sim.controllers import (
    BarePodController,
    Controller,
    CronJobController,
    DeploymentController,
    JobController,
    ReplicaSetController,
    StatefulSetController,
)
from sim_arena_gym.sim.objects import PodSpec, PodTemplate, SchedulingConstraints
from sim_arena_gym.sim.options import SimOptions
from sim_arena_gym.sim.parse import ObjectParser, ParsedObject, PriorityClassSpec, identity_of
from sim_arena_gym.sim.requests import NANO
from sim_arena_gym.sim.scheduler import Scheduler
from sim_arena_gym.limits import MAX_CRON_RUNS, MAX_PODS_CREATED, MAX_TIMER_INSTANTS
from sim_arena_gym.trace.errors import TraceError, TraceLimitError
from sim_arena_gym.trace.model import Trace
from sim_arena_gym.trace.refs import KIND_TO_GVK

__all__ = ["Replay", "UsageFloors", "parse_usage_floors", "resolve_priority"]

#: Built-in PriorityClasses every cluster has.
SYSTEM_PRIORITY_CLASSES = {
    "system-cluster-critical": PriorityClassSpec(2_000_000_000),
    "system-node-critical": PriorityClassSpec(2_000_001_000),
}
#: Reason of a pod held by ``spec.schedulingGates``.
SCHEDULING_GATED = "SchedulingGated"

#: per container name: (cpu floor in millicores or None, memory floor in bytes or None)
UsageFloors = Mapping[str, tuple[int | None, int | None]]


def parse_usage_floors(floors: Mapping[str, Mapping[str, str]] | None) -> dict[str, tuple[int | None, int | None]]:
    """``{"app": {"cpu": "250m", "memory": "256Mi"}}`` -> ``{"app": (250, 268435456)}``."""
    out: dict[str, tuple[int | None, int | None]] = {}
    for container, values in (floors or {}).items():
        try:
            cpu = read_cpu_millis(values["cpu"]) if values.get("cpu") is not None else None
            mem = read_memory_bytes(values["memory"]) if values.get("memory") is not None else None
        except QuantityError as exc:
            raise ValueError(f"usage_floors[{container!r}]: {exc}") from None
        out[str(container)] = (cpu, mem)
    return out


def _floor_verdict(spec: PodSpec, floors: UsageFloors) -> tuple[bool, bool]:
    """(OOMKilled, throttled) for a pod of the target workload."""
    oom = throttled = False
    for c in spec.containers:
        floor = floors.get(c.name)
        if floor is None:
            continue
        cpu_floor, mem_floor = floor
        if mem_floor is not None:
            mem = c.limits.get("memory", c.requests.get("memory"))
            if mem is not None and -((-mem) // NANO) < mem_floor:
                oom = True
        if cpu_floor is not None:
            cpu = c.requests.get("cpu", c.limits.get("cpu", 0))
            if -((-cpu) // 10**6) < cpu_floor:
                throttled = True
    return oom, throttled


def resolve_priority(spec: PodSpec, priority_classes: Mapping[str, PriorityClassSpec]) -> int:
    """A pod's priority at admission (spec section 8): ``spec.priority``, else the value of its
    ``priorityClassName`` (0 for an unknown class), else the global default class's value, else 0.
    ``priority_classes`` holds the system classes plus those applied so far."""
    if spec.priority is not None:
        return spec.priority
    if spec.priority_class:
        found = priority_classes.get(spec.priority_class)
        return found.value if found is not None else 0
    if len(priority_classes) == len(SYSTEM_PRIORITY_CLASSES):
        return 0
    for pc in priority_classes.values():
        if pc.global_default:
            return pc.value
    return 0


class Replay:
    """One replay of one trace on one node set (implements the controllers' ``ControllerHost``).

    Args:
        trace: the trace to replay.
        nodeset: the scenario's nodes (shared, static).
        parser: the (long-lived) object parser.
        options: simulator options.
        simkube_mode: apply SimKube's driver mutations to pods.
        target: workload key the usage floors apply to (``"Deployment/default/web"``), or ``None``.
        floors: parsed usage floors (see :func:`parse_usage_floors`).
    """

    def __init__(
        self,
        trace: Trace,
        nodeset: NodeSet,
        parser: ObjectParser,
        options: SimOptions,
        *,
        simkube_mode: bool = True,
        target: str | None = None,
        floors: UsageFloors | None = None,
    ) -> None:
        self.trace = trace
        self.options = options
        self.parser = parser
        self.simkube_mode = simkube_mode
        self.target = target
        self.floors = floors or {}
        self.cluster = Cluster(nodeset)
        self.scheduler = Scheduler(
            self.cluster,
            options.version,
            self._on_bound,
            self._on_preempt,
            vector_min_nodes=options.vector_min_nodes,
        )
        self.now = trace.start_ts or 0
        self.end_ts = self.now
        #: top-level controllers by (kind, namespace, name), in creation order
        self.objects: dict[tuple[str, str, str], Controller] = {}
        self.priority_classes: dict[str, PriorityClassSpec] = dict(SYSTEM_PRIORITY_CLASSES)
        #: every pod that exists (Succeeded ones included), in creation order
        self.pods: dict[int, Pod] = {}
        #: controllers to sync in the next settle round, in marking order (:meth:`mark` adds one)
        self._dirty: dict[Controller, None] = {}
        self._timers: list[tuple[int, int, Controller, str]] = []
        self._timer_keys: set[tuple[int, int, str]] = set()
        self._seq = 0
        self._uid = 0
        self._max_created = MAX_PODS_CREATED.value()
        self._instants = 0
        self._max_instants = MAX_TIMER_INSTANTS.value()
        self._cron_runs = 0
        self._max_cron_runs = MAX_CRON_RUNS.value()
        self._lifecycle_counters: dict[tuple[str, str], int] = {}
        self._spec_cache: dict[int, tuple[PodSpec, SchedulingConstraints, tuple[bool, bool], int, int]] = {}
        #: bumped whenever the PriorityClasses change (the priorities in ``_spec_cache`` are of one epoch)
        self._pc_epoch = 0

    # -- copies (sim/snapshot.py) ------------------------------------------------------------------

    def copy(self, trace: Trace | None = None) -> "Replay":
        """A copy of this replay's whole state, sharing no mutable object with it (pods, controllers,
        node usage, queues, timers, counters), for ``trace`` (default: the same trace).

        Only between events: the copy of a replay stopped before ``events[i]`` (see :meth:`run`'s
        ``save_at``) continues at ``events[i]`` of ``trace`` exactly as the original would continue
        with its own trace, provided both traces have the same events before ``i``, the same ``ts`` at
        ``i`` (its timers have run) and the same ``pod_lifecycles`` (the caller's checks)."""
        if self._dirty:
            raise RuntimeError("a replay is copied only between events (controllers are dirty)")
        copier = StateCopier()
        new = Replay.__new__(Replay)
        new.__dict__.update(self.__dict__)
        if trace is not None:
            new.trace = trace
        new.pods = copier.pods(self.pods)  # first: the other maps of pods find them copied
        new.cluster = self.cluster.copy(copier)
        new.scheduler = self.scheduler.copy(new.cluster, copier, new._on_bound, new._on_preempt)
        controller = copier.controller
        new.objects = dict(zip(self.objects, map(controller, self.objects.values())))
        new.priority_classes = self.priority_classes.copy()
        new._dirty = {}
        # still a heap (no comprehension without timers: one is a function call on Python 3.11)
        new._timers = [(ts, seq, controller(c), what) for ts, seq, c, what in self._timers] if self._timers else []
        copier.finish()
        memo = copier.memo
        new._timer_keys = (
            {(ts, id(memo[cid]), what) for ts, cid, what in self._timer_keys} if self._timer_keys else set()
        )
        new._lifecycle_counters = self._lifecycle_counters.copy()
        new._spec_cache = self._spec_cache.copy()
        return new

    # -- ControllerHost ----------------------------------------------------------------------------

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def mark(self, controller: Controller) -> None:
        self._dirty[controller] = None

    def at(self, ts: int, controller: Controller, what: str = "sync") -> None:
        key = (ts, id(controller), what)
        keys = self._timer_keys
        if key in keys:
            return
        keys.add(key)
        heapq.heappush(self._timers, (ts, self.next_seq(), controller, what))

    def _spec_facts(self, spec: PodSpec) -> tuple[PodSpec, SchedulingConstraints, tuple[bool, bool], int, int]:
        """``(spec, constraints, verdict, priority, priority epoch)`` for pods of ``spec``: the constraints
        they get (SimKube mutation), their usage-floor verdict (OOMKilled, throttled; for pods of the
        target workload) and their priority under the PriorityClasses of ``priority epoch``; cached per
        spec (the priority is recomputed once the PriorityClasses change)."""
        hit = self._spec_cache.get(id(spec))
        if hit is not None and hit[0] is spec:
            constraints, verdict = hit[1], hit[2]
        else:
            constraints = self.parser.simkube_constraints(spec.constraints) if self.simkube_mode else spec.constraints
            verdict = _floor_verdict(spec, self.floors) if self.floors else (False, False)
        facts = (spec, constraints, verdict, resolve_priority(spec, self.priority_classes), self._pc_epoch)
        self._spec_cache[id(spec)] = facts
        return facts

    def create_pod(
        self,
        owner: Controller,
        name: str,
        template: PodTemplate,
        *,
        group: Any,
        template_hash: str,
        ordinal: int = -1,
    ) -> Pod:
        spec = template.spec
        facts = self._spec_cache.get(id(spec))
        if facts is None or facts[0] is not spec or facts[4] != self._pc_epoch:
            facts = self._spec_facts(spec)
        self._uid += 1
        if self._uid > self._max_created:  # the one place pods are created: bound the work here
            raise TraceLimitError(MAX_PODS_CREATED.exceeded(self._uid, self._max_created), limit=MAX_PODS_CREATED.name)
        workload = owner.workload
        pod = Pod(
            self._uid, name, owner.namespace, workload, owner, spec, facts[1], facts[3], group, template_hash,
            self.now, ordinal,
        )
        if workload == self.target:
            pod.oom_killed, pod.throttled = facts[2]
        if self.trace.pod_lifecycles:
            pod.run_seconds = self._run_seconds(owner)
        self.pods[pod.uid] = pod
        if spec.gated:
            pod.unschedulable_reason = SCHEDULING_GATED
        elif spec.node_name is not None:
            index = self.cluster.nodeset.index.get(spec.node_name)
            if index is not None:  # bound by the creator; no scheduler, no kubelet admission in KWOK
                self.cluster.bind(pod, index)
                self._on_bound(pod)
        elif spec.scheduler_name == "default-scheduler":
            self.scheduler.enqueue(pod)
        return pod

    def _run_seconds(self, owner: Controller) -> int | None:
        top = owner.top
        gvk = KIND_TO_GVK.get(top.kind)
        if gvk is None:
            return None
        key = (gvk, f"{top.namespace}/{top.name}")
        by_hash = self.trace.pod_lifecycles.get(key)
        if not by_hash:
            return None
        entries = next(iter(by_hash.values()))
        if not entries:
            return None
        n = self._lifecycle_counters.get(key, 0)
        self._lifecycle_counters[key] = n + 1
        entry = entries[n % len(entries)]
        if isinstance(entry, Mapping) and "Finished" in entry:
            start, end = entry["Finished"]
            return max(1, int(end) - int(start))
        return None

    def delete_pod(self, pod: Pod) -> None:
        if pod.deleted:
            return
        was_bound = pod.node >= 0 and pod.phase is RUNNING
        pod.deleted = True
        self.cluster.unbind(pod)
        self.scheduler.forget(pod)
        self.pods.pop(pod.uid, None)
        owner = pod.owner
        if owner is not None:
            owner.pod_gone(self, pod)
        if was_bound:
            self.scheduler.capacity_freed()

    def delete_controller(self, controller: Controller) -> None:
        controller.delete(self)
        if controller.owner is None:
            self.objects.pop((controller.kind, controller.namespace, controller.name), None)
        else:
            self.mark(controller.owner)

    # -- pod state changes -------------------------------------------------------------------------

    def _on_bound(self, pod: Pod) -> None:
        pod.phase = RUNNING
        pod.start_ts = self.now
        if not pod.oom_killed:
            pod.ready = True
            pod.ready_ts = self.now
        if pod.run_seconds is not None:
            self.at(self.now + pod.run_seconds, pod.owner, f"complete:{pod.uid}")
        if pod.owner is not None:
            pod.owner.pod_bound(self, pod)

    def _on_preempt(self, victim: Pod) -> None:
        self.delete_pod(victim)

    def _complete(self, uid: int) -> None:
        """KWOK's ``pod-complete`` stage: the pod Succeeded and frees its requests (spec 2.4)."""
        pod = self.pods.get(uid)
        if pod is None or pod.phase is not RUNNING:
            return
        self.cluster.unbind(pod)
        pod.phase = SUCCEEDED
        if pod.owner is not None:
            pod.owner.pod_gone(self, pod)
        pod.ready = False
        self.scheduler.capacity_freed()

    # -- applying objects --------------------------------------------------------------------------

    def _apply(self, parsed: ParsedObject) -> None:
        kind, key, spec = parsed.kind, parsed.key, parsed.spec
        if kind == "PriorityClass":
            self.priority_classes[parsed.name] = spec
            self._pc_epoch += 1
            return
        existing = self.objects.get(key)
        if existing is not None:
            if kind in ("Deployment", "StatefulSet", "Job", "CronJob"):
                existing.update(self, spec)  # type: ignore[attr-defined]
            elif kind == "ReplicaSet":
                assert isinstance(existing, ReplicaSetController)
                existing.update(spec)
                self.mark(existing)
            return  # Pod: spec updates are rejected by the API server
        ns, name = parsed.namespace, parsed.name
        if kind == "Deployment":
            controller: Controller = DeploymentController(self, ns, name, spec)
        elif kind == "ReplicaSet":
            controller = ReplicaSetController(
                self, ns, name, spec.template, spec.replicas, min_ready_seconds=spec.min_ready_seconds
            )
        elif kind == "StatefulSet":
            controller = StatefulSetController(self, ns, name, spec)
        elif kind == "Job":
            controller = JobController(self, ns, name, spec)
        elif kind == "CronJob":
            controller = CronJobController(self, ns, name, spec)
        else:
            controller = BarePodController(self, ns, name, spec)
        self.objects[key] = controller
        self.mark(controller)

    def _delete(self, obj: Mapping[str, Any]) -> None:
        key = identity_of(obj)
        if key[0] == "PriorityClass":
            if self.priority_classes.pop(key[2], None) is not None:
                self._pc_epoch += 1
            return
        controller = self.objects.get(key)
        if controller is not None:
            self.delete_controller(controller)

    # -- the loop ----------------------------------------------------------------------------------

    def settle(self) -> None:
        """Run dirty controllers and the scheduler until nothing changes."""
        rounds = 0
        scheduler = self.scheduler
        limit = self.options.max_settle_rounds
        while True:
            # One round: every controller that was dirty at its start syncs once; controllers marked
            # during the round sync in the next one, after the scheduler ran.
            batch = self._dirty
            self._dirty = {}
            for controller in batch:
                if not controller.deleted:
                    controller.sync(self)
            if scheduler.has_work:
                scheduler.run()
            if not self._dirty:
                return
            rounds += 1
            if rounds > limit:
                raise RuntimeError(f"the simulation did not settle within {limit} controller rounds")

    def _run_timers(self, until: int) -> None:
        timers = self._timers
        while timers and timers[0][0] <= until:
            ts = timers[0][0]
            self.now = ts
            self._instants += 1
            if self._instants > self._max_instants:  # cron schedules over a long window: bound the work
                raise TraceLimitError(
                    MAX_TIMER_INSTANTS.exceeded(self._instants, self._max_instants), limit=MAX_TIMER_INSTANTS.name
                )
            while timers and timers[0][0] == ts:
                _, _, controller, what = heapq.heappop(timers)
                self._timer_keys.discard((ts, id(controller), what))
                if what.startswith("tick:"):  # a CronJob schedule tick
                    self._cron_runs += 1
                    if self._cron_runs > self._max_cron_runs:
                        raise TraceLimitError(
                            MAX_CRON_RUNS.exceeded(self._cron_runs, self._max_cron_runs), limit=MAX_CRON_RUNS.name
                        )
                if what.startswith("complete:"):
                    self._complete(int(what.split(":", 1)[1]))
                elif not controller.deleted:
                    controller.timer(self, what)
            self.settle()

    def run(self, *, start: int = 0, save_at: int | None = None) -> "Replay | None":
        """Replay every event from ``events[start]`` on (0: the whole trace; a later index only on a
        copy made before that event, see :meth:`copy`) up to the observation time, then settle.

        With ``save_at``, a copy of the state just before ``events[save_at]`` is applied is taken on
        the way and returned: the timers up to that event's ``ts`` have run, so the copy continues
        exactly as this replay would for any trace with the same events before ``save_at`` and the
        same ``ts`` at ``save_at`` (``save_at == len(events)``: after the last event, before the
        final timers); ``None`` when the replay does not reach that point (``observe_at_ts`` before
        it). A replay resumed from such a copy runs no timer before ``events[start]``: they ran."""
        options = self.options
        events = self.trace.events
        stop = options.observe_at_ts
        parse = self.parser.parse_object
        saved = None
        for i in range(start, len(events)):
            event = events[i]
            if stop is not None and event.ts > stop:
                break
            try:
                self._run_timers(event.ts)
                self.now = event.ts
                if i == save_at:
                    saved = self.copy()
                for obj in event.applied_objs:
                    parsed = parse(obj)
                    if parsed is not None:
                        self._apply(parsed)
                for obj in event.deleted_objs:
                    self._delete(obj)
                self.settle()
            except TraceError as exc:
                raise exc.located(where=f"events[{i}] (ts {event.ts})") from None
        else:
            if save_at == len(events):
                saved = self.copy()
        if stop is not None:
            end = stop
        elif events:
            end = events[-1].ts + options.observe_after_seconds
        else:
            end = self.now
        self._run_timers(end)
        self.now = max(self.now, end)
        self.settle()
        self.end_ts = self.now
        return saved

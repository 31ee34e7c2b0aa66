"""A short replay for the common trace: Deployments created once each, nothing else happening.

The environment replays one trace per step, and nearly every trace it edits is of this shape: a
few events, each applying new Deployments (and perhaps PriorityClasses), no deletion, no update, no
pod lifecycle. For such a trace the general replay (:class:`~sim_arena_gym.sim.replay.Replay`)
spends most of its time in machinery whose result is known in advance: controller rounds, rollout
arithmetic, timers, pod objects, queue bookkeeping. :func:`fast_outcome` computes the same
:class:`~sim_arena_gym.sim.outcome.ClusterOutcome` directly, and reuses the parts that decide
anything -- parsing, the static filters, the per-node :class:`~sim_arena_gym.sim.board.Board`
scores, the FailedScheduling text -- so the scheduling rules stay in one place.

What the general replay does with such a trace, and what this module therefore reproduces:

* A new Deployment (not paused, ``minReadySeconds`` 0, ``maxSurge`` >= 0) creates its ReplicaSet
  ``<name>-<pod-template-hash>`` and scales it straight to ``replicas``: with no other ReplicaSet,
  the rolling step ``min(replicas + maxSurge - 0, replicas - 0)`` is ``replicas``, and Recreate
  has nothing to scale down (checklist 26-28, 33). The ReplicaSet creates its pods in one round,
  so all pods of an event exist before the scheduler runs.
* All pods have one priority (else this module declines), so the queue order is creation order,
  preemption never finds a lower-priority victim, and the pods of one ReplicaSet form one
  scheduling batch: they bind one by one through a Board until the first that fits nowhere; that
  one and the rest of the batch stay Pending with one message (the failure cache of the scheduler
  gives them the same text). Pending pods are never retried: no bound pod ever goes away
  (checklist 20-21).
* Pods become Running and Ready when bound (KWOK), except OOMKilled pods of the target workload
  (usage floors), which run but are not Ready; CPU-throttled ones are Ready.
* Deployment status after its event: ``replicas`` pods, all updated, ``ready`` = available pods.
  ``Available`` is ``ready >= replicas - maxUnavailable``. ``Progressing`` (unless there is no
  deadline) is ``NewReplicaSetAvailable`` when every pod is available, else ``ReplicaSetUpdated``,
  turned into ``ProgressDeadlineExceeded`` when the deadline timer (creation + deadline + 1 s) fires
  by the observation time or deadlines are elapsed (checklist 29-31). Nothing else changes it later.
* Events may come at different (non-decreasing) times: between them only those deadline timers fire,
  and they change nothing but ``Progressing``.

Anything else -- another kind, a deletion, a second apply of a Deployment, pod lifecycles,
``observe_at_ts``, decreasing timestamps, mixed priorities, gated or pre-bound pods, another
scheduler, a paused Deployment, ``minReadySeconds``, a negative ``maxSurge`` or deadline, an object
that does not parse -- makes :func:`fast_outcome` return ``None`` and the caller runs the general
replay (which also reports parse errors with their location). ``SimOptions(fast_path=False)`` always
does; ``tests/test_sim_fastpath.py`` checks that both give equal outcomes on many random traces.

Why this second path stays (measured again for issue 11 on 2026-12-02 with ``benchmarks/bench_sim.py``
and the env, CPU time, 2-core x86-64 machine, Python 3.11): a run after an edit of the canonical
scenario takes 48 us here and 96 us on the general replay; 1,000 nodes / 10,000 pods 36 ms and 84 ms
(over the 50 ms target). Ten of the twelve scenario families are of this shape, and with the outcome
cache off the env runs them at 0.33-0.6x the speed without it (``backend_options={"fast_path": False}``,
two runs of 3 x 2,000 steps each: ``very-bad-cpu`` 23,200-23,800 -> 8,600-9,000 steps/s,
``multi-container`` 12,700-15,400 -> 6,300-7,600, ``limits-only`` 8,000-10,700 -> 3,500-4,100). Resuming from
a saved state (:mod:`~sim_arena_gym.sim.snapshot`) does not close the gap: these traces are edited in
their only event (or the event that creates the workload), so the general replay still runs the
whole Deployment creation -- controller rounds, pod objects, queue and timers, a cost spread over its
machinery with no single hot spot. It would need a different design, not tuning, to match; until then
the two stay, checked against each other.
"""

from __future__ import annotations

from typing import Any

from sim_arena_gym.sim.board import Board
from sim_arena_gym.sim.cluster import Cluster, NodeSet, PENDING, RUNNING
from sim_arena_gym.sim.controllers import (
    MIN_AVAILABLE,
    MIN_UNAVAILABLE,
    NEW_RS_AVAILABLE,
    RS_UPDATED,
    TIMED_OUT,
    _condition,
    resolve_fenceposts,
)
from sim_arena_gym.sim.messages import NO_NODES
from sim_arena_gym.sim.names import content_digest, pod_suffix, template_hash
from sim_arena_gym.sim.objects import DeploymentSpec, PodSpec, SchedulingConstraints
from sim_arena_gym.sim.observe import CRASH_LOOP_BACK_OFF, OOM_KILLED, _pod_outcome, _workload_outcome, node_outcomes
from sim_arena_gym.sim.options import SimOptions
from sim_arena_gym.sim.outcome import ClusterOutcome, Condition, PodOutcome
from sim_arena_gym.sim.parse import ObjectParser, PriorityClassSpec
from sim_arena_gym.sim.replay import SYSTEM_PRIORITY_CLASSES, UsageFloors, _floor_verdict, resolve_priority
from sim_arena_gym.sim.scheduler import UNSCHEDULABLE, evaluate_failure, no_victims_message
from sim_arena_gym.trace.errors import TraceError
from sim_arena_gym.trace.model import Trace
from sim_arena_gym.trace.recent import RecentMemo

__all__ = ["fast_outcome"]

#: Modelled kinds this module declines (an object of one is declined anyway once parsed, unless it
#: parses to nothing, e.g. a Pod owned by a DaemonSet: then the general replay, same outcome, runs).
_OTHER_KINDS = frozenset(("ReplicaSet", "StatefulSet", "Job", "CronJob", "Pod"))
_AVAILABLE = ("Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.")
_UNAVAILABLE = ("Available", "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability.")


class _Rollout:
    """One Deployment of the trace and what became of its pods.

    ``nodes`` holds the node index of each bound pod, in creation order; the pods after them are
    Pending with ``message`` and ``reasons``. Class attributes are the defaults."""

    nodes: list[int] | tuple[()] = ()
    message = ""
    reasons: tuple[str, ...] = ()
    priority = 0
    oom = throttled = False
    constraints: SchedulingConstraints | None = None

    def __init__(
        self, workload: str, namespace: str, name: str, spec: DeploymentSpec, created: int, max_unavailable: int
    ) -> None:
        self.workload = workload
        self.namespace = namespace
        self.spec: PodSpec = spec.template.spec
        self.replicas = spec.replicas
        template = spec.template
        digest = template.digest
        if digest is None:  # once per parsed template (a kept one is parsed once)
            digest = template.digest = content_digest(template.raw)
        self.hash_label = template_hash(digest)
        self.rs_name = f"{name}-{self.hash_label}"
        self.deadline = spec.progress_deadline_seconds
        self.created = created
        self.max_unavailable = max_unavailable

    def conditions(self, end: int, elapse: bool) -> tuple[Condition, ...]:
        """``Available`` and ``Progressing`` as the Deployment controller leaves them (see the
        module docstring)."""
        ready = 0 if self.oom else len(self.nodes)
        replicas = self.replicas
        available = ready >= replicas - self.max_unavailable
        if self.deadline is None:
            progress = None
        elif ready == replicas:
            progress = NEW_RS_AVAILABLE
        elif elapse or self.created + self.deadline + 1 <= end:
            progress = TIMED_OUT
        else:
            progress = RS_UPDATED
        key = (self.rs_name, available, progress)
        found = _CONDITIONS.get(key)
        if found is None:
            found = _conditions(*key)
            _CONDITIONS.put(key, found)
        return found


#: (ReplicaSet name, available, Progressing reason or None) -> the Deployment's conditions; short-lived
#: (trace/recent.py): the ReplicaSet name changes with each edited pod template
_CONDITIONS = RecentMemo(16)


def _conditions(rs_name: str, available: bool, progress: str | None) -> tuple[Condition, ...]:
    """The conditions of :meth:`_Rollout.conditions`, built (texts of ``controllers``)."""
    out = [_condition(*(_AVAILABLE if available else _UNAVAILABLE))]
    rs_text = f'ReplicaSet "{rs_name}"'
    if progress == NEW_RS_AVAILABLE:
        out.append(_condition("Progressing", "True", NEW_RS_AVAILABLE, f"{rs_text} has successfully progressed."))
    elif progress == TIMED_OUT:
        out.append(_condition("Progressing", "False", TIMED_OUT, f"{rs_text} has timed out progressing."))
    elif progress == RS_UPDATED:
        out.append(_condition("Progressing", "True", RS_UPDATED, f"{rs_text} is progressing."))
    return tuple(out)


#: (strategy, maxSurge, maxUnavailable, replicas) -> maxUnavailable as the controller caps it, or
#: ``None`` when maxSurge resolves below 0 (the first rolling step would not reach ``replicas``)
_FENCEPOSTS: dict[tuple[str, int | str, int | str, int], int | None] = {}


def _max_unavailable(spec: DeploymentSpec) -> int | None:
    key = (spec.strategy, spec.max_surge, spec.max_unavailable, spec.replicas)
    try:
        return _FENCEPOSTS[key]
    except KeyError:
        pass
    replicas = spec.replicas
    if spec.strategy == "RollingUpdate":
        surge, unavailable = resolve_fenceposts(spec.max_surge, spec.max_unavailable, replicas)
    else:
        surge = unavailable = 0
    value = None if surge < 0 else 0 if replicas == 0 else min(unavailable, replicas)
    if len(_FENCEPOSTS) > 4096:
        _FENCEPOSTS.clear()
    _FENCEPOSTS[key] = value
    return value


def _rollout_of(parsed: Any, created: int) -> _Rollout | None:
    """The rollout of a newly applied Deployment, or ``None`` when its story is not the simple one."""
    spec: DeploymentSpec = parsed.spec
    pod_spec = spec.template.spec
    deadline = spec.progress_deadline_seconds
    if (
        spec.paused
        or spec.min_ready_seconds != 0
        or spec.replicas < 0
        or (deadline is not None and deadline < 0)
        or pod_spec.gated
        or pod_spec.node_name is not None
        or pod_spec.scheduler_name != "default-scheduler"
    ):
        return None
    max_unavailable = _max_unavailable(spec)
    if max_unavailable is None:
        return None
    ns, name = parsed.namespace, parsed.name
    return _Rollout(f"Deployment/{ns}/{name}", ns, name, spec, created, max_unavailable)


def fast_outcome(
    trace: Trace,
    nodeset: NodeSet,
    parser: ObjectParser,
    options: SimOptions,
    simkube_mode: bool,
    target: str | None,
    floors: UsageFloors,
    backend: str,
) -> ClusterOutcome | None:
    """The outcome of replaying ``trace`` on ``nodeset``, or ``None`` when the trace is not of the
    shape this module handles (see the module docstring); the arguments are those of
    :class:`~sim_arena_gym.sim.replay.Replay`."""
    events = trace.events
    if not events or options.observe_at_ts is not None or trace.pod_lifecycles:
        return None
    # Decline at once a trace that shows another shape in its raw objects, before any work: a
    # deletion, decreasing times, another modelled kind, a Deployment applied twice.
    seen: set[tuple[Any, Any]] = set()
    last_ts = events[0].ts
    for event in events:
        if event.deleted_objs or event.ts < last_ts:
            return None
        last_ts = event.ts
        for obj in event.applied_objs:
            if type(obj) is not dict:
                continue
            kind = obj.get("kind")
            if kind in _OTHER_KINDS:
                return None
            meta = obj.get("metadata")
            if kind == "Deployment" and type(meta) is dict:
                identity = (meta.get("namespace"), meta.get("name"))
                if identity in seen:
                    return None
                seen.add(identity)
    version = options.version
    num_nodes = len(nodeset.nodes)
    vector = num_nodes >= options.vector_min_nodes
    cluster: Cluster | None = None
    priority_classes: dict[str, PriorityClassSpec] = SYSTEM_PRIORITY_CLASSES  # copied before a change
    rollouts: dict[str, _Rollout] = {}
    priority: int | None = None
    last_ts = events[0].ts
    parse = parser.parse_object
    for event in events:
        ts = event.ts
        if event.deleted_objs or ts < last_ts:
            return None
        last_ts = ts
        new: list[_Rollout] = []
        for obj in event.applied_objs:
            try:
                parsed = parse(obj)
            except TraceError:
                return None  # the general replay reports it, located
            if parsed is None:
                continue
            kind = parsed.kind
            if kind == "Deployment":
                rollout = _rollout_of(parsed, ts)
                if rollout is None or rollout.workload in rollouts:
                    return None
                rollouts[rollout.workload] = rollout
                new.append(rollout)
            elif kind == "PriorityClass":
                if priority_classes is SYSTEM_PRIORITY_CLASSES:
                    priority_classes = dict(SYSTEM_PRIORITY_CLASSES)
                priority_classes[parsed.name] = parsed.spec
            else:
                return None
        # The event settles: every new ReplicaSet creates its pods (their priority resolved with the
        # classes applied so far), then the scheduler binds them in creation order.
        for rollout in new:
            if not rollout.replicas:
                continue
            spec = rollout.spec
            if spec.priority is None and not spec.priority_class and priority_classes is SYSTEM_PRIORITY_CLASSES:
                p = 0  # resolve_priority: no priority, no class, no global default
            else:
                p = resolve_priority(spec, priority_classes)
            if priority is None:
                priority = p
            elif p != priority:
                return None  # the queue would reorder them, and preemption could apply
            rollout.priority = p
            rollout.constraints = parser.simkube_constraints(spec.constraints) if simkube_mode else spec.constraints
            if floors and rollout.workload == target:
                rollout.oom, rollout.throttled = _floor_verdict(spec, floors)
            if cluster is None:
                cluster = Cluster(nodeset, track_pods=False)
            _schedule(cluster, rollout, version, vector, num_nodes)
    if cluster is None:
        cluster = Cluster(nodeset, track_pods=False)
    end = last_ts + options.observe_after_seconds
    elapse = options.elapse_progress_deadlines
    workloads = {key: _workload(rollout, end, elapse) for key, rollout in rollouts.items()}
    names = nodeset.names
    ordered = tuple(rollouts.values())
    return ClusterOutcome.with_lazy_pods(
        lambda: _pods(ordered, names), node_outcomes(cluster), workloads, end, backend
    )


def _schedule(cluster: Cluster, rollout: _Rollout, version: Any, vector: bool, num_nodes: int) -> None:
    """Bind the rollout's pods one by one (one scheduling batch, see the module docstring)."""
    if not num_nodes:
        rollout.message = NO_NODES
        rollout.reasons = (NO_NODES,)
        return
    static = cluster.nodeset.static(rollout.constraints, version)  # type: ignore[arg-type]
    request = rollout.spec.request
    board = Board(cluster, static, request, rollout, version, vector=vector)
    nodes = rollout.nodes = board.fill(rollout.replicas, rollout.priority)
    if len(nodes) < rollout.replicas:
        counts, _, resolvable = evaluate_failure(cluster, static, request, version)
        never = rollout.spec.preemption_policy == "Never"
        rollout.message = no_victims_message(num_nodes, counts, resolvable, version, never=never)
        rollout.reasons = tuple(sorted(counts))


def _workload(rollout: _Rollout, end: int, elapse: bool) -> Any:
    replicas = rollout.replicas
    running = len(rollout.nodes)
    pending = replicas - running
    oom = rollout.oom
    # Built each time (not interned): a table of outcomes would keep one per simulated state alive,
    # for the garbage collector to walk (see trace/recent.py); building one costs no more than a lookup.
    return _workload_outcome(
        rollout.workload,
        replicas,
        0 if oom else running,
        pending,
        replicas,
        rollout.reasons if pending else (),
        rollout.message if pending else "",
        running if oom else 0,
        running if rollout.throttled and not oom else 0,
        replicas,
        rollout.conditions(end, elapse),
    )


def _pods(rollouts: tuple[_Rollout, ...], names: list[str]) -> tuple[PodOutcome, ...]:
    """Every pod, in creation order (built on first access to ``ClusterOutcome.pods``)."""
    out = []
    for r in rollouts:
        rs_name, ns, workload, hash_label = r.rs_name, r.namespace, r.workload, r.hash_label
        cpu, mem = r.spec.request.cpu_millis, r.spec.request.memory_bytes
        oom = r.oom
        throttled = r.throttled and not oom
        nodes = r.nodes
        for k in range(r.replicas):
            name = f"{rs_name}-{pod_suffix(rs_name, k)}"
            if k < len(nodes):
                out.append(_pod_outcome(
                    name, ns, workload, names[nodes[k]], RUNNING, not oom, CRASH_LOOP_BACK_OFF if oom else None,
                    "", cpu, mem, OOM_KILLED if oom else None, throttled, hash_label,
                ))  # fmt: skip
            else:
                out.append(_pod_outcome(
                    name, ns, workload, None, PENDING, False, UNSCHEDULABLE, r.message, cpu, mem, None, False,
                    hash_label,
                ))  # fmt: skip
    return tuple(out)

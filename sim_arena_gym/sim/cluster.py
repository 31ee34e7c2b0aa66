"""Runtime cluster state: pods, and what the pods bound to each node request.

Node usage is kept in flat ``list[int]`` per resource (indexed by node position) rather than per-node
objects, so the scheduler's filter and score loops touch only ints (checklist 9: a node's ``Requested``
is the sum of the per-pod rounded requests of its non-terminal pods).

:class:`NodeSet` is the static part (built once per scenario and reused across runs): nodes,
allocatable lists, and a cache of per-node static filter results per scheduling-constraints object.
:class:`Cluster` is the mutable part of one replay.
"""

from __future__ import annotations

from typing import Any, Iterable

from sim_arena_gym.sim.filters import StaticResult, static_filter
from sim_arena_gym.sim.objects import ZONE_LABEL, Node, PodRequest, PodSpec, SchedulingConstraints
from sim_arena_gym.sim.options import KubeVersion
from sim_arena_gym.sim.outcome import FAILED, PENDING, RUNNING, SUCCEEDED

__all__ = ["Cluster", "NodeSet", "Pod", "StaticResult", "FAILED", "PENDING", "RUNNING", "SUCCEEDED"]


class Pod:
    """One pod of a replay (mutable).

    Attributes:
        uid: creation sequence number, unique within a replay (creation order).
        name, namespace: identity (the trace's namespace).
        workload: key of the top-level owner, ``"Deployment/default/web"``.
        owner: the controller state that owns it (ReplicaSet, StatefulSet, Job) or ``None``.
        spec: parsed pod spec; shared by all pods of a template.
        constraints: where it may go (the spec's, after SimKube's mutation in SimKube mode).
        request: ``spec.request`` (the scheduler's request).
        priority: resolved ``spec.priority``.
        group: topology-spread selector group (the owning ReplicaSet/StatefulSet) or ``None``.
        template_hash: pod-template-hash / controller revision of the creating template.
        ordinal: StatefulSet ordinal, else -1.
        node: index of the node it is bound to, -1 when unscheduled.
        phase: ``Pending``, ``Running``, ``Succeeded`` or ``Failed``.
        ready: Ready condition.
        ready_ts, start_ts: when it became Ready / Running (-1 if never).
        queue_seq: the queue timestamp (creation, refreshed on each failed attempt).
        message, reasons: FailedScheduling text and its distinct reasons (last attempt).
        unschedulable_reason: PodScheduled=False reason (``Unschedulable``, ``SchedulingGated``).
        nominated: node index from preemption, -1 if none.
        oom_killed, throttled: usage-floor verdicts.
        run_seconds: KWOK completion delay from ``pod_lifecycles`` (``None``: runs forever).
        deleted: removed from the cluster.
    """

    __slots__ = (
        "uid", "name", "namespace", "workload", "owner", "spec", "constraints", "request", "priority", "group",
        "template_hash", "ordinal", "node", "phase", "ready", "ready_ts", "start_ts", "queue_seq",
        "message", "reasons", "unschedulable_reason", "nominated", "oom_killed", "throttled",
        "run_seconds", "deleted", "created_ts",
    )  # fmt: skip

    def __init__(
        self,
        uid: int,
        name: str,
        namespace: str,
        workload: str,
        owner: Any,
        spec: PodSpec,
        constraints: SchedulingConstraints,
        priority: int,
        group: Any,
        template_hash: str,
        created_ts: int,
        ordinal: int = -1,
    ) -> None:
        self.uid = uid
        self.name = name
        self.namespace = namespace
        self.workload = workload
        self.owner = owner
        self.spec = spec
        self.constraints = constraints
        self.request: PodRequest = spec.request
        self.priority = priority
        self.group = group
        self.template_hash = template_hash
        self.created_ts = created_ts
        self.ordinal = ordinal
        self.node = -1
        self.phase = PENDING
        self.ready = False
        self.ready_ts = -1
        self.start_ts = -1
        self.queue_seq = uid
        self.message = ""
        self.reasons: tuple[str, ...] = ()
        self.unschedulable_reason: str | None = None
        self.nominated = -1
        self.oom_killed = False
        self.throttled = False
        self.run_seconds: int | None = None
        self.deleted = False

    @property
    def active(self) -> bool:
        """Not terminal (Pending or Running) and not deleted."""
        return not self.deleted and (self.phase is PENDING or self.phase is RUNNING)

    def __repr__(self) -> str:
        return f"Pod({self.namespace}/{self.name}, {self.phase}, node={self.node})"


def _slot_copier(cls: type) -> Any:
    """A function copying every slot of a ``cls`` object into a new one (generated: one attribute
    load and store per slot, several times faster than :func:`copy.copy` on a slotted object)."""
    lines = ["def copy(src):", "    dst = _new(_cls)"]
    lines += [f"    dst.{name} = src.{name}" for name in cls.__slots__]
    lines.append("    return dst")
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    exec("\n".join(lines), scope)  # noqa: S102 - generated from the class's own slot names
    return scope["copy"]


#: ``pod.copy()``: a new pod with every attribute of this one (references shared: see
#: :class:`~sim_arena_gym.sim.copying.StateCopier`, which re-points them).
Pod.copy = _slot_copier(Pod)  # type: ignore[attr-defined]


class NodeSet:
    """The static nodes of a scenario, shared by every replay on it.

    Attributes:
        nodes: the nodes, in order.
        names: node names.
        alloc_cpu, alloc_mem, alloc_eph, alloc_pods: allocatable per node (millicores, bytes, count).
        alloc_scalar: allocatable extended resources per node.
        has_zones: some node carries ``topology.kubernetes.io/zone``.
        has_prefer_taints: some node has a ``PreferNoSchedule`` taint.
    """

    def __init__(self, nodes: Iterable[Node]) -> None:
        self.nodes: tuple[Node, ...] = tuple(nodes)
        self.names = [n.name for n in self.nodes]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.alloc_cpu = [n.cpu_millis for n in self.nodes]
        self.alloc_mem = [n.memory_bytes for n in self.nodes]
        self.alloc_eph = [n.ephemeral_bytes for n in self.nodes]
        self.alloc_pods = [n.pods for n in self.nodes]
        self.alloc_scalar = [dict(n.scalar) for n in self.nodes]
        self.zones: list[str | None] = [n.labels.get(ZONE_LABEL) for n in self.nodes]
        self.has_zones = any(z is not None for z in self.zones)
        self.has_prefer_taints = any(t.effect == "PreferNoSchedule" for n in self.nodes for t in n.taints)
        self._static: dict[tuple[int, KubeVersion], tuple[SchedulingConstraints, StaticResult]] = {}
        self.arrays: Any = None  # numpy views of the allocatable lists, built on demand
        self.vector_ok: bool | None = None  # allocatable values suit the numpy board (board.py)
        self.zeros = [0] * len(self.nodes)  # copied for each replay's usage lists
        self.indices = range(len(self.nodes))
        #: (node index, requested cpu, memory, pod count) -> its NodeOutcome (observe.node_outcomes,
        #: for node sets of more than 256 nodes; those of smaller ones are built each time)
        self.outcomes: dict[tuple[int, int, int, int], Any] = {}

    def __len__(self) -> int:
        return len(self.nodes)

    def static(self, constraints: SchedulingConstraints, version: KubeVersion) -> StaticResult:
        """Static filter results for ``constraints`` (cached by the constraints object's identity)."""
        key = (id(constraints), version)
        hit = self._static.get(key)
        if hit is not None and hit[0] is constraints:
            return hit[1]
        result = static_filter(constraints, self, version)
        if len(self._static) > 4096:
            self._static.clear()
        self._static[key] = (constraints, result)
        return result


class Cluster:
    """Mutable usage of one replay: pods per node and what they request (checklist 9)."""

    def __init__(self, nodeset: NodeSet, *, track_pods: bool = True) -> None:
        """``track_pods=False`` keeps no pod objects per node (``node_pods`` is ``None``): for
        :meth:`assume` only, as the fast replay of :mod:`~sim_arena_gym.sim.fastpath` does."""
        zeros = nodeset.zeros
        self.nodeset = nodeset
        self.req_cpu = zeros.copy()
        self.req_mem = zeros.copy()
        self.req_eph = zeros.copy()
        self.nz_cpu = zeros.copy()
        self.nz_mem = zeros.copy()
        self.npods = zeros.copy()
        self.req_scalar: list[dict[str, int]] = [{} for _ in zeros]
        self.node_pods: list[dict[int, Pod]] = (
            [{} for _ in zeros] if track_pods else None  # type: ignore[assignment]
        )
        #: topology-spread group -> {node index: matching pods on it}
        self.group_counts: dict[Any, dict[int, int]] = {}
        #: priority -> number of bound pods with it (preemption needs "any lower priority?")
        self.priority_counts: dict[int, int] = {}
        #: bumped on every bind/unbind; the scheduler's failure cache keys on it
        self.version = 0
        #: scheduler.evaluate_failure's results at usage ``failures_version`` (large clusters only)
        self.failures: dict[tuple, Any] = {}
        self.failures_version = -1

    def copy(self, copier: Any) -> "Cluster":
        """A copy sharing no mutable state with this one; pods and spread groups are mapped through
        ``copier`` (a :class:`~sim_arena_gym.sim.copying.StateCopier`)."""
        new = Cluster.__new__(Cluster)
        new.nodeset = self.nodeset
        new.req_cpu = self.req_cpu.copy()
        new.req_mem = self.req_mem.copy()
        new.req_eph = self.req_eph.copy()
        new.nz_cpu = self.nz_cpu.copy()
        new.nz_mem = self.nz_mem.copy()
        new.npods = self.npods.copy()
        new.req_scalar = list(map(dict.copy, self.req_scalar))  # C loop; mostly empty dicts
        if self.node_pods is None:
            new.node_pods = None  # type: ignore[assignment]
        else:
            pods = copier.copied_pods
            new.node_pods = node_pods = []  # loops, not comprehensions (a function call each on 3.11)
            for d in self.node_pods:
                node_pods.append(pods(d) if d else {})
        controller = copier.controller
        new.group_counts = group_counts = {}
        for g, c in self.group_counts.items():
            group_counts[controller(g)] = c.copy()
        new.priority_counts = self.priority_counts.copy()
        new.version = self.version
        new.failures = {}  # a copy's usage changes apart from this one's: its own memo
        new.failures_version = -1
        return new

    def bind(self, pod: Pod, i: int) -> None:
        """Assume ``pod`` onto node ``i``: its request counts there from now on."""
        self.assume(pod.request, pod.group, pod.priority, i)
        self.node_pods[i][pod.uid] = pod
        pod.node = i

    def assume(self, r: PodRequest, group: Any, priority: int, i: int) -> None:
        """Count a pod's request, spread group and priority on node ``i`` (the usage part of
        :meth:`bind`; the fast replay of :mod:`~sim_arena_gym.sim.fastpath` keeps no pod objects)."""
        self.req_cpu[i] += r.cpu_millis
        self.req_mem[i] += r.memory_bytes
        self.req_eph[i] += r.ephemeral_bytes
        self.nz_cpu[i] += r.nonzero_cpu_millis
        self.nz_mem[i] += r.nonzero_memory_bytes
        self.npods[i] += 1
        if r.scalar:
            bucket = self.req_scalar[i]
            for name, value in r.scalar:
                bucket[name] = bucket.get(name, 0) + value
        if group is not None:
            counts = self.group_counts.get(group)
            if counts is None:
                counts = self.group_counts[group] = {}
            counts[i] = counts.get(i, 0) + 1
        priority_counts = self.priority_counts
        priority_counts[priority] = priority_counts.get(priority, 0) + 1
        self.version += 1

    def unbind(self, pod: Pod) -> None:
        """Stop counting ``pod`` on its node (it finished or was deleted); its node stays recorded."""
        i = pod.node
        if i < 0 or pod.uid not in self.node_pods[i]:
            return
        r = pod.request
        self.req_cpu[i] -= r.cpu_millis
        self.req_mem[i] -= r.memory_bytes
        self.req_eph[i] -= r.ephemeral_bytes
        self.nz_cpu[i] -= r.nonzero_cpu_millis
        self.nz_mem[i] -= r.nonzero_memory_bytes
        self.npods[i] -= 1
        if r.scalar:
            bucket = self.req_scalar[i]
            for name, value in r.scalar:
                bucket[name] -= value
        del self.node_pods[i][pod.uid]
        group = pod.group
        if group is not None:
            counts = self.group_counts[group]
            left = counts[i] - 1
            if left:
                counts[i] = left
            else:
                del counts[i]
        left = self.priority_counts[pod.priority] - 1
        if left:
            self.priority_counts[pod.priority] = left
        else:
            del self.priority_counts[pod.priority]
        self.version += 1

    def lower_priority_exists(self, priority: int) -> bool:
        """Some bound pod has a priority strictly below ``priority``."""
        counts = self.priority_counts
        return bool(counts) and min(counts) < priority

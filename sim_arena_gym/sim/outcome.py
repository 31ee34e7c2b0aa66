"""What a backend observed after replaying a trace: pods, nodes and workloads.

Both backends (``embedded`` and ``simkube``) return a :class:`ClusterOutcome`; the environment reads
nothing else. Units: CPU in millicores, memory in bytes. Workload keys are ``str(WorkloadRef)``, e.g.
``"Deployment/default/web"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Callable, Mapping

#: Pod phases as Kubernetes reports them.
PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"


@dataclass(frozen=True, slots=True)
class PodOutcome:
    """One pod at the end of the simulated window.

    Attributes:
        name: pod name (``<replicaset>-<suffix>`` for Deployment pods, ``<sts>-<ordinal>`` ...).
        namespace: the trace's (original) namespace, not SimKube's ``virtual-`` one.
        workload: key of the top-level workload that owns it (``"Deployment/default/web"``).
        node: node name when bound, else ``None``.
        phase: ``Pending``, ``Running``, ``Succeeded`` or ``Failed``.
        ready: the Ready condition.
        reason: ``"Unschedulable"`` for a Pending pod that failed to schedule, ``"CrashLoopBackOff"``
            for a Running pod whose container is OOMKilled by a usage floor, else ``None``.
        message: the exact FailedScheduling message for an unschedulable pod, else ``""``.
        cpu_request_millis: the pod's effective CPU request used by the scheduler (millicores).
        memory_request_bytes: the pod's effective memory request used by the scheduler (bytes).
        last_state: ``"OOMKilled"`` when a container was killed for exceeding its memory, else ``None``.
        throttled: CPU request below the declared usage floor (Ready, but throttled).
        template_hash: pod-template-hash label of the ReplicaSet that created it (``""`` if none).
    """

    name: str
    namespace: str
    workload: str
    node: str | None
    phase: str
    ready: bool
    reason: str | None = None
    message: str = ""
    cpu_request_millis: int = 0
    memory_request_bytes: int = 0
    last_state: str | None = None
    throttled: bool = False
    template_hash: str = ""


@dataclass(frozen=True, slots=True)
class NodeOutcome:
    """One node and what the pods bound to it request (non-terminal pods only)."""

    name: str
    allocatable_cpu_millis: int
    allocatable_memory_bytes: int
    allocatable_pods: int
    requested_cpu_millis: int
    requested_memory_bytes: int
    pod_count: int
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Condition:
    """A workload status condition (e.g. Deployment ``Progressing`` / ``Available``)."""

    type: str
    status: str
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class WorkloadOutcome:
    """Counts for one workload at the end of the simulated window.

    Attributes:
        key: ``"Kind/namespace/name"``.
        desired: ``spec.replicas`` (1 for a bare Pod).
        ready: pods Running and Ready.
        pending: pods Pending (unscheduled).
        total: all non-terminal pods, old and new ReplicaSets together.
        pending_reasons: distinct reasons found in the pending pods' messages, sorted, e.g.
            ``("Insufficient cpu", "Insufficient memory")``.
        scheduling_message: the FailedScheduling message of the first Pending pod, ``""`` if none.
        crashlooping: Running pods not Ready because a container is OOMKilled.
        throttled: Ready pods whose CPU request is below the usage floor.
        updated: pods of the newest ReplicaSet / template.
        conditions: workload conditions (``Progressing``, ``Available``) where they apply.
    """

    key: str
    desired: int
    ready: int
    pending: int
    total: int
    pending_reasons: tuple[str, ...] = ()
    scheduling_message: str = ""
    crashlooping: int = 0
    throttled: int = 0
    updated: int = 0
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class ClusterOutcome:
    """The whole cluster at the end of a replay.

    Attributes:
        pods: every pod that still exists (Pending, Running, and finished Job pods).
        nodes: every node in the pool, in pool order.
        workloads: per-workload counts, keyed by ``"Kind/namespace/name"``.
        end_ts: simulated time of the observation (Unix seconds).
        backend: name of the backend that produced it (``"embedded"`` or ``"simkube"``).

    A backend may build ``pods`` on first access (:meth:`with_lazy_pods`): the environment reads
    only the workload counts and the nodes on each step, and building one :class:`PodOutcome` per
    pod would be most of the cost of a small replay. Readers cannot tell: the first access stores the
    tuple, and equality, ``repr``, pickling and :func:`dataclasses.replace` see the same values. (The
    class is frozen but not slotted, so that the deferred tuple has somewhere to go.)
    """

    pods: tuple[PodOutcome, ...]
    nodes: tuple[NodeOutcome, ...]
    workloads: Mapping[str, WorkloadOutcome]
    end_ts: int = 0
    backend: str = "embedded"

    @classmethod
    def with_lazy_pods(
        cls,
        build_pods: Callable[[], tuple[PodOutcome, ...]],
        nodes: tuple[NodeOutcome, ...],
        workloads: Mapping[str, WorkloadOutcome],
        end_ts: int = 0,
        backend: str = "embedded",
    ) -> "ClusterOutcome":
        """An outcome whose ``pods`` is ``build_pods()``, called once, on first access."""
        obj = object.__new__(cls)
        values = obj.__dict__
        values["_build_pods"] = build_pods
        values["nodes"] = nodes
        values["workloads"] = workloads
        values["end_ts"] = end_ts
        values["backend"] = backend
        return obj

    def __getattr__(self, name: str) -> object:
        # Called only when normal lookup fails, i.e. for ``pods`` of a lazily built outcome.
        if name == "pods":
            values = self.__dict__
            build = values.get("_build_pods")
            if build is not None:
                pods = build()
                values["pods"] = pods
                del values["_build_pods"]
                return pods
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getstate__(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def workload(self, key: object) -> WorkloadOutcome:
        """Counts for ``key`` (a ``WorkloadRef`` or its string); zero counts if it has no pods."""
        k = str(key)
        found = self.workloads.get(k)
        if found is None:
            return WorkloadOutcome(key=k, desired=0, ready=0, pending=0, total=0)
        return found

    def pods_of(self, key: object) -> tuple[PodOutcome, ...]:
        """Pods owned by workload ``key``, in creation order."""
        k = str(key)
        return tuple(p for p in self.pods if p.workload == k)

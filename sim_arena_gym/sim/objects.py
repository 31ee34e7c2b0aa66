"""Domain objects of the simulator: nodes, scheduling constraints, containers, pod specs and workloads.

These are plain values parsed once from the trace's Kubernetes dicts (:mod:`sim_arena_gym.sim.parse`)
and shared by every pod created from the same template, so they must be treated as immutable. The
small ones that are hashed (tolerations, selector terms, constraints, nodes) are frozen; the ones
built on every parse of an edited object (pod specs, requests, workload specs) are plain slotted
dataclasses, because a frozen dataclass's ``__init__`` is about six times slower. The mutable
runtime state (pods on nodes, ReplicaSets, clocks) lives in :mod:`sim_arena_gym.sim.cluster` and
:mod:`sim_arena_gym.sim.controllers`.

Units: CPU in millicores (``*_millis``), memory and ephemeral storage in bytes (``*_bytes``). Exact
container quantities are kept in **nano-units** (value x 10^9, always an integer because the parser
rounds every non-zero quantity up to 10^-9) so that a pod's containers can be summed exactly and
rounded once per pod (checklist 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from sim_arena_gym.sim.pools import Taint

__all__ = [
    "ContainerSpec",
    "CronJobSpec",
    "DeploymentSpec",
    "JobSpec",
    "Node",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "PodRequest",
    "PodSpec",
    "PodTemplate",
    "ReplicaSetSpec",
    "SchedulingConstraints",
    "StatefulSetSpec",
    "Taint",
    "Toleration",
]

#: Label every node carries with its own name (used by hostname topology spreading).
HOSTNAME_LABEL = "kubernetes.io/hostname"
#: Zone label (the second system-default topology spread constraint).
ZONE_LABEL = "topology.kubernetes.io/zone"


@dataclass(frozen=True, slots=True)
class Node:
    """A node as the scheduler sees it: allocatable resources, labels, taints (checklist 13, 34).

    Attributes:
        name: node name (``<pool>-<i>`` for pool nodes).
        cpu_millis: allocatable CPU in millicores.
        memory_bytes: allocatable memory in bytes.
        ephemeral_bytes: allocatable ephemeral storage in bytes (0 when the node declares none).
        pods: allocatable pod count (0 when absent: every pod then fails ``Too many pods``).
        labels: node labels, including ``kubernetes.io/hostname``.
        taints: node taints in declaration order.
        unschedulable: ``spec.unschedulable`` (cordoned).
        scalar: allocatable extended resources (``nvidia.com/gpu`` ...), whole units.
    """

    name: str
    cpu_millis: int
    memory_bytes: int
    ephemeral_bytes: int = 0
    pods: int = 110
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False
    scalar: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Toleration:
    """A pod toleration (checklist 36).

    ``operator`` is ``Equal`` (the default, value must match) or ``Exists`` (any value); an empty
    ``key`` with ``Exists`` tolerates every taint; an empty ``effect`` matches every effect."""

    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        """Upstream ``Toleration.ToleratesTaint``."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        if self.operator in ("", "Equal"):
            return self.value == taint.value
        return False


@dataclass(frozen=True, slots=True)
class NodeSelectorRequirement:
    """One ``matchExpressions`` / ``matchFields`` entry: ``In``, ``NotIn``, ``Exists``,
    ``DoesNotExist``, ``Gt``, ``Lt``."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        present = self.key in labels
        if op == "In":
            return present and labels[self.key] in self.values
        if op == "NotIn":
            return not present or labels[self.key] not in self.values
        if op == "Exists":
            return present
        if op == "DoesNotExist":
            return not present
        if op in ("Gt", "Lt") and present and len(self.values) == 1:
            try:
                have, want = int(labels[self.key]), int(self.values[0])
            except ValueError:
                return False
            return have > want if op == "Gt" else have < want
        return False


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    """One required ``nodeSelectorTerms`` entry; its requirements are ANDed. A term with no
    requirement matches no node (upstream)."""

    match_expressions: tuple[NodeSelectorRequirement, ...] = ()
    match_fields: tuple[NodeSelectorRequirement, ...] = ()

    def matches(self, node: Node) -> bool:
        if not self.match_expressions and not self.match_fields:
            return False
        labels = node.labels
        for req in self.match_expressions:
            if not req.matches(labels):
                return False
        if self.match_fields:
            fields = {"metadata.name": node.name}
            for req in self.match_fields:
                if not req.matches(fields):
                    return False
        return True


@dataclass(frozen=True, slots=True)
class SchedulingConstraints:
    """Where a pod may go: nodeSelector, required node affinity and tolerations (checklist 14, 36).

    Attributes:
        node_selector: ``(key, value)`` pairs that must all equal node labels.
        required_terms: required node affinity terms (ORed), or ``None`` when the pod has none.
        tolerations: the pod's tolerations.
    """

    node_selector: tuple[tuple[str, str], ...] = ()
    required_terms: tuple[NodeSelectorTerm, ...] | None = None
    tolerations: tuple[Toleration, ...] = ()

    def matches_node_affinity(self, node: Node) -> bool:
        """The NodeAffinity filter: nodeSelector AND (any required term)."""
        labels = node.labels
        for key, value in self.node_selector:
            if labels.get(key) != value:
                return False
        terms = self.required_terms
        if terms is not None:
            return any(term.matches(node) for term in terms)
        return True

    def first_untolerated_taint(self, node: Node, effects: tuple[str, ...] = ("NoSchedule", "NoExecute")) -> Taint | None:
        """The first node taint with one of ``effects`` that no toleration tolerates."""
        for taint in node.taints:
            if taint.effect in effects and not any(t.tolerates(taint) for t in self.tolerations):
                return taint
        return None

    def untolerated_prefer_no_schedule(self, node: Node) -> int:
        """TaintToleration score input: PreferNoSchedule taints not tolerated by a toleration whose
        effect is empty or PreferNoSchedule."""
        count = 0
        tols = [t for t in self.tolerations if t.effect in ("", "PreferNoSchedule")]
        for taint in node.taints:
            if taint.effect == "PreferNoSchedule" and not any(t.tolerates(taint) for t in tols):
                count += 1
        return count


_NO_CONSTRAINTS = SchedulingConstraints()


@dataclass(slots=True)
class ContainerSpec:
    """A container's resources, exact, in nano-units per resource name (``cpu``, ``memory``, ...).

    Attributes:
        name: container name.
        requests: ``resources.requests`` as written (before limits-only defaulting).
        limits: ``resources.limits``.
        sidecar: an init container with ``restartPolicy: Always`` (KEP-753).
    """

    name: str
    requests: Mapping[str, int] = field(default_factory=dict)
    limits: Mapping[str, int] = field(default_factory=dict)
    sidecar: bool = False

    @property
    def effective_requests(self) -> Mapping[str, int]:
        """Requests after limits-only defaulting (checklist 6): each limit without a request becomes
        the request, key by key; an explicit request (even ``0``) is kept."""
        if not self.limits:
            return self.requests
        merged = dict(self.limits)
        merged.update(self.requests)
        return merged


@dataclass(slots=True)
class PodRequest:
    """What the scheduler counts for one pod, rounded once per pod (checklist 4, 7, 8).

    Attributes:
        cpu_millis: effective CPU request (Fit filter, node ``Requested``).
        memory_bytes: effective memory request.
        ephemeral_bytes: effective ephemeral-storage request.
        scalar: extended resources and hugepages, ``(name, units)`` with units > 0.
        nonzero_cpu_millis: CPU for LeastAllocated scoring (100m for each container missing a CPU
            request).
        nonzero_memory_bytes: memory for scoring (200Mi for each container missing one).
        best_effort: the pod requests and limits no CPU and no memory at all (QoS BestEffort).
    """

    cpu_millis: int = 0
    memory_bytes: int = 0
    ephemeral_bytes: int = 0
    scalar: tuple[tuple[str, int], ...] = ()
    nonzero_cpu_millis: int = 0
    nonzero_memory_bytes: int = 0
    best_effort: bool = False

    @property
    def is_zero(self) -> bool:
        """No cpu, memory, ephemeral-storage or scalar request: only ``Too many pods`` applies
        (checklist 11)."""
        return not (self.cpu_millis or self.memory_bytes or self.ephemeral_bytes or self.scalar)


@dataclass(slots=True)
class PodSpec:
    """A parsed pod spec (from a template or a bare Pod), with its scheduler request precomputed.

    Attributes:
        containers: regular containers.
        init_containers: init containers in order, sidecars flagged.
        overhead: ``spec.overhead`` in nano-units.
        pod_resources: pod-level ``spec.resources.requests`` in nano-units (PodLevelResources).
        priority: ``spec.priority`` if set, else ``None`` (resolved from ``priorityClassName``).
        priority_class: ``spec.priorityClassName`` or ``""``.
        preemption_policy: ``PreemptLowerPriority`` (default) or ``Never``; ``None`` if unset.
        constraints: nodeSelector, affinity and tolerations.
        node_name: ``spec.nodeName`` (bypasses the scheduler) or ``None``.
        scheduler_name: ``spec.schedulerName``; pods for another scheduler stay Pending.
        gated: ``spec.schedulingGates`` is non-empty (reason ``SchedulingGated``).
        restart_policy: ``Always``, ``OnFailure`` or ``Never``.
        request: the scheduler's request after limits-only defaulting (checklist 6-8).
    """

    containers: tuple[ContainerSpec, ...]
    init_containers: tuple[ContainerSpec, ...] = ()
    overhead: Mapping[str, int] = field(default_factory=dict)
    pod_resources: Mapping[str, int] = field(default_factory=dict)
    priority: int | None = None
    priority_class: str = ""
    preemption_policy: str | None = None
    constraints: SchedulingConstraints = field(default_factory=lambda: _NO_CONSTRAINTS)
    node_name: str | None = None
    scheduler_name: str = "default-scheduler"
    gated: bool = False
    restart_policy: str = "Always"
    request: PodRequest = field(default_factory=PodRequest)


@dataclass(slots=True)
class PodTemplate:
    """A pod template (or a bare Pod's body): labels, parsed spec and the raw dict it came from.

    ``raw`` is kept for template comparison (a Deployment rollout starts when the template changes,
    checklist 27) and for the content hash that names ReplicaSets. ``digest`` holds
    ``content_digest(raw)`` once the fast path has computed it: it lives as long as this
    parse does (not compared)."""

    labels: Mapping[str, str]
    spec: PodSpec
    raw: Mapping[str, object]
    digest: int | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class DeploymentSpec:
    """``apps/v1`` Deployment spec with the API server defaults filled in (checklist 26).

    ``max_surge`` / ``max_unavailable`` stay int-or-percent as written; see
    :func:`sim_arena_gym.sim.controllers.resolve_fenceposts`."""

    replicas: int
    template: PodTemplate
    strategy: str = "RollingUpdate"
    max_surge: int | str = "25%"
    max_unavailable: int | str = "25%"
    min_ready_seconds: int = 0
    progress_deadline_seconds: int | None = 600
    paused: bool = False
    revision_history_limit: int = 10


@dataclass(slots=True)
class ReplicaSetSpec:
    """``apps/v1`` ReplicaSet spec."""

    replicas: int
    template: PodTemplate
    min_ready_seconds: int = 0


@dataclass(slots=True)
class StatefulSetSpec:
    """``apps/v1`` StatefulSet spec (``OrderedReady`` or ``Parallel``; ``RollingUpdate`` or ``OnDelete``)."""

    replicas: int
    template: PodTemplate
    pod_management_policy: str = "OrderedReady"
    update_strategy: str = "RollingUpdate"
    partition: int = 0
    min_ready_seconds: int = 0


@dataclass(slots=True)
class JobSpec:
    """``batch/v1`` Job spec. ``completions`` ``None`` is the work-queue mode."""

    template: PodTemplate
    parallelism: int = 1
    completions: int | None = 1
    ttl_seconds_after_finished: int | None = None
    suspend: bool = False


@dataclass(slots=True)
class CronJobSpec:
    """``batch/v1`` CronJob spec."""

    schedule: str
    job: JobSpec
    time_zone: str | None = None
    suspend: bool = False
    concurrency_policy: str = "Allow"
    starting_deadline_seconds: int | None = None
    successful_jobs_history_limit: int = 3
    failed_jobs_history_limit: int = 1

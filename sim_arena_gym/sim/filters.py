"""Filter plugins, in the default order, stopping at the first plugin that rejects a node
(``k8s-scheduling-rules.md`` 3.1-3.2, checklist 10-15).

Order: NodeUnschedulable, NodeName (pods with ``spec.nodeName`` never reach the scheduler here),
TaintToleration, NodeAffinity (nodeSelector and required node affinity), NodePorts (SimKube strips
container ports, so it never rejects), NodeResourcesFit. A node therefore reports the reasons of one
plugin only: a tainted or non-matching node never says ``Insufficient cpu``.

The first three plugins do not depend on usage; :func:`static_filter` evaluates them once per
scheduling-constraints object and node set (a :class:`StaticResult`, cached by
:class:`~sim_arena_gym.sim.cluster.NodeSet`).
:func:`fit_reasons` is NodeResourcesFit against the current usage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim_arena_gym.sim.messages import (
    REASON_AFFINITY,
    REASON_TOO_MANY_PODS,
    REASON_UNSCHEDULABLE_NODE,
    insufficient,
    taint_reason,
)
from sim_arena_gym.sim.objects import PodRequest, SchedulingConstraints, Taint
from sim_arena_gym.sim.options import KubeVersion

if TYPE_CHECKING:  # pragma: no cover  (annotations only: cluster.py imports this module)
    from sim_arena_gym.sim.cluster import Cluster, NodeSet

__all__ = ["StaticResult", "fits", "fit_reasons", "static_filter", "UNSCHEDULABLE_TAINT"]

#: Taint the node lifecycle controller puts on cordoned nodes; tolerating it passes NodeUnschedulable.
UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")
_INSUFFICIENT_CPU = insufficient("cpu")
_INSUFFICIENT_MEMORY = insufficient("memory")
_INSUFFICIENT_EPHEMERAL = insufficient("ephemeral-storage")


class StaticResult:
    """Per-node verdict of the filters that do not depend on usage (NodeUnschedulable,
    TaintToleration, NodeAffinity), for one constraints object (checklist 14).

    Attributes:
        reasons: per node, the first failing plugin's reason, or ``None`` when it passes.
        passing: indices of the nodes that pass, in node order.
        counts: reason -> number of failing nodes.
        affinity_ok: per node, whether the NodeAffinity part alone passes (topology spreading counts
            pods on those nodes).
        prefer_taints: per node, untolerated PreferNoSchedule taints (TaintToleration score), or
            ``None`` when no node has such a taint.
    """

    __slots__ = ("reasons", "passing", "counts", "affinity_ok", "prefer_taints", "mask", "empty_boards")

    def __init__(
        self,
        reasons: list[str | None],
        affinity_ok: list[bool],
        prefer_taints: list[int] | None,
    ) -> None:
        self.reasons = reasons
        self.passing = tuple(i for i, r in enumerate(reasons) if r is None)
        counts: dict[str, int] = {}
        for r in reasons:
            if r is not None:
                counts[r] = counts.get(r, 0) + 1
        self.counts = counts
        self.affinity_ok = affinity_ok
        self.prefer_taints = prefer_taints
        self.mask: Any = None  # numpy bool array, built on demand by the vector board
        #: request -> (base scores, feasible nodes) on empty nodes, kept by the list board
        self.empty_boards: dict[tuple, tuple[tuple[int, ...], tuple[int, ...]]] = {}



def static_filter(constraints: SchedulingConstraints, nodeset: NodeSet, version: KubeVersion) -> StaticResult:
    """NodeUnschedulable -> TaintToleration -> NodeAffinity for every node (checklist 14, 36)."""
    reasons: list[str | None] = []
    affinity_ok: list[bool] = []
    tolerates_cordon = any(t.tolerates(UNSCHEDULABLE_TAINT) for t in constraints.tolerations)
    for node in nodeset.nodes:
        matches = constraints.matches_node_affinity(node)
        affinity_ok.append(matches)
        if node.unschedulable and not tolerates_cordon:
            reasons.append(REASON_UNSCHEDULABLE_NODE)
            continue
        taint = constraints.first_untolerated_taint(node) if node.taints else None
        if taint is not None:
            reasons.append(taint_reason(taint, version))
            continue
        reasons.append(None if matches else REASON_AFFINITY)
    prefer = None
    if nodeset.has_prefer_taints:
        prefer = [constraints.untolerated_prefer_no_schedule(node) for node in nodeset.nodes]
    return StaticResult(reasons, affinity_ok, prefer)


def fits(cluster: Cluster, i: int, r: PodRequest) -> bool:
    """NodeResourcesFit passes on node ``i`` (checklist 10-12; equality fits)."""
    ns = cluster.nodeset
    if cluster.npods[i] + 1 > ns.alloc_pods[i]:
        return False
    if r.cpu_millis and r.cpu_millis > ns.alloc_cpu[i] - cluster.req_cpu[i]:
        return False
    if r.memory_bytes and r.memory_bytes > ns.alloc_mem[i] - cluster.req_mem[i]:
        return False
    if r.ephemeral_bytes and r.ephemeral_bytes > ns.alloc_eph[i] - cluster.req_eph[i]:
        return False
    if r.scalar:
        alloc = ns.alloc_scalar[i]
        used = cluster.req_scalar[i]
        for name, value in r.scalar:
            if value > alloc.get(name, 0) - used.get(name, 0):
                return False
    return True


def fit_reasons(
    cluster: Cluster,
    i: int,
    r: PodRequest,
    version: KubeVersion,
    *,
    freed: tuple[int, int, int, int] = (0, 0, 0, 0),
    freed_scalar: dict[str, int] | None = None,
) -> tuple[list[str], bool]:
    """Every failing NodeResourcesFit reason on node ``i`` and whether the failure is unresolvable.

    A failure is unresolvable only in v1.34+ mode, when some failing resource is requested beyond the
    node's whole allocatable (checklist 15). ``freed`` (pods, cpu, memory, ephemeral) and
    ``freed_scalar`` subtract the requests of pods assumed removed (preemption dry-run)."""
    ns = cluster.nodeset
    reasons: list[str] = []
    unresolvable = False
    f_pods, f_cpu, f_mem, f_eph = freed
    alloc_pods = ns.alloc_pods[i]
    if cluster.npods[i] - f_pods + 1 > alloc_pods:
        reasons.append(REASON_TOO_MANY_PODS)
        unresolvable = alloc_pods < 1
    cpu, mem, eph, scalar = r.cpu_millis, r.memory_bytes, r.ephemeral_bytes, r.scalar
    if not (cpu or mem or eph or scalar):  # r.is_zero: only the pod count applies (checklist 11)
        return reasons, unresolvable and version.unresolvable_by_size
    if cpu:
        alloc = ns.alloc_cpu[i]
        if cpu > alloc - (cluster.req_cpu[i] - f_cpu):
            reasons.append(_INSUFFICIENT_CPU)
            if cpu > alloc:
                unresolvable = True
    if mem:
        alloc = ns.alloc_mem[i]
        if mem > alloc - (cluster.req_mem[i] - f_mem):
            reasons.append(_INSUFFICIENT_MEMORY)
            if mem > alloc:
                unresolvable = True
    if eph:
        alloc = ns.alloc_eph[i]
        if eph > alloc - (cluster.req_eph[i] - f_eph):
            reasons.append(_INSUFFICIENT_EPHEMERAL)
            if eph > alloc:
                unresolvable = True
    if scalar:
        alloc_s = ns.alloc_scalar[i]
        used_s = cluster.req_scalar[i]
        freed_s = freed_scalar or {}
        for name, want in scalar:
            alloc = alloc_s.get(name, 0)
            if want > alloc - (used_s.get(name, 0) - freed_s.get(name, 0)):
                reasons.append(insufficient(name))
                if want > alloc:
                    unresolvable = True
    return reasons, unresolvable and version.unresolvable_by_size

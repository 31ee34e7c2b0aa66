"""DefaultPreemption's dry run (``k8s-scheduling-rules.md`` section 8, checklist 37-38).

For a pod that fits no node and may preempt (``preemptionPolicy`` is not ``Never``):

* Nodes that failed with UnschedulableAndUnresolvable (taints, affinity, and in v1.34+ mode a request
  beyond the whole node) are skipped: ``Preemption is not helpful for scheduling``.
* On every other node, all pods of **strictly lower** priority are removed. A node with none reports
  ``No preemption victims found for incoming pod``; a node where the pod still does not fit reports the
  filter reasons (``Insufficient cpu`` ...).
* Otherwise victims are reprieved one by one, most important first (higher priority, then earlier
  start), keeping each one whose return does not break the fit; the rest are the node's victims.
* The node is chosen by (no PDBs are modelled, so every node has 0 violations): the lowest
  highest-victim priority, the smallest sum of victim priorities (each shifted by 2^31 as upstream),
  the fewest victims, the latest earliest-start among the highest-priority victims, then node order.

Every node is examined (upstream samples at least 100 nodes or 10% of them; with fewer than 100 nodes
that is all of them).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim_arena_gym.sim.cluster import Cluster, Pod, StaticResult
from sim_arena_gym.sim.filters import fit_reasons
from sim_arena_gym.sim.messages import REASON_NO_VICTIMS, REASON_NOT_HELPFUL
from sim_arena_gym.sim.options import KubeVersion

__all__ = ["PreemptionResult", "dry_run"]

_PRIORITY_SHIFT = 2**31


@dataclass(slots=True)
class PreemptionResult:
    """Outcome of the dry run.

    Attributes:
        node: the chosen node index, or -1 when no node can be freed.
        victims: the pods to delete on that node.
        counts: reason -> node count for the ``preemption: 0/N nodes are available: …`` text (only
            meaningful when ``node`` is -1).
    """

    node: int
    victims: list[Pod]
    counts: dict[str, int]


def _freed(pods: list[Pod]) -> tuple[tuple[int, int, int, int], dict[str, int]]:
    cpu = mem = eph = 0
    scalar: dict[str, int] = {}
    for p in pods:
        r = p.request
        cpu += r.cpu_millis
        mem += r.memory_bytes
        eph += r.ephemeral_bytes
        for name, value in r.scalar:
            scalar[name] = scalar.get(name, 0) + value
    return (len(pods), cpu, mem, eph), scalar


def dry_run(
    cluster: Cluster,
    pod: Pod,
    static: StaticResult,
    unresolvable: set[int],
    version: KubeVersion,
) -> PreemptionResult:
    """Find victims for ``pod`` (see the module docstring). ``unresolvable`` holds the nodes whose
    NodeResourcesFit failure was unresolvable; statically rejected nodes are unresolvable too."""
    counts: dict[str, int] = {}
    candidates = []
    r = pod.request
    for i, static_reason in enumerate(static.reasons):
        if static_reason is not None or i in unresolvable:
            counts[REASON_NOT_HELPFUL] = counts.get(REASON_NOT_HELPFUL, 0) + 1
            continue
        lower = [p for p in cluster.node_pods[i].values() if p.priority < pod.priority]
        if not lower:
            counts[REASON_NO_VICTIMS] = counts.get(REASON_NO_VICTIMS, 0) + 1
            continue
        freed, freed_scalar = _freed(lower)
        reasons, _ = fit_reasons(cluster, i, r, version, freed=freed, freed_scalar=freed_scalar)
        if reasons:
            for reason in reasons:
                counts[reason] = counts.get(reason, 0) + 1
            continue
        # Reprieve the most important pods first while the incoming pod still fits.
        removed = list(lower)
        victims = []
        for p in sorted(lower, key=lambda q: (-q.priority, q.start_ts, q.uid)):
            removed.remove(p)  # try to put p back
            trial, trial_scalar = _freed(removed)
            still, _ = fit_reasons(cluster, i, r, version, freed=trial, freed_scalar=trial_scalar)
            if still:  # the pod no longer fits with p back: p is a victim
                removed.append(p)
                victims.append(p)
        top = max(p.priority for p in victims)
        earliest = min(p.start_ts for p in victims if p.priority == top)
        key = (top, sum(p.priority + _PRIORITY_SHIFT for p in victims), len(victims), -earliest, i)
        candidates.append((key, i, victims))
    if not candidates:
        return PreemptionResult(-1, [], counts)
    _, node, victims = min(candidates, key=lambda c: c[0])
    return PreemptionResult(node, victims, counts)

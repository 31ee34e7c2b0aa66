"""Default score plugins, with upstream's integer (and, where upstream uses it, float64) arithmetic
(``k8s-scheduling-rules.md`` 4.4, checklist 23-24).

Total = LeastAllocated (weight 1) + BalancedAllocation (1) + 2 x PodTopologySpread + 3 x
TaintToleration (+ NodeAffinity and ImageLocality, 0 here: no preferred affinity is modelled and KWOK
nodes hold no images). Worked example of the spec: nodes A and B of 4 CPU / 8Gi, A running one
replica (1 CPU / 2Gi) of the incoming pod's ReplicaSet, incoming 1 CPU / 1Gi: A = 56 + 93 + 2x66 +
3x100 = 581, B = 81 + 93 + 2x100 + 300 = 674.
"""

from __future__ import annotations

import math

__all__ = [
    "MAX_NODE_SCORE",
    "HOSTNAME_MAX_SKEW",
    "ZONE_MAX_SKEW",
    "balanced_allocation",
    "base_score",
    "least_allocated",
    "normalize_reverse",
    "normalize_spread",
    "round_half_away",
    "spread_weight",
]

#: ``framework.MaxNodeScore``.
MAX_NODE_SCORE = 100
#: System-default topology spread constraints (``defaultingType: System``).
HOSTNAME_MAX_SKEW = 3
ZONE_MAX_SKEW = 5
#: Plugin weights of the default profile.
WEIGHT_FIT = 1
WEIGHT_BALANCED = 1
WEIGHT_SPREAD = 2
WEIGHT_TAINT = 3


def least_allocated(alloc_cpu: int, alloc_mem: int, cpu: int, mem: int) -> int:
    """LeastAllocated over cpu and memory (weights 1): ``(alloc - requested) * 100 / alloc`` per
    resource in integer division (0 when requested exceeds alloc; a resource with alloc 0 is
    skipped), then the weighted mean, again in integer division.

    ``cpu`` / ``mem`` are the node's non-zero requested plus the pod's non-zero request."""
    total = 0
    weights = 0
    if alloc_cpu:
        total += 0 if cpu > alloc_cpu else (alloc_cpu - cpu) * MAX_NODE_SCORE // alloc_cpu
        weights += 1
    if alloc_mem:
        total += 0 if mem > alloc_mem else (alloc_mem - mem) * MAX_NODE_SCORE // alloc_mem
        weights += 1
    return total // weights if weights else 0


def balanced_allocation(alloc_cpu: int, alloc_mem: int, cpu: int, mem: int) -> int:
    """BalancedAllocation over cpu and memory with the *real* requests: fractions
    ``min(1, requested / alloc)`` in float64, ``std = |f1 - f2| / 2``, score ``int((1 - std) * 100)``."""
    fractions = []
    if alloc_cpu:
        f = float(cpu) / float(alloc_cpu)
        fractions.append(1.0 if f > 1.0 else f)
    if alloc_mem:
        f = float(mem) / float(alloc_mem)
        fractions.append(1.0 if f > 1.0 else f)
    std = abs((fractions[0] - fractions[1]) / 2) if len(fractions) == 2 else 0.0
    return int((1.0 - std) * MAX_NODE_SCORE)


def base_score(
    alloc_cpu: int, alloc_mem: int, nz_cpu: int, nz_mem: int, cpu: int, mem: int, balanced: bool
) -> int:
    """:func:`least_allocated` (non-zero requests ``nz_*``) plus, when ``balanced``,
    :func:`balanced_allocation` (real requests), in one call: the per-node part of the total.

    Same arithmetic as the two functions (checked by the tests); written out because the scheduler
    calls it once per node and pod."""
    total = 0
    weights = 0
    if alloc_cpu:
        total += 0 if nz_cpu > alloc_cpu else (alloc_cpu - nz_cpu) * 100 // alloc_cpu
        weights += 1
    if alloc_mem:
        total += 0 if nz_mem > alloc_mem else (alloc_mem - nz_mem) * 100 // alloc_mem
        weights += 1
    score = total // weights if weights else 0
    if balanced:
        if alloc_cpu and alloc_mem:
            f1 = float(cpu) / float(alloc_cpu)
            f2 = float(mem) / float(alloc_mem)
            if f1 > 1.0:
                f1 = 1.0
            if f2 > 1.0:
                f2 = 1.0
            score += int((1.0 - abs((f1 - f2) / 2)) * 100)
        else:
            score += 100
    return score


def round_half_away(x: float) -> int:
    """Go's ``math.Round``: halves away from zero (Python's ``round`` rounds halves to even)."""
    f = math.floor(x)
    return int(f) + 1 if x - f >= 0.5 else int(f)


def spread_weight(domains: int) -> float:
    """``topologyNormalizingWeight``: ``ln(domains + 2)``."""
    return math.log(domains + 2)


def normalize_spread(raw: int, max_raw: int, min_raw: int) -> int:
    """PodTopologySpread NormalizeScore: ``100 * (max + min - raw) / max`` (100 when max is 0)."""
    if max_raw == 0:
        return MAX_NODE_SCORE
    return MAX_NODE_SCORE * (max_raw + min_raw - raw) // max_raw


def normalize_reverse(raw: int, max_raw: int) -> int:
    """``DefaultNormalizeScore(100, reverse=true)``: TaintToleration's normalisation."""
    if max_raw == 0:
        return MAX_NODE_SCORE
    return MAX_NODE_SCORE - MAX_NODE_SCORE * raw // max_raw

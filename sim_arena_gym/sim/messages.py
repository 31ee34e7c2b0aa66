"""The FailedScheduling message, byte for byte (``k8s-scheduling-rules.md`` 3.2-3.3, checklist 16-19).

Shape (upstream ``FitError.Error()``)::

    0/<all nodes> nodes are available: <histogram>.[ <post-filter part>]

* The histogram counts each reason once per node that reported it, prints ``"<count> <reason>"``,
  sorts the entries **as strings** (so ``10 Insufficient cpu`` precedes ``2 Insufficient memory``, and
  uppercase reasons precede ``node(s) ...`` at equal counts) and joins them with ``", "``.
* The post-filter part is ``preemption: `` followed by a second message of the same shape over the
  preemption dry-run (``No preemption victims found for incoming pod``, ``Preemption is not helpful
  for scheduling``, or the filter reason itself), or ``preemption: not eligible due to
  preemptionPolicy=Never.``. It is left out when preemption found victims.
* Version differences (:class:`~sim_arena_gym.sim.options.KubeVersion`): v1.29 ends the post-filter
  part with a doubled period; v1.34+ puts ``no new claims to deallocate, `` (DynamicResources) before
  ``preemption:``; v1.35 writes the generic taint reason ``node(s) had untolerated taint(s)``
  where older versions write ``node(s) had untolerated taint {key: value}``.
* The text is cut to 1024 bytes, ending in `` ...`` (``NoteLengthLimit``); with no node at all the
  message is ``no nodes available to schedule pods``.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from sim_arena_gym.sim.objects import Taint
from sim_arena_gym.sim.options import KubeVersion

__all__ = [
    "DRA_POSTFILTER",
    "MAX_MESSAGE_BYTES",
    "NO_NODES",
    "NOT_ELIGIBLE_NEVER",
    "REASON_AFFINITY",
    "REASON_NO_VICTIMS",
    "REASON_NOT_HELPFUL",
    "REASON_TOO_MANY_PODS",
    "REASON_UNSCHEDULABLE_NODE",
    "fit_error",
    "histogram",
    "insufficient",
    "preemption_part",
    "taint_reason",
    "truncate",
]

#: The whole message when the cluster has no node.
NO_NODES = "no nodes available to schedule pods"
#: NodeUnschedulable.
REASON_UNSCHEDULABLE_NODE = "node(s) were unschedulable"
#: NodeAffinity and nodeSelector.
REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
#: NodeResourcesFit pod count.
REASON_TOO_MANY_PODS = "Too many pods"
#: Preemption: the node has no pod of lower priority.
REASON_NO_VICTIMS = "No preemption victims found for incoming pod"
#: Preemption: the node failed with UnschedulableAndUnresolvable.
REASON_NOT_HELPFUL = "Preemption is not helpful for scheduling"
#: PostFilter text of a pod with ``preemptionPolicy: Never``.
NOT_ELIGIBLE_NEVER = "not eligible due to preemptionPolicy=Never."
#: DynamicResources PostFilter text (v1.34+).
DRA_POSTFILTER = "no new claims to deallocate"
#: ``validation.NoteLengthLimit``.
MAX_MESSAGE_BYTES = 1024
_GENERIC_TAINT = "node(s) had untolerated taint(s)"


def insufficient(resource: str) -> str:
    """``Insufficient <resource>`` (``cpu``, ``memory``, ``ephemeral-storage``, ``nvidia.com/gpu``)."""
    return f"Insufficient {resource}"


def taint_reason(taint: Taint, version: KubeVersion) -> str:
    """TaintToleration's reason for ``taint`` in ``version``."""
    if version.generic_taint_text:
        return _GENERIC_TAINT
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"


def histogram(counts: Mapping[str, int]) -> str:
    """``"<count> <reason>"`` entries sorted as strings and joined with ``", "``."""
    return ", ".join(sorted(f"{count} {reason}" for reason, count in counts.items() if count > 0))


def _available(num_nodes: int, counts: Mapping[str, int]) -> str:
    text = f"0/{num_nodes} nodes are available:"
    hist = histogram(counts)
    return f"{text} {hist}." if hist else text


def preemption_part(num_nodes: int, counts: Mapping[str, int] | None, *, never: bool = False) -> str:
    """``preemption: 0/N nodes are available: ….`` or the not-eligible text."""
    if never:
        return f"preemption: {NOT_ELIGIBLE_NEVER}"
    return f"preemption: {_available(num_nodes, counts or {})}"


def fit_error(
    num_nodes: int,
    counts: Mapping[str, int],
    version: KubeVersion,
    *,
    preemption: str | None = None,
) -> str:
    """The full FailedScheduling text for a pod that fits no node, cut to 1024 bytes.

    ``preemption`` is the :func:`preemption_part` of a failed preemption (``None`` when preemption
    succeeded, which leaves the post-filter part out)."""
    if num_nodes == 0:
        return NO_NODES
    message = _available(num_nodes, counts)
    if preemption is not None:
        post = f"{DRA_POSTFILTER}, {preemption}" if version.dra_clause else preemption
        message = f"{message} {post}"
        if version.doubled_period:
            message += "."
    return truncate(message)


def truncate(message: str, limit: int = MAX_MESSAGE_BYTES) -> str:
    """Cut to ``limit`` bytes of UTF-8, ending in `` ...`` (the scheduler's ``truncateMessage``)."""
    data = message.encode("utf-8")
    if len(data) <= limit:
        return message
    return data[: limit - 4].decode("utf-8", "ignore") + " ..."


def reasons_of(counts: Iterable[str]) -> tuple[str, ...]:
    """Distinct reasons, sorted (for ``WorkloadOutcome.pending_reasons``)."""
    return tuple(sorted(set(counts)))

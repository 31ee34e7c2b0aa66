"""Scenario description: a trace, a node pool, a target workload and what "repaired" means.

A scenario is pure data; it is what ``traces/index.json`` lists and what a backend's
``run(trace, scenario)`` reads besides the trace. Quantities are Kubernetes quantity strings
(``"16"``, ``"32Gi"``) as a user would write them in a Node manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from sim_arena_gym.sim.pools import (  # the node-pool model lives with the simulator; re-exported here
    KWOK_PROVIDER_TAINT,
    KWOK_PROVIDER_TAINT_KEY,
    NODE_PRESETS,
    VIRTUAL_NODE_LABELS,
    NodePool,
    Taint,
)
from sim_arena_gym.trace.refs import WorkloadRef

__all__ = [
    "KWOK_PROVIDER_TAINT",
    "KWOK_PROVIDER_TAINT_KEY",
    "NODE_PRESETS",
    "VIRTUAL_NODE_LABELS",
    "NodePool",
    "Scenario",
    "Taint",
    "parse_node_pools",
]


def parse_node_pools(spec: Any) -> tuple[NodePool, ...]:
    """Node pools from a list of pool dicts, a single pool dict, or ``NodePool`` objects.

    Pools without a ``name`` are named ``node`` (one pool) or ``pool<i>`` (several)."""
    if isinstance(spec, NodePool):
        return (spec,)
    if isinstance(spec, Mapping):
        spec = [spec]
    if not isinstance(spec, Sequence) or isinstance(spec, (str, bytes)):
        raise ValueError(f"nodes {spec!r}: expected a pool dict or a list of pool dicts")
    pools: list[NodePool] = []
    for i, item in enumerate(spec):
        if isinstance(item, NodePool):
            pools.append(item)
        else:
            default = "node" if len(spec) == 1 else f"pool{i}"
            pools.append(NodePool.from_dict(item, default_name=default))
    names = [p.name for p in pools]
    if len(set(names)) != len(names):
        raise ValueError(f"nodes: pool names must be distinct, got {names}")
    return tuple(pools)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One repair task.

    Attributes:
        id: unique scenario id (``canonical-very-bad-cpu``).
        trace_path: the ``.sktrace`` (or ``.json``) file; ``None`` when ``trace`` is given in memory.
        workload: the target workload the agent edits and that must become healthy.
        node_pools: the cluster's nodes.
        target_replicas: how many pods of the target must be Running and Ready, with none Pending.
            ``None`` means the workload's own ``spec.replicas`` in the trace.
        usage_floors: per container name, the least the app really uses: ``{"app": {"cpu": "250m",
            "memory": "200Mi"}}``. Memory below the floor is OOMKilled; CPU below it is throttled.
        family: scenario family (``very-bad-cpu``, ``slightly-bad-memory``, ... or ``custom``).
        split: ``train``, ``test``, ``canonical`` or ``None``.
        seed: generator seed that produced it, if generated.
        oracle_steps: the oracle's number of steps to success, if known.
        description: one line for humans.
        simkube_mode: apply SimKube's driver mutations to replayed pods (``type=virtual`` nodeSelector
            and the ``kwok-provider`` toleration). Turn off for plain node pools.
        trace: the trace itself, when built in memory (takes precedence over ``trace_path``).
        oracle_return: per reward mode, the return-maximising oracle's return (hard tier), if known.
    """

    id: str
    trace_path: Path | None
    workload: WorkloadRef
    node_pools: tuple[NodePool, ...] = (NodePool(),)
    target_replicas: int | None = None
    usage_floors: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    family: str = "custom"
    split: str | None = None
    seed: int | None = None
    oracle_steps: int | None = None
    description: str = ""
    simkube_mode: bool = True
    trace: Any = None
    oracle_return: Mapping[str, float] | None = None

    def with_trace(self, trace: Any) -> "Scenario":
        """The same scenario over another (e.g. edited) trace held in memory."""
        return replace(self, trace=trace)

    @property
    def node_count(self) -> int:
        return sum(p.count for p in self.node_pools)

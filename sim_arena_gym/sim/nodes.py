"""Nodes from a scenario's node pools, with KWOK / SimKube defaults (checklist 13, 34, 35).

* Pool ``p`` with ``count`` n gives nodes ``p-0`` ... ``p-(n-1)``, in pool order; each carries the
  pool's labels plus ``kubernetes.io/hostname=<node name>``, and the pool's taints.
* Allocatable is what the pool declares (the scheduler reads allocatable only, never capacity).
* A pool that declares neither CPU nor memory (``""`` or ``None``) gets what KWOK's
  ``node-initialize`` stage gives a node without resources: 1k CPU, 1Ti memory, 1M pods.
* :data:`KWOKCTL_NODE` holds the ``kwokctl`` node template's values (32 CPU, 256Gi, 110 pods,
  label ``type=kwok``, no taint) for callers that want that shape.

The SimKube virtual-node shape (label ``type=virtual``, taint ``kwok-provider=true:NoSchedule``) is the
default of :class:`~sim_arena_gym.sim.pools.NodePool` itself.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from sim_arena_gym.limits import MAX_NODES_PER_POOL
from sim_arena_gym.quantity import QuantityError, cpu_millis, memory_bytes, read_cpu_millis, read_memory_bytes
from sim_arena_gym.sim.pools import NodePool
from sim_arena_gym.sim.objects import HOSTNAME_LABEL, Node

__all__ = ["KWOK_INITIALIZE", "KWOKCTL_NODE", "build_nodes", "kwokctl_pool"]

#: KWOK ``node-initialize`` stage values for a node declaring no resources.
KWOK_INITIALIZE: Mapping[str, object] = {"cpu": "1k", "memory": "1Ti", "pods": 1_000_000}
#: ``kwokctl`` node template (``kustomize/kwokctl/resource/node.yaml``).
KWOKCTL_NODE: Mapping[str, object] = {"cpu": "32", "memory": "256Gi", "pods": 110, "labels": {"type": "kwok"}}


def kwokctl_pool(count: int, name: str = "kwok-node") -> NodePool:
    """A pool shaped like ``kwokctl scale node``: 32 CPU / 256Gi / 110 pods, label ``type=kwok``,
    no taint."""
    return NodePool(
        count=count,
        cpu=str(KWOKCTL_NODE["cpu"]),
        memory=str(KWOKCTL_NODE["memory"]),
        pods=int(KWOKCTL_NODE["pods"]),  # type: ignore[call-overload]
        labels=dict(KWOKCTL_NODE["labels"]),  # type: ignore[call-overload]
        taints=(),
        name=name,
    )


def _quantity(text: object, parse, what: str, pool: str) -> int:
    try:
        value = parse(text)
    except QuantityError as exc:
        raise ValueError(f"node pool {pool!r}: {what} {text!r} is not a Kubernetes quantity ({exc})") from None
    if value < 0:
        raise ValueError(f"node pool {pool!r}: {what} {text!r} must not be negative")
    return value


def _pool_nodes(pool: NodePool) -> list[Node]:
    limit = MAX_NODES_PER_POOL.value()
    if pool.count > limit:  # the one place nodes are made: bound the work here
        raise ValueError(f"node pool {pool.name!r} count: " + MAX_NODES_PER_POOL.exceeded(pool.count, limit))
    missing = lambda v: v is None or (isinstance(v, str) and not v.strip())  # noqa: E731
    if missing(pool.cpu) and missing(pool.memory):
        cpu = cpu_millis(KWOK_INITIALIZE["cpu"])
        memory = memory_bytes(KWOK_INITIALIZE["memory"])
        pods = int(KWOK_INITIALIZE["pods"])  # type: ignore[call-overload]
    else:
        cpu = 0 if missing(pool.cpu) else _quantity(pool.cpu, read_cpu_millis, "cpu", pool.name)
        memory = 0 if missing(pool.memory) else _quantity(pool.memory, read_memory_bytes, "memory", pool.name)
        pods = int(pool.pods)
    ephemeral = 0
    if pool.ephemeral_storage is not None:
        ephemeral = _quantity(pool.ephemeral_storage, read_memory_bytes, "ephemeral_storage", pool.name)
    taints = tuple(pool.taints)
    nodes = []
    for i in range(pool.count):
        name = f"{pool.name}-{i}"
        labels = {**dict(pool.labels), HOSTNAME_LABEL: name}
        nodes.append(
            Node(name=name, cpu_millis=cpu, memory_bytes=memory, ephemeral_bytes=ephemeral, pods=pods,
                 labels=labels, taints=taints)
        )
    return nodes


def build_nodes(pools: Iterable[NodePool] | Sequence[NodePool]) -> tuple[Node, ...]:
    """Every node of ``pools``, in pool order; ``ValueError`` for a bad quantity or duplicate name."""
    nodes: list[Node] = []
    for pool in pools:
        nodes.extend(_pool_nodes(pool))
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"node names must be distinct; duplicated: {dupes[:5]}")
    return tuple(nodes)

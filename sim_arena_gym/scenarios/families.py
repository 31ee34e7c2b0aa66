"""Scenario families: one pure template function per kind of broken workload.

Each family is a function ``(rand: Rand) -> FamilyDraft``: given a seeded random source it draws a small
cluster, a target Deployment that is broken at the start of the trace (pods ``Pending`` for lack of CPU,
memory or pod slots, or ``OOMKilled`` below a usage floor), the usage floors, and the trace events. The
draft also carries ``min_actions``, the fewest repair actions by the family's own arithmetic, assuming
the environment's default action set: every action changes each main container of the pod template by
500m CPU or 256Mi memory, or the replicas by one.

Rules every family keeps:

* randomness comes only from ``rand`` (same seed -> same draft, so the same trace bytes); timestamps are
  derived from it, never from the clock; names come from the small word lists below;
* the repair needs between 1 and :data:`MAX_FIX_ACTIONS` actions and stays within the caps (16 CPU and
  32Gi per container, 100 replicas), so every scenario is solvable within the 20-step budget;
* usage floors lie below the repaired requests, so "shrink everything" is never a win;
* traces look like a SimKube export: an empty event at the export start, then the applies at the same
  or a later second, objects shaped by :mod:`sim_arena_gym.trace.builders`.

Units: CPU in millicores (``*_millis``), memory in bytes (``*_bytes``); Kubernetes quantity strings only
inside the trace objects and the usage floors.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, TypeVar

from sim_arena_gym.scenarios.model import NodePool
from sim_arena_gym.trace import builders
from sim_arena_gym.trace.refs import WorkloadRef

T = TypeVar("T")

MiB = 1024**2
GiB = 1024**3

#: Allocatable of the standard node the seed scenarios use (16 CPU, 32Gi, 110 pods).
NODE_CPU_MILLIS = 16_000
NODE_MEMORY_BYTES = 32 * GiB
NODE_PODS = 110
#: The environment's default step sizes.
CPU_STEP_MILLIS = 500
MEMORY_STEP_BYTES = 256 * MiB
#: The environment's default caps (per container; replicas per workload).
CPU_CAP_MILLIS = 16_000
MEMORY_CAP_BYTES = 32 * GiB
REPLICAS_CAP = 100
#: Upper bound on the fewest repair actions of a generated scenario (the step budget is 20).
MAX_FIX_ACTIONS = 12

#: Export start times are drawn from 2025 (Unix seconds, UTC).
_EPOCH_2025 = 1_735_689_600
_YEAR_SECONDS = 365 * 24 * 3600

#: Namespaces and the applications that live in them.
NAMESPACE_APPS: Mapping[str, tuple[str, ...]] = {
    "shop": ("web", "checkout", "cart", "catalog", "search"),
    "payments": ("ledger", "gateway", "fraud-check", "billing"),
    "ml": ("trainer", "inference", "feature-store", "embedder"),
    "media": ("transcoder", "thumbnailer", "uploader"),
    "analytics": ("ingest", "aggregator", "reporter"),
    "auth": ("login", "token-service", "session-store"),
}
#: Regular (non-init) helper containers for multi-container pods.
HELPER_CONTAINERS: tuple[str, ...] = ("envoy", "log-shipper", "metrics-exporter", "cache-warmer")
#: Init containers that run to completion before the app starts.
INIT_CONTAINERS: tuple[str, ...] = ("migrate", "fetch-config", "wait-for-db")
#: Sidecars (init containers with ``restartPolicy: Always``) that run beside the app.
SIDECARS: tuple[str, ...] = ("istio-proxy", "otel-collector", "vault-agent")
#: Workloads ``(kind, namespace, name)`` that share the cluster with the target in the
#: competing-deployments family.
BYSTANDERS: tuple[tuple[str, str, str], ...] = (
    ("Deployment", "platform", "ingress-nginx"),
    ("StatefulSet", "platform", "prometheus"),
    ("StatefulSet", "data", "redis"),
    ("Deployment", "data", "kafka-connect"),
    ("Deployment", "batch", "report-api"),
)
#: Node shapes (pool name, allocatable CPU millis, allocatable memory GiB) for the node-pools family.
NODE_SHAPES: tuple[tuple[str, int, int], ...] = (
    ("small", 8_000, 16),
    ("general", 16_000, 32),
    ("highmem", 8_000, 64),
    ("compute", 32_000, 32),
    ("large", 24_000, 48),
)
#: One trace event as :func:`builders.build_trace` takes it: ``(ts, applied_objs, deleted_objs)``.
Event = tuple[int, list[dict[str, Any]], list[dict[str, Any]]]

_CPU_FLOORS_MILLIS = (100, 200, 250, 300, 500, 750, 1000)
_MEMORY_FLOORS_MIB = (128, 192, 256, 384, 512, 768, 1024, 1536, 2048)


class Rand:
    """A seeded random source that only uses ``random.Random.random()``.

    Python guarantees that ``random()`` yields the same sequence for the same seed in every version
    (other ``Random`` methods may change), so every draw here is derived from it: same seed, same
    scenario, on any interpreter."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._random = random.Random(self.seed)

    def unit(self) -> float:
        """A float in ``[0, 1)``."""
        return self._random.random()

    def between(self, low: int, high: int) -> int:
        """An integer in ``[low, high]`` (both included)."""
        if high < low:
            raise ValueError(f"empty range [{low}, {high}]")
        return min(high, low + int(self.unit() * (high - low + 1)))

    def choice(self, seq: Sequence[T]) -> T:
        """One element of ``seq``."""
        return seq[self.between(0, len(seq) - 1)]

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.unit() < p

    def sample(self, seq: Sequence[T], k: int) -> list[T]:
        """``k`` distinct elements of ``seq``, in draw order."""
        pool = list(seq)
        out: list[T] = []
        for _ in range(k):
            out.append(pool.pop(self.between(0, len(pool) - 1)))
        return out


@dataclass(frozen=True)
class FamilyDraft:
    """What a family function produces: everything a :class:`~sim_arena_gym.scenarios.model.Scenario`
    needs except its id, split and seed, plus the trace events.

    Attributes:
        workload: the target workload (always a Deployment).
        node_pools: the cluster.
        target: pods of the target that must be Running and Ready, with none Pending.
        usage_floors: per container name, ``{"cpu": ..., "memory": ...}`` quantity strings.
        events: ``(ts, applied_objs, deleted_objs)`` triples for :func:`builders.build_trace`; the
            first one is the empty event at the export start.
        description: one line for humans.
        min_actions: the fewest repair actions by the family's arithmetic (default action set).
    """

    workload: WorkloadRef
    node_pools: tuple[NodePool, ...]
    target: int
    usage_floors: Mapping[str, Mapping[str, str]]
    events: list[Event]
    description: str
    min_actions: int
    details: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------
# Small helpers


def cpu_str(millis: int) -> str:
    """Quantity string for ``millis`` millicores: ``8000 -> "8"``, ``8500 -> "8500m"``."""
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def memory_str(n_bytes: int) -> str:
    """Quantity string for ``n_bytes``: ``"17Gi"`` when whole GiB, else ``"17664Mi"`` (MiB-aligned)."""
    if n_bytes % GiB == 0:
        return f"{n_bytes // GiB}Gi"
    if n_bytes % MiB == 0:
        return f"{n_bytes // MiB}Mi"
    return str(n_bytes)


def steps_down(value: int, threshold: int, step: int) -> int:
    """Fewest ``step`` decrements that bring ``value`` to ``threshold`` or below (0 if already)."""
    return max(0, math.ceil((value - threshold) / step))


def _round_up(value: int, grid: int) -> int:
    return -(-value // grid) * grid


def _pool(count: int, *, cpu_millis: int = NODE_CPU_MILLIS, memory_bytes: int = NODE_MEMORY_BYTES,
          pods: int = NODE_PODS, name: str = "node") -> NodePool:
    return NodePool(count=count, cpu=cpu_str(cpu_millis), memory=memory_str(memory_bytes), pods=pods, name=name)


def _standard_nodes(rand: Rand, low: int = 2, high: int = 5) -> tuple[NodePool, ...]:
    return (_pool(rand.between(low, high)),)


def _app(rand: Rand) -> tuple[str, str]:
    """``(namespace, name)`` of the target application."""
    namespace = rand.choice(sorted(NAMESPACE_APPS))
    return namespace, rand.choice(NAMESPACE_APPS[namespace])


def _image(rand: Rand, namespace: str, name: str) -> str:
    return f"registry.example.com/{namespace}/{name}:1.{rand.between(0, 12)}.{rand.between(0, 9)}"


def _start(rand: Rand) -> tuple[int, int]:
    """``(export start ts, first apply ts)``: the apply lands in the same second or up to 45 s later."""
    start = _EPOCH_2025 + rand.between(0, _YEAR_SECONDS)
    return start, start + rand.choice((0, 0, 1, 3, 12, 45))


def _cpu_floor(rand: Rand, request_millis: int) -> int:
    """A CPU usage floor at most half of ``request_millis`` (and at most 1 CPU)."""
    fits = [f for f in _CPU_FLOORS_MILLIS if 2 * f <= request_millis] or [_CPU_FLOORS_MILLIS[0]]
    return rand.choice(fits)


def _memory_floor(rand: Rand, request_bytes: int) -> int:
    """A memory usage floor at most half of ``request_bytes`` (and at most 2Gi)."""
    fits = [f * MiB for f in _MEMORY_FLOORS_MIB if 2 * f * MiB <= request_bytes] or [_MEMORY_FLOORS_MIB[0] * MiB]
    return rand.choice(fits)


def _floors(rand: Rand, cpu_millis: int, memory_bytes: int) -> dict[str, str]:
    """Usage floors below the repaired ``cpu_millis`` / ``memory_bytes`` of one container."""
    return {"cpu": cpu_str(_cpu_floor(rand, cpu_millis)), "memory": memory_str(_memory_floor(rand, memory_bytes))}


def _deployment(rand: Rand, namespace: str, name: str, replicas: int, containers: Sequence[dict[str, Any]],
                init_containers: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    spec = builders.pod_spec(containers, init_containers=init_containers)
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": namespace}
    return builders.deployment(name, spec, namespace=namespace, replicas=replicas, labels=labels)


def _single(rand: Rand, namespace: str, name: str, replicas: int, cpu_millis: int, memory_bytes: int, *,
            memory_limit_bytes: int | None = None) -> dict[str, Any]:
    """A Deployment with one container named after the app."""
    c = builders.container(
        name,
        cpu=cpu_str(cpu_millis),
        memory=memory_str(memory_bytes),
        limit_memory=memory_str(memory_limit_bytes) if memory_limit_bytes is not None else None,
        image=_image(rand, namespace, name),
    )
    return _deployment(rand, namespace, name, replicas, [c])


def _bystander(rand: Rand, kind: str, namespace: str, name: str, replicas: int, cpu_millis: int,
               memory_bytes: int) -> dict[str, Any]:
    """A non-target workload (``Deployment`` or ``StatefulSet``) with one container named after it."""
    if kind == "Deployment":
        return _single(rand, namespace, name, replicas, cpu_millis, memory_bytes)
    c = builders.container(name, cpu=cpu_str(cpu_millis), memory=memory_str(memory_bytes),
                           image=_image(rand, namespace, name))
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": namespace}
    return builders.statefulset(name, builders.pod_spec([c]), namespace=namespace, replicas=replicas, labels=labels)


def _events(start: int, *applies: tuple[int, list[dict[str, Any]]]) -> list[Event]:
    """The empty export-start event followed by one event per ``(ts, objects)``."""
    return [(start, [], [])] + [(ts, list(objs), []) for ts, objs in applies]


def _small_memory(rand: Rand, pods_per_node: int) -> int:
    """A memory request (bytes) that leaves memory far from being the bottleneck."""
    top = max(1, NODE_MEMORY_BYTES // GiB // (2 * pods_per_node))
    return rand.choice([512 * MiB, 768 * MiB] + [g * GiB for g in range(1, min(top, 8) + 1)])


def _small_cpu(rand: Rand, pods_per_node: int) -> int:
    """A CPU request (millis) that leaves CPU far from being the bottleneck."""
    top = NODE_CPU_MILLIS // (2 * pods_per_node)
    return rand.choice([m for m in (500, 750, 1000, 1500, 2000, 3000, 4000) if m <= top] or [500])


def _replicas_needing(rand: Rand, nodes: int, pods_per_node: int) -> int:
    """A replica count that needs ``pods_per_node`` pods on some node: in ``[nodes*(p-1)+1, nodes*p]``."""
    return rand.between(nodes * (pods_per_node - 1) + 1, nodes * pods_per_node)


def _over(rand: Rand, threshold: int, step: int, grid: int, max_steps: int) -> tuple[int, int]:
    """A value just above ``threshold`` on ``grid``, needing 1..``max_steps`` ``step`` decrements.

    Returns ``(value, steps)``."""
    first = _round_up(threshold + 1, grid)
    candidates = []
    value = first
    while steps_down(value, threshold, step) <= max_steps:
        candidates.append(value)
        value += grid
    value = rand.choice(candidates)
    return value, steps_down(value, threshold, step)


# ---------------------------------------------------------------------------------------------------
# Families


@dataclass(frozen=True)
class _Bottleneck:
    """The resource a single-resource family gets wrong, and how the other one is drawn.

    ``too_large_*`` parameterise the very-bad family (more than a node has), ``packing_*`` the
    slightly-bad one (a little too much to pack ``p`` pods per node)."""

    label: str  # "CPU" or "memory", as the descriptions say it
    node_label: str  # "16-CPU" or "32Gi"
    node_amount: int  # node allocatable (millicores or bytes)
    step: int  # the env's default step (millicores or bytes)
    grid: int  # requests are drawn on this grid
    too_large_max_steps: int
    packing_max_steps: int
    text: Callable[[int], str]  # quantity string of an amount
    small_other: Callable[[Rand, int], int]  # draws the other resource's (harmless) request

    def cpu_memory(self, amount: int, other: int) -> tuple[int, int]:
        """``(cpu millis, memory bytes)`` with ``amount`` on this resource and ``other`` on the other."""
        return (amount, other) if self.label == "CPU" else (other, amount)


_CPU = _Bottleneck("CPU", "16-CPU", NODE_CPU_MILLIS, CPU_STEP_MILLIS, 250, 8, 6, cpu_str, _small_memory)
_MEMORY = _Bottleneck("memory", "32Gi", NODE_MEMORY_BYTES, MEMORY_STEP_BYTES, 256 * MiB, 10, 8, memory_str, _small_cpu)


def _too_large(rand: Rand, res: _Bottleneck) -> FamilyDraft:
    """Each pod asks for more of ``res`` than any node has: all Pending."""
    (pool,) = _standard_nodes(rand)
    replicas = rand.between(1, pool.count)
    namespace, name = _app(rand)
    amount, steps = _over(rand, res.node_amount, res.step, res.grid, res.too_large_max_steps)
    other = res.small_other(rand, 1)
    start, ts = _start(rand)
    obj = _single(rand, namespace, name, replicas, *res.cpu_memory(amount, other))
    return FamilyDraft(
        workload=WorkloadRef("Deployment", namespace, name),
        node_pools=(pool,),
        target=replicas,
        usage_floors={name: _floors(rand, *res.cpu_memory(res.node_amount - res.step, other))},
        events=_events(start, (ts, [obj])),
        description=(f"{namespace}/{name} asks {res.text(amount)} {res.label} per pod, more than a "
                     f"{res.node_label} node has; all {replicas} pods Pending on {pool.count} nodes"),
        min_actions=steps,
    )


def _packing(rand: Rand, res: _Bottleneck) -> FamilyDraft:
    """Pods ask a little too much of ``res`` to pack ``p`` per node; the extra replicas stay Pending."""
    (pool,) = _standard_nodes(rand, 2, 4)
    per_node = rand.choice((2, 2, 3, 4))
    replicas = _replicas_needing(rand, pool.count, per_node)
    threshold = res.node_amount // per_node
    amount, steps = _over(rand, threshold, res.step, res.grid, res.packing_max_steps)
    other = res.small_other(rand, per_node)
    namespace, name = _app(rand)
    start, ts = _start(rand)
    obj = _single(rand, namespace, name, replicas, *res.cpu_memory(amount, other))
    fit = res.node_amount // amount
    return FamilyDraft(
        workload=WorkloadRef("Deployment", namespace, name),
        node_pools=(pool,),
        target=replicas,
        usage_floors={name: _floors(rand, *res.cpu_memory(threshold - res.step, other))},
        events=_events(start, (ts, [obj])),
        description=(f"{namespace}/{name}: {replicas} pods of {res.text(amount)} {res.label}; only {fit} fit per "
                     f"{res.node_label} node, so {replicas - fit * pool.count} stay Pending on {pool.count} nodes"),
        min_actions=steps,
    )


def very_bad_cpu(rand: Rand) -> FamilyDraft:
    """Each pod asks for more CPU than any node has (16.25 to 20 CPU on 16-CPU nodes): all Pending."""
    return _too_large(rand, _CPU)


def very_bad_memory(rand: Rand) -> FamilyDraft:
    """Each pod asks for more memory than any node has (32.25Gi to 34.5Gi on 32Gi nodes): all Pending."""
    return _too_large(rand, _MEMORY)


def slightly_bad_cpu(rand: Rand) -> FamilyDraft:
    """Pods ask a little too much CPU to pack ``p`` per node (e.g. 8.5 CPU on 16-CPU nodes: one fits per
    node, the other replicas stay Pending)."""
    return _packing(rand, _CPU)


def slightly_bad_memory(rand: Rand) -> FamilyDraft:
    """Pods ask a little too much memory to pack ``p`` per 32Gi node; the extra replicas stay Pending."""
    return _packing(rand, _MEMORY)


def mixed_cpu_memory(rand: Rand) -> FamilyDraft:
    """Both resources are wrong. Either both requests are a little too large (``Insufficient cpu`` and
    ``Insufficient memory``), or CPU is too large while the memory limit sits below the app's usage, so
    the pods that do schedule are OOMKilled."""
    (pool,) = _standard_nodes(rand, 2, 4)
    namespace, name = _app(rand)
    start, ts = _start(rand)
    per_node = rand.choice((2, 2, 3))
    replicas = _replicas_needing(rand, pool.count, per_node)
    cpu_threshold = NODE_CPU_MILLIS // per_node
    cpu, cpu_steps = _over(rand, cpu_threshold, CPU_STEP_MILLIS, 250, 4)
    if rand.chance(0.5):
        mem_threshold = NODE_MEMORY_BYTES // per_node
        memory, mem_steps = _over(rand, mem_threshold, MEMORY_STEP_BYTES, 256 * MiB, 6)
        obj = _single(rand, namespace, name, replicas, cpu, memory)
        floors = _floors(rand, cpu_threshold - CPU_STEP_MILLIS, mem_threshold - MEMORY_STEP_BYTES)
        what = (f"{cpu_str(cpu)} CPU and {memory_str(memory)} memory per pod, both too much to pack "
                f"{per_node} per node")
    else:
        memory = rand.choice((256, 512, 768)) * MiB
        mem_steps = rand.between(1, 3)
        floor = memory + mem_steps * MEMORY_STEP_BYTES - rand.choice((0, 64 * MiB, 128 * MiB))
        obj = _single(rand, namespace, name, replicas, cpu, memory, memory_limit_bytes=memory)
        floors = {"cpu": cpu_str(_cpu_floor(rand, cpu_threshold - CPU_STEP_MILLIS)), "memory": memory_str(floor)}
        what = (f"{cpu_str(cpu)} CPU per pod (too much to pack {per_node} per node) and a {memory_str(memory)} "
                f"memory limit below the app's {memory_str(floor)} usage (OOMKilled)")
    return FamilyDraft(
        workload=WorkloadRef("Deployment", namespace, name),
        node_pools=(pool,),
        target=replicas,
        usage_floors={name: floors},
        events=_events(start, (ts, [obj])),
        description=f"{namespace}/{name}: {replicas} pods on {pool.count} nodes; {what}",
        min_actions=cpu_steps + mem_steps,
    )


def too_many_replicas(rand: Rand) -> FamilyDraft:
    """More replicas than the cluster holds (by CPU, memory or the nodes' pod limit); the target is
    lower, so the repair is to scale down rather than to shrink the pods."""
    (pool,) = _standard_nodes(rand, 2, 4)
    namespace, name = _app(rand)
    start, ts = _start(rand)
    per_node = rand.between(2, 6)
    kind = rand.choice(("cpu", "memory", "pods"))
    if kind == "cpu":
        cpu = _round_up(NODE_CPU_MILLIS // per_node - 249, 250)
        memory = _small_memory(rand, per_node)
    elif kind == "memory":
        memory = _round_up(NODE_MEMORY_BYTES // per_node - 255 * MiB, 256 * MiB)
        cpu = _small_cpu(rand, per_node)
    else:
        pool = _pool(pool.count, pods=per_node)
        cpu, memory = _small_cpu(rand, per_node), _small_memory(rand, per_node)
    capacity = pool.count * per_node
    target = capacity - rand.choice((0, 0, 1, 2))
    replicas = capacity + rand.between(1, 4)
    obj = _single(rand, namespace, name, replicas, cpu, memory)
    limit = {"cpu": "CPU", "memory": "memory", "pods": "pod slots"}[kind]
    return FamilyDraft(
        workload=WorkloadRef("Deployment", namespace, name),
        node_pools=(pool,),
        target=target,
        usage_floors={name: _floors(rand, cpu, memory)},
        events=_events(start, (ts, [obj])),
        description=(f"{namespace}/{name} runs {replicas} replicas but {pool.count} nodes hold only {capacity} "
                     f"(limited by {limit}); {target} are needed"),
        min_actions=replicas - target,
    )


def multi_container(rand: Rand) -> FamilyDraft:
    """Pods with 2 or 3 containers whose summed CPU (or memory) is too large; each action changes every
    container, so one step moves the pod by 2-3 times the step size."""
    (pool,) = _standard_nodes(rand, 2, 4)
    namespace, name = _app(rand)
    start, ts = _start(rand)
    names = [name] + rand.sample(HELPER_CONTAINERS, rand.between(1, 2))
    n = len(names)
    per_node = rand.choice((1, 2, 2, 3))
    replicas = rand.between(1, pool.count) if per_node == 1 else _replicas_needing(rand, pool.count, per_node)
    steps = rand.between(1, 4)
    resource = rand.choice(("cpu", "memory"))
    if resource == "cpu":
        threshold, step, unit = NODE_CPU_MILLIS // per_node, CPU_STEP_MILLIS, 250
        other = [_small_memory(rand, per_node * n) for _ in names]
    else:
        threshold, step, unit = NODE_MEMORY_BYTES // per_node, MEMORY_STEP_BYTES, 256 * MiB
        other = [_small_cpu(rand, per_node * n) for _ in names]
    # Pod total needing exactly `steps` actions of n*step each, split over the containers so that each one
    # keeps at least a floor's worth (2 steps) after the repair.
    total = _round_up(threshold + (steps - 1) * n * step + 1, unit)
    total += unit * rand.between(0, max(0, (n * step) // unit - 1))
    while steps_down(total, threshold, n * step) > steps:
        total -= unit
    keep = 2 * step
    helpers = [keep + steps * step + unit * rand.between(0, 2) for _ in names[1:]]
    main = total - sum(helpers)
    cap = CPU_CAP_MILLIS if resource == "cpu" else MEMORY_CAP_BYTES
    if main > cap:  # keep every container within the caps: move the excess into the helpers
        spread = main - cap
        helpers = [h + _round_up(spread // len(helpers) + 1, unit) for h in helpers]
        main = total - sum(helpers)
    shares = [main] + helpers
    containers, floors = [], {}
    for cname, share, small in zip(names, shares, other):
        cpu, memory = (share, small) if resource == "cpu" else (small, share)
        containers.append(builders.container(cname, cpu=cpu_str(cpu), memory=memory_str(memory),
                                             image=_image(rand, namespace, cname)))
        fixed_cpu = cpu - steps * CPU_STEP_MILLIS if resource == "cpu" else cpu
        fixed_mem = memory - steps * MEMORY_STEP_BYTES if resource == "memory" else memory
        floors[cname] = _floors(rand, fixed_cpu, fixed_mem)
    obj = _deployment(rand, namespace, name, replicas, containers)
    fmt = cpu_str if resource == "cpu" else memory_str
    return FamilyDraft(
        workload=WorkloadRef("Deployment", namespace, name),
        node_pools=(pool,),
        target=replicas,
        usage_floors=floors,
        events=_events(start, (ts, [obj])),
        description=(f"{namespace}/{name}: {replicas} pods of {n} containers ({', '.join(names)}) asking "
                     f"{fmt(total)} {resource} in all; at most {fmt(threshold)} packs {per_node} per node "
                     f"on {pool.count} nodes"),
        min_actions=steps,
        details={"resource": resource, "containers": n},
    )


def init_and_sidecars(rand: Rand) -> FamilyDraft:
    """Pods with an init container and a sidecar (a restartable init container). The scheduler counts
    ``max(app + sidecar, init + sidecars started before it)``; the app container is too large."""
    (pool,) = _standard_nodes(rand, 2, 4)
    namespace, name = _app(rand)
    start, ts = _start(rand)
    per_node = rand.choice((1, 2, 2, 3))
    replicas = rand.between(1, pool.count) if per_node == 1 else _replicas_needing(rand, pool.count, per_node)
    threshold = NODE_CPU_MILLIS // per_node
    sidecar_cpu = rand.choice((500, 1000))
    sidecar_mem = rand.choice((256, 512)) * MiB
    init_cpu = rand.choice((500, 1000))
    init_mem = rand.choice((256, 512, 1024)) * MiB
    sidecar_first = rand.chance(0.5)
    # The app container alone must shrink below threshold - sidecar.
    app_cpu, steps = _over(rand, threshold - sidecar_cpu, CPU_STEP_MILLIS, 250, 6)
    app_mem = _small_memory(rand, per_node * 2)
    init_name, sidecar_name = rand.choice(INIT_CONTAINERS), rand.choice(SIDECARS)
    init = builders.container(init_name, cpu=cpu_str(init_cpu), memory=memory_str(init_mem),
                              image=_image(rand, namespace, init_name))
    sidecar = builders.container(sidecar_name, cpu=cpu_str(sidecar_cpu), memory=memory_str(sidecar_mem),
                                 image=_image(rand, "platform", sidecar_name), restart_policy="Always")
    app = builders.container(name, cpu=cpu_str(app_cpu), memory=memory_str(app_mem),
                             image=_image(rand, namespace, name))
    inits = [sidecar, init] if sidecar_first else [init, sidecar]
    obj = _deployment(rand, namespace, name, replicas, [app], inits)
    pod_cpu = max(app_cpu + sidecar_cpu, init_cpu + (sidecar_cpu if sidecar_first else 0))
    floors = {name: _floors(rand, threshold - sidecar_cpu - CPU_STEP_MILLIS, app_mem)}
    return FamilyDraft(
        workload=WorkloadRef("Deployment", namespace, name),
        node_pools=(pool,),
        target=replicas,
        usage_floors=floors,
        events=_events(start, (ts, [obj])),
        description=(f"{namespace}/{name}: {replicas} pods with init container {init_name} and sidecar "
                     f"{sidecar_name}; the scheduler sees {cpu_str(pod_cpu)} CPU per pod, more than "
                     f"{cpu_str(threshold)} packs {per_node} per node on {pool.count} nodes"),
        min_actions=steps,
    )


def limits_only(rand: Rand) -> FamilyDraft:
    """Containers that set only limits: the API server copies them into the requests, so a generous CPU
    limit makes the pods unschedulable."""
    (pool,) = _standard_nodes(rand, 2, 4)
    namespace, name = _app(rand)
    start, ts = _start(rand)
    per_node = rand.choice((1, 2, 2, 3))
    replicas = rand.between(1, pool.count) if per_node == 1 else _replicas_needing(rand, pool.count, per_node)
    threshold = NODE_CPU_MILLIS // per_node
    cpu, steps = _over(rand, threshold, CPU_STEP_MILLIS, 250, 6)
    memory = _small_memory(rand, per_node)
    c = builders.container(name, limit_cpu=cpu_str(cpu), limit_memory=memory_str(memory),
                           image=_image(rand, namespace, name))
    obj = _deployment(rand, namespace, name, replicas, [c])
    return FamilyDraft(
        workload=WorkloadRef("Deployment", namespace, name),
        node_pools=(pool,),
        target=replicas,
        usage_floors={name: _floors(rand, threshold - CPU_STEP_MILLIS, memory)},
        events=_events(start, (ts, [obj])),
        description=(f"{namespace}/{name} sets only limits ({cpu_str(cpu)} CPU, {memory_str(memory)}); the pods "
                     f"request the same, too much to run {replicas} on {pool.count} nodes"),
        min_actions=steps,
    )


def competing_deployments(rand: Rand) -> FamilyDraft:
    """Other workloads (Deployments and StatefulSets, one pod per node each) already use part of every
    node; the target, applied later, does not fit in what is left. Only the target may be edited."""
    (pool,) = _standard_nodes(rand, 2, 4)
    namespace, name = _app(rand)
    start, ts = _start(rand)
    bystanders = rand.sample(BYSTANDERS, rand.between(1, 3))
    applies: list[tuple[int, list[dict[str, Any]]]] = []
    used_cpu = used_mem = 0
    for b_kind, b_ns, b_name in bystanders:
        b_cpu = rand.choice((1000, 1500, 2000, 3000))
        b_mem = rand.choice((1, 2, 4)) * GiB
        used_cpu += b_cpu
        used_mem += b_mem
        applies.append((ts, [_bystander(rand, b_kind, b_ns, b_name, pool.count, b_cpu, b_mem)]))
        ts += rand.between(1, 20)
    per_node = rand.choice((1, 2, 2))
    replicas = rand.between(1, pool.count) if per_node == 1 else _replicas_needing(rand, pool.count, per_node)
    threshold = (NODE_CPU_MILLIS - used_cpu) // per_node
    cpu, steps = _over(rand, threshold, CPU_STEP_MILLIS, 250, 6)
    memory = _small_memory(rand, per_node + len(bystanders))
    ts += rand.between(30, 600)
    applies.append((ts, [_single(rand, namespace, name, replicas, cpu, memory)]))
    others = ", ".join(f"{b_ns}/{b_name}" for _, b_ns, b_name in bystanders)
    return FamilyDraft(
        workload=WorkloadRef("Deployment", namespace, name),
        node_pools=(pool,),
        target=replicas,
        usage_floors={name: _floors(rand, threshold - CPU_STEP_MILLIS, memory)},
        events=_events(start, *applies),
        description=(f"{namespace}/{name} ({replicas} pods of {cpu_str(cpu)} CPU) arrives after {others} took "
                     f"{cpu_str(used_cpu)} CPU on each of {pool.count} nodes; it needs at most "
                     f"{cpu_str(threshold)} per pod"),
        min_actions=steps,
    )


def mid_trace_change(rand: Rand) -> FamilyDraft:
    """The target starts healthy; later in the trace it is scaled up beyond what the nodes hold (the
    target is lower: scale back down), re-rolled with larger requests, or scaled and then re-rolled
    (lower the requests of the last version; the rollout from the old pods must then complete).

    The environment edits the workload's last applied version, as ``kubectl edit`` would, so earlier
    events keep their history and a request change is a rollout from the earlier pods."""
    (pool,) = _standard_nodes(rand, 2, 4)
    namespace, name = _app(rand)
    start, ts = _start(rand)
    variant = rand.choice(("scale", "reroll", "both"))
    image_a = _image(rand, namespace, name)
    image_b = image_a.rsplit(":", 1)[0] + f":2.{rand.between(0, 9)}.0"

    def make(replicas_: int, cpu_: int, memory_: int, image: str) -> dict[str, Any]:
        c = builders.container(name, cpu=cpu_str(cpu_), memory=memory_str(memory_), image=image)
        return _deployment(rand, namespace, name, replicas_, [c])

    applies: list[tuple[int, list[dict[str, Any]]]] = []
    if variant == "scale":
        per_node = rand.between(2, 4)
        cpu = _round_up(NODE_CPU_MILLIS // per_node - 249, 250)
        memory = _small_memory(rand, per_node)
        capacity = pool.count * per_node
        target = capacity - rand.choice((0, 0, 1))
        replicas = capacity + rand.between(1, 4)
        first_replicas = max(1, target // 2)
        applies.append((ts, [make(first_replicas, cpu, memory, image_a)]))
        ts += rand.between(120, 1800)
        applies.append((ts, [make(replicas, cpu, memory, image_a)]))
        steps = replicas - target
        floors = _floors(rand, cpu, memory)
        what = (f"scaled from {first_replicas} to {replicas} replicas of {cpu_str(cpu)} CPU mid-trace; "
                f"{pool.count} nodes hold {capacity} and {target} are needed")
    else:
        per_node = rand.choice((2, 2, 3))
        # After the repair one pod slot stays free, so the rollout from the old pods can surge.
        target = replicas = rand.between(pool.count * (per_node - 1) + 1, pool.count * per_node - 1)
        threshold = NODE_CPU_MILLIS // per_node
        old_cpu = rand.choice([m for m in (1000, 2000, 3000, 4000) if m <= threshold - CPU_STEP_MILLIS])
        memory = _small_memory(rand, per_node + 1)
        cpu, steps = _over(rand, threshold, CPU_STEP_MILLIS, 250, 6)
        first_replicas = replicas if variant == "reroll" else max(1, replicas // 2)
        applies.append((ts, [make(first_replicas, old_cpu, memory, image_a)]))
        if variant == "both":
            ts += rand.between(120, 900)
            applies.append((ts, [make(replicas, old_cpu, memory, image_a)]))
        ts += rand.between(120, 1800)
        applies.append((ts, [make(replicas, cpu, memory, image_b)]))
        floors = _floors(rand, min(old_cpu, threshold - CPU_STEP_MILLIS), memory)
        scaled = f"scaled from {first_replicas} to {replicas} replicas, then " if variant == "both" else ""
        what = (f"{scaled}re-rolled from {cpu_str(old_cpu)} to {cpu_str(cpu)} CPU per pod mid-trace; "
                f"at most {cpu_str(threshold)} packs {per_node} per node on {pool.count} nodes")
    return FamilyDraft(
        workload=WorkloadRef("Deployment", namespace, name),
        node_pools=(pool,),
        target=target,
        usage_floors={name: floors},
        events=_events(start, *applies),
        description=f"{namespace}/{name} is {what}",
        min_actions=steps,
        details={"variant": variant},
    )


def pool_capacity(pools: Sequence[tuple[int, int, int, int]], cpu_millis: int, memory_bytes: int) -> int:
    """Identical pods of ``cpu_millis`` / ``memory_bytes`` that fit on ``pools`` given as
    ``(count, cpu_millis, memory_bytes, pods)``. Identical pods fill every node to its own limit in
    any scheduling order, so this is exact for a cluster holding nothing else."""
    return sum(
        count * min(cpu // max(cpu_millis, 1), mem // max(memory_bytes, 1), pods)
        for count, cpu, mem, pods in pools
    )


def _fewest_fix(pools: Sequence[tuple[int, int, int, int]], cpu: int, memory: int, replicas: int,
                cpu_min: int, mem_min: int, limit: int) -> int | None:
    """Fewest CPU + memory decrements (default steps) after which ``replicas`` pods fit; ``None`` if more
    than ``limit`` are needed or a request would drop below ``cpu_min`` / ``mem_min``."""
    best: int | None = None
    for a in range(limit + 1):
        c = cpu - a * CPU_STEP_MILLIS
        if c < cpu_min:
            break
        for b in range(limit + 1 - a):
            m = memory - b * MEMORY_STEP_BYTES
            if m < mem_min:
                break
            if pool_capacity(pools, c, m) >= replicas:
                best = a + b if best is None else min(best, a + b)
                break
    return best


def node_pools(rand: Rand) -> FamilyDraft:
    """Two or three node pools of different shapes (e.g. 8 CPU / 64Gi high-memory beside 16 CPU / 32Gi
    general nodes); the pods are sized so that, summed over the pools, too few fit."""
    namespace, name = _app(rand)
    start, ts = _start(rand)
    for _ in range(1000):
        shapes = rand.sample(NODE_SHAPES, rand.between(2, 3))
        counts = [rand.between(1, 3) for _ in shapes]
        pools = [(n, cpu, gib * GiB, NODE_PODS) for n, (_, cpu, gib) in zip(counts, shapes)]
        cpu = rand.between(4, 56) * 250
        memory = rand.between(2, 48) * 512 * MiB
        replicas = rand.between(2, 12)
        if pool_capacity(pools, cpu, memory) >= replicas:
            continue
        cpu_floor, mem_floor = _cpu_floor(rand, cpu // 3), _memory_floor(rand, memory // 3)
        fix = _fewest_fix(pools, cpu, memory, replicas, max(2 * cpu_floor, CPU_STEP_MILLIS),
                          max(2 * mem_floor, MEMORY_STEP_BYTES), 10)
        if fix is not None and 1 <= fix <= 10:
            break
    else:  # pragma: no cover - the draw above succeeds within a few tries for every seed tried
        raise RuntimeError(f"node-pools: no solvable draw for seed {rand.seed}")
    node_pools_ = tuple(
        _pool(n, cpu_millis=c, memory_bytes=gib * GiB, name=shape)
        for n, (shape, c, gib) in zip(counts, shapes)
    )
    obj = _single(rand, namespace, name, replicas, cpu, memory)
    shape_text = ", ".join(f"{p.count}x {p.name} ({p.cpu} CPU/{p.memory})" for p in node_pools_)
    return FamilyDraft(
        workload=WorkloadRef("Deployment", namespace, name),
        node_pools=node_pools_,
        target=replicas,
        usage_floors={name: {"cpu": cpu_str(cpu_floor), "memory": memory_str(mem_floor)}},
        events=_events(start, (ts, [obj])),
        description=(f"{namespace}/{name}: {replicas} pods of {cpu_str(cpu)} CPU / {memory_str(memory)} on "
                     f"{shape_text}; only {pool_capacity(pools, cpu, memory)} fit"),
        min_actions=fix,
    )


#: Family name -> template function, in the order the generator cycles through them.
FAMILIES: Mapping[str, Callable[[Rand], FamilyDraft]] = {
    "very-bad-cpu": very_bad_cpu,
    "very-bad-memory": very_bad_memory,
    "slightly-bad-cpu": slightly_bad_cpu,
    "slightly-bad-memory": slightly_bad_memory,
    "mixed-cpu-memory": mixed_cpu_memory,
    "too-many-replicas": too_many_replicas,
    "multi-container": multi_container,
    "init-and-sidecars": init_and_sidecars,
    "limits-only": limits_only,
    "competing-deployments": competing_deployments,
    "mid-trace-change": mid_trace_change,
    "node-pools": node_pools,
}

#: Family names in generation order.
FAMILY_NAMES: tuple[str, ...] = tuple(FAMILIES)

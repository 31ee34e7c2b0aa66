"""The hard tier: scenario families on which "shrink until it fits" falls short.

Same contract as :mod:`sim_arena_gym.scenarios.families` (a pure function ``(rand) -> FamilyDraft``,
randomness only from ``rand``, SimKube-shaped traces), with three differences that make them hard:

* **hidden usage floors close to the answer.** The floor (what the app really uses) lies just below the
  request that fits, and the containers set no memory limit, so the request is what the kernel enforces:
  shrinking too far OOMKills the pods (CPU too far throttles them). The agent does not see the floors;
  only the OOMKilled / throttled pods after a step reveal them. The oracle knows them.
* **more than one container, more than one workload.** The oversized container is not always the
  largest one, and other Deployments share the nodes; the env's ``cluster`` success rule (used by
  ``SimArena-Hard-v0``) wants every workload Ready, the target with no throttled pod.
* **repairs that take a few well-chosen edits**, in the ``coarse`` action set (proportional x 3/4 moves
  and fixed 500m / 256Mi moves per container slot).

``min_actions`` is not computed by arithmetic here (the coarse moves make it a search); the generator
records the oracle's steps and return instead. Units: millicores, bytes.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from sim_arena_gym.scenarios.families import (
    GiB,
    MiB,
    NODE_CPU_MILLIS,
    NODE_MEMORY_BYTES,
    FamilyDraft,
    Rand,
    _app,
    _deployment,
    _events,
    _image,
    _pool,
    _start,
    cpu_str,
    memory_str,
)
from sim_arena_gym.trace import builders
from sim_arena_gym.trace.refs import WorkloadRef

#: Other Deployments that share the nodes with the target (namespace, name).
NEIGHBOURS: tuple[tuple[str, str], ...] = (
    ("platform", "ingress-nginx"),
    ("data", "kafka-connect"),
    ("batch", "report-api"),
    ("search", "indexer"),
    ("platform", "cert-manager"),
)
#: Helper containers of a multi-container pod: (name, usage floor MiB).
HELPERS: tuple[tuple[str, int], ...] = (
    ("cache-warmer", 512),
    ("log-shipper", 256),
    ("envoy", 384),
    ("metrics-exporter", 256),
)
_CPU_GRID = 250
_MEM_GRID = 256 * MiB


def _grid_down(value: int, grid: int) -> int:
    return value // grid * grid


def _grid_up(value: int, grid: int) -> int:
    return -(-value // grid) * grid


def _container(rand: Rand, namespace: str, name: str, cpu: int, memory: int) -> dict[str, Any]:
    """A container with CPU and memory requests and no limits (the request is what it gets)."""
    return builders.container(name, cpu=cpu_str(cpu), memory=memory_str(memory), image=_image(rand, namespace, name))


def _oversize(rand: Rand, threshold: int, grid: int, low: float = 1.2, high: float = 2.4) -> int:
    """A request ``low``-``high`` times ``threshold`` on ``grid``."""
    factor = low + (high - low) * rand.unit()
    return _grid_up(int(threshold * factor), grid)


def _tight_floor(rand: Rand, threshold: int, grid: int, step: int, max_steps: int) -> int:
    """A usage floor 1..``max_steps`` fixed steps below the largest grid value <= ``threshold``."""
    return _grid_down(threshold, grid) - rand.between(1, max_steps) * step + rand.choice((0, grid // 2))


def _draft(namespace: str, name: str, pool: Any, target: int, floors: Mapping[str, Mapping[str, str]],
           events: list, *, description: str, min_actions: int = 0, details: Mapping[str, Any] | None = None
           ) -> FamilyDraft:
    """The draft of a hard scenario: Deployment ``namespace/name`` on one node pool."""
    return FamilyDraft(workload=WorkloadRef("Deployment", namespace, name), node_pools=(pool,), target=target,
                       usage_floors=floors, events=events, description=description, min_actions=min_actions,
                       details=dict(details or {}))


def _split_pod(rand: Rand, namespace: str, app: str, pod_mem: int, fit_mem: int, slack: str,
               n_helpers: int) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]], str]:
    """Containers (app first, helpers after, shuffled) whose memory requests sum to about ``pod_mem``
    (more than ``fit_mem``, the largest pod that fits), and their usage floors.

    ``slack="app"``: the helpers ask little more than they use, the app uses just under what fits (its
    floor sits 256Mi-1Gi below ``fit_mem`` minus the helpers); the cut must come from the app.
    ``slack="helper"``: the app uses nearly all it asks (and is the largest container); one helper asks
    the whole cut and more, and uses 256-512Mi. Returns ``(containers, floors, name of the slack)``."""
    helpers = rand.sample(HELPERS, n_helpers)
    cut = pod_mem - fit_mem
    sizes: dict[str, tuple[int, int]] = {}  # name -> (request, floor)
    for h_name, h_floor in helpers:
        floor = h_floor * MiB
        sizes[h_name] = (_grid_up(floor + rand.choice((0, 128, 256)) * MiB, _MEM_GRID), floor)
    if slack == "helper" and helpers:
        loose, loose_floor = helpers[0][0], helpers[0][1] * MiB
        sizes[loose] = (_grid_up(loose_floor + cut + rand.choice((0, 256, 512, 1024)) * MiB, _MEM_GRID), loose_floor)
        app_mem = max(pod_mem - sum(r for r, _ in sizes.values()), sizes[loose][0] + _MEM_GRID)
        app_floor = app_mem - rand.choice((0, 128, 256)) * MiB
        slack_name = loose
    else:
        app_mem = max(pod_mem - sum(r for r, _ in sizes.values()), 2 * _MEM_GRID)
        room = fit_mem - sum(r for r, _ in sizes.values())
        app_floor = max(_MEM_GRID, _tight_floor(rand, room, _MEM_GRID, 256 * MiB, 4))
        slack_name = app
    order = [h for h, _ in helpers]
    order = rand.sample(order, len(order))
    containers = [_container(rand, namespace, app, rand.choice((500, 1000, 2000)), app_mem)]
    floors = {app: {"cpu": "250m", "memory": memory_str(app_floor)}}
    for h in order:
        request, floor = sizes[h]
        containers.append(_container(rand, namespace, h, rand.choice((100, 250)), request))
        floors[h] = {"cpu": "50m", "memory": memory_str(floor)}
    return containers, floors, slack_name


def hidden_floors(rand: Rand) -> FamilyDraft:
    """Pods asking far too much memory (or CPU, or both) to pack the replicas; the app's real usage
    lies a few hundred MiB (or 0.5-1.5 CPU) below the request that fits, so shrinking in big steps
    overshoots into OOMKills or throttling that the agent must back off from. Helpers, when there are
    any, ask little more than they use."""
    n = rand.between(2, 4)
    pool = _pool(n)
    per_node = rand.choice((1, 2, 2, 3))
    replicas = rand.between(n * (per_node - 1) + 1, n * per_node)
    namespace, name = _app(rand)
    start, ts = _start(rand)
    which = rand.choice(("memory", "memory", "cpu", "both"))
    mem_t = NODE_MEMORY_BYTES // per_node
    cpu_t = NODE_CPU_MILLIS // per_node
    if which in ("memory", "both"):
        containers, floors, _ = _split_pod(rand, namespace, name, _oversize(rand, mem_t, _MEM_GRID, 1.15, 1.8), mem_t,
                                           "app", rand.between(0, 1))
    else:
        containers, floors, _ = _split_pod(rand, namespace, name, rand.choice((1, 2, 4)) * GiB, 64 * GiB, "app", 0)
        floors[name]["memory"] = memory_str(rand.choice((1, 2, 4)) * GiB // 4)
    if which in ("cpu", "both"):
        app_cpu = _oversize(rand, cpu_t, _CPU_GRID, 1.15, 1.8)
        others = sum(builders_cpu(c) for c in containers[1:])
        containers[0] = builders.container(
            name, cpu=cpu_str(app_cpu - others), memory=containers[0]["resources"]["requests"]["memory"],
            image=containers[0]["image"],
        )
        floors[name]["cpu"] = cpu_str(_tight_floor(rand, cpu_t - others, _CPU_GRID, 500, 3))
    obj = _deployment(rand, namespace, name, replicas, containers)
    pod_cpu = sum(builders_cpu(c) for c in containers)
    pod_mem = sum(builders_mem(c) for c in containers)
    return _draft(namespace, name, pool, replicas, floors, _events(start, (ts, [obj])),
        description=(f"{namespace}/{name}: {replicas} pods of {cpu_str(pod_cpu)} CPU / {memory_str(pod_mem)} "
                     f"({len(containers)} container(s)) on {n} nodes, {per_node} per node needed; the app "
                     f"uses {floors[name]['cpu']} / {floors[name]['memory']}, just under what fits"),
        min_actions=0,
        details={"resource": which},
    )


def builders_cpu(c: Mapping[str, Any]) -> int:
    """A container map's CPU request in millicores."""
    from sim_arena_gym.quantity import cpu_millis

    return cpu_millis(c["resources"]["requests"]["cpu"])


def builders_mem(c: Mapping[str, Any]) -> int:
    """A container map's memory request in bytes."""
    from sim_arena_gym.quantity import memory_bytes

    return memory_bytes(c["resources"]["requests"]["memory"])


def oversized_helper(rand: Rand) -> FamilyDraft:
    """A pod of two or three containers whose summed memory is too large to pack the replicas. The app
    container is the largest and really uses what it asks; one helper (a cache warmer, a proxy) asks
    several GiB it never uses. Shrinking every container, or the largest first, OOMKills the app."""
    n = rand.between(2, 4)
    pool = _pool(n)
    per_node = rand.choice((1, 2, 2, 3))
    replicas = rand.between(n * (per_node - 1) + 1, n * per_node)
    namespace, name = _app(rand)
    start, ts = _start(rand)
    threshold = NODE_MEMORY_BYTES // per_node
    pod_mem = _oversize(rand, threshold, _MEM_GRID, 1.1, 1.5)
    containers, floors, loose = _split_pod(rand, namespace, name, pod_mem, threshold, "helper", rand.between(1, 2))
    obj = _deployment(rand, namespace, name, replicas, containers)
    total = sum(builders_mem(c) for c in containers)
    loose_req = next(builders_mem(c) for c in containers if c["name"] == loose)
    return _draft(namespace, name, pool, replicas, floors, _events(start, (ts, [obj])),
        description=(f"{namespace}/{name}: {replicas} pods of {len(containers)} containers asking {memory_str(total)} "
                     f"in all on {n} nodes ({per_node} per node needed); {loose} asks {memory_str(loose_req)} "
                     f"and uses {floors[loose]['memory']}, the app uses nearly all of its request"),
        min_actions=0,
    )


def shared_nodes(rand: Rand) -> FamilyDraft:
    """The target Deployment, applied first, takes so much memory on every node that the Deployments
    applied after it stay Pending. Its own pods are Ready; the repair is to shrink it until every
    workload fits, but not below what its containers really use (the app's or a helper's slack)."""
    n = rand.between(2, 4)
    pool = _pool(n)
    namespace, name = _app(rand)
    start, ts = _start(rand)
    neighbours = rand.sample(NEIGHBOURS, rand.between(1, 2))
    sizes = [rand.choice((2, 3, 4, 6)) * GiB for _ in neighbours]
    threshold = NODE_MEMORY_BYTES - sum(sizes)
    memory = _grid_up(int(threshold + (NODE_MEMORY_BYTES - threshold) * (0.4 + 0.6 * rand.unit())), _MEM_GRID)
    memory = min(memory, NODE_MEMORY_BYTES - _MEM_GRID)
    slack = rand.choice(("app", "helper"))
    containers, floors, loose = _split_pod(rand, namespace, name, memory, threshold, slack,
                                           rand.between(1 if slack == "helper" else 0, 2))
    target_obj = _deployment(rand, namespace, name, n, containers)
    applies = [(ts, [target_obj])]
    for (b_ns, b_name), size in zip(neighbours, sizes):
        ts += rand.between(20, 300)
        b_cpu = rand.choice((500, 1000, 2000))
        applies.append((ts, [_deployment(rand, b_ns, b_name, n, [_container(rand, b_ns, b_name, b_cpu, size)])]))
    others = ", ".join(f"{b_ns}/{b_name} ({memory_str(s)})" for (b_ns, b_name), s in zip(neighbours, sizes))
    total = sum(builders_mem(c) for c in containers)
    return _draft(namespace, name, pool, n, floors, _events(start, *applies),
        description=(f"{namespace}/{name} ({n} pods of {memory_str(total)}, {len(containers)} container(s)) leaves "
                     f"no room on its {n} nodes for {others}, applied after it; the slack is in {loose}"),
        min_actions=0,
    )


def fragmentation(rand: Rand) -> FamilyDraft:
    """Pinned pods of other workloads use the nodes unevenly: summed over the nodes there is room for
    every replica, but no node has room for the next pod. The pods must shrink until they pack into the
    fragments, not below what their containers use; the ``penalty`` reward's waste term prices every
    byte asked above it."""
    for _ in range(200):
        n = rand.between(3, 4)
        used = [rand.between(2, 26) * GiB for _ in range(n)]
        free = [NODE_MEMORY_BYTES - u for u in used]
        replicas = rand.between(n + 1, 3 * n)
        memory = _grid_down(sum(free) // replicas, _MEM_GRID)
        if sum(f // memory for f in free) >= replicas:
            continue
        fits = memory
        while fits > _MEM_GRID and sum(f // fits for f in free) < replicas:
            fits -= _MEM_GRID
        if fits >= 2 * GiB and memory - fits >= 512 * MiB:
            break
    else:  # pragma: no cover - found within a few draws for every seed tried
        raise RuntimeError(f"fragmentation: no draw for seed {rand.seed}")
    namespace, name = _app(rand)
    start, ts = _start(rand)
    slack = rand.choice(("app", "helper"))
    containers, floors, loose = _split_pod(rand, namespace, name, memory, fits, slack,
                                           rand.between(1 if slack == "helper" else 0, 2))
    applies = []
    for i, u in enumerate(used):
        pin = f"pinned-{i}"
        c = _container(rand, "platform", pin, 500, u)
        spec = builders.pod_spec([c], node_selector={"kubernetes.io/hostname": f"node-{i}"})
        labels = {"app.kubernetes.io/name": pin, "app.kubernetes.io/part-of": "platform"}
        applies.append((ts, [builders.deployment(pin, spec, namespace="platform", replicas=1, labels=labels)]))
        ts += rand.between(1, 5)
    ts += rand.between(30, 600)
    applies.append((ts, [_deployment(rand, namespace, name, replicas, containers)]))
    free_text = "/".join(str(f // GiB) for f in free)
    total = sum(builders_mem(c) for c in containers)
    return _draft(namespace, name, _pool(n), replicas, floors, _events(start, *applies),
        description=(f"{namespace}/{name}: {replicas} pods of {memory_str(total)}; the {n} nodes have "
                     f"{free_text}Gi free, enough in total but not per node; pods pack at {memory_str(fits)}, "
                     f"the slack is in {loose}"),
        min_actions=0,
    )


#: Hard family name -> template function, in generation order.
HARD_FAMILIES: Mapping[str, Callable[[Rand], FamilyDraft]] = {
    "hidden-floors": hidden_floors,
    "oversized-helper": oversized_helper,
    "shared-nodes": shared_nodes,
    "fragmentation": fragmentation,
}

#: Hard family names in generation order.
HARD_FAMILY_NAMES: tuple[str, ...] = tuple(HARD_FAMILIES)

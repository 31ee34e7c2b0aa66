"""The request the scheduler counts for a pod (``k8s-scheduling-rules.md`` section 2).

Rules implemented here (checklist numbers of section 10):

* 4  -- container quantities are summed **exactly** and the pod total is rounded once: CPU up to whole
  millicores, everything else up to whole units. Two containers of ``0.5m`` cost ``1m``.
* 6  -- limits-only defaulting (``SetDefaults_Pod``): a resource with a limit but no request gets the
  limit as its request, key by key, for containers and init containers of every created pod.
* 7  -- aggregation: ``max(sum(containers) + sum(sidecars), max over init containers of (own request +
  sidecars declared before it), cumulative sidecar sums)``; pod-level ``spec.resources.requests``
  replace the container aggregate for cpu/memory/hugepages; ``spec.overhead`` is added last.
* 8  -- zero stays zero for the Fit filter; scoring substitutes 100m CPU / 209,715,200 bytes of memory
  for each container whose key is *missing* (never for an explicit ``0``).

Exact values are integers in nano-units (quantity x 10^9); see :mod:`sim_arena_gym.sim.objects`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterable, Mapping

from sim_arena_gym.quantity import QuantityError, read_quantity
from sim_arena_gym.sim.objects import ContainerSpec, PodRequest

__all__ = [
    "DEFAULT_CPU_MILLIS",
    "DEFAULT_MEMORY_BYTES",
    "NANO",
    "effective_container_requests",
    "nano_units",
    "pod_request",
]

#: Nano-units per unit.
NANO = 10**9
#: Scoring default for a container without a CPU request (``schedutil.DefaultMilliCPURequest``).
DEFAULT_CPU_MILLIS = 100
#: Scoring default for a container without a memory request (200Mi, ``DefaultMemoryRequest``).
DEFAULT_MEMORY_BYTES = 200 * 1024 * 1024

_DEFAULT_CPU_NANO = DEFAULT_CPU_MILLIS * 10**6
_DEFAULT_MEMORY_NANO = DEFAULT_MEMORY_BYTES * NANO
_POD_LEVEL_KEYS = ("cpu", "memory")

_NANO_CACHE: dict[object, int] = {}


def nano_units(value: object) -> int:
    """Exact nano-units (value x 10^9) of a quantity string or JSON number; cached.

    Outer whitespace is trimmed, as the API server's JSON decoder does for trace input (checklist 1).
    Raises :class:`~sim_arena_gym.quantity.QuantityError` for text that is not a quantity."""
    key = (type(value), value) if not isinstance(value, str) else value
    try:
        return _NANO_CACHE[key]
    except KeyError:
        pass
    except TypeError:  # unhashable: not a quantity
        raise QuantityError("quantities must be strings or numbers", value) from None
    exact: Fraction = read_quantity(value).value  # the one reader of trace and option quantities
    # The parser rounds every non-zero value to a whole number of nano-units, so this is exact.
    result = -((-exact.numerator * NANO) // exact.denominator)
    if len(_NANO_CACHE) > 65536:
        _NANO_CACHE.clear()
    _NANO_CACHE[key] = result
    return result


def _ceil_div(value: int, unit: int) -> int:
    return -((-value) // unit)


def effective_container_requests(container: ContainerSpec) -> Mapping[str, int]:
    """Requests after limits-only defaulting (checklist 6); see
    :attr:`ContainerSpec.effective_requests`."""
    return container.effective_requests


def _aggregate(
    containers: Iterable[Mapping[str, int]],
    init_containers: Iterable[tuple[Mapping[str, int], bool]],
) -> dict[str, int]:
    """``max(long-running sum, init-phase needs)`` per resource, exact (checklist 7)."""
    total: dict[str, int] = {}
    for reqs in containers:
        for name, value in reqs.items():
            total[name] = total.get(name, 0) + value
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for reqs, sidecar in init_containers:
        if sidecar:
            for name, value in reqs.items():
                sidecars[name] = sidecars.get(name, 0) + value
                total[name] = total.get(name, 0) + value
            need = sidecars  # while this sidecar starts: the cumulative sidecar sum
            for name, value in need.items():
                if value > init_peak.get(name, 0):
                    init_peak[name] = value
        else:
            for name in set(reqs) | set(sidecars):
                value = reqs.get(name, 0) + sidecars.get(name, 0)
                if value > init_peak.get(name, 0):
                    init_peak[name] = value
    for name, value in init_peak.items():
        if value > total.get(name, 0):
            total[name] = value
    return total


def _with_scoring_defaults(reqs: Mapping[str, int]) -> Mapping[str, int]:
    if "cpu" in reqs and "memory" in reqs:
        return reqs
    out = dict(reqs)
    out.setdefault("cpu", _DEFAULT_CPU_NANO)
    out.setdefault("memory", _DEFAULT_MEMORY_NANO)
    return out


def _is_scalar(name: str) -> bool:
    return "/" in name or name.startswith("hugepages-")


def _sum_cpu_memory(regular: list[Mapping[str, int]]) -> PodRequest | None:
    """Fast path: regular containers requesting only cpu and memory (the common case)."""
    cpu = mem = nz_cpu = nz_mem = 0
    best_effort = True
    for reqs in regular:
        if len(reqs) > 2:
            return None
        for key in reqs:
            if key != "cpu" and key != "memory":
                return None
        value = reqs.get("cpu")
        if value is None:
            nz_cpu += _DEFAULT_CPU_NANO
        else:
            cpu += value
            nz_cpu += value
            best_effort = False
        value = reqs.get("memory")
        if value is None:
            nz_mem += _DEFAULT_MEMORY_NANO
        else:
            mem += value
            nz_mem += value
            best_effort = False
    return PodRequest(
        -((-cpu) // 1_000_000), -((-mem) // NANO), 0, (), -((-nz_cpu) // 1_000_000), -((-nz_mem) // NANO), best_effort
    )


def pod_request(
    containers: Iterable[ContainerSpec],
    init_containers: Iterable[ContainerSpec] = (),
    *,
    overhead: Mapping[str, int] | None = None,
    pod_resources: Mapping[str, int] | None = None,
) -> PodRequest:
    """The scheduler's request for a pod with these containers (checklist 4, 6, 7, 8).

    Every argument is exact (nano-units); the result is rounded once: CPU up to millicores, the rest
    up to whole units. Worked examples (spec 2.1): sidecar 100m, init 500m, sidecar 200m and a 300m
    container give 600m; init containers of 2 CPU/1G and 2 CPU/3G with containers of 2 CPU/1G and
    1 CPU/1G give 3 CPU / 3G."""
    containers = tuple(containers)
    init_containers = tuple(init_containers)
    regular = [c.effective_requests for c in containers]
    if not init_containers and not overhead and not pod_resources:
        fast = _sum_cpu_memory(regular)
        if fast is not None:
            return fast
    overhead = overhead or {}
    pod_resources = pod_resources or {}
    inits = [(c.effective_requests, c.sidecar) for c in init_containers]

    exact = _aggregate(regular, inits)
    nonzero = _aggregate(
        (_with_scoring_defaults(r) for r in regular),
        ((_with_scoring_defaults(r), s) for r, s in inits),
    )
    for name, value in pod_resources.items():  # pod-level resources replace the aggregate
        if name in _POD_LEVEL_KEYS or name.startswith("hugepages-"):
            exact[name] = value
            nonzero[name] = value
    for name, value in overhead.items():
        exact[name] = exact.get(name, 0) + value
        nonzero[name] = nonzero.get(name, 0) + value

    best_effort = not pod_resources.keys() & set(_POD_LEVEL_KEYS) and not any(
        key in ("cpu", "memory")
        for c in containers + init_containers
        for key in (*c.requests, *c.limits)
    )
    scalar = tuple(
        sorted(
            (name, _ceil_div(value, NANO))
            for name, value in exact.items()
            if _is_scalar(name) and value > 0
        )
    )
    return PodRequest(
        cpu_millis=_ceil_div(exact.get("cpu", 0), 10**6),
        memory_bytes=_ceil_div(exact.get("memory", 0), NANO),
        ephemeral_bytes=_ceil_div(exact.get("ephemeral-storage", 0), NANO),
        scalar=scalar,
        nonzero_cpu_millis=_ceil_div(nonzero.get("cpu", 0), 10**6),
        nonzero_memory_bytes=_ceil_div(nonzero.get("memory", 0), NANO),
        best_effort=best_effort,
    )

"""What a pod read from the API means to the scheduler: its request, and the reasons in its
FailedScheduling message. Shared by the simkube backend (reading pods) and the fake cluster
(writing them); the rules are the simulator's own (:func:`sim_arena_gym.sim.requests.pod_request`).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from sim_arena_gym.sim.objects import ContainerSpec
from sim_arena_gym.sim.requests import nano_units, pod_request

__all__ = ["pod_request_of", "scheduling_reasons"]

_AVAILABLE = re.compile(r"^0/\d+ nodes are available: ")


def _container(c: Mapping[str, Any], sidecar: bool = False) -> ContainerSpec:
    res = c.get("resources") or {}
    requests = {k: nano_units(v) for k, v in (res.get("requests") or {}).items()}
    limits = {k: nano_units(v) for k, v in (res.get("limits") or {}).items()}
    return ContainerSpec(name=str(c.get("name", "")), requests=requests, limits=limits, sidecar=sidecar)


def pod_request_of(spec: Mapping[str, Any]) -> tuple[int, int]:
    """(CPU millicores, memory bytes) the scheduler counts for a pod with this ``spec``: the sum of
    its containers, the init-container peak, sidecars and ``overhead``, rounded once per pod."""
    containers = [_container(c) for c in spec.get("containers") or ()]
    inits = [_container(c, c.get("restartPolicy") == "Always") for c in spec.get("initContainers") or ()]
    overhead = {k: nano_units(v) for k, v in (spec.get("overhead") or {}).items()}
    pod_level = (spec.get("resources") or {}).get("requests") or {}
    request = pod_request(
        containers, inits, overhead=overhead or None,
        pod_resources={k: nano_units(v) for k, v in pod_level.items()} or None,
    )
    return request.cpu_millis, request.memory_bytes


def scheduling_reasons(message: str) -> tuple[str, ...]:
    """The distinct filter reasons of a FailedScheduling message, sorted.

    ``"0/3 nodes are available: 1 Too many pods, 2 Insufficient cpu. preemption: ..."`` ->
    ``("Insufficient cpu", "Too many pods")``. Messages of another shape give ``()``."""
    m = _AVAILABLE.match(message)
    if not m:
        return ()
    rest = message[m.end():]
    end = rest.find(". ")
    histogram = rest[:end] if end >= 0 else rest.rstrip(".").rstrip(" ...")
    reasons = set()
    for entry in histogram.split(", "):
        count, _, reason = entry.partition(" ")
        if count.isdigit() and reason:
            reasons.add(reason)
    return tuple(sorted(reasons))

"""Backends replay a trace on a cluster and report a :class:`~sim_arena_gym.sim.outcome.ClusterOutcome`.

``make_backend(name, **kwargs)`` builds one by name: ``"embedded"`` (the in-process simulator,
:class:`EmbeddedBackend`) or ``"simkube"`` (a SimKube cluster through the Kubernetes API,
:class:`~sim_arena_gym.backends.simkube.SimKubeBackend`).
"""

from __future__ import annotations

from typing import Any, Callable

from sim_arena_gym.backends.base import Backend, BackendError
from sim_arena_gym.backends.embedded import EmbeddedBackend


def _simkube(**kwargs: Any) -> Backend:
    from sim_arena_gym.backends.simkube import SimKubeBackend  # imports the kubernetes client: only on use

    return SimKubeBackend(**kwargs)


__all__ = ["BACKENDS", "Backend", "BackendError", "EmbeddedBackend", "make_backend"]

#: Backend factories by name.
BACKENDS: dict[str, Callable[..., Backend]] = {"embedded": EmbeddedBackend, "simkube": _simkube}


def make_backend(name: str = "embedded", **kwargs: Any) -> Backend:
    """A backend by name (``"embedded"``, ``"simkube"``); ``kwargs`` go to its constructor.

    Raises ``ValueError`` naming the available backends for an unknown name."""
    factory = BACKENDS.get(name)
    if factory is None:
        available = ", ".join(repr(n) for n in sorted(BACKENDS))
        raise ValueError(f"unknown backend {name!r}; available: {available}")
    return factory(**kwargs)

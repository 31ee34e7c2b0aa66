"""Backends replay a trace on a cluster and report a :class:`~sim_arena_gym.sim.outcome.ClusterOutcome`.

``make_backend(name, **kwargs)`` builds one by name: ``"embedded"`` (the in-process simulator,
:class:`EmbeddedBackend`) or ``"simkube"`` (a SimKube cluster through the Kubernetes API,
:class:`~sim_arena_gym.backends.simkube.SimKubeBackend`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sim_arena_gym.backends.base import Backend, BackendError
from sim_arena_gym.backends.embedded import EmbeddedBackend
from sim_arena_gym.sim.options import SimOptions
from sim_arena_gym.sim.outcome import ClusterOutcome

if TYPE_CHECKING:  # pragma: no cover
    from sim_arena_gym.scenarios.model import Scenario
    from sim_arena_gym.trace.model import Trace


def _simkube(**kwargs: Any) -> Backend:
    from sim_arena_gym.backends.simkube import SimKubeBackend  # imports the kubernetes client: only on use

    return SimKubeBackend(**kwargs)


__all__ = ["BACKENDS", "Backend", "BackendError", "EmbeddedBackend", "make_backend", "simulate"]

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


def simulate(trace: "Trace", scenario: "Scenario", options: SimOptions | None = None) -> ClusterOutcome:
    """Replay ``trace`` on ``scenario`` once (a fresh :class:`EmbeddedBackend` each call). (It lived in
    :mod:`sim_arena_gym.sim` before; the simulator does not import the backends above it.)"""
    return EmbeddedBackend(options).run(trace, scenario)

"""The one protocol both backends implement: replay a trace on a cluster and report the outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sim_arena_gym.sim.outcome import ClusterOutcome
from sim_arena_gym.trace.model import Trace

if TYPE_CHECKING:  # pragma: no cover  (annotations only: scenarios sit above the backends)
    from sim_arena_gym.scenarios.model import Scenario


@runtime_checkable
class Backend(Protocol):
    """Replays ``trace`` onto the nodes of ``scenario`` and observes every pod at the end of the
    simulated window (the last event's time, plus enough settling time for controllers and the
    scheduler to reach a steady state)."""

    name: str

    def run(self, trace: Trace, scenario: Scenario) -> ClusterOutcome:
        """Replay and observe. Raises ``BackendError`` (or a ``TraceError`` for a bad trace)."""
        ...

    def close(self) -> None:
        """Release whatever the backend holds (caches, API clients)."""
        ...


class BackendError(RuntimeError):
    """A backend could not run a simulation (cluster unreachable, timeout, ...)."""

"""The embedded backend: replays a trace in process with :mod:`sim_arena_gym.sim` (the default).

It is deterministic and needs no cluster. Traces that only create Deployments (the common case)
take the short replay of :mod:`~sim_arena_gym.sim.fastpath`; the others the general
:class:`~sim_arena_gym.sim.replay.Replay`; both give the same outcome. It keeps three caches between
runs, all keyed by object identity (holding a reference so that ``id()`` stays valid):

* parsed trace objects (:class:`~sim_arena_gym.sim.parse.ObjectParser`): after an edit that
  path-copies one Deployment, only that Deployment's changed dicts are parsed again, and changed
  dicts whose content was seen before are found by content;
* the nodes of each scenario's node pools (:class:`~sim_arena_gym.sim.cluster.NodeSet`), with their
  per-constraints static filter results and the scores of empty nodes per pod request;
* saved replay states (:class:`~sim_arena_gym.sim.snapshot.SnapshotCache`, bounded): a general replay
  of a trace that shares its first events (by identity) with one replayed before resumes from the
  state saved before the first event that differs, so a run after an edit replays only the events
  from the edited one on (same outcome as a full replay; ``resume=False`` turns it off).

The outcome's ``pods`` are built on first access (:meth:`ClusterOutcome.with_lazy_pods
<sim_arena_gym.sim.outcome.ClusterOutcome.with_lazy_pods>`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sim_arena_gym.backends.base import BackendError
from sim_arena_gym.sim.cluster import NodeSet
from sim_arena_gym.sim.fastpath import fast_outcome
from sim_arena_gym.sim.nodes import build_nodes
from sim_arena_gym.sim.observe import build_outcome
from sim_arena_gym.sim.options import SimOptions
from sim_arena_gym.sim.outcome import ClusterOutcome
from sim_arena_gym.sim.parse import ObjectParser
from sim_arena_gym.sim.replay import Replay, parse_usage_floors
from sim_arena_gym.sim.snapshot import SnapshotCache
from sim_arena_gym.trace.errors import TraceError
from sim_arena_gym.trace.model import Trace
from sim_arena_gym.trace.validate import ObjectValidator

if TYPE_CHECKING:  # pragma: no cover  (annotations only: scenarios sit above the backends)
    from sim_arena_gym.scenarios.model import Scenario

__all__ = ["EmbeddedBackend"]

_CACHE_LIMIT = 256


class EmbeddedBackend:
    """In-process Kubernetes simulator backend.

    Args:
        options: :class:`~sim_arena_gym.sim.options.SimOptions`; keyword ``overrides`` replace single
            fields (``EmbeddedBackend(version="1.29")``), so that ``make_backend("embedded",
            **backend_options)`` accepts plain config values.
        resume: resume general replays from saved states (:mod:`~sim_arena_gym.sim.snapshot`);
            ``False`` replays every trace from its first event (same outcomes, for comparisons).
    """

    name = "embedded"

    def __init__(self, options: SimOptions | None = None, *, resume: bool = True, **overrides: Any) -> None:
        base = options if options is not None else SimOptions()
        if not isinstance(base, SimOptions):
            raise TypeError(f"options must be a SimOptions, got {type(base).__name__}")
        if overrides:
            try:
                base = replace(base, **overrides)
            except TypeError as exc:
                raise ValueError(f"embedded backend: {exc}") from None
        self.options = base
        self._parser = ObjectParser()
        self._validator = ObjectValidator()
        self._nodesets: dict[int, tuple[Any, NodeSet]] = {}
        self._floors: dict[int, tuple[Any, dict]] = {}
        self._targets: dict[int, tuple[Any, str]] = {}
        self._snapshots = SnapshotCache() if resume else None

    def _nodeset(self, scenario: Scenario) -> NodeSet:
        pools = scenario.node_pools
        hit = self._nodesets.get(id(pools))
        if hit is not None and hit[0] is pools:
            return hit[1]
        try:
            nodeset = NodeSet(build_nodes(pools))
        except ValueError as exc:
            raise BackendError(f"scenario {scenario.id!r}: {exc}") from None
        if len(self._nodesets) >= _CACHE_LIMIT:
            self._nodesets.clear()
        self._nodesets[id(pools)] = (pools, nodeset)
        return nodeset

    def _target(self, scenario: Scenario) -> str | None:
        """``str(scenario.workload)``, remembered per workload reference."""
        ref = scenario.workload
        if ref is None:
            return None
        hit = self._targets.get(id(ref))
        if hit is not None and hit[0] is ref:
            return hit[1]
        if len(self._targets) >= _CACHE_LIMIT:
            self._targets.clear()
        text = str(ref)
        self._targets[id(ref)] = (ref, text)
        return text

    def _usage_floors(self, scenario: Scenario) -> dict:
        floors = scenario.usage_floors
        if not floors:
            return {}
        hit = self._floors.get(id(floors))
        if hit is not None and hit[0] is floors:
            return hit[1]
        try:
            parsed = parse_usage_floors(floors)
        except ValueError as exc:
            raise BackendError(f"scenario {scenario.id!r}: {exc}") from None
        if len(self._floors) >= _CACHE_LIMIT:
            self._floors.clear()
        self._floors[id(floors)] = (floors, parsed)
        return parsed

    def run(self, trace: Trace, scenario: Scenario) -> ClusterOutcome:
        """Replay ``trace`` on ``scenario``'s nodes and observe the cluster at the end.

        Traces that only create Deployments take the short replay of
        :mod:`~sim_arena_gym.sim.fastpath` (same outcome); the others the general one, resumed from
        a saved state where the trace shares its first events with one run before.

        Raises a :class:`~sim_arena_gym.trace.errors.TraceError` for a malformed trace object and
        :class:`BackendError` for a bad scenario or a simulation that does not settle."""
        options = self.options
        self._validator.validate(trace)  # what the apiserver would refuse, and the pod bound
        pools = scenario.node_pools
        hit = self._nodesets.get(id(pools))
        nodeset = hit[1] if hit is not None and hit[0] is pools else self._nodeset(scenario)
        floors = self._usage_floors(scenario) if scenario.usage_floors else {}
        # The target workload matters only for usage floors.
        target = self._target(scenario) if floors else None
        if options.fast_path:
            outcome = fast_outcome(
                trace, nodeset, self._parser, options, scenario.simkube_mode, target, floors, self.name
            )
            if outcome is not None:
                return outcome
        try:
            if self._snapshots is not None:
                replay = self._snapshots.replay(
                    trace, nodeset, self._parser, options, simkube_mode=scenario.simkube_mode, target=target,
                    floors=floors,
                )
            else:
                replay = Replay(
                    trace, nodeset, self._parser, options, simkube_mode=scenario.simkube_mode, target=target,
                    floors=floors,
                )
                replay.run()
        except TraceError as exc:
            raise exc.located(file=trace.source) from None
        except RuntimeError as exc:
            raise BackendError(f"scenario {scenario.id!r}: {exc}") from None
        return build_outcome(replay, self.name)

    def close(self) -> None:
        """Drop the parse, node and saved-state caches."""
        self._parser.clear()
        self._validator.clear()
        self._nodesets.clear()
        self._floors.clear()
        self._targets.clear()
        if self._snapshots is not None:
            self._snapshots.clear()

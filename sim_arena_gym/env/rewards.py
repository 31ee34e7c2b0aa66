"""Reward modes, chosen by name (``config["reward_mode"]``).

Every mode returns ``(reward, terms)``: ``reward`` is a Python ``float`` equal to ``sum(terms.values())``
and ``terms`` (a fresh dict) goes into ``info["reward_terms"]``. Weights ``w_*`` default as below and are
overridden with ``config["reward_weights"] = {"step_cost": 0.02, ...}``.

Notation, for the step from state ``s`` to ``s'``: ``success'`` is 1 when exactly ``target`` pods of the
workload are Running and Ready with none Pending and no other pod left (the termination condition),
else 0; ``h(s) = min(ready, target) / target`` is the healthy share; ``blocked`` is 1 when a safeguard
refused the action; ``throttled'`` is the number of CPU-throttled pods.

``binary``
    ``r = success'``. Terms: ``success``.

``gradual`` (dense shaping)
    ``r = w_progress * (h(s') - h(s)) + w_success * success' - w_step_cost``.
    Terms: ``progress``, ``success``, ``step_cost`` (negative). Defaults: ``w_progress = 1``,
    ``w_success = 1``, ``w_step_cost = 0.01``. The progress terms of an episode telescope to
    ``h(final) - h(start)``, so the shaping cannot be farmed.

``penalty`` (repair quality)
    ``r = w_success * success' - w_waste * waste(s') * success' - w_blocked * blocked
    - w_throttled * throttled' / target - w_step_cost``.
    ``waste(s) = (waste_cpu + waste_memory) / 2`` with
    ``waste_cpu = min(1, sum_c max(0, cpu_c - ref_cpu_c) / node_cpu)``, ``ref_cpu_c`` being the
    container's usage floor when the scenario declares one, else the smallest request the safeguards
    allow (one step, the smallest request that can fit), and ``node_cpu`` the largest node's
    allocatable CPU (likewise for memory). Waste is charged on the successful step only: it grades the
    repair, not the path. Terms: ``success``, ``waste``, ``blocked``, ``throttled``, ``step_cost``.
    Defaults: ``w_success = 1``, ``w_waste = 0.5``, ``w_blocked = 0.1``, ``w_throttled = 0.2``,
    ``w_step_cost = 0.01``.

Revision 1 (``config["reward_revision"] = 1``, the default of ``SimArena-Coarse-v0`` and
``SimArena-Hard-v0``; revision 0 is the formulas above, unchanged, for ``-v0``):

``gradual``
    the healthy share also counts pods *above* the target against it,
    ``h1(s) = (min(ready, target) - max(0, total - target)) / target``, so removing an excess pod earns
    the same progress credit as making a missing pod Ready (under revision 0 an over-replicated start
    earns nothing for scaling down); and a ``collateral`` term
    ``w_collateral * (u(s) - u(s'))`` with ``u = others_unready / max(1, others_desired)``, the share
    of the other workloads' pods that are not Ready. Both are differences of a potential, so they
    telescope and cannot be farmed. Default ``w_collateral = 1``.

``penalty``
    adds ``collateral = -w_collateral * u(s')`` on every step (like ``throttled``): damage the repair
    does to other workloads costs while it lasts. Default ``w_collateral = 0.2``.

``binary`` is the same in both revisions.
"""

from __future__ import annotations

import math

from typing import Callable, Mapping, Protocol

from sim_arena_gym.env.actions import Safeguards
from sim_arena_gym.env.state import ScenarioContext, StateView

#: Default weights per mode (the keys accepted in ``config["reward_weights"]``).
DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {
    "binary": {},
    "gradual": {"progress": 1.0, "success": 1.0, "step_cost": 0.01},
    "penalty": {"success": 1.0, "waste": 0.5, "blocked": 0.1, "throttled": 0.2, "step_cost": 0.01},
}


#: Extra weights of revision 1, per mode (merged over :data:`DEFAULT_WEIGHTS`).
REVISION_1_WEIGHTS: dict[str, dict[str, float]] = {
    "binary": {},
    "gradual": {"collateral": 1.0},
    "penalty": {"collateral": 0.2},
}
#: Accepted values of ``config["reward_revision"]``.
REWARD_REVISIONS: tuple[int, ...] = (0, 1)


class RewardFunction(Protocol):
    """``(prev view, new view, blocked, scenario) -> (reward, terms)``."""

    name: str
    weights: Mapping[str, float]

    def __call__(
        self, prev: StateView, cur: StateView, blocked: bool, ctx: ScenarioContext
    ) -> tuple[float, dict[str, float]]: ...


def healthy_share(view: StateView, target: int) -> float:
    """``min(ready, target) / target`` (1.0 for a target of 0)."""
    if target <= 0:
        return 1.0
    ready = view.ready
    return (ready if ready < target else target) / target  # min(ready, target) without the call


def healthy_share_v1(view: StateView, target: int) -> float:
    """Revision 1: ``(min(ready, target) - max(0, total - target)) / target`` (1.0 for a target of 0)."""
    if target <= 0:
        return 1.0
    return (min(view.ready, target) - max(0, view.total - target)) / target


def unready_share(view: StateView) -> float:
    """Share of the other workloads' desired pods that are not Ready, in [0, 1] (0 with none)."""
    return view.others_unready / view.others_desired if view.others_desired > 0 else 0.0


def waste(view: StateView, ctx: ScenarioContext, guards: Safeguards) -> float:
    """Over-allocation of the pod template in [0, 1]; see the module docstring."""
    c = ctx.constants
    state = view.state
    over_cpu = 0
    over_mem = 0
    for i, floor in enumerate(ctx.floors):
        cpu, mem = state.cpu[i], state.memory[i]
        if cpu is not None:
            ref = max(floor.cpu_millis or 0, guards.cpu_min_millis)
            over_cpu += max(0, cpu - ref)
        if mem is not None:
            ref = max(floor.memory_bytes or 0, guards.memory_min_bytes)
            over_mem += max(0, mem - ref)
    w_cpu = min(1.0, over_cpu / c.node_cpu_millis) if c.node_cpu_millis > 0 else 0.0
    w_mem = min(1.0, over_mem / c.node_memory_bytes) if c.node_memory_bytes > 0 else 0.0
    return (w_cpu + w_mem) / 2.0


class BinaryReward:
    """``binary``: 1.0 on a step that ends in success, 0.0 otherwise."""
    name = "binary"

    def __init__(self, weights: Mapping[str, float], guards: Safeguards, revision: int = 0) -> None:
        self.weights = dict(weights)
        self.revision = revision

    def __call__(
        self, prev: StateView, cur: StateView, blocked: bool, ctx: ScenarioContext
    ) -> tuple[float, dict[str, float]]:
        r = 1.0 if cur.success else 0.0
        return r, {"success": r}


class GradualReward:
    """``gradual`` (default): progress in the Ready fraction (a potential difference), a step cost, a success bonus."""
    name = "gradual"

    def __init__(self, weights: Mapping[str, float], guards: Safeguards, revision: int = 0) -> None:
        self.weights = dict(weights)
        self.revision = revision
        self._progress = float(weights["progress"])
        self._success = float(weights["success"])
        self._step = float(weights["step_cost"])
        self._collateral = float(weights.get("collateral", 0.0))
        self._step_term = -self._step
        # A potential's difference between a view and itself is exactly 0.0 (the shares are finite),
        # so an unchanged step's terms are these products (``-0.0`` for a negative weight, as computed).
        self._zero_progress = self._progress * 0.0
        self._zero_collateral = self._collateral * 0.0

    def potential(self, view: StateView, ctx: ScenarioContext) -> float:
        """The shaping potential whose differences are the progress (and collateral) terms."""
        target = ctx.constants.target
        if self.revision == 0:
            return self._progress * healthy_share(view, target)
        return self._progress * healthy_share_v1(view, target) - self._collateral * unready_share(view)

    def __call__(
        self, prev: StateView, cur: StateView, blocked: bool, ctx: ScenarioContext
    ) -> tuple[float, dict[str, float]]:
        success = self._success if cur.success else 0.0
        step = self._step_term
        if self.revision == 0:
            if prev is cur:  # an unchanged step (see _zero_progress)
                progress = self._zero_progress
            else:
                target = ctx.constants.target
                progress = self._progress * (healthy_share(cur, target) - healthy_share(prev, target))
            return progress + success + step, {"progress": progress, "success": success, "step_cost": step}
        if prev is cur:
            progress, collateral = self._zero_progress, self._zero_collateral
        else:
            target = ctx.constants.target
            progress = self._progress * (healthy_share_v1(cur, target) - healthy_share_v1(prev, target))
            collateral = self._collateral * (unready_share(prev) - unready_share(cur))
        terms = {"progress": progress, "collateral": collateral, "success": success, "step_cost": step}
        return progress + collateral + success + step, terms


class PenaltyReward:
    """``penalty``: the success bonus less over-allocation (on success), blocked actions, CPU throttling and a step cost."""
    name = "penalty"

    def __init__(self, weights: Mapping[str, float], guards: Safeguards, revision: int = 0) -> None:
        self.weights = dict(weights)
        self.revision = revision
        self._guards = guards
        self._w = {k: float(v) for k, v in weights.items()}

    def __call__(
        self, prev: StateView, cur: StateView, blocked: bool, ctx: ScenarioContext
    ) -> tuple[float, dict[str, float]]:
        w = self._w
        target = ctx.constants.target
        success = w["success"] if cur.success else 0.0
        waste_term = -w["waste"] * waste(cur, ctx, self._guards) if cur.success else 0.0
        blocked_term = -w["blocked"] if blocked else 0.0
        throttled = -w["throttled"] * (cur.throttled / target) if cur.throttled and target > 0 else 0.0
        step = -w["step_cost"]
        terms = {
            "success": success,
            "waste": waste_term,
            "blocked": blocked_term,
            "throttled": throttled,
            "step_cost": step,
        }
        if self.revision == 0:
            return success + waste_term + blocked_term + throttled + step, terms
        collateral = -w["collateral"] * unready_share(cur)
        terms["collateral"] = collateral
        return success + waste_term + blocked_term + throttled + collateral + step, terms


#: Reward modes by name.
REWARDS: dict[str, Callable[..., RewardFunction]] = {
    "binary": BinaryReward,
    "gradual": GradualReward,
    "penalty": PenaltyReward,
}


def make_reward(
    name: str, guards: Safeguards, weights: Mapping[str, float] | None = None, revision: int = 0
) -> RewardFunction:
    """The reward mode ``name`` (formulas of ``revision``) with ``weights`` overriding its defaults."""
    if name not in REWARDS:
        raise ValueError(f"reward_mode {name!r}: expected one of {sorted(REWARDS)}")
    if revision not in REWARD_REVISIONS or isinstance(revision, bool):
        raise ValueError(f"reward_revision {revision!r}: expected one of {list(REWARD_REVISIONS)}")
    merged = dict(DEFAULT_WEIGHTS.get(name, {}))
    if revision == 1:
        merged.update(REVISION_1_WEIGHTS.get(name, {}))
    for key, value in (weights or {}).items():
        if key not in merged:
            raise ValueError(
                f"reward_weights: {key!r} is not a weight of reward mode {name!r}; valid: {sorted(merged)}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"reward_weights[{key!r}] {value!r}: expected a finite number")
        merged[key] = float(value)
    return REWARDS[name](merged, guards, revision)

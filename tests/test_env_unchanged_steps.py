"""Unchanged steps (noop, blocked) take shortcuts that must give the very floats of the formulas.

The gradual reward of a step from a view to itself uses ``w * 0.0`` for every potential difference
(``h - h`` is exactly 0.0 for a finite share). These tests compare, for weights of both signs and
zero, on real views of every train family, the terms and reward of ``reward(view, view)`` with the
module docstring's formulas written out, by ``repr`` (so ``-0.0`` and ``0.0`` differ).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import sim_arena_gym  # noqa: F401  (registers the envs)
from sim_arena_gym.env.rewards import healthy_share, healthy_share_v1, make_reward, unready_share
from sim_arena_gym.scenarios.index import load_scenario_set

TRAIN = load_scenario_set("train")


def _views(seed: int, steps: int) -> list:
    env = gym.make("SimArena-InsufficientResources-v0", scenarios=TRAIN).unwrapped
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    out = []
    for a in rng.integers(0, env.action_space.n, size=steps).tolist():
        _, _, terminated, truncated, _ = env.step(a)
        out.append((env.view, env.context))
        if terminated or truncated:
            env.reset()
    return out


def _formula(weights: dict, revision: int, prev, cur, ctx) -> tuple[float, dict]:
    target = ctx.constants.target
    success = weights["success"] if cur.success else 0.0
    step = -weights["step_cost"]
    if revision == 0:
        progress = weights["progress"] * (healthy_share(cur, target) - healthy_share(prev, target))
        return progress + success + step, {"progress": progress, "success": success, "step_cost": step}
    progress = weights["progress"] * (healthy_share_v1(cur, target) - healthy_share_v1(prev, target))
    collateral = weights["collateral"] * (unready_share(prev) - unready_share(cur))
    terms = {"progress": progress, "collateral": collateral, "success": success, "step_cost": step}
    return progress + collateral + success + step, terms


@pytest.mark.parametrize("revision", [0, 1])
@pytest.mark.parametrize("sign", [1.0, -1.0, 0.0])
def test_gradual_reward_of_an_unchanged_step_equals_the_formula(revision: int, sign: float) -> None:
    weights = {"progress": 0.7 * sign, "success": 2.0, "step_cost": -0.03 * sign}
    if revision == 1:
        weights["collateral"] = -1.5 * sign
    guards = gym.make("SimArena-InsufficientResources-v0").unwrapped.safeguards
    reward = make_reward("gradual", guards, weights, revision)
    views = _views(3 + revision, 300)
    assert any(v.success for v, _ in views)
    for (prev, _), (cur, ctx) in zip(views, views[1:]):
        for a, b in ((cur, cur), (prev, cur)):
            got = reward(a, b, False, ctx)
            want = _formula(reward.weights, revision, a, b, ctx)
            assert repr(got) == repr(want)

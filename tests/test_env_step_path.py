"""The step path's shortcuts: unchanged steps' rewards, and the outcome cache asked once per step.

* The gradual reward of a step from a view to itself uses ``w * 0.0`` for every potential difference
(``h - h`` is exactly 0.0 for a finite share). These tests compare, for weights of both signs and
zero, on real views of every train family, the terms and reward of ``reward(view, view)`` with the
module docstring's formulas written out, by ``repr`` (so ``-0.0`` and ``0.0`` differ).
* ``step`` looks a changed state up in the cache itself and simulates on a miss without asking
  again: every step that changes the state counts exactly one hit or one miss, an unchanged step
  none, a miss is simulated once and recorded, and a hit gives the record's view. An env without a
  cache whose views had their records taken still simulates every changed step.
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


def test_each_changed_step_asks_the_cache_exactly_once() -> None:
    env = gym.make("SimArena-InsufficientResources-v0", scenarios=TRAIN[::3]).unwrapped
    cache = env._cache
    rng = np.random.default_rng(9)
    env.reset(seed=9)
    changed = unchanged = 0
    for a in rng.integers(0, env.action_space.n, size=3000).tolist():
        prev = env.view
        before = (cache.hits, cache.misses, len(cache))
        _, _, terminated, truncated, _ = env.step(a)
        after = (cache.hits, cache.misses, len(cache))
        if env.view is prev:
            unchanged += 1
            assert after == before
        elif after[1] == before[1]:
            changed += 1
            assert after == (before[0] + 1, before[1], before[2])
            assert env.view._outcome is None  # made from the record: nothing simulated
            assert env.view.record is cache.peek((env.context.index, env.view.plain))
        else:
            changed += 1
            assert after == (before[0], before[1] + 1, before[2] + 1)
            assert env.view._outcome is not None
            assert cache.peek((env.context.index, env.view.plain)) is env.view.record
        if terminated or truncated:
            env.reset()
    assert changed > 1000 and unchanged > 100 and cache.hits > 500


def test_an_env_without_cache_simulates_changed_steps_even_with_moves_built() -> None:
    env = gym.make("SimArena-InsufficientResources-v0", scenarios=TRAIN[:5], outcome_cache_size=0).unwrapped
    rng = np.random.default_rng(4)
    env.reset(seed=4)
    for a in rng.integers(0, env.action_space.n, size=200).tolist():
        prev = env.view
        prev.record  # builds the moves: step then takes the cache's branch
        assert prev._moves is not None
        _, _, terminated, truncated, _ = env.step(a)
        if env.view is not prev:
            assert env.view._outcome is not None
        if terminated or truncated:
            env.reset()
    assert env.cache_info()["hits"] == 0 and env.cache_info()["misses"] == 0 and len(env._cache) == 0

"""The step path's shortcuts: unchanged steps' rewards, and the outcome cache asked once per step.

* The gradual reward of a step from a view to itself uses ``w * 0.0`` for every potential difference
  (``h - h`` is exactly 0.0 for a finite share). For weights of both signs and zero, on random
  walks over the train split, every step's reward and terms (and ``reward_of(view, view)``) equal
  the module docstring's formulas written out, by ``repr`` (so ``-0.0`` and ``0.0`` differ).
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
from sim_arena_gym.scenarios.index import load_scenario_set
from test_env_hot_path import expected_reward  # the module docstring's formulas, written out

TRAIN = load_scenario_set("train")


@pytest.mark.parametrize("revision", [0, 1])
@pytest.mark.parametrize("sign", [1.0, -1.0, 0.0])
def test_gradual_reward_of_an_unchanged_step_equals_the_formula(revision: int, sign: float) -> None:
    weights = {"progress": 0.7 * sign, "success": 2.0, "step_cost": -0.03 * sign}
    if revision == 1:
        weights["collateral"] = -1.5 * sign
    env = gym.make(
        "SimArena-InsufficientResources-v0", scenarios=TRAIN, reward_weights=weights, reward_revision=revision
    ).unwrapped
    rng = np.random.default_rng(3 + revision)
    env.reset(seed=3 + revision)
    unchanged = successes = 0
    for a in rng.integers(0, env.action_space.n, size=400).tolist():
        prev = env.view
        _, reward, terminated, truncated, info = env.step(a)
        cur = env.view
        blocked = info["blocked"] is not None
        want = expected_reward(env, prev, cur, blocked)
        assert repr((reward, info["reward_terms"])) == repr(want)  # -0.0 and 0.0 differ here
        assert repr(env.reward_of(cur, cur, blocked)) == repr(expected_reward(env, cur, cur, blocked))
        unchanged += cur is prev
        successes += terminated
        if terminated or truncated:
            env.reset()
    assert unchanged > 30 and successes > 0


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

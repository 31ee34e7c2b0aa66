"""The outcome cache keeps plain records, and a view made from one is the view a new run gives.

* over random walks on every train scenario, an env with the cache gives the same observations,
  rewards, flags and info as one without, and every view's outcome (re-simulated for a view made
  from a record) equals a fresh backend's;
* ``StateView.from_record(view.record)`` reproduces every field, and its transitions are the
  original ones (blocked moves keep the state's identity);
* records hold nothing the garbage collector tracks; the cache reports its bytes and stays within
  ``maxsize``.
"""

from __future__ import annotations

import gc
import random

import gymnasium as gym
import numpy as np
import pytest

import agents
import sim_arena_gym  # noqa: F401
from sim_arena_gym.backends import EmbeddedBackend
from sim_arena_gym.env.state import StateView
from sim_arena_gym.scenarios.index import load_scenario_set

FIELDS = (
    "state", "ready", "pending", "total", "oom_killed", "throttled", "success", "pending_reasons",
    "scheduling_message", "free_cpu_fraction", "free_memory_fraction", "pod_cpu_millis", "pod_memory_bytes",
    "requests", "limits", "transitions", "moves", "mask", "plain",
)  # fmt: skip


@pytest.fixture(scope="module")
def train() -> list:
    return load_scenario_set("train")


def _walk(env: gym.Env, seed: int, steps: int) -> list[tuple]:
    policy = agents.make("random", seed=seed)
    obs, info = env.reset(seed=seed)
    out: list[tuple] = [(obs.tobytes(), sorted(info.items(), key=lambda kv: kv[0]).__repr__())]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(policy.act(obs, info))
        out.append((obs.tobytes(), reward, terminated, truncated, repr(sorted(info.items()))))
        if terminated or truncated:
            obs, info = env.reset()
            out.append((obs.tobytes(), repr(sorted(info.items()))))
    return out


def test_cached_env_equals_uncached_env_on_the_train_split(train: list) -> None:
    cached = gym.make("SimArena-InsufficientResources-v0", scenarios=train)
    bare = gym.make("SimArena-InsufficientResources-v0", scenarios=train, outcome_cache_size=0)
    for seed in range(3):
        assert _walk(cached, seed, 400) == _walk(bare, seed, 400)
    info = cached.unwrapped.cache_info()
    assert info["hits"] > 0 and info["size"] > 0


def test_views_from_records_have_the_fresh_outcome(train: list) -> None:
    env = gym.make("SimArena-InsufficientResources-v0", scenarios=train[::7])
    fresh = EmbeddedBackend()
    rng = random.Random(3)
    env.reset(seed=3)
    checked_from_record = 0
    for _ in range(300):
        _, _, terminated, truncated, _ = env.step(rng.randrange(env.action_space.n))
        view = env.unwrapped.view
        if view._outcome is None:
            checked_from_record += 1
        expected = fresh.run(env.unwrapped.current_trace(), env.unwrapped.scenario)
        assert view.outcome == expected
        if terminated or truncated:
            env.reset()
    assert checked_from_record > 0


def test_from_record_reproduces_every_field(train: list) -> None:
    env = gym.make("SimArena-InsufficientResources-v0", scenarios=train[::11], outcome_cache_size=0)
    rng = random.Random(5)
    env.reset(seed=5)
    for _ in range(150):
        env.step(rng.randrange(env.action_space.n))
        view = env.unwrapped.view
        again = StateView.from_record(view.record, None)
        for name in FIELDS:
            assert getattr(again, name) == getattr(view, name), name
        assert again.obs.tobytes() == view.obs.tobytes()
        assert again.mask_array.tobytes() == view.mask_array.tobytes()
        for (state, blocked), (a_state, a_blocked) in zip(view.transitions, again.transitions):
            assert (state, blocked) == (a_state, a_blocked)
            assert (state is view.state) == (a_state is again.state)


def test_records_are_not_tracked_and_the_cache_is_bounded(train: list) -> None:
    env = gym.make("SimArena-InsufficientResources-v0", scenarios=train[:4], outcome_cache_size=50)
    rng = random.Random(7)
    env.reset(seed=7)
    for _ in range(600):
        _, _, terminated, truncated, _ = env.step(rng.randrange(env.action_space.n))
        if terminated or truncated:
            env.reset()
    cache = env.unwrapped._cache
    info = env.unwrapped.cache_info()
    assert info["size"] == 50 and info["maxsize"] == 50
    assert info["bytes"] > 50 * 200
    for _ in range(6):  # a tuple is untracked once its items are: nested tuples take a pass per level
        gc.collect()
    records = list(cache._data.values())
    keys = list(cache._data.keys())
    assert not any(gc.is_tracked(r) for r in records)
    assert not any(gc.is_tracked(k) for k in keys)
    env.close()
    assert env.unwrapped.cache_info()["bytes"] == 0


def test_cache_bytes_follow_puts_and_evictions(train: list) -> None:
    env = gym.make("SimArena-InsufficientResources-v0", scenarios=train[:1], outcome_cache_size=3)
    env.reset(seed=0)
    cache = env.unwrapped._cache
    from sim_arena_gym.env.state import _entry_bytes

    for a in [1, 1, 2, 2, 5, 3]:
        env.step(a)
        assert cache.bytes == sum(_entry_bytes(k, r) for k, r in cache._data.items())
    assert len(cache) == 3
    assert np.int8 == env.unwrapped.view.mask_array.dtype


def test_uncached_env_reuses_a_states_transitions_and_simulates_every_change(train: list) -> None:
    """Without the cache, a state visited again takes its transitions from the context's memo
    (:attr:`ScenarioContext.kept_transitions`): they equal fresh ones, a blocked or no-op action
    gives the view's own state object (so the step leaves the view as it is), and the backend runs
    once for every step that changes the state and once per reset, no more."""
    env = gym.make("SimArena-InsufficientResources-v0", scenarios=train[:12], outcome_cache_size=0)
    u = env.unwrapped
    runs = [0]

    class Counting(EmbeddedBackend):
        def run(self, trace, scenario):  # type: ignore[override]
            runs[0] += 1
            return super().run(trace, scenario)

    u._backend = Counting()
    env.reset(seed=5)
    rng = random.Random(5)
    changes, resets, reused = 0, 1, 0
    for _ in range(1500):
        prev = u.view
        ctx = u.context
        known = len(ctx.kept_transitions)
        _, _, terminated, truncated, _ = env.step(rng.randrange(env.action_space.n))
        view = u.view
        fresh = u._actions.transitions(view.state, ctx.target)
        assert view._transitions == fresh
        for (moved, blocked), (fresh_moved, _) in zip(view._transitions, fresh):
            assert (moved is view.state) == (fresh_moved is view.state)
            assert blocked is None or moved is view.state
        if view is not prev:
            changes += 1
            assert view.state != prev.state
            reused += len(ctx.kept_transitions) == known
        else:
            assert view.state == prev.state
        if terminated or truncated:
            env.reset()
            resets += 1
    assert runs[0] == changes + resets
    assert changes > 300 and reused > 100

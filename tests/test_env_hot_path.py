"""The env's step path against the obvious construction, on long random episodes of every family.

A step builds its info by copying a template shared by the views with equal values and writing in
the per-step and mutable values, and the gradual reward's arithmetic is written out. These tests
rebuild every step's observation, reward, flags and info the obvious way -- from the env's view and
the previous one, with the share functions of :mod:`sim_arena_gym.env.rewards` and every info key in
the order the env has always given -- and compare with what the env returned: the same keys in the
same order, equal values of the same types, observation bytes and dtype. An env with the outcome
cache and one without (``outcome_cache_size=0``) must give identical steps. Every returned object is
mutated after the comparison, so a value shared between steps (a template, a cached list) fails the
next comparison. A subclass with a tiny template table exercises the table's clearing.
"""

from __future__ import annotations

import gc
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import sim_arena_gym  # noqa: F401  (registers the envs)
from sim_arena_gym.env.observations import DefaultObservation
from sim_arena_gym.env.rewards import healthy_share, healthy_share_v1, unready_share, waste
from sim_arena_gym.env.simkube_env import SimKubeEnv
from sim_arena_gym.scenarios.index import load_scenario_set

ENV_ID = "SimArena-InsufficientResources-v0"
TRAIN = load_scenario_set("train")
FAMILIES = sorted({s.family for s in TRAIN})
#: Configs cycled over the families (every family also runs the default config).
CONFIGS: list[dict[str, Any]] = [
    {"reward_mode": "penalty"},
    {"reward_revision": 1, "success_rule": "cluster"},
    {"reward_mode": "binary", "edit_containers": "first"},
    {"reward_revision": 1, "reward_mode": "penalty", "max_steps": 7},
]
KEYS = (
    "scenario", "ready", "pending", "total", "target", "success", "pending_reasons", "scheduling_message",
    "requests", "limits", "replicas", "action", "blocked", "reward_terms", "action_mask", "step", "oom_killed",
    "throttled", "others_pending", "others_unready", "oom_containers", "throttled_containers",
)  # fmt: skip


def typed(value: Any) -> Any:
    """A comparable form of ``value`` that keeps types, key order and array dtype/shape/bytes."""
    if isinstance(value, np.ndarray):
        return ("ndarray", str(value.dtype), value.shape, value.tobytes(), value.flags.writeable)
    if isinstance(value, dict):
        return ("dict", [(k, typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, repr(value))


def expected_reward(env: SimKubeEnv, prev: Any, cur: Any, blocked: bool) -> tuple[float, dict[str, float]]:
    """The reward of the step ``prev -> cur`` by the module docstring's formulas (not the env's code)."""
    fn, ctx = env.reward_function, env.context
    w, target, rev = fn.weights, ctx.constants.target, fn.revision
    if fn.name == "binary":
        r = 1.0 if cur.success else 0.0
        return r, {"success": r}
    success = w["success"] if cur.success else 0.0
    step = -w["step_cost"]
    if fn.name == "gradual":
        if rev == 0:
            progress = w["progress"] * (healthy_share(cur, target) - healthy_share(prev, target))
            return progress + success + step, {"progress": progress, "success": success, "step_cost": step}
        progress = w["progress"] * (healthy_share_v1(cur, target) - healthy_share_v1(prev, target))
        collateral = w["collateral"] * (unready_share(prev) - unready_share(cur))
        terms = {"progress": progress, "collateral": collateral, "success": success, "step_cost": step}
        return progress + collateral + success + step, terms
    waste_term = -w["waste"] * waste(cur, ctx, env.safeguards) if cur.success else 0.0
    blocked_term = -w["blocked"] if blocked else 0.0
    throttled = -w["throttled"] * (cur.throttled / target) if cur.throttled and target > 0 else 0.0
    terms = {"success": success, "waste": waste_term, "blocked": blocked_term, "throttled": throttled, "step_cost": step}
    if rev == 0:
        return success + waste_term + blocked_term + throttled + step, terms
    terms["collateral"] = -w["collateral"] * unready_share(cur)
    return success + waste_term + blocked_term + throttled + terms["collateral"] + step, terms


def expected_info(env: SimKubeEnv, terms: dict[str, float], action: str | None, blocked: str | None) -> dict:
    """The info of the env's current view, built key by key from the view's attributes."""
    view, ctx = env.view, env.context
    values = {
        "scenario": ctx.scenario.id,
        "ready": view.ready,
        "pending": view.pending,
        "total": view.total,
        "target": ctx.constants.target,
        "success": view.success,
        "pending_reasons": list(view.pending_reasons),
        "scheduling_message": view.scheduling_message,
        "requests": view.requests_dict(),
        "limits": view.limits_dict(),
        "replicas": view.state.replicas,
        "action": action,
        "blocked": blocked,
        "reward_terms": terms,
        "action_mask": np.array(view.mask, dtype=np.int8),
        "step": env.steps_taken,
        "oom_killed": view.oom_killed,
        "throttled": view.throttled,
        "others_pending": view.others_pending,
        "others_unready": view.others_unready,
        "oom_containers": list(view.oom_containers),
        "throttled_containers": list(view.throttled_containers),
    }
    info = {key: values[key] for key in KEYS}
    if ctx.scenario.oracle_steps is not None:
        info["oracle_steps"] = ctx.scenario.oracle_steps
    return info


def spoil(obs: np.ndarray, info: dict) -> None:
    """Change everything mutable the env handed out (a caller may)."""
    obs[:] = -1.0
    for key in ("pending_reasons", "oom_containers", "throttled_containers"):
        info[key].append("spoiled")
    for key in ("requests", "limits"):
        for inner in info[key].values():
            inner["cpu"] = "spoiled"
        info[key]["spoiled"] = {}
    info["reward_terms"]["spoiled"] = 1.0
    info["action_mask"][:] = 9
    info["spoiled"] = True


def walk(env: SimKubeEnv, seed: int, steps: int) -> list[Any]:
    """``steps`` random steps (resetting at episode ends), each checked against the obvious
    construction; returns the typed steps for comparing two envs."""
    rng = np.random.default_rng(seed)
    out: list[Any] = []
    obs, info = env.reset(seed=seed)
    expected = expected_info(env, {}, None, None)
    assert typed(info) == typed(expected)
    out.append((typed(obs), typed(info)))
    spoil(obs, info)
    max_steps = env.max_steps
    for a in rng.integers(0, env.action_space.n, size=steps).tolist():
        prev = env.view
        next_state, reason = env.transition(prev.state, a)
        obs, reward, terminated, truncated, info = env.step(a)
        cur = env.view
        assert cur.state == next_state
        want_reward, want_terms = expected_reward(env, prev, cur, reason is not None)
        assert type(reward) is float and reward == want_reward
        assert repr(reward) == repr(want_reward)
        step = env.steps_taken
        want_obs = cur.obs.copy()
        want_obs[DefaultObservation.BUDGET] = step / max_steps if step < max_steps else 1.0
        assert obs.dtype == np.float32 and obs.tobytes() == want_obs.tobytes() and obs.flags.writeable
        assert terminated is cur.success
        assert truncated is (not cur.success and step >= max_steps)
        assert typed(info) == typed(expected_info(env, want_terms, env.action_names[a], reason))
        out.append((typed(obs), repr(reward), terminated, truncated, typed(info)))
        spoil(obs, info)
        if terminated or truncated:
            obs, info = env.reset()
            assert typed(info) == typed(expected_info(env, {}, None, None))
            out.append((typed(obs), typed(info)))
            spoil(obs, info)
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_steps_equal_the_obvious_construction_with_and_without_the_cache(family: str) -> None:
    scenarios = [s for s in TRAIN if s.family == family]
    config = CONFIGS[FAMILIES.index(family) % len(CONFIGS)]
    for kwargs in ({}, config):
        cached = gym.make(ENV_ID, scenarios=scenarios, **kwargs).unwrapped
        bare = gym.make(ENV_ID, scenarios=scenarios, outcome_cache_size=0, **kwargs).unwrapped
        assert walk(cached, 11, 500) == walk(bare, 11, 500)
        assert cached.cache_info()["hits"] > 100


def test_info_templates_are_shared_untracked_and_survive_the_table_being_cleared() -> None:
    class TinyTables(SimKubeEnv):
        _info_bases_limit = 3  # cleared every few new templates

    scenarios = [s for s in TRAIN if s.family in ("competing-deployments", "multi-container")]
    tiny = TinyTables(scenarios=scenarios)
    bare = TinyTables(scenarios=scenarios, outcome_cache_size=0)
    assert walk(tiny, 5, 800) == walk(bare, 5, 800)
    assert tiny._info_next_id > 3 * tiny._info_bases_limit  # cleared several times, numbers not reused
    assert len(tiny._info_by_id) <= 3

    env = gym.make(ENV_ID, scenarios=scenarios).unwrapped
    walk(env, 6, 600)
    templates = list(env._info_by_id.values())
    assert 0 < len(templates) < env.cache_info()["size"]  # shared by views with equal values
    assert not any(gc.is_tracked(t) for t in templates)
    assert all(list(t) == list(KEYS) + (["oracle_steps"] if "oracle_steps" in t else []) for t in templates)

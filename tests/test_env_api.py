"""SimKubeEnv against the Gymnasium / Stable-Baselines3 contracts: checkers, seeding, info, masks, types."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.utils.passive_env_checker import data_shares_objects
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import agents
import sim_arena_gym
from sim_arena_gym.env import ActionMaskObservation, SimKubeEnv
from sim_arena_gym.env.observations import DefaultObservation
from sim_arena_gym.scenarios.generate import canonical_scenarios
from sim_arena_gym.scenarios.model import Scenario
from sim_arena_gym.trace import builders
from sim_arena_gym.trace.codec import save_trace
from sim_arena_gym.trace.refs import WorkloadRef
from sim_arena_gym.trace.workloads import find_workload

ENV_ID = "SimArena-InsufficientResources-v0"
REPO = Path(__file__).resolve().parents[1]
NOOP, CPU_UP, MEMORY_UP, CPU_DOWN, MEMORY_DOWN, REPLICAS_UP, REPLICAS_DOWN = range(7)

#: Keys design.md section 2 requires, plus the env's additions.
REQUIRED_KEYS = {
    "scenario", "ready", "pending", "total", "target", "success", "pending_reasons", "scheduling_message",
    "requests", "limits", "replicas", "action", "blocked", "reward_terms", "action_mask",
}  # fmt: skip
EXTRA_KEYS = {"step", "oom_killed", "throttled", "others_pending", "others_unready",
              "oom_containers", "throttled_containers"}


@pytest.fixture(scope="module")
def canon() -> list[Scenario]:
    return canonical_scenarios()


def make(canon: list[Scenario], **kwargs: object) -> gym.Env:
    return gym.make(ENV_ID, scenarios=canon, **kwargs)


# --------------------------------------------------------------------------------------------------
# Checkers


@pytest.mark.parametrize("mode", ["binary", "gradual", "penalty"])
def test_gymnasium_and_sb3_checkers_pass_without_warnings(canon: list[Scenario], mode: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = make(canon, reward_mode=mode)
        check_env(env.unwrapped)
        sb3_check_env(env)
        env.close()
    assert [str(w.message) for w in caught] == []


def test_checkers_pass_for_the_mask_wrapper(canon: list[Scenario]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = ActionMaskObservation(make(canon))
        sb3_check_env(env)
    assert [str(w.message) for w in caught] == []


def test_registration_without_prior_import_and_light_import(tmp_path: Path, canon: list[Scenario]) -> None:
    from sim_arena_gym.scenarios.index import save_scenario_set

    path = save_trace(canon[2].trace, tmp_path / "web.sktrace")
    save_scenario_set(canon, tmp_path / "set")
    code = (
        "import sys, gymnasium as gym\n"
        f"env = gym.make('sim_arena_gym:SimArena-Trace-v0', trace={str(path)!r}, workload='shop/web')\n"
        "obs, info = env.reset(seed=0)\n"
        "print(info['scenario'], info['target'], info['pending'], type(env.unwrapped).__name__)\n"
        "print('torch' in sys.modules, 'stable_baselines3' in sys.modules)\n"
        "print(env.spec.max_episode_steps)\n"
        f"env = gym.make('sim_arena_gym:SimArena-InsufficientResources-v0', scenarios={str(tmp_path / 'set')!r})\n"
        "obs, info = env.reset(seed=0, options={'scenario': 'canonical-very-bad-memory'})\n"
        "print(len(env.unwrapped.scenarios), info['scenario'], info['pending'], type(env.unwrapped).__name__)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert out.stdout.splitlines() == [
        "web 4 1 SimKubeTraceEnv",
        "False False",
        "None",
        "4 canonical-very-bad-memory 4 SimKubeEnv",
    ]


def test_package_exports() -> None:
    assert sim_arena_gym.SimKubeEnv is SimKubeEnv
    assert sim_arena_gym.__version__ == "0.1.0"
    assert gym.spec(ENV_ID).max_episode_steps is None
    assert gym.spec(ENV_ID).entry_point == "sim_arena_gym.env.simkube_env:SimKubeEnv"
    assert gym.spec("SimArena-Trace-v0").entry_point == "sim_arena_gym.env.simkube_env:SimKubeTraceEnv"


# --------------------------------------------------------------------------------------------------
# Config


def test_default_config_documents_every_key() -> None:
    cfg = SimKubeEnv.default_config()
    assert set(cfg) == {
        "backend", "backend_options", "scenarios", "cpu_step", "memory_step", "replica_step", "edit_containers",
        "caps", "reward_mode", "reward_weights", "max_steps", "observation", "action_set", "outcome_cache_size",
        "scenario_order", "success_rule", "reward_revision",
    }  # fmt: skip
    assert cfg["caps"] == {"cpu": "16", "memory": "32Gi", "replicas": 100, "min_cpu": None, "min_memory": None,
                           "min_replicas": 1}  # fmt: skip
    doc = SimKubeEnv.default_config.__doc__ or ""
    for key in cfg:
        assert f"``{key}``" in doc, key


def test_unknown_config_key_lists_valid_keys(canon: list[Scenario]) -> None:
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['rewardmode'\]; valid keys: \['action_set', "):
        SimKubeEnv(scenarios=canon, rewardmode="binary")
    with pytest.raises(ValueError, match=r"caps: unknown key\(s\) \['gpu'\]"):
        SimKubeEnv(scenarios=canon, caps={"gpu": 1})
    with pytest.raises(ValueError, match="reward_mode 'dense'"):
        SimKubeEnv(scenarios=canon, reward_mode="dense")
    with pytest.raises(ValueError, match="edit_containers 'some'"):
        SimKubeEnv(scenarios=canon, edit_containers="some")


def test_config_dict_and_overrides_merge(canon: list[Scenario]) -> None:
    env = SimKubeEnv({"max_steps": 7, "caps": {"replicas": 10}, "scenarios": canon}, max_steps=9)
    env_cfg = env.config
    assert env_cfg["max_steps"] == 9 and env_cfg["caps"]["replicas"] == 10 and env_cfg["caps"]["cpu"] == "16"


# --------------------------------------------------------------------------------------------------
# Seeding


def rollout(env: gym.Env, seed: int, n: int) -> list[tuple]:
    policy = agents.make("random", seed=seed)
    obs, info = env.reset(seed=seed)
    out = [(info["scenario"], obs.tobytes())]
    for _ in range(n):
        obs, reward, terminated, truncated, info = env.step(policy.act(obs, info))
        out.append((info["scenario"], obs.tobytes(), reward, terminated, truncated, info["action"], info["blocked"]))
        if terminated or truncated:
            obs, info = env.reset()
            out.append((info["scenario"], obs.tobytes()))
    return out


def test_same_seed_same_trajectory(canon: list[Scenario]) -> None:
    a = rollout(make(canon), 3, 120)
    b = rollout(make(canon), 3, 120)
    assert a == b
    assert a != rollout(make(canon), 4, 120)


def test_cache_is_exact(canon: list[Scenario]) -> None:
    assert rollout(make(canon), 5, 80) == rollout(make(canon, outcome_cache_size=0), 5, 80)


def test_reset_seed_draws_scenarios_from_np_random(canon: list[Scenario]) -> None:
    env = make(canon)
    ids = [env.reset(seed=s)[1]["scenario"] for s in range(12)]
    again = [env.reset(seed=s)[1]["scenario"] for s in range(12)]
    assert ids == again
    assert set(ids) == {s.id for s in canon}
    expected = [canon[int(np.random.default_rng(s).integers(4))].id for s in range(12)]
    assert ids == expected


def test_reset_options_pin_a_scenario(canon: list[Scenario]) -> None:
    env = make(canon)
    for s in canon:
        assert env.reset(seed=1, options={"scenario": s.id})[1]["scenario"] == s.id
    with pytest.raises(ValueError, match="scenario 'nope' is not in this env's scenario set: canonical-"):
        env.reset(options={"scenario": "nope"})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['episode'\]"):
        env.reset(options={"episode": 1})


# --------------------------------------------------------------------------------------------------
# Info, types, spaces


def test_info_keys_types_and_fresh_objects(canon: list[Scenario]) -> None:
    env = make(canon)
    obs, info = env.reset(seed=0, options={"scenario": "canonical-mixed-errors"})
    calls = [(obs, info)]
    for a in (CPU_DOWN, MEMORY_UP, NOOP):
        obs, reward, terminated, truncated, info = env.step(a)
        calls.append((obs, info))
        assert type(reward) is float and type(terminated) is bool and type(truncated) is bool
    for obs, info in calls:
        assert set(info) == REQUIRED_KEYS | EXTRA_KEYS
        assert obs.dtype == np.float32 and obs.shape == (15,) and env.observation_space.contains(obs)
        for key in ("ready", "pending", "total", "target", "replicas", "step", "oom_killed", "throttled"):
            assert type(info[key]) is int, key
        assert type(info["success"]) is bool
        assert isinstance(info["pending_reasons"], list) and info["pending_reasons"] == sorted(info["pending_reasons"])
        assert isinstance(info["scheduling_message"], str)
        assert info["action_mask"].dtype == np.int8 and info["action_mask"].shape == (7,)
        assert all(isinstance(v, float) for v in info["reward_terms"].values())
    for i in range(len(calls)):
        for j in range(i + 1, len(calls)):
            assert not data_shares_objects(calls[i][1], calls[j][1])
            assert not np.shares_memory(calls[i][0], calls[j][0])
    first, last = calls[0][1], calls[-1][1]
    assert first["action"] is None and first["blocked"] is None and first["reward_terms"] == {} and first["step"] == 0
    assert first["requests"] == {"web": {"cpu": "9", "memory": "256Mi"}}
    assert first["limits"] == {"web": {"memory": "256Mi"}}
    assert last["requests"] == {"web": {"cpu": "8500m", "memory": "512Mi"}}
    assert last["limits"] == {"web": {"memory": "512Mi"}}
    assert last["action"] == "noop" and last["step"] == 3


def test_oracle_steps_in_info_when_known(canon: list[Scenario]) -> None:
    from dataclasses import replace

    env = make([replace(canon[2], oracle_steps=1)])
    assert env.reset(seed=0)[1]["oracle_steps"] == 1


def test_observation_layout_names_and_bounds(canon: list[Scenario]) -> None:
    env = make(canon)
    space = env.observation_space
    assert isinstance(space, gym.spaces.Box) and space.dtype == np.float32 and space.shape == (15,)
    assert np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))
    assert list(space.high) == [4, 4, 4, 4, 4] + [1] * 10
    assert len(DefaultObservation.names) == 15
    obs, _ = env.reset(seed=0, options={"scenario": "canonical-very-bad-cpu"})
    named = dict(zip(DefaultObservation.names, obs.tolist()))
    assert named["ready"] == 0.0 and named["pending"] == pytest.approx(4 / 3) and named["total"] == pytest.approx(4 / 3)
    assert named["pod_cpu_request"] == pytest.approx(17 / 16)
    assert named["pod_memory_request"] == pytest.approx(2 / 32)
    assert named["replicas"] == pytest.approx(0.04)
    assert named["insufficient_cpu"] == 1.0 and named["insufficient_memory"] == 0.0
    assert named["budget_used"] == 0.0
    obs, *_ = env.step(NOOP)
    assert obs[12] == pytest.approx(1 / 20)


def test_truncation_at_the_step_budget(canon: list[Scenario]) -> None:
    env = make(canon, max_steps=5)
    env.reset(seed=0, options={"scenario": "canonical-very-bad-cpu"})
    flags = [env.step(NOOP)[2:4] for _ in range(5)]
    assert flags == [(False, False)] * 4 + [(False, True)]


# --------------------------------------------------------------------------------------------------
# Actions, safeguards, masks


def test_blocked_actions_say_why_and_change_nothing(canon: list[Scenario]) -> None:
    env = make(canon)
    _, info = env.reset(seed=0, options={"scenario": "canonical-very-bad-cpu"})
    assert info["action_mask"].tolist() == [1, 0, 1, 1, 1, 1, 1]
    _, reward, _, _, info = env.step(CPU_UP)
    assert info["blocked"] == "cpu request 17500m would exceed the 16 CPU cap per container"
    assert info["action"] == "cpu_up" and info["requests"] == {"web": {"cpu": "17", "memory": "2Gi"}}
    _, _, _, _, info = env.step(CPU_DOWN)  # from above the cap, lowering is allowed
    assert info["blocked"] is None and info["requests"]["web"]["cpu"] == "16500m"
    for expected in (3, 2, 1):
        _, _, _, _, info = env.step(REPLICAS_DOWN)
        assert info["replicas"] == expected and info["blocked"] is None
    assert info["action_mask"].tolist() == [1, 0, 1, 1, 1, 1, 0]
    _, _, _, _, info = env.step(REPLICAS_DOWN)
    assert info["blocked"] == "replicas 0 would go below the minimum of 1" and info["replicas"] == 1

    _, info = env.reset(options={"scenario": "canonical-mixed-errors"})
    _, _, _, _, info = env.step(MEMORY_DOWN)
    assert info["blocked"] == "memory request 0 would go below the minimum of 256Mi"


def test_penalty_mode_charges_blocked_actions(canon: list[Scenario]) -> None:
    env = make(canon, reward_mode="penalty")
    env.reset(seed=0, options={"scenario": "canonical-very-bad-cpu"})
    _, reward, _, _, info = env.step(CPU_UP)
    assert info["reward_terms"] == {"success": 0.0, "waste": 0.0, "blocked": -0.1, "throttled": 0.0, "step_cost": -0.01}
    assert reward == pytest.approx(-0.11)


def test_caps_and_steps_are_configurable(canon: list[Scenario]) -> None:
    env = make(canon, cpu_step="1", caps={"replicas": 4})
    _, info = env.reset(seed=0, options={"scenario": "canonical-slightly-bad-cpu"})
    assert info["action_mask"].tolist() == [1, 1, 1, 1, 1, 0, 1]
    _, _, _, _, info = env.step(REPLICAS_UP)
    assert info["blocked"] == "replicas 5 would exceed the cap of 4"
    _, _, _, _, info = env.step(CPU_DOWN)
    assert info["requests"]["web"]["cpu"] == "7500m"


def test_masks_in_all_three_conventions(canon: list[Scenario]) -> None:
    env = make(canon)
    _, info = env.reset(seed=0, options={"scenario": "canonical-very-bad-cpu"})
    masks = env.get_wrapper_attr("action_masks")()
    assert masks.dtype == bool and masks.tolist() == info["action_mask"].astype(bool).tolist()
    assert masks is not env.get_wrapper_attr("action_masks")()
    for _ in range(50):
        assert env.action_space.sample(mask=info["action_mask"]) != CPU_UP

    wrapped = ActionMaskObservation(make(canon))
    obs, info = wrapped.reset(seed=0, options={"scenario": "canonical-very-bad-cpu"})
    assert set(obs) == {"observation", "action_mask"}
    assert obs["action_mask"].dtype == np.float32 and obs["action_mask"].tolist() == [1, 0, 1, 1, 1, 1, 1]
    assert wrapped.observation_space.contains(obs)
    assert wrapped.action_masks().tolist() == [True, False, True, True, True, True, True]


def test_edit_containers_all_or_first() -> None:
    spec = builders.pod_spec([builders.container("app", cpu="6", memory="1Gi"),
                              builders.container("proxy", cpu="3", memory="512Mi")])  # fmt: skip
    dep = builders.deployment("api", spec, namespace="team", replicas=2)
    trace = builders.build_trace([(1_700_000_000, [dep], [])])
    scenario = Scenario(id="two-containers", trace_path=None, workload=WorkloadRef("Deployment", "team", "api"),
                        target_replicas=2, trace=trace)  # fmt: skip
    env = make([scenario])
    env.reset(seed=0)
    info = env.step(CPU_DOWN)[4]
    assert info["requests"] == {"app": {"cpu": "5500m", "memory": "1Gi"}, "proxy": {"cpu": "2500m", "memory": "512Mi"}}
    env = make([scenario], edit_containers="first")
    env.reset(seed=0)
    info = env.step(CPU_DOWN)[4]
    assert info["requests"] == {"app": {"cpu": "5500m", "memory": "1Gi"}, "proxy": {"cpu": "3", "memory": "512Mi"}}
    for _ in range(5):
        info = env.step(CPU_DOWN)[4]
    assert info["requests"] == {"app": {"cpu": "3", "memory": "1Gi"}, "proxy": {"cpu": "3", "memory": "512Mi"}}
    env = make([scenario])
    env.reset(seed=0)
    for _ in range(6):
        info = env.step(CPU_DOWN)[4]
    assert info["requests"]["proxy"]["cpu"] == "500m"
    assert info["blocked"] == "cpu request 0 would go below the minimum of 500m (container proxy)"


def test_current_trace_materialises_the_edits(canon: list[Scenario]) -> None:
    env = make(canon)
    env.reset(seed=0, options={"scenario": "canonical-very-bad-memory"})
    base = env.unwrapped.current_trace()
    assert base is canon[1].trace
    env.step(MEMORY_DOWN)
    env.step(REPLICAS_DOWN)
    edited = env.unwrapped.current_trace()
    wl = find_workload(edited, "shop/web")
    assert wl.replicas == 3 and dict(wl.containers[0].requests) == {"cpu": "2", "memory": "33536Mi"}
    assert find_workload(canon[1].trace, "shop/web").replicas == 4


# --------------------------------------------------------------------------------------------------
# Bring your own trace


def test_trace_env_builds_one_scenario(tmp_path: Path, canon: list[Scenario]) -> None:
    path = save_trace(canon[0].trace, tmp_path / "my-app.sktrace")
    env = gym.make("SimArena-Trace-v0", trace=str(path), workload="shop/web",
                   nodes=[{"count": 3, "cpu": "16", "memory": "32Gi"}], target=3)  # fmt: skip
    _, info = env.reset(seed=0)
    assert info["scenario"] == "my-app" and info["target"] == 3 and info["pending"] == 4
    env = gym.make("SimArena-Trace-v0", trace=path, nodes={"count": 5, "cpu": "32", "memory": "64Gi"})
    _, info = env.reset(seed=0)
    assert info["target"] == 4 and info["ready"] == 4 and info["success"] is True
    with pytest.raises(ValueError, match="do not pass scenarios"):
        gym.make("SimArena-Trace-v0", trace=path, scenarios="train")


# --------------------------------------------------------------------------------------------------
# Rendering


def test_render_ansi_and_rgb_array(canon: list[Scenario]) -> None:
    env = make(canon, render_mode="ansi")
    env.reset(seed=0, options={"scenario": "canonical-slightly-bad-cpu"})
    text = env.render()
    assert isinstance(text, str)
    assert text.splitlines()[0] == "canonical-slightly-bad-cpu  step 0/20"
    assert "Deployment/shop/web: 3/4 Ready, 1 Pending, 4 total, replicas 4  [PENDING]" in text
    for node in ("node-0", "node-1", "node-2"):
        assert f"\n{node} " in text
    assert "pending: 0/3 nodes are available: 3 Insufficient cpu." in text
    env.step(CPU_DOWN)
    text = env.render()
    assert text.splitlines()[0] == "canonical-slightly-bad-cpu  step 1/20  action cpu_down  reward +1.240"
    assert "[REPAIRED]" in text and "pending:" not in text

    env = make(canon, render_mode="rgb_array")
    env.reset(seed=0, options={"scenario": "canonical-slightly-bad-cpu"})
    first = env.render()
    second = (env.step(CPU_DOWN), env.render())[1]
    assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[0] == 160 and first.shape[2] == 3
    assert first.shape == second.shape and not np.array_equal(first, second)

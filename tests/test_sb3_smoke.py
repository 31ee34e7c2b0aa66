"""Stable-Baselines3 PPO and sb3-contrib MaskablePPO run on the env (a smoke test, not a learning test)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import sim_arena_gym  # noqa: F401
from sim_arena_gym.env import ActionMaskObservation
from sim_arena_gym.scenarios.generate import canonical_scenarios

torch = pytest.importorskip("torch")
sb3 = pytest.importorskip("stable_baselines3")
sb3_contrib = pytest.importorskip("sb3_contrib")


def make_env() -> gym.Env:
    return gym.make("SimArena-InsufficientResources-v0", scenarios=canonical_scenarios())


def test_ppo_and_maskable_ppo_learn_briefly() -> None:
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    vec = make_vec_env(make_env, n_envs=2, seed=0)
    model = sb3.PPO("MlpPolicy", vec, n_steps=64, batch_size=64, n_epochs=1, seed=0)
    model.learn(total_timesteps=128)
    obs = vec.reset()
    actions, _ = model.predict(obs, deterministic=True)
    assert actions.shape == (2,)

    masked = sb3_contrib.MaskablePPO("MlpPolicy", vec, n_steps=64, batch_size=64, n_epochs=1, seed=0)
    masked.learn(total_timesteps=128)
    env = make_env()
    obs, info = env.reset(seed=0, options={"scenario": "canonical-very-bad-cpu"})
    for _ in range(20):
        action, _ = masked.predict(obs, action_masks=env.get_wrapper_attr("action_masks")(), deterministic=False)
        assert info["action_mask"][int(action)] == 1
        obs, _, terminated, truncated, info = env.step(int(action))
        assert info["blocked"] is None
        if terminated or truncated:
            obs, info = env.reset()


def test_maskable_ppo_on_the_dict_observation_wrapper() -> None:
    env = ActionMaskObservation(make_env())
    model = sb3_contrib.MaskablePPO("MultiInputPolicy", env, n_steps=64, batch_size=64, n_epochs=1, seed=0)
    model.learn(total_timesteps=64)
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, action_masks=env.action_masks())
    assert np.asarray(action).shape == ()

"""Ray RLlib for SimKubeEnv: env registration, a masked PPO config, evaluation. Ray is imported lazily.

    from sim_arena_gym.integrations import rllib as sim_rllib
    import ray
    ray.init()                                   # or ray.init(address="auto") on a cluster
    algo = sim_rllib.ppo_config(num_env_runners=2).build_algo()
    for _ in range(20):
        result = algo.train()
    print(sim_rllib.evaluate_module(algo.get_module(), scenarios="test"))

Registration: :func:`register_env` registers :func:`make_rllib_env` with ``ray.tune.register_env``
under :data:`RLLIB_ENV` (``"SimArena-InsufficientResources-v0"``); ``PPOConfig().environment(RLLIB_ENV,
env_config={...})`` then builds one env per sub-env on every env runner. ``env_config`` holds the env's
own config keys (``scenarios``, ``reward_mode``, ...) plus the keys of :data:`RUNNER_KEYS`.

Action masking follows RLlib's current API stack: the env is wrapped in
:class:`~sim_arena_gym.env.wrappers.ActionMaskObservation` (``Dict`` observation with the mask) and the
policy is :class:`~sim_arena_gym.integrations.rllib_module.MaskedPPOTorchRLModule`.

Parallel envs: RLlib hands every env the runner's ``EnvContext`` (``worker_index``: 0 local, 1..N remote;
``num_workers``). On the current API stack all sub-envs of one runner get ``vector_index`` 0, so the
creator numbers the sub-envs it builds in each process (consecutive builds get consecutive numbers
modulo ``num_envs_per_env_runner``). From that :class:`~sim_arena_gym.env.assignment.EnvInstance` each
env gets its own part of the scenario set (``split_scenarios``), its own seed (``seed + index``) and an
id (``"w1-e0"``, in ``info["env_instance"]``) that a cluster backend can put into object names.
"""

from __future__ import annotations

import importlib.util
import statistics
from typing import Any, Mapping

import gymnasium as gym
import numpy as np

from sim_arena_gym.env.assignment import EnvInstance, split_evenly, with_instance
from sim_arena_gym.env.wrappers import ActionMaskObservation, InstanceIdentity

#: Name the env creator is registered under with ``ray.tune.register_env``.
RLLIB_ENV = "SimArena-InsufficientResources-v0"
#: ``env_config`` keys read by :func:`make_rllib_env` itself (the rest goes to the env):
#: ``num_envs_per_env_runner`` (1; must equal the EnvRunner setting), ``seed`` (None: RLlib's own
#: seeding), ``split_scenarios`` (True: each env its own part of the set).
RUNNER_KEYS = ("num_envs_per_env_runner", "seed", "split_scenarios")
#: PPO settings of :func:`ppo_config` by default: SB3's PPO defaults where RLlib's differ.
PPO_DEFAULTS: dict[str, Any] = {
    "lr": 3e-4,
    "gamma": 0.99,
    "lambda_": 0.95,
    "clip_param": 0.2,
    "vf_loss_coeff": 0.5,
    "entropy_coeff": 0.0,
    "num_epochs": 10,
    "minibatch_size": 256,
    "train_batch_size_per_learner": 1024,
}
#: Hidden layers of the policy and value networks (separate, tanh; SB3's MlpPolicy shape).
HIDDEN = (64, 64)
INSTALL_HINT = "Ray RLlib is not installed: pip install 'sim-arena-gym[rllib]'"

#: Sub-envs built so far in this process, per env runner (``worker_index``).
_BUILT: dict[int, int] = {}


def rllib_available() -> bool:
    """Whether ``ray.rllib`` can be imported (the ``rllib`` extra is installed)."""
    return importlib.util.find_spec("ray") is not None and importlib.util.find_spec("ray.rllib") is not None


def require_rllib() -> None:
    """Raise ``ImportError`` with the install hint when RLlib is missing."""
    if not rllib_available():
        raise ImportError(INSTALL_HINT)


def env_instance(env_config: Mapping[str, Any]) -> EnvInstance:
    """The :class:`EnvInstance` of the env being built from ``env_config`` (an RLlib ``EnvContext``,
    or a plain dict for the local one-process case)."""
    worker = int(getattr(env_config, "worker_index", 0) or 0)
    num_workers = int(getattr(env_config, "num_workers", 0) or 0)
    num_vector = int(env_config.get("num_envs_per_env_runner", 1))
    vector = int(getattr(env_config, "vector_index", 0) or 0)
    if vector == 0 and num_vector > 1:
        built = _BUILT.get(worker, 0)
        _BUILT[worker] = built + 1
        vector = built % num_vector
    return EnvInstance(worker_index=worker, vector_index=vector, num_workers=num_workers, num_vector=num_vector)


def make_rllib_env(env_config: Mapping[str, Any]) -> gym.Env:
    """RLlib env creator: ``SimArena-InsufficientResources-v0`` with the mask in the observation.

    ``env_config`` = the env's config keys + :data:`RUNNER_KEYS`. With ``split_scenarios`` (default)
    the env keeps part ``index`` of the scenario set dealt into ``count`` parts
    (:func:`~sim_arena_gym.env.assignment.split_evenly`; the set needs at least as many scenarios as
    there are sampling envs)."""
    instance = env_instance(env_config)
    config = with_instance({k: v for k, v in dict(env_config).items() if k not in RUNNER_KEYS and k != "num_envs"},
                           instance)
    env = gym.make(RLLIB_ENV, **config)
    if env_config.get("split_scenarios", True) and instance.count > 1:
        ids = env.unwrapped.scenario_subset  # type: ignore[attr-defined]
        parts = split_evenly(ids, instance.count, option="num_env_runners x num_envs_per_env_runner")
        env.unwrapped.scenario_subset = list(parts[instance.index])  # type: ignore[attr-defined]
    seed = env_config.get("seed")
    return InstanceIdentity(ActionMaskObservation(env), instance, None if seed is None else int(seed))


def register_env(name: str = RLLIB_ENV) -> str:
    """``ray.tune.register_env(name, make_rllib_env)``; returns ``name``."""
    require_rllib()
    from ray.tune.registry import register_env as tune_register_env

    tune_register_env(name, make_rllib_env)
    return name


def masked_module_spec(hidden: tuple[int, ...] = HIDDEN) -> Any:
    """``RLModuleSpec`` of :class:`MaskedPPOTorchRLModule` with ``hidden`` tanh layers (policy and
    value function separate)."""
    require_rllib()
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from sim_arena_gym.integrations.rllib_module import MaskedPPOTorchRLModule

    model = DefaultModelConfig(
        fcnet_hiddens=list(hidden), fcnet_activation="tanh", head_fcnet_hiddens=[], vf_share_layers=False
    )
    return RLModuleSpec(module_class=MaskedPPOTorchRLModule, model_config=model)


def ppo_config(
    *,
    env_config: Mapping[str, Any] | None = None,
    num_env_runners: int = 0,
    num_envs_per_env_runner: int = 1,
    num_cpus_per_env_runner: float = 1,
    seed: int | None = 0,
    hidden: tuple[int, ...] = HIDDEN,
    **training: Any,
) -> Any:
    """A ``PPOConfig`` on the registered env with action masking.

    Args:
        env_config: env config keys (``scenarios`` defaults to ``"train"``) and :data:`RUNNER_KEYS`.
        num_env_runners: remote sampling actors (0: sample in the driver process).
        num_envs_per_env_runner: sub-envs per runner (stepped together, one process).
        num_cpus_per_env_runner: CPUs Ray reserves per runner (on a cluster: how many fit a node).
        seed: base seed of the env instances (``seed + index``) and of RLlib (torch, numpy); None: unseeded.
        hidden: hidden layer sizes.
        training: overrides of :data:`PPO_DEFAULTS` (``train_batch_size_per_learner``, ``lr``, ...).
    """
    require_rllib()
    from ray.rllib.algorithms.ppo import PPOConfig

    register_env()
    unknown = sorted(set(training) - set(PPO_DEFAULTS))
    if unknown:
        raise ValueError(f"ppo_config: unknown training option(s) {unknown}; valid: {sorted(PPO_DEFAULTS)}")
    cfg = {"scenarios": "train", **dict(env_config or {}), "num_envs_per_env_runner": num_envs_per_env_runner}
    if seed is not None:
        cfg.setdefault("seed", seed)
    config = (
        PPOConfig()
        .environment(RLLIB_ENV, env_config=cfg)
        .env_runners(
            num_env_runners=num_env_runners,
            num_envs_per_env_runner=num_envs_per_env_runner,
            num_cpus_per_env_runner=num_cpus_per_env_runner,
        )
        .training(**{**PPO_DEFAULTS, **training})
        .rl_module(rl_module_spec=masked_module_spec(hidden))
    )
    if seed is not None:
        config = config.debugging(seed=seed)
    return config


def greedy_action(module: Any, observation: Mapping[str, np.ndarray]) -> int:
    """The allowed action with the highest logit under ``module`` for one ``Dict`` observation."""
    import torch
    from ray.rllib.core.columns import Columns

    batch = {Columns.OBS: {k: torch.as_tensor(np.asarray(v, dtype=np.float32))[None] for k, v in observation.items()}}
    with torch.no_grad():
        logits = module.forward_inference(batch)[Columns.ACTION_DIST_INPUTS]
    return int(torch.argmax(logits[0]).item())


def evaluate_module(
    module: Any, *, scenarios: Any = "test", seed: int = 0, env_config: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Greedy episodes of ``module``, one per scenario of ``scenarios`` (pinned in set order).

    Returns ``{"episodes", "success_rate", "mean_steps" (successful episodes; None if none),
    "failed" (ids)}``."""
    config = {k: v for k, v in dict(env_config or {}).items() if k not in RUNNER_KEYS}
    env = ActionMaskObservation(gym.make(RLLIB_ENV, **{**config, "scenarios": scenarios}))
    try:
        ids = [s.id for s in env.unwrapped.scenarios]  # type: ignore[attr-defined]
        steps: list[int] = []
        failed: list[str] = []
        for i, sid in enumerate(ids):
            obs, info = env.reset(seed=seed + i, options={"scenario": sid})
            while True:
                obs, _, terminated, truncated, info = env.step(greedy_action(module, obs))
                if terminated or truncated:
                    break
            if info["success"]:
                steps.append(int(info["step"]))
            else:
                failed.append(sid)
    finally:
        env.close()
    return {
        "episodes": len(ids),
        "success_rate": len(steps) / len(ids),
        "mean_steps": statistics.fmean(steps) if steps else None,
        "failed": failed,
    }


def stop_algo(algo: Any) -> None:
    """``algo.stop()``, then remove the log folder the Algorithm made under ``~/ray_results`` if it
    stayed empty (the current API stack writes nothing there unless a logger is configured)."""
    import os

    logdir = getattr(algo, "logdir", None)
    algo.stop()
    if logdir:
        try:
            os.rmdir(logdir)
        except OSError:
            pass  # not empty, or already gone: leave it

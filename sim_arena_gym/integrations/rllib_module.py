"""``MaskedPPOTorchRLModule``: RLlib's default PPO torch module with the env's action mask applied.

RLlib's current API stack (RLModule + Learner + EnvRunner, ray >= 2.40) masks actions inside the
module: the env hands the mask in a ``Dict`` observation, the module builds its networks for the plain
observation and pushes the logits of forbidden actions to the lowest float before the action
distribution is built, in every forward pass (inference, exploration, training), so a forbidden action
is never sampled and never gets gradient.

Observation expected (:class:`~sim_arena_gym.env.wrappers.ActionMaskObservation`):
``Dict({"observation": Box(15,), "action_mask": Box(0, 1, (n,))})``; a mask entry > 0.5 allows the action.

This module imports ray and torch; :mod:`sim_arena_gym.integrations.rllib` loads it only when asked.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
from ray.rllib.core.columns import Columns

#: Keys of the ``Dict`` observation the module reads.
OBS_KEY = "observation"
MASK_KEY = "action_mask"


def _split(batch: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """A shallow copy of ``batch`` whose ``obs`` is the plain observation, and the mask. The caller's
    batch is left as it is (RLlib reuses it between the value pass and the training pass)."""
    obs = batch[Columns.OBS]
    if not isinstance(obs, dict) or OBS_KEY not in obs or MASK_KEY not in obs:
        keys = sorted(obs) if isinstance(obs, dict) else type(obs).__name__
        raise ValueError(f"MaskedPPOTorchRLModule needs obs {{{OBS_KEY!r}, {MASK_KEY!r}}}, got {keys}")
    plain = dict(batch)
    plain[Columns.OBS] = obs[OBS_KEY]
    return plain, obs[MASK_KEY]


def _masked(output: dict[str, Any], mask: Any) -> dict[str, Any]:
    logits = output[Columns.ACTION_DIST_INPUTS]
    lowest = torch.finfo(logits.dtype).min
    output[Columns.ACTION_DIST_INPUTS] = torch.where(mask > 0.5, logits, torch.full_like(logits, lowest))
    return output


class MaskedPPOTorchRLModule(DefaultPPOTorchRLModule):
    """PPO actor-critic (RLlib's default encoder, pi and vf heads) over the plain observation; logits
    of actions the mask forbids are set to the lowest float32. Use with ``PPOConfig().rl_module(
    rl_module_spec=RLModuleSpec(module_class=MaskedPPOTorchRLModule, model_config={...}))``."""

    def __init__(self, *args: Any, observation_space: gym.Space | None = None, **kwargs: Any) -> None:
        if not isinstance(observation_space, gym.spaces.Dict) or set(observation_space.spaces) != {OBS_KEY, MASK_KEY}:
            raise ValueError(
                f"MaskedPPOTorchRLModule needs a Dict observation space with keys {OBS_KEY!r} and {MASK_KEY!r} "
                f"(wrap the env in ActionMaskObservation), got {observation_space}"
            )
        self._masked_space = observation_space
        # The networks are built for the plain observation ...
        super().__init__(*args, observation_space=observation_space[OBS_KEY], **kwargs)

    def setup(self) -> None:
        super().setup()
        # ... while the module keeps announcing the env's Dict space to RLlib (connectors, checks).
        self.observation_space = self._masked_space

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        plain, mask = _split(batch)
        return _masked(super()._forward(plain, **kwargs), mask)

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        plain, mask = _split(batch)
        return _masked(super()._forward_train(plain, **kwargs), mask)

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> Any:
        if embeddings is None:
            batch, _ = _split(batch)
        return super().compute_values(batch, embeddings)

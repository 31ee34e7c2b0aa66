"""Wrappers kept apart from the env (as Minigrid keeps its own).

:class:`ActionMaskObservation` puts the action mask into the observation, the convention of RLlib's
action-masking modules: ``Dict({"observation": Box, "action_mask": Box(0, 1, (n,))})``. The other two
conventions need no wrapper: ``info["action_mask"]`` (``np.int8``, Gymnasium) and ``env.action_masks()``
(sb3-contrib MaskablePPO).

:class:`InstanceIdentity` names and seeds an env by its place among many parallel ones (RLlib env runners).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class ActionMaskObservation(gym.ObservationWrapper):
    """Observation ``{"observation": obs, "action_mask": mask}``.

    Args:
        env: a ``SimKubeEnv`` (or a wrapper of one) with a ``Discrete`` action space.
        mask_dtype: dtype of the mask in the observation (``float32`` by default, what RLlib's
            examples use; ``np.int8`` matches ``info["action_mask"]``).

    The mask is 1 for an allowed action and 0 for one a safeguard would block. ``action_masks()`` is
    forwarded, so MaskablePPO can train on the wrapped env too (with ``MultiInputPolicy``).
    """

    def __init__(self, env: gym.Env, mask_dtype: Any = np.float32) -> None:
        super().__init__(env)
        if not isinstance(env.action_space, spaces.Discrete):
            raise TypeError(f"ActionMaskObservation needs a Discrete action space, got {env.action_space}")
        self._n = int(env.action_space.n)
        self._dtype = np.dtype(mask_dtype)
        self.observation_space = spaces.Dict(
            {
                "observation": env.observation_space,
                "action_mask": spaces.Box(0, 1, shape=(self._n,), dtype=self._dtype),
            }
        )

    def observation(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        mask = self.env.unwrapped.action_masks()  # type: ignore[attr-defined]
        return {"observation": observation, "action_mask": mask.astype(self._dtype)}

    def action_masks(self) -> np.ndarray:
        """The allowed actions now (bool, shape ``(n,)``)."""
        return self.env.unwrapped.action_masks()  # type: ignore[attr-defined,no-any-return]



class InstanceIdentity(gym.Wrapper):
    """Mark an env with its identity among many parallel ones, and seed it from that identity.

    Args:
        env: any env.
        instance: an :class:`~sim_arena_gym.env.assignment.EnvInstance` (RLlib env runner and sub-env).
        base_seed: when given, the first ``reset`` is seeded with ``instance.seed(base_seed)`` whatever
            the caller passes; later resets pass their seed through (``None`` keeps the generator going).

    Why override the first seed: RLlib seeds the sub-envs of env runner ``w`` with ``s + w + i``, so
    runner 1's second sub-env and runner 2's first get the same seed; instance seeds are distinct.
    ``info["env_instance"]`` carries ``instance.id`` (``"w1-e0"``), a name fragment that a backend
    creating cluster objects per env can use to keep parallel envs apart.
    """

    def __init__(self, env: gym.Env, instance: Any, base_seed: int | None = None) -> None:
        super().__init__(env)
        self.instance = instance
        self.instance_seed = None if base_seed is None else int(instance.seed(base_seed))
        self._seeded = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        if not self._seeded and self.instance_seed is not None:
            seed = self.instance_seed
        self._seeded = True
        obs, info = self.env.reset(seed=seed, options=options)
        info["env_instance"] = self.instance.id
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["env_instance"] = self.instance.id
        return obs, reward, terminated, truncated, info

"""Env construction for training and evaluation (Gymnasium only: no torch, no SB3).

- :class:`SuccessInfo` copies ``info["success"]`` to ``info["is_success"]``, the key SB3 reads for
  its ``rollout/success_rate`` and ``eval/success_rate`` figures.
- :class:`ScenarioCycle` pins the scenarios of the set one after another on every reset, so any
  ``len(scenarios)`` consecutive episodes play each scenario exactly once (what a fixed evaluation needs).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

import sim_arena_gym  # noqa: F401  (registers the environments)


class SuccessInfo(gym.Wrapper):
    """Adds ``info["is_success"]`` (``bool``), equal to ``info["success"]``."""

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        info["is_success"] = bool(info.get("success", False))
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["is_success"] = bool(info.get("success", False))
        return obs, reward, terminated, truncated, info

    def action_masks(self) -> Any:
        return self.env.unwrapped.action_masks()  # type: ignore[attr-defined]


class ScenarioCycle(gym.Wrapper):
    """Every ``reset()`` without a pinned scenario plays the next scenario of the env's set, in order."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._ids = [s.id for s in env.unwrapped.scenarios]  # type: ignore[attr-defined]
        self._next = 0

    @property
    def scenario_ids(self) -> list[str]:
        return list(self._ids)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        if not options or options.get("scenario") is None:
            options = {**(options or {}), "scenario": self._ids[self._next % len(self._ids)]}
            self._next += 1
        return self.env.reset(seed=seed, options=options)

    def action_masks(self) -> Any:
        return self.env.unwrapped.action_masks()  # type: ignore[attr-defined]


def make_env(env_id: str, split: str | None, env_kwargs: dict[str, Any] | None = None, **make_kwargs: Any) -> gym.Env:
    """``gym.make(env_id, scenarios=split, **env_kwargs)``; ``split=None`` keeps the id's own scenarios.

    Raises :class:`~sim_arena_gym.learning.config.LearningConfigError` naming the id for an unknown id
    or options the env refuses; an unknown split stays the index's ``ScenarioIndexError``."""
    kwargs = dict(env_kwargs or {})
    if split is not None:
        kwargs["scenarios"] = split
    try:
        return gym.make(env_id, **kwargs, **make_kwargs)
    except (gym.error.Error, TypeError, ValueError) as exc:  # unknown id, missing or bad env options
        from sim_arena_gym.learning.config import LearningConfigError

        raise LearningConfigError(f"--env {env_id!r}: {exc}") from None

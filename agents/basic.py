"""Baseline policies that need no model of the cluster: noop, random, constant actions."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim_arena_gym.env.actions import DEFAULT_ACTIONS


def action_id(name: str, env: Any = None) -> int:
    """The id of action ``name`` in ``env``'s action set (the default set when ``env`` is ``None``)."""
    if env is not None:
        return int(env.unwrapped.action_index(name))
    return DEFAULT_ACTIONS.index(name)


class NoopPolicy:
    """Always ``noop``: what happens if nobody repairs the workload."""

    def __init__(self, env: Any = None) -> None:
        self._noop = action_id("noop", env)

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        return self._noop


class ConstantPolicy:
    """Always the same action (``cpu_up`` for ``always_bump_cpu``, ...), allowed or not: a blocked action
    is reported by the env in ``info["blocked"]``."""

    def __init__(self, action: str, env: Any = None) -> None:
        self.action = action
        self._id = action_id(action, env)

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        return self._id


class RandomPolicy:
    """Uniform over the actions ``info["action_mask"]`` allows (all actions when no mask is given).

    Args:
        env: optional; gives the number of actions when no mask is at hand.
        seed: seed of the policy's own random generator (independent of the env's).
    """

    def __init__(self, env: Any = None, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(seed)
        self._n = int(env.action_space.n) if env is not None else len(DEFAULT_ACTIONS)

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        mask = info.get("action_mask") if info else None
        if mask is None:
            return int(self._rng.integers(self._n))
        allowed = np.flatnonzero(np.asarray(mask))
        if allowed.size == 0:
            return 0
        return int(allowed[self._rng.integers(allowed.size)])

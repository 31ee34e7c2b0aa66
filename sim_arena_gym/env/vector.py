"""Many envs at once: Gymnasium vector envs and env factories for SB3 ``SubprocVecEnv`` / ``DummyVecEnv``.

Gymnasium builds every sub-env of ``gym.make_vec`` with the same keyword arguments; what tells them
apart is set afterwards. Each sub-env gets its own seed from the vector env's reset (``reset(seed=s)``
seeds sub-env ``i`` with ``s + i``) and, with :func:`assign_scenarios`, its own disjoint part of the
scenario set::

    envs = gym.make_vec("SimArena-InsufficientResources-v0", num_envs=4, vectorization_mode="async",
                        scenarios="test", scenario_order="sequential")
    parts = assign_scenarios(envs)          # sub-env i plays the scenarios test[i::4]
    obs, infos = envs.reset(seed=0)         # sub-env i seeded 0 + i
    infos["action_mask"]                    # (4, n_actions) int8: one mask per sub-env

With ``scenario_order="sequential"`` sub-env ``i`` walks its part in order, so ``ceil(M / 4)`` episodes
per sub-env play each of the ``M`` scenarios exactly once (the last round of a short part repeats).

:func:`env_fns` returns one zero-argument factory per env, each already holding its part: what SB3's
``SubprocVecEnv`` / ``DummyVecEnv`` (and Gymnasium's ``AsyncVectorEnv`` / ``SyncVectorEnv``) take. The
factories are picklable (plain ids and config, no live objects), as subprocess vector envs need.

On ``backend="simkube"`` each env gets its :class:`~sim_arena_gym.env.assignment.EnvInstance` id
(``"w0-e<i>"``) as ``backend_options["instance"]``, so N envs on one cluster are told apart in every
label (:func:`~sim_arena_gym.env.assignment.with_instance`); ``make_vector_env`` then builds the vector
env from :func:`env_fns`.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import gymnasium as gym

from sim_arena_gym.env.assignment import EnvInstance, ScenarioAssignmentError, split_evenly, with_instance

#: The default env id of the helpers.
ENV_ID = "SimArena-InsufficientResources-v0"


def assign_scenarios(envs: gym.vector.VectorEnv) -> list[tuple[str, ...]]:
    """Give sub-env ``i`` of ``envs`` the ids ``ids[i::num_envs]`` of the common scenario set.

    Returns the parts, in sub-env order. Every sub-env must hold the same scenario set (as
    ``gym.make_vec`` builds them); an earlier assignment is replaced. Raises
    :class:`~sim_arena_gym.env.assignment.ScenarioAssignmentError` if the set has fewer scenarios than
    there are sub-envs, or the sub-envs hold different sets."""
    envs.set_attr("scenario_subset", None)
    sets = envs.get_attr("scenario_subset")
    if any(tuple(s) != tuple(sets[0]) for s in sets):
        raise ScenarioAssignmentError("envs", "the sub-envs hold different scenario sets; build them alike")
    parts = split_evenly(tuple(sets[0]), envs.num_envs)
    envs.set_attr("scenario_subset", [list(p) for p in parts])
    return parts


def make_vector_env(
    num_envs: int,
    *,
    vectorization_mode: str = "sync",
    env_id: str = ENV_ID,
    split: bool = True,
    vector_kwargs: dict[str, Any] | None = None,
    **config: Any,
) -> gym.vector.VectorEnv:
    """``gym.make_vec(env_id, num_envs, vectorization_mode, **config)``, then, with ``split``,
    :func:`assign_scenarios`. ``vectorization_mode`` is ``"sync"`` (one process) or ``"async"`` (one
    subprocess per sub-env)."""
    if vectorization_mode not in ("sync", "async"):
        raise ScenarioAssignmentError("vectorization_mode", f"{vectorization_mode!r}: expected 'sync' or 'async'")
    if config.get("backend") == "simkube":
        # gym.make_vec gives every sub-env the same options; simkube sub-envs need their own instance id
        fns = env_fns(num_envs, env_id=env_id, split=split, **config)
        cls = gym.vector.SyncVectorEnv if vectorization_mode == "sync" else gym.vector.AsyncVectorEnv
        return cls(fns, **(vector_kwargs or {}))
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=vectorization_mode,
                        vector_kwargs=vector_kwargs, **config)  # fmt: skip
    if split:
        try:
            assign_scenarios(envs)
        except BaseException:
            envs.close()
            raise
    return envs


def _make_one(
    env_id: str,
    config: dict[str, Any],
    subset: tuple[str, ...] | None,
    wrappers: tuple[Callable[[gym.Env], gym.Env], ...],
) -> gym.Env:
    env = gym.make(env_id, **config)
    if subset is not None:
        env.unwrapped.scenario_subset = list(subset)  # type: ignore[attr-defined]
    for wrap in wrappers:
        env = wrap(env)
    return env


def env_fns(
    num_envs: int,
    *,
    env_id: str = ENV_ID,
    split: bool = True,
    wrappers: Sequence[Callable[[gym.Env], gym.Env]] = (),
    **config: Any,
) -> list[Callable[[], gym.Env]]:
    """``num_envs`` factories of ``gym.make(env_id, **config)``; with ``split`` factory ``i`` narrows its
    env to the ids ``ids[i::num_envs]`` of the scenario set (resolved once here, from
    ``config["scenarios"]``, default ``"train"``). ``wrappers`` are applied in order to each env.

    ``SubprocVecEnv(env_fns(4, scenarios="train"))`` gives MaskablePPO four processes, each on a
    quarter of the train split; seed them with ``vec_env.seed(s)`` (sub-env ``i`` gets ``s + i``)."""
    if not isinstance(num_envs, int) or isinstance(num_envs, bool) or num_envs < 1:
        raise ScenarioAssignmentError("num_envs", f"expected a positive integer, got {num_envs!r}")
    parts: list[tuple[str, ...] | None] = [None] * num_envs
    if split:
        from sim_arena_gym.env.simkube_env import resolve_scenarios

        ids = tuple(s.id for s in resolve_scenarios(config.get("scenarios", "train")))
        parts = list(split_evenly(ids, num_envs))
    return [functools.partial(_make_one, env_id, with_instance(config, EnvInstance(vector_index=i, num_vector=num_envs)),
                              part, tuple(wrappers)) for i, part in enumerate(parts)]

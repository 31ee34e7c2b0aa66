"""Many envs at once: gymnasium vector envs (sync, async), scenario assignment, per-env seeds, SB3 SubprocVecEnv."""

from __future__ import annotations

from collections import Counter

import gymnasium as gym
import numpy as np
import pytest

import sim_arena_gym  # noqa: F401  (registers the environments)
from sim_arena_gym.env import SimKubeEnv
from sim_arena_gym.env.assignment import EnvInstance, ScenarioAssignmentError, split_evenly
from sim_arena_gym.env.vector import assign_scenarios, env_fns, make_vector_env
from sim_arena_gym.env.wrappers import InstanceIdentity
from sim_arena_gym.scenarios.generate import canonical_scenarios
from sim_arena_gym.scenarios.index import load_scenario_set

ENV_ID = "SimArena-InsufficientResources-v0"


def last_allowed(masks: np.ndarray) -> np.ndarray:
    """Per sub-env, the highest allowed action id (a deterministic masked policy)."""
    return np.array([int(np.flatnonzero(m)[-1]) for m in masks])


def play_until(envs: gym.vector.VectorEnv, infos: dict, episodes: int) -> tuple[list[list[str]], int]:
    """Step with masked actions until every sub-env finished ``episodes`` episodes; the scenarios of
    its episodes in order, and how many steps were blocked by a safeguard (the mask forbids them)."""
    done: list[list[str]] = [[] for _ in range(envs.num_envs)]
    blocked = 0
    for _ in range(episodes * 25):
        obs, reward, terminated, truncated, infos = envs.step(last_allowed(infos["action_mask"]))
        for i in range(envs.num_envs):
            if infos["_blocked"][i] and infos["blocked"][i] is not None:
                blocked += 1
            if terminated[i] or truncated[i]:
                done[i].append(str(infos["scenario"][i]))
        if all(len(d) >= episodes for d in done):
            return [d[:episodes] for d in done], blocked
    raise AssertionError(f"episodes did not end: {done}")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_vec_of_4_covers_the_test_split_once_with_masks(mode: str) -> None:
    ids = [s.id for s in load_scenario_set("test")]
    envs = gym.make_vec(ENV_ID, num_envs=4, vectorization_mode=mode, scenarios="test", scenario_order="sequential")
    try:
        parts = assign_scenarios(envs)
        assert parts == [tuple(ids[i::4]) for i in range(4)]
        assert list(envs.get_attr("scenario_subset")) == parts
        obs, infos = envs.reset(seed=0)
        assert obs.shape == (4, 15) and obs.dtype == np.float32
        assert infos["action_mask"].shape == (4, 7) and infos["action_mask"].dtype == np.int8
        assert list(infos["scenario"]) == [p[0] for p in parts]
        played, blocked = play_until(envs, infos, episodes=6)
    finally:
        envs.close()
    assert blocked == 0
    assert played == [list(p) for p in parts]  # each sub-env walks its own part in order
    assert Counter(sid for p in played for sid in p) == Counter(ids)  # the split, each scenario once


def test_make_vec_seeds_sub_env_i_with_seed_plus_i() -> None:
    canon = canonical_scenarios()
    envs = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="sync", scenarios=canon)
    try:
        _, infos = envs.reset(seed=11)
        drawn = list(infos["scenario"])
        _, again = envs.reset(seed=11)
    finally:
        envs.close()
    single = SimKubeEnv(scenarios=canon)
    expected = [single.reset(seed=11 + i)[1]["scenario"] for i in range(3)]
    assert drawn == expected and list(again["scenario"]) == expected


def test_make_vector_env_helper_and_sequential_restart_on_seed() -> None:
    canon = canonical_scenarios()
    ids = [s.id for s in canon]
    envs = make_vector_env(2, vectorization_mode="sync", scenarios=canon, scenario_order="sequential")
    try:
        _, first = envs.reset(seed=0)
        _, reseeded = envs.reset(seed=5)
    finally:
        envs.close()
    assert list(first["scenario"]) == [ids[0], ids[1]]
    assert list(reseeded["scenario"]) == [ids[0], ids[1]]  # a seeded reset restarts the walk


def test_scenario_subset_narrows_the_draw_and_validates() -> None:
    canon = canonical_scenarios()
    env = SimKubeEnv(scenarios=canon, scenario_order="sequential")
    assert env.scenario_subset == tuple(s.id for s in canon)
    env.scenario_subset = [canon[3].id, canon[1].id]
    seen = [env.reset(seed=0 if k == 0 else None)[1]["scenario"] for k in range(3)]
    assert seen == [canon[3].id, canon[1].id, canon[3].id]
    assert env.reset(options={"scenario": canon[0].id})[1]["scenario"] == canon[0].id  # pinning still works
    env.scenario_subset = None
    assert len(env.scenario_subset) == 4
    with pytest.raises(ScenarioAssignmentError, match=r"^scenario_subset: 'nope' is not in this env's scenario set \(4 scenarios\)$") as err:
        env.scenario_subset = ["nope"]
    assert err.value.option == "scenario_subset"
    with pytest.raises(ScenarioAssignmentError, match=r"^scenario_subset: the list is empty; pass None for the whole set$"):
        env.scenario_subset = []
    with pytest.raises(ScenarioAssignmentError, match=r"^scenario_subset: expected a list of scenario ids or None, got 'canonical-very-bad-cpu'$"):
        env.scenario_subset = "canonical-very-bad-cpu"
    with pytest.raises(ScenarioAssignmentError, match=r"^scenario_subset: duplicate ids \['canonical-very-bad-cpu'\]$"):
        env.scenario_subset = ["canonical-very-bad-cpu", "canonical-very-bad-cpu"]
    with pytest.raises(ScenarioAssignmentError, match=r"^scenario_order: 'shuffled': expected one of \['random', 'sequential'\]$"):
        SimKubeEnv(scenarios=canon, scenario_order="shuffled")


def test_more_envs_than_scenarios_is_refused() -> None:
    envs = gym.make_vec(ENV_ID, num_envs=5, vectorization_mode="sync", scenarios=canonical_scenarios())
    try:
        with pytest.raises(ScenarioAssignmentError, match=r"^num_envs: 5 envs but only 4 scenarios: each env needs at least one scenario of its own$"):
            assign_scenarios(envs)
    finally:
        envs.close()
    with pytest.raises(ScenarioAssignmentError, match=r"^num_envs: expected a positive integer, got 0$"):
        env_fns(0)


def test_split_evenly_deals_round_robin() -> None:
    assert split_evenly(list("abcdefg"), 3) == [("a", "d", "g"), ("b", "e"), ("c", "f")]
    assert split_evenly(list("ab"), 1) == [("a", "b")]


def test_env_instance_numbers_runners_and_sub_envs() -> None:
    local = EnvInstance(worker_index=0, vector_index=2, num_workers=0, num_vector=4)
    assert (local.index, local.count, local.id, local.seed(100)) == (2, 4, "w0-e2", 102)
    remote = [EnvInstance(w, v, num_workers=3, num_vector=2) for w in (1, 2, 3) for v in (0, 1)]
    assert [r.index for r in remote] == [0, 1, 2, 3, 4, 5]
    assert [r.id for r in remote] == ["w1-e0", "w1-e1", "w2-e0", "w2-e1", "w3-e0", "w3-e1"]
    assert {r.count for r in remote} == {6}
    with pytest.raises(ScenarioAssignmentError, match=r"^vector_index: 2 is out of range for 2 sub-envs per worker$"):
        EnvInstance(1, 2, num_workers=3, num_vector=2)
    with pytest.raises(ScenarioAssignmentError, match=r"^worker_index: 4 is out of range for 3 remote workers$"):
        EnvInstance(4, 0, num_workers=3, num_vector=2)


def test_instance_identity_seeds_the_first_reset_and_names_the_env() -> None:
    canon = canonical_scenarios()
    instance = EnvInstance(worker_index=2, vector_index=1, num_workers=2, num_vector=2)  # index 3
    env = InstanceIdentity(gym.make(ENV_ID, scenarios=canon), instance, base_seed=40)
    _, info = env.reset(seed=999)  # the instance seed 43 wins on the first reset
    expected = SimKubeEnv(scenarios=canon).reset(seed=43)[1]["scenario"]
    assert info["scenario"] == expected and info["env_instance"] == "w2-e1"
    _, _, _, _, info = env.step(0)
    assert info["env_instance"] == "w2-e1"
    _, info = env.reset(seed=999)  # later resets pass the caller's seed through
    assert info["scenario"] == SimKubeEnv(scenarios=canon).reset(seed=999)[1]["scenario"]


def test_sb3_subproc_vec_env_with_maskable_ppo() -> None:
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.vec_env import SubprocVecEnv

    ids = [s.id for s in load_scenario_set("train")]
    vec_env = SubprocVecEnv(env_fns(4, scenarios="train"), start_method="fork")  # forkserver re-imports torch per process
    try:
        assert list(vec_env.get_attr("scenario_subset")) == [tuple(ids[i::4]) for i in range(4)]
        vec_env.seed(3)
        vec_env.reset()
        masks = vec_env.env_method("action_masks")
        assert len(masks) == 4 and all(m.dtype == bool and m.shape == (7,) for m in masks)
        model = MaskablePPO("MlpPolicy", vec_env, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
        model.learn(total_timesteps=128)
        assert model.num_timesteps == 128
    finally:
        vec_env.close()


def test_checker_passes_with_sequential_order_and_a_subset() -> None:
    import warnings

    from gymnasium.utils.env_checker import check_env

    canon = canonical_scenarios()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gym.make(ENV_ID, scenarios=canon, scenario_order="sequential")
        env.unwrapped.scenario_subset = [canon[1].id, canon[2].id]
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []

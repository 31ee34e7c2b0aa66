"""RLlib (the ``rllib`` extra): one masked PPO iteration on a local Ray instance, a vector env of 4 inside.

Skips only when ray[rllib] is not installed; ``make test`` installs it (``EXTRAS`` includes ``rllib``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

pytest.importorskip("ray.rllib", reason="Ray RLlib is not installed (pip install -e '.[rllib]'; make test installs it)")

import ray  # noqa: E402
import torch  # noqa: E402
from ray.rllib.core.columns import Columns  # noqa: E402

from sim_arena_gym.integrations import rllib as sim_rllib  # noqa: E402
from sim_arena_gym.scenarios.index import load_scenario_set  # noqa: E402

#: RLlib registers its env wrapper id with gymnasium again for every Algorithm it builds.
pytestmark = pytest.mark.filterwarnings("ignore:.*Overriding environment rllib-single-agent-env-v0")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Path]:
    """A local Ray instance whose session files live in a fresh folder under the system temp dir
    (short: Ray's socket paths must fit 107 bytes), removed afterwards."""
    temp_dir = Path(tempfile.mkdtemp(prefix="simray-"))
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(temp_dir), log_to_driver=False)
    try:
        yield temp_dir
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_one_masked_ppo_iteration_on_a_vector_env_of_4(local_ray: Path) -> None:
    train_ids = [s.id for s in load_scenario_set("train")]
    config = sim_rllib.ppo_config(
        num_env_runners=0, num_envs_per_env_runner=4, seed=5,
        train_batch_size_per_learner=128, minibatch_size=64, num_epochs=1,
    )  # fmt: skip
    algo = config.build_algo()
    try:
        result = algo.train()
        assert result["training_iteration"] == 1
        assert result["env_runners"]["num_env_steps_sampled_lifetime"] >= 128
        assert np.isfinite(result["learners"]["default_policy"]["policy_loss"])

        # The driver's env runner holds a vector env of 4: each its own instance, seed and quarter of the split.
        sub_envs = algo.env_runner.env.unwrapped.envs
        assert [e.get_wrapper_attr("instance").id for e in sub_envs] == ["w0-e0", "w0-e1", "w0-e2", "w0-e3"]
        assert [e.get_wrapper_attr("instance_seed") for e in sub_envs] == [5, 6, 7, 8]
        assert [e.unwrapped.scenario_subset for e in sub_envs] == [tuple(train_ids[i::4]) for i in range(4)]

        # Sampling with the masked module never picks an action a safeguard blocks, though masks forbid some.
        episodes = algo.env_runner.sample(num_timesteps=200, explore=True, random_actions=False)
        infos = [info for ep in episodes for info in ep.get_infos()]
        assert len(infos) >= 200
        assert all(info["blocked"] is None for info in infos)
        assert any(not info["action_mask"].all() for info in infos)
        assert {info["env_instance"] for info in infos} == {"w0-e0", "w0-e1", "w0-e2", "w0-e3"}

        # Forbidden actions get the lowest logit in inference, exploration and training passes.
        env = sim_rllib.make_rllib_env({"scenarios": "canonical"})
        spec = sim_rllib.masked_module_spec()
        spec.observation_space, spec.action_space = env.observation_space, env.action_space
        module = spec.build()  # a learner-side (not inference-only) module
        mask = torch.tensor([[1, 0, 0, 1, 0, 0, 1]], dtype=torch.float32)
        batch = {Columns.OBS: {"observation": torch.zeros((1, 15)), "action_mask": mask}}
        lowest = torch.finfo(torch.float32).min
        for forward in (module.forward_inference, module.forward_exploration, module.forward_train):
            logits = forward({Columns.OBS: dict(batch[Columns.OBS])})[Columns.ACTION_DIST_INPUTS][0]
            assert [bool(v == lowest) for v in logits] == [False, True, True, False, True, True, False]
        observation = {"observation": np.zeros(15, dtype=np.float32), "action_mask": mask[0].numpy()}
        assert sim_rllib.greedy_action(algo.get_module(), observation) in (0, 3, 6)
    finally:
        sim_rllib.stop_algo(algo)


def test_evaluate_module_plays_each_scenario_once(local_ray: Path) -> None:
    config = sim_rllib.ppo_config(num_env_runners=0, train_batch_size_per_learner=64, minibatch_size=64, num_epochs=1)
    algo = config.build_algo()
    try:
        report = sim_rllib.evaluate_module(algo.get_module(), scenarios="canonical")
    finally:
        sim_rllib.stop_algo(algo)
    assert report["episodes"] == 4
    assert report["success_rate"] == (4 - len(report["failed"])) / 4
    assert set(report["failed"]) <= {s.id for s in load_scenario_set("canonical")}


def test_ppo_config_refuses_unknown_training_options() -> None:
    with pytest.raises(ValueError, match=r"^ppo_config: unknown training option\(s\) \['learning_rate'\]; valid: "):
        sim_rllib.ppo_config(learning_rate=1e-3)


@pytest.mark.slow
def test_two_remote_env_runners_get_distinct_instances_seeds_and_parts(local_ray: Path) -> None:
    train_ids = [s.id for s in load_scenario_set("train")]
    config = sim_rllib.ppo_config(
        num_env_runners=2, num_envs_per_env_runner=2, num_cpus_per_env_runner=0.5, seed=100,
        train_batch_size_per_learner=128, minibatch_size=64, num_epochs=1,
    )  # fmt: skip
    algo = config.build_algo()
    try:
        algo.train()

        def describe(runner: object) -> list[tuple[str, int, tuple[str, ...]]]:
            return [
                (e.get_wrapper_attr("instance").id, e.get_wrapper_attr("instance_seed"), e.unwrapped.scenario_subset)
                for e in runner.env.unwrapped.envs  # type: ignore[attr-defined]
            ]

        remote = sorted(x for per_runner in algo.env_runner_group.foreach_env_runner(describe, local_env_runner=False)
                        for x in per_runner)  # fmt: skip
    finally:
        sim_rllib.stop_algo(algo)
    assert [r[0] for r in remote] == ["w1-e0", "w1-e1", "w2-e0", "w2-e1"]
    assert [r[1] for r in remote] == [100, 101, 102, 103]
    assert [r[2] for r in remote] == [tuple(train_ids[i::4]) for i in range(4)]

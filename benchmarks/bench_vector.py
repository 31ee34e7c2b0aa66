"""Parallel env throughput: vector envs, SB3 SubprocVecEnv and RLlib env runners against one env.

Prints env-steps/s (not a test), every figure measured in this run, with its ratio to the single env:

* one env through ``gym.make`` (the baseline);
* Gymnasium ``SyncVectorEnv`` and ``AsyncVectorEnv`` of 1, 2 and 4 envs (``make_vector_env``);
* SB3 ``SubprocVecEnv`` of 1, 2 and 4 envs (``env_fns``, fork start);
* RLlib (masked PPO module, exploring) with 0, 1 and 2 env runners of ``--rllib-envs`` sub-envs:
  sampling alone, and whole PPO iterations (sampling + learning on a ``--train-batch`` batch);
* a PROJECTION for a Ray cluster of K machines: the measured per-runner sampling rate times the
  runners a cluster would hold, and the PPO iteration rate when the learner's measured update time
  stays as it is. Projected figures are arithmetic, not measurements.

Every env plays the train split with the outcome cache on (the default) and picks uniformly among the
actions its mask allows. Usage::

    .venv/bin/python benchmarks/bench_vector.py [--steps 4000] [--cores-per-node 16] [--no-rllib]

The machine's core count is printed; on a small or shared machine more processes than cores only
share them, so the parallel figures there say little about a bigger machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import sim_arena_gym  # noqa: E402,F401  (registers the envs)
from sim_arena_gym.env.vector import env_fns, make_vector_env  # noqa: E402

ENV_ID = "SimArena-InsufficientResources-v0"


def masked_choice(rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    """One allowed action per row of ``masks``, uniformly."""
    return np.array([rng.choice(np.flatnonzero(m)) for m in np.atleast_2d(masks)])


def single_env(steps: int) -> float:
    env = gym.make(ENV_ID, scenarios="train")
    rng = np.random.default_rng(0)
    _, info = env.reset(seed=0)
    for _ in range(500):  # warm-up: first simulations of the scenarios
        _, _, term, trunc, info = env.step(int(masked_choice(rng, info["action_mask"])[0]))
        if term or trunc:
            _, info = env.reset()
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, info = env.step(int(masked_choice(rng, info["action_mask"])[0]))
        if term or trunc:
            _, info = env.reset()
    rate = steps / (time.perf_counter() - t0)
    env.close()
    return rate


def gym_vector(n: int, mode: str, steps: int) -> float:
    envs = make_vector_env(n, vectorization_mode=mode, scenarios="train")
    rng = np.random.default_rng(0)
    _, infos = envs.reset(seed=0)
    for _ in range(500 // n):
        _, _, _, _, infos = envs.step(masked_choice(rng, infos["action_mask"]))
    iters = max(1, steps // n)
    t0 = time.perf_counter()
    for _ in range(iters):
        _, _, _, _, infos = envs.step(masked_choice(rng, infos["action_mask"]))
    rate = iters * n / (time.perf_counter() - t0)
    envs.close()
    return rate


def sb3_subproc(n: int, steps: int) -> float:
    from stable_baselines3.common.vec_env import SubprocVecEnv

    vec = SubprocVecEnv(env_fns(n, scenarios="train"), start_method="fork")
    rng = np.random.default_rng(0)
    vec.seed(0)
    vec.reset()
    masks = np.stack(vec.env_method("action_masks"))

    def run(iters: int) -> None:
        nonlocal masks
        for _ in range(iters):
            _, _, _, infos = vec.step(masked_choice(rng, masks))
            masks = np.stack([info["action_mask"] for info in infos])  # the mask after reset when an episode ended

    run(500 // n)
    iters = max(1, steps // n)
    t0 = time.perf_counter()
    run(iters)
    rate = iters * n / (time.perf_counter() - t0)
    vec.close()
    return rate


def rllib_runs(runner_counts: list[int], envs_per_runner: int, steps: int, train_batch: int, iterations: int) -> dict[int, dict[str, float]]:
    """Per runner count: sampling env-steps/s (all runners at once), per-runner sampling rate,
    PPO iteration env-steps/s, and the learner's share of an iteration (seconds)."""
    import ray

    from sim_arena_gym.integrations import rllib as sim_rllib

    out: dict[int, dict[str, float]] = {}
    ray_dir = tempfile.mkdtemp(prefix="simray-")
    ray.init(num_cpus=max(2, max(runner_counts)), include_dashboard=False, _temp_dir=ray_dir, log_to_driver=False)
    try:
        for runners in runner_counts:
            config = sim_rllib.ppo_config(
                num_env_runners=runners, num_envs_per_env_runner=envs_per_runner, seed=0,
                train_batch_size_per_learner=train_batch, minibatch_size=min(256, train_batch),
            )  # fmt: skip
            algo = config.build_algo()
            try:
                group = algo.env_runner_group
                per_runner = max(envs_per_runner, steps // max(1, runners))

                def sample(n: int) -> None:
                    if runners == 0:
                        algo.env_runner.sample(num_timesteps=n, explore=True)
                    else:
                        group.foreach_env_runner(lambda r, n=n: len(r.sample(num_timesteps=n, explore=True)),
                                                 local_env_runner=False)

                sample(500)  # warm-up
                t0 = time.perf_counter()
                sample(per_runner)
                wall = time.perf_counter() - t0
                sampled = per_runner * max(1, runners)
                algo.train()  # warm-up iteration
                t0 = time.perf_counter()
                done_steps = 0
                for _ in range(iterations):
                    result = algo.train()
                    done_steps += int(result["env_runners"]["num_env_steps_sampled"])
                train_wall = time.perf_counter() - t0
                iter_s = train_wall / iterations
                # RLlib's own timers are running means that still carry the first (slow) calls, so
                # the learner's share is derived: iteration time minus sampling the batch at the rate
                # measured above.
                learn_s = max(0.0, iter_s - (done_steps / iterations) / (sampled / wall))
                out[runners] = {
                    "sample": sampled / wall,
                    "per_runner": sampled / wall / max(1, runners),
                    "train": done_steps / train_wall,
                    "learn_s": learn_s,
                    "iter_s": iter_s,
                }
            finally:
                sim_rllib.stop_algo(algo)
    finally:
        ray.shutdown()
        shutil.rmtree(ray_dir, ignore_errors=True)
    return out


def line(label: str, rate: float, base: float, note: str = "") -> None:
    print(f"{label:<44} {rate:>9,.0f} env-steps/s   {rate / base:5.2f} x single{('   ' + note) if note else ''}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4_000, help="env steps per measurement (default 4000)")
    parser.add_argument("--rllib-envs", type=int, default=2, help="sub-envs per RLlib env runner (default 2)")
    parser.add_argument("--train-batch", type=int, default=1024, help="RLlib PPO batch per iteration (default 1024)")
    parser.add_argument("--iterations", type=int, default=3, help="timed RLlib PPO iterations (default 3)")
    parser.add_argument("--cores-per-node", type=int, default=16, help="cores of a cluster node for the projection")
    parser.add_argument("--no-rllib", action="store_true", help="skip the RLlib measurements")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)  # as examples/train_*.py: a small MLP gains nothing from threads
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {platform.python_version()}, gymnasium {gym.__version__}, {os.cpu_count()} cores, "
          f"load average {load:.1f} at start (a shared machine runs others' jobs too), train split, "
          f"masked random actions, {args.steps:,} steps per measurement")
    base = single_env(args.steps)
    line("single env (gym.make)", base, base, "baseline")
    for mode in ("sync", "async"):
        for n in (1, 2, 4):
            line(f"gymnasium {mode} vector env x{n}", gym_vector(n, mode, args.steps), base)
    for n in (1, 2, 4):
        line(f"SB3 SubprocVecEnv x{n}", sb3_subproc(n, args.steps), base)

    if args.no_rllib:
        return 0
    from sim_arena_gym.integrations.rllib import rllib_available

    if not rllib_available():
        print("RLlib: not installed (pip install -e '.[rllib]'), skipped")
        return 0
    res = rllib_runs([0, 1, 2], args.rllib_envs, args.steps, args.train_batch, args.iterations)
    for runners, r in res.items():
        where = "in the driver" if runners == 0 else f"{runners} remote"
        line(f"RLlib sampling, {runners} env runners ({where}) x{args.rllib_envs}", r["sample"], base,
             f"{r['per_runner']:,.0f} per runner")
    for runners, r in res.items():
        line(f"RLlib PPO iterations, {runners} env runners", r["train"], base,
             f"{r['iter_s']:.2f} s/iteration, of which learning ~{r['learn_s']:.2f} s (derived)")

    one = res[1]
    sample_s = args.train_batch / one["per_runner"]
    print(f"PROJECTED (not measured) for a Ray cluster of K nodes x {args.cores_per_node} cores, "
          f"one env runner per core but one on the head (the driver / learner), "
          f"from the measured {one['per_runner']:,.0f} env-steps/s per runner and "
          f"{one['learn_s']:.2f} s learner update per {args.train_batch} steps:")
    for k in (1, 2, 4, 8, 16):
        runners = k * args.cores_per_node - 1
        sampling = runners * one["per_runner"]
        # Synchronous PPO: an iteration samples train_batch steps across all runners, then learns.
        iteration = args.train_batch / sampling + one["learn_s"]
        print(f"  K={k:<3} {runners:>4} runners   sampling {sampling:>11,.0f} env-steps/s (projected)   "
              f"PPO {args.train_batch / iteration:>9,.0f} env-steps/s (projected, batch {args.train_batch})")
    print(f"  (one runner samples the {args.train_batch}-step batch in {sample_s:.2f} s; past a few nodes the "
          "learner update bounds PPO: raise train_batch_size_per_learner or add learners to use more runners)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

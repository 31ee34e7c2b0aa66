"""Train RLlib PPO with action masking on the train split, evaluating on the test split as it goes.

    pip install -e '.[rllib]'
    .venv/bin/python examples/train_rllib.py                              # local Ray, 1 env runner
    .venv/bin/python examples/train_rllib.py --timesteps 100000 --num-env-runners 2
    .venv/bin/python examples/train_rllib.py --address auto --num-env-runners 32   # on a Ray cluster

Without ``--address`` a local Ray instance is started (its session files under ``--ray-temp-dir``);
``--address auto`` (or ``ray://head:10001``) joins a running cluster, see docs/SCALING.md. Every
``--eval-every`` env steps the current policy plays each test scenario once, greedily; the run stops
when it reaches ``--target-success`` or ``--timesteps``. One line per iteration, then a summary line.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sim_arena_gym.integrations import rllib as sim_rllib
from sim_arena_gym.env.rewards import REWARDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default=None, help="Ray cluster address (default: start a local instance)")
    parser.add_argument("--num-env-runners", type=int, default=1, help="remote sampling actors (0: in the driver)")
    parser.add_argument("--num-envs-per-runner", type=int, default=4, help="sub-envs per env runner")
    parser.add_argument("--num-cpus-per-runner", type=float, default=1, help="CPUs Ray reserves per env runner")
    parser.add_argument("--timesteps", type=int, default=100_000, help="most env steps (default 100000)")
    parser.add_argument("--train-batch", type=int, default=1024, help="env steps per PPO iteration")
    parser.add_argument("--scenarios", default="train", help="training set (default train)")
    parser.add_argument("--eval-scenarios", default="test", help="evaluation set (default test)")
    parser.add_argument("--eval-every", type=int, default=10_240, help="env steps between evaluations")
    parser.add_argument("--target-success", type=float, default=1.0, help="stop at this test success rate")
    parser.add_argument("--keep-going", action="store_true", help="train on to --timesteps after the target")
    parser.add_argument("--reward-mode", default="gradual", choices=tuple(REWARDS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, default=None, help="save the algorithm here at the end")
    parser.add_argument("--ray-temp-dir", default=str(Path(tempfile.gettempdir()) / "sim-arena-ray"),
                        help="session files of a local Ray instance (default: <tmp>/sim-arena-ray)")
    args = parser.parse_args()

    sim_rllib.require_rllib()
    import ray
    import torch

    torch.set_num_threads(1)  # small MLP: threads only add overhead
    if args.address is None:
        ray.init(include_dashboard=False, _temp_dir=args.ray_temp_dir, log_to_driver=False)
    else:
        ray.init(address=args.address, log_to_driver=False)
    env_config = {"scenarios": args.scenarios, "reward_mode": args.reward_mode}
    config = sim_rllib.ppo_config(
        env_config=env_config,
        num_env_runners=args.num_env_runners,
        num_envs_per_env_runner=args.num_envs_per_runner,
        num_cpus_per_env_runner=args.num_cpus_per_runner,
        seed=args.seed,
        train_batch_size_per_learner=args.train_batch,
        minibatch_size=min(256, args.train_batch),
    )
    start = time.perf_counter()
    algo = config.build_algo()
    print(f"built in {time.perf_counter() - start:.1f}s: {args.num_env_runners} env runners x "
          f"{args.num_envs_per_runner} envs, {args.train_batch} steps per iteration", flush=True)
    steps, next_eval, best, last = 0, args.eval_every, None, None
    try:
        while steps < args.timesteps:
            result = algo.train()
            steps = int(result["env_runners"]["num_env_steps_sampled_lifetime"])
            ret = result["env_runners"].get("episode_return_mean", float("nan"))
            line = f"iter {result['training_iteration']:>4} steps {steps:>7} wall {time.perf_counter() - start:7.1f}s return {ret:+.3f}"
            if steps >= next_eval or steps >= args.timesteps:
                next_eval += args.eval_every
                ev = sim_rllib.evaluate_module(algo.get_module(), scenarios=args.eval_scenarios, seed=args.seed,
                                               env_config={"reward_mode": args.reward_mode})
                mean_steps = "-" if ev["mean_steps"] is None else f"{ev['mean_steps']:.2f}"
                line += (f"  {args.eval_scenarios} success {ev['success_rate']:.1%} ({ev['episodes']} episodes, "
                         f"mean steps {mean_steps})")
                last = ev["success_rate"]
                if ev["success_rate"] >= args.target_success and best is None:
                    best = (steps, time.perf_counter() - start, ev["success_rate"])
            print(line, flush=True)
            if best is not None and not args.keep_going:
                break
        if args.checkpoint is not None:
            print(f"checkpoint: {algo.save_to_path(str(args.checkpoint.resolve()))}")
    finally:
        sim_rllib.stop_algo(algo)
        ray.shutdown()
    if best is None:
        print(f"done: {steps} steps in {time.perf_counter() - start:.1f}s, {args.eval_scenarios} success below "
              f"{args.target_success:.0%} (last {last if last is None else format(last, '.1%')})")
    else:
        print(f"done: {args.eval_scenarios} success {best[2]:.1%} after {best[0]} steps, {best[1]:.1f}s wall "
              f"(counted from the start of the build); last evaluation {last:.1%} at {steps} steps")


if __name__ == "__main__":
    main()

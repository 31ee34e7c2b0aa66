"""Train PPO or MaskablePPO (Stable-Baselines3 / sb3-contrib) on the train split, then save the model.

    .venv/bin/python examples/train_ppo.py                         # MaskablePPO, 20k steps
    .venv/bin/python examples/train_ppo.py --algo ppo --timesteps 100000 --out models/ppo
    .venv/bin/python examples/evaluate.py --model models/maskable_ppo.zip

MaskablePPO reads ``env.action_masks()``, so it never tries an action the safeguards would block;
plain PPO learns that from the ``blocked`` outcomes (no state change, a lost step).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from stable_baselines3.common.env_util import make_vec_env

import sim_arena_gym  # noqa: F401  (registers the environments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", choices=("maskable_ppo", "ppo"), default="maskable_ppo")
    parser.add_argument("--timesteps", type=int, default=20_000, help="environment steps (default 20000)")
    parser.add_argument("--scenarios", default="train", help="scenario set to train on (default train)")
    parser.add_argument("--reward-mode", default="gradual", choices=("binary", "gradual", "penalty"))
    parser.add_argument("--n-envs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="model path (default models/<algo>)")
    args = parser.parse_args()

    torch.set_num_threads(1)  # small MLP: threads only add overhead
    env_kwargs = {"scenarios": args.scenarios, "reward_mode": args.reward_mode}
    vec_env = make_vec_env("SimArena-InsufficientResources-v0", n_envs=args.n_envs, seed=args.seed,
                           env_kwargs=env_kwargs)
    if args.algo == "maskable_ppo":
        from sb3_contrib import MaskablePPO

        model = MaskablePPO("MlpPolicy", vec_env, n_steps=256, batch_size=256, seed=args.seed, verbose=1)
    else:
        from stable_baselines3 import PPO

        model = PPO("MlpPolicy", vec_env, n_steps=256, batch_size=256, seed=args.seed, verbose=1)
    model.learn(total_timesteps=args.timesteps)
    out = args.out or Path("models") / args.algo
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    print(f"saved {out}.zip  (evaluate: examples/evaluate.py --model {out}.zip)")
    vec_env.close()


if __name__ == "__main__":
    main()

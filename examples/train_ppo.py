"""Train PPO, MaskablePPO or DQN on the train split with the committed hyperparameters, then save it.

    .venv/bin/python examples/train_ppo.py                              # MaskablePPO, the config's 50k steps
    .venv/bin/python examples/train_ppo.py --algo ppo --out runs/ppo    # PPO, 100k steps
    .venv/bin/python examples/evaluate.py --model runs/maskable_ppo

The same as ``sim-arena train`` (which has more options): both call
:func:`sim_arena_gym.learning.train.train`. MaskablePPO reads ``env.action_masks()``, so it never tries an
action the safeguards would block; PPO and DQN learn that from the ``blocked`` outcomes (a lost step).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim_arena_gym.learning import ALGORITHMS, make_train_spec
from sim_arena_gym.learning.train import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", choices=ALGORITHMS, default="maskable_ppo")
    parser.add_argument("--timesteps", type=int, default=None, help="env steps (default: the committed config's)")
    parser.add_argument("--n-envs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=Path, action="append", default=[], help="YAML hyperparameter overrides")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default runs/<algo>)")
    args = parser.parse_args()

    spec = make_train_spec(args.algo, timesteps=args.timesteps, n_envs=args.n_envs, seed=args.seed,
                           config_files=tuple(args.config), progress_bar=False)
    out = args.out or Path("runs") / args.algo
    train(spec, out, overwrite=True)
    print(f"saved {out / 'model.zip'}  (evaluate: examples/evaluate.py --model {out})")


if __name__ == "__main__":
    main()

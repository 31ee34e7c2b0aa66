"""Train MaskablePPO (sb3-contrib) on the hard tier's train split, with a learning curve on its test split.

    .venv/bin/python examples/train_hard.py --timesteps 1000000 --out /tmp/hard-run     # the reported run
    .venv/bin/python examples/train_hard.py --timesteps 2048 --eval-every 1024 --out /tmp/smoke

Every ``--eval-every`` environment steps the current policy (deterministic, masked) plays one episode
on every scenario of ``--eval-scenarios`` (``hard-test``) and the figures go to ``<out>/curve.csv``
(``steps, seconds, test_success, test_return, train_success, train_return``). At the end it writes
``<out>/model.zip``, ``<out>/summary.json`` (the final figures, the SRE heuristic's and the return
oracle's on the same scenarios, the wall time) and, when matplotlib is installed, ``<out>/curve.png``.
Everything runs in this process on the CPU; the reward mode is ``gradual`` (revision 1) unless told.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

import sim_arena_gym  # noqa: F401  (registers the environments)

ENV_ID = "SimArena-Hard-v0"


def play(env: gym.Env, act: Callable[[np.ndarray, dict[str, Any]], int], scenario_ids: list[str]) -> tuple[float, float]:
    """One episode per scenario id; returns ``(success rate, mean return)``."""
    wins, total = 0, 0.0
    for sid in scenario_ids:
        obs, info = env.reset(options={"scenario": sid})
        ret = 0.0
        while True:
            obs, reward, terminated, truncated, info = env.step(act(obs, info))
            ret += reward
            if terminated or truncated:
                break
        wins += bool(info["success"])
        total += ret
    n = max(1, len(scenario_ids))
    return wins / n, total / n


def model_actor(model: Any, env: gym.Env) -> Callable[[np.ndarray, dict[str, Any]], int]:
    def act(obs: np.ndarray, info: dict[str, Any]) -> int:
        action, _ = model.predict(obs, action_masks=env.unwrapped.action_masks(), deterministic=True)
        return int(action)

    return act


class CurveCallback(BaseCallback):
    """Evaluates the policy every ``every`` steps and appends a row to ``curve.csv``."""

    def __init__(self, every: int, evaluate: Callable[[], dict[str, float]], path: Path, start: float) -> None:
        super().__init__()
        self.every = every
        self.evaluate = evaluate
        self.path = path
        self.start = start
        self.next_at = every
        self.rows: list[dict[str, float]] = []

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_at:
            self.next_at += self.every
            self.record()
        return True

    def record(self) -> None:
        row = {"steps": float(self.num_timesteps), "seconds": round(time.time() - self.start, 1), **self.evaluate()}
        self.rows.append(row)
        new = not self.path.exists()
        with self.path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)


def plot(rows: list[dict[str, float]], baselines: dict[str, float], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    steps = [r["steps"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [100 * r["test_success"] for r in rows], label="MaskablePPO, hard-test")
    ax.plot(steps, [100 * r["train_success"] for r in rows], label="MaskablePPO, hard-train", alpha=0.6)
    for name, value in baselines.items():
        ax.axhline(100 * value, linestyle="--", linewidth=1, label=f"{name}, hard-test")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("success (%)")
    ax.set_ylim(-2, 102)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{ENV_ID}: success while training")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=1_000_000)
    parser.add_argument("--eval-every", type=int, default=25_000)
    parser.add_argument("--scenarios", default="hard-train")
    parser.add_argument("--eval-scenarios", default="hard-test")
    parser.add_argument("--reward-mode", default="gradual", choices=("binary", "gradual", "penalty"))
    parser.add_argument("--extra-train", type=int, default=0,
                        help="train also on N more generated hard scenarios (seed --extra-seed, ids extra-*), "
                             "never on the test split")
    parser.add_argument("--extra-seed", type=int, default=7077)
    parser.add_argument("--baselines", default="sre,random,oracle_return",
                        help="comma-separated agents evaluated on --eval-scenarios for the summary")
    parser.add_argument("--n-envs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="folder for model.zip, curve.csv, summary.json")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train, evaluate and write the outputs (see the module docstring); returns the summary."""

    import agents
    from sb3_contrib import MaskablePPO

    torch.set_num_threads(1)  # a small MLP: threads only add overhead
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "curve.csv").unlink(missing_ok=True)
    train_set: Any = args.scenarios
    if args.extra_train:
        from dataclasses import replace

        from sim_arena_gym.env.simkube_env import resolve_scenarios
        from sim_arena_gym.scenarios.generate import generate_hard_scenarios

        extra = [replace(s, id=f"extra-{s.id}", split=None)
                 for s, _ in generate_hard_scenarios(args.extra_train, args.extra_seed, split_ratio=1.0)]
        train_set = list(resolve_scenarios(args.scenarios)) + extra
    env_kwargs = {"scenarios": train_set, "reward_mode": args.reward_mode}
    vec_env = make_vec_env(ENV_ID, n_envs=args.n_envs, seed=args.seed, env_kwargs=env_kwargs)
    test_env = gym.make(ENV_ID, scenarios=args.eval_scenarios, reward_mode=args.reward_mode)
    train_env = gym.make(ENV_ID, scenarios=args.scenarios, reward_mode=args.reward_mode)
    test_ids = [s.id for s in test_env.unwrapped.scenarios]
    train_ids = [s.id for s in train_env.unwrapped.scenarios]
    model = MaskablePPO("MlpPolicy", vec_env, n_steps=512, batch_size=256, gamma=0.99, ent_coef=0.01,
                        seed=args.seed, verbose=0)

    def evaluate() -> dict[str, float]:
        test = play(test_env, model_actor(model, test_env), test_ids)
        train = play(train_env, model_actor(model, train_env), train_ids)
        return {"test_success": round(test[0], 4), "test_return": round(test[1], 4),
                "train_success": round(train[0], 4), "train_return": round(train[1], 4)}

    start = time.time()
    callback = CurveCallback(args.eval_every, evaluate, args.out / "curve.csv", start)
    model.learn(total_timesteps=args.timesteps, callback=callback)
    train_seconds = time.time() - start
    if not callback.rows or callback.rows[-1]["steps"] < model.num_timesteps:
        callback.record()
    model.save(args.out / "model")
    final = callback.rows[-1]
    baselines: dict[str, tuple[float, float]] = {}
    for name in [n for n in args.baselines.split(",") if n]:
        policy = agents.make(name, env=test_env, **({"seed": args.seed} if name == "random" else {}))
        baselines[name] = play(test_env, policy.act, test_ids)
    summary = {
        "env": ENV_ID,
        "algo": "MaskablePPO",
        "timesteps": int(model.num_timesteps),
        "seed": args.seed,
        "extra_train": args.extra_train,
        "n_envs": args.n_envs,
        "reward_mode": args.reward_mode,
        "train_seconds": round(train_seconds, 1),
        "test_scenarios": len(test_ids),
        "maskable_ppo": {"success": final["test_success"], "mean_return": final["test_return"]},
        **{name: {"success": round(s, 4), "mean_return": round(r, 4)} for name, (s, r) in baselines.items()},
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    plotted = plot(callback.rows, {k: v[0] for k, v in baselines.items()}, args.out / "curve.png")
    print(json.dumps(summary))
    print(f"wrote {args.out / 'model.zip'}, {args.out / 'curve.csv'}, {args.out / 'summary.json'}"
          + (f", {args.out / 'curve.png'}" if plotted else ""))
    vec_env.close()
    return summary


if __name__ == "__main__":
    run(parse_args())

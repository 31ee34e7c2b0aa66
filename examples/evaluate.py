"""Success rate and mean steps of agents and trained models on the test split.

    .venv/bin/python examples/evaluate.py                          # every hand-coded agent
    .venv/bin/python examples/evaluate.py --agents heuristic oracle --scenarios canonical
    .venv/bin/python examples/evaluate.py --model models/maskable_ppo.zip

Each scenario of the set is played once per agent (episodes are pinned with
``reset(options={"scenario": id})``), so every agent sees the same tasks.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import agents
import sim_arena_gym  # noqa: F401  (registers the environments)
from sim_arena_gym.scenarios.generate import canonical_scenarios


class ModelPolicy:
    """A saved SB3 / sb3-contrib model as a policy (deterministic actions, masks when supported)."""

    def __init__(self, path: Path, env: gym.Env) -> None:
        from stable_baselines3.common.save_util import load_from_zip_file

        data, _, _ = load_from_zip_file(path)
        maskable = "maskable" in str(data.get("policy_class", "")).lower()
        if maskable:
            from sb3_contrib import MaskablePPO as Algo
        else:
            from stable_baselines3 import PPO as Algo
        self.model = Algo.load(path, device="cpu")
        self.maskable = maskable
        self.env = env

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        kwargs = {"action_masks": info["action_mask"].astype(bool)} if self.maskable else {}
        action, _ = self.model.predict(observation, deterministic=True, **kwargs)
        return int(action)


def evaluate(env: gym.Env, policy: Any, scenario_ids: list[str], seed: int) -> dict[str, float | None]:
    successes, steps, returns = [], [], []
    for i, sid in enumerate(scenario_ids):
        obs, info = env.reset(seed=seed + i, options={"scenario": sid})
        total = 0.0
        while True:
            obs, reward, terminated, truncated, info = env.step(policy.act(obs, info))
            total += reward
            if terminated or truncated:
                break
        successes.append(info["success"])
        returns.append(total)
        if info["success"]:
            steps.append(info["step"])
    return {
        "success_rate": float(np.mean(successes)),
        "mean_steps": statistics.fmean(steps) if steps else None,  # None: no episode succeeded
        "mean_return": statistics.fmean(returns),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="test", help="test (default), train, canonical, all or an index path")
    parser.add_argument("--agents", nargs="*", default=None, help="hand-coded agents (default: all)")
    parser.add_argument("--model", type=Path, action="append", default=[], help="a saved SB3 model (.zip)")
    parser.add_argument("--reward-mode", default="gradual", choices=("binary", "gradual", "penalty"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    scenarios = canonical_scenarios() if args.scenarios == "canonical" else args.scenarios
    env = gym.make("SimArena-InsufficientResources-v0", scenarios=scenarios, reward_mode=args.reward_mode)
    ids = [s.id for s in env.unwrapped.scenarios]
    names = args.agents if args.agents is not None else ([] if args.model else agents.available())
    rows = []
    for name in names:
        kwargs = {"seed": args.seed} if name == "random" else {}
        rows.append((name, evaluate(env, agents.make(name, env=env, **kwargs), ids, args.seed)))
    for path in args.model:
        rows.append((path.name, evaluate(env, ModelPolicy(path, env), ids, args.seed)))
    print(f"{len(ids)} scenarios ({args.scenarios}), reward mode {args.reward_mode}")
    print(f"{'agent':<22} {'success':>8} {'mean steps':>11} {'mean return':>12}")
    for name, r in rows:
        mean_steps = "-" if r["mean_steps"] is None else f"{r['mean_steps']:.2f}"
        print(f"{name:<22} {r['success_rate']:>8.1%} {mean_steps:>11} {r['mean_return']:>12.3f}")
    env.close()


if __name__ == "__main__":
    main()

"""Success, return and steps of the baselines (and a trained model) on the hard tier's test split.

    .venv/bin/python examples/evaluate_hard.py                                  # noop, random, sre, oracle
    .venv/bin/python examples/evaluate_hard.py --model /tmp/hard-run/model.zip --reward-mode penalty

One episode per scenario of ``--scenarios`` (``hard-test``) per agent; ``random`` is averaged over
``--random-seeds`` seeds. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

import gymnasium as gym

import sim_arena_gym  # noqa: F401  (registers the environments)
from sim_arena_gym.env.rewards import REWARDS


def play(env: gym.Env, act: Callable[[Any, dict[str, Any]], int], ids: list[str]) -> tuple[float, float, float]:
    """``(success rate, mean return, mean steps of the repaired episodes)`` over one episode per id."""
    wins, total, steps = 0, 0.0, 0
    for sid in ids:
        obs, info = env.reset(options={"scenario": sid})
        ret, n = 0.0, 0
        while True:
            obs, reward, terminated, truncated, info = env.step(act(obs, info))
            ret += reward
            n += 1
            if terminated or truncated:
                break
        total += ret
        if info["success"]:
            wins += 1
            steps += n
    return wins / len(ids), total / len(ids), (steps / wins if wins else float("nan"))


def main() -> None:
    import agents

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="hard-test")
    parser.add_argument("--reward-mode", default="gradual", choices=tuple(REWARDS))
    parser.add_argument("--model", default=None, help="a MaskablePPO model.zip to evaluate too")
    parser.add_argument("--random-seeds", type=int, default=5)
    args = parser.parse_args()

    env = gym.make("SimArena-Hard-v0", scenarios=args.scenarios, reward_mode=args.reward_mode)
    ids = [s.id for s in env.unwrapped.scenarios]
    rows: list[tuple[str, tuple[float, float, float]]] = []
    for name in ("noop", "sre", "oracle_return"):
        rows.append((name, play(env, agents.make(name, env=env).act, ids)))
    runs = [play(env, agents.make("random", env=env, seed=seed).act, ids) for seed in range(args.random_seeds)]
    done = [r for r in runs if r[0] > 0]
    rows.insert(1, (f"random ({args.random_seeds} seeds)", (
        sum(r[0] for r in runs) / len(runs),
        sum(r[1] for r in runs) / len(runs),
        sum(r[2] * r[0] for r in done) / sum(r[0] for r in done) if done else float("nan"),
    )))
    if args.model:
        from sb3_contrib import MaskablePPO

        model = MaskablePPO.load(args.model)

        def act(obs: Any, info: dict[str, Any]) -> int:
            action, _ = model.predict(obs, action_masks=env.unwrapped.action_masks(), deterministic=True)
            return int(action)

        rows.append((f"MaskablePPO ({args.model})", play(env, act, ids)))
    print(f"| agent ({len(ids)} scenarios of {args.scenarios}, {args.reward_mode}) | success | mean return | "
          "mean steps to repair |")
    print("|---|---|---|---|")
    for name, (success, ret, steps) in rows:
        shown = "-" if steps != steps else f"{steps:.2f}"
        print(f"| {name} | {100 * success:.1f}% | {ret:.3f} | {shown} |")


if __name__ == "__main__":
    main()

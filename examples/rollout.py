"""A plain Gymnasium loop: one agent repairs scenarios, step by step.

    .venv/bin/python examples/rollout.py                          # heuristic on the canonical demos
    .venv/bin/python examples/rollout.py --policy oracle --render
    .venv/bin/python examples/rollout.py --policy random --scenarios test --episodes 5
"""

from __future__ import annotations

import argparse

import gymnasium as gym

import agents
import sim_arena_gym  # noqa: F401  (registers the environments)
from sim_arena_gym.scenarios.generate import canonical_scenarios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="heuristic", choices=agents.available())
    parser.add_argument("--scenarios", default="canonical",
                        help="canonical (in memory, default), train, test, all, or an index.json path")
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--render", action="store_true", help="print the ansi table after every step")
    args = parser.parse_args()

    scenarios = canonical_scenarios() if args.scenarios == "canonical" else args.scenarios
    env = gym.make("SimArena-InsufficientResources-v0", scenarios=scenarios,
                   render_mode="ansi" if args.render else None)
    policy = agents.make(args.policy, env=env, **({"seed": args.seed} if args.policy == "random" else {}))

    obs, info = env.reset(seed=args.seed)
    for episode in range(args.episodes):
        if episode:
            obs, info = env.reset()
        print(f"== episode {episode}: {info['scenario']} ({info['ready']}/{info['target']} Ready, "
              f"{info['pending']} Pending)")
        episode_return = 0.0
        while True:
            action = policy.act(obs, info)
            obs, reward, terminated, truncated, info = env.step(action)
            episode_return += reward
            note = f"  blocked: {info['blocked']}" if info["blocked"] else ""
            print(f"  {info['step']:>2} {info['action']:<13} ready {info['ready']}/{info['target']} "
                  f"pending {info['pending']}  reward {reward:+.3f}{note}")
            if args.render:
                print(env.render())
            if terminated or truncated:
                break
        print(f"   -> {'repaired' if info['success'] else 'not repaired'} in {info['step']} step{'s' if info['step'] != 1 else ''}, "
              f"return {episode_return:+.3f}, requests {info['requests']}, replicas {info['replicas']}")
    env.close()


if __name__ == "__main__":
    main()

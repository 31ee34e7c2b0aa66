"""Env throughput: a random agent through ``gym.make`` on a canonical scenario, against CartPole-v1.

Prints (not a test):

* CartPole-v1 steps/s through ``gym.make``, measured in the same run (the reference);
* SimArena steps/s with the outcome cache (the default) and the ratio to CartPole;
* SimArena steps/s with the cache disabled (``outcome_cache_size=0``: every state change re-simulates),
  the median of ``--repeats`` runs of ``--uncached-steps`` steps after a warm-up, with their range;
* the median ``reset()`` time in microseconds, with and without the cache;
* whether each of the two SimArena rates meets the 20,000 steps/s floor.

Actions are drawn up front (uniform over the 7 actions, as for CartPole), episodes are pinned to one
canonical scenario, and ``reset()`` follows every episode end. Usage::

    .venv/bin/python benchmarks/bench_env.py [--steps 200000] [--scenario canonical-slightly-bad-cpu]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import sim_arena_gym  # noqa: E402,F401  (registers the envs)
from sim_arena_gym.scenarios.generate import canonical_scenarios  # noqa: E402


def steps_per_second(env: gym.Env, n: int, *, seed: int = 0, options: dict | None = None) -> float:
    env.reset(seed=seed, options=options)
    actions = np.random.default_rng(seed).integers(0, env.action_space.n, size=n).tolist()
    t0 = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset(options=options)
    return n / (time.perf_counter() - t0)


def reset_micros(env: gym.Env, n: int, *, options: dict | None = None) -> float:
    env.reset(seed=0, options=options)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        env.reset(options=options)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200_000, help="steps per cached measurement (default 200000)")
    parser.add_argument("--uncached-steps", type=int, default=3_000, help="steps per run without cache (default 3000)")
    parser.add_argument("--repeats", type=int, default=5, help="runs without cache; the median is shown (default 5)")
    parser.add_argument("--scenario", default="canonical-slightly-bad-cpu", help="canonical scenario id")
    args = parser.parse_args()

    scenarios = canonical_scenarios()
    if args.scenario not in {s.id for s in scenarios}:
        parser.error(f"--scenario must be one of {[s.id for s in scenarios]}")
    options = {"scenario": args.scenario}
    print(f"python {platform.python_version()}, gymnasium {gym.__version__}, numpy {np.__version__}, "
          f"{platform.machine()}, scenario {args.scenario}, random agent, gym.make")

    cartpole = gym.make("CartPole-v1")
    steps_per_second(cartpole, 20_000)  # warm-up
    cp = steps_per_second(cartpole, args.steps)
    print(f"CartPole-v1                  {cp:>10,.0f} steps/s")

    env = gym.make("SimArena-InsufficientResources-v0", scenarios=scenarios)
    t0 = time.perf_counter()
    env.reset(seed=0, options=options)
    first = (time.perf_counter() - t0) * 1e3
    steps_per_second(env, 20_000, options=options)  # warm-up: fills the outcome cache
    cached = steps_per_second(env, args.steps, options=options)
    info = env.unwrapped.cache_info()
    print(f"SimArena (outcome cache)     {cached:>10,.0f} steps/s   = {cached / cp:.2f} x CartPole   "
          f"(cache {info['size']} states, hit rate {info['hits'] / max(1, info['hits'] + info['misses']):.1%})")
    r_cached = reset_micros(env, 5_000, options=options)
    env.close()

    bare = gym.make("SimArena-InsufficientResources-v0", scenarios=scenarios, outcome_cache_size=0)
    steps_per_second(bare, 1_000, seed=1_000, options=options)  # warm-up (first parses), not timed
    runs = sorted(steps_per_second(bare, args.uncached_steps, seed=k, options=options) for k in range(args.repeats))
    uncached = statistics.median(runs)
    print(f"SimArena (no cache)          {uncached:>10,.0f} steps/s   = {uncached / cp:.3f} x CartPole   "
          f"(median of {len(runs)} runs of {args.uncached_steps:,} steps, {runs[0]:,.0f} to {runs[-1]:,.0f})")
    r_bare = reset_micros(bare, 300, options=options)
    bare.close()

    print(f"reset() median               {r_cached:>10,.1f} us with cache, {r_bare:,.1f} us without; "
          f"first reset (trace load + simulation) {first:.1f} ms")
    floor = 20_000
    print(f"floor {floor:,} steps/s with cache: {'met' if cached >= floor else 'NOT met'}; "
          f"without cache: {'met' if uncached >= floor else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

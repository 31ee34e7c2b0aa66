"""Env throughput as a user gets it, as ratios to CartPole-v1 measured in the same run.

Prints (not a test), in one run:

* **default env, train split**: ``gym.make("SimArena-InsufficientResources-v0")`` exactly as a user
  makes it (scenarios drawn from the train split, the default outcome cache), a random agent, and
  ``reset()`` after every episode end. Each repeat makes a fresh env, runs ``--warmup`` steps, then
  times ``--steps`` steps; CartPole-v1 (also through ``gym.make``, same agent and loop) is timed right
  before each repeat, and the ratio is taken per repeat;
* the same on the **test split** (``scenarios="test"``);
* **per family, cache off** (``outcome_cache_size=0``: every state change re-simulated): the train
  scenarios of one family, ``--family-steps`` steps per repeat after a warm-up, against the
  20,000 steps/s floor;
* the share of timed steps that reach a **new state** (one the cache has not seen), and a **best case**:
  the same seeded run repeated in the same env, so that every state it reaches is cached -- the ceiling
  the cache gives, and (by difference) what each new state costs;
* **reset()**: median time, cache on (after the warm-up) and off;
* **garbage collection**: the share of the timed wall time spent in the collector (``gc.callbacks``)
  and the number of full (generation-2) collections, per split;
* **memory**: the outcome cache's own bytes (``cache_info()["bytes"]``) and the peak resident memory
  of the process (``ru_maxrss``).

Rates are given in wall-clock time and in process CPU time. On a machine shared with other work the
wall figures swing with the load; CPU time counts only this process, so its ratios are the steadier
ones. Each figure is the median of ``--repeats`` repeats, with the range (min-max). Usage::

    .venv/bin/python benchmarks/bench_env.py            # about 5-8 minutes
    .venv/bin/python benchmarks/bench_env.py --quick    # fewer steps, for a smoke run
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import sim_arena_gym  # noqa: E402,F401  (registers the envs)
from sim_arena_gym.scenarios.index import load_scenario_set  # noqa: E402

ENV_ID = "SimArena-InsufficientResources-v0"
FLOOR = 20_000


def run_steps(env: gym.Env, n: int, seed: int) -> tuple[float, float]:
    """(wall steps/s, CPU steps/s) of ``n`` random steps, resetting at every episode end."""
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(0, env.action_space.n, size=n).tolist()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return n / wall, n / max(cpu, 1e-9)


class GcTimer:
    """Wall time spent in the garbage collector while active (``gc.callbacks``), in seconds."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0  # generation-2 collections
        self._start = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.full += info.get("generation") == 2

    def __enter__(self) -> "GcTimer":
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


def reset_micros(env: gym.Env, n: int) -> float:
    env.reset(seed=0)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        env.reset()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    """``median (min-max)``."""
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def cartpole_rate(steps: int, seed: int) -> tuple[float, float]:
    env = gym.make("CartPole-v1")
    run_steps(env, min(steps, 20_000), seed + 10_000)  # warm-up
    rate = run_steps(env, steps, seed)
    env.close()
    return rate


def bench_split(split: str, args: argparse.Namespace) -> dict:
    """The default env on ``split``: per repeat a fresh env and a CartPole reference."""
    kwargs = {} if split == "train" else {"scenarios": split}  # train: exactly gym.make(ENV_ID)
    rows = []
    for k in range(args.repeats):
        cp_wall, cp_cpu = cartpole_rate(args.cartpole_steps, k)
        env = gym.make(ENV_ID, **kwargs)
        run_steps(env, args.warmup, 1_000 + k)
        before = env.unwrapped.cache_info()
        with GcTimer() as gc_time:
            wall, cpu = run_steps(env, args.steps, k)
        info = env.unwrapped.cache_info()
        # The same seeded run again in the same env: the same scenarios and actions, so every state it
        # reaches is in the cache (a best case, shown only to split the cost between seen and new states).
        _, again_cpu = run_steps(env, args.steps, k)
        again = env.unwrapped.cache_info()
        new_states = info["misses"] - before["misses"]
        rows.append({"wall": wall, "cpu": cpu, "r_wall": wall / cp_wall, "r_cpu": cpu / cp_cpu,
                     "cp_wall": cp_wall, "cp_cpu": cp_cpu, "cache": info,
                     "gc_share": gc_time.seconds * wall / args.steps, "gc_full": gc_time.full,
                     "new_share": new_states / args.steps, "again_cpu": again_cpu,
                     "r_again": again_cpu / cp_cpu, "again_misses": again["misses"] - info["misses"],
                     "new_cost_us": (args.steps / cpu - args.steps / again_cpu) / max(1, new_states) * 1e6})
        if k == 0:
            reset_cached = reset_micros(env, 2_000)
        env.close()
    hits = [r["cache"]["hits"] / max(1, r["cache"]["hits"] + r["cache"]["misses"]) for r in rows]
    last = rows[-1]["cache"]
    print(f"default env, {split} split ({args.warmup:,} warm-up + {args.steps:,} timed steps, "
          f"{args.repeats} fresh envs):")
    print(f"  CartPole-v1          wall {spread([r['cp_wall'] for r in rows])} steps/s   "
          f"cpu {spread([r['cp_cpu'] for r in rows])} steps/s")
    print(f"  SimArena             wall {spread([r['wall'] for r in rows])} steps/s   "
          f"cpu {spread([r['cpu'] for r in rows])} steps/s")
    print(f"  ratio to CartPole    wall {spread([r['r_wall'] for r in rows], '{:.3f}')}   "
          f"cpu {spread([r['r_cpu'] for r in rows], '{:.3f}')}   (target >= 0.5 on train)")
    print(f"  outcome cache        {last['size']:,} of {last['maxsize']:,} states, "
          f"{last.get('bytes', float('nan')) / 2**20:.1f} MiB, hit rate over the run {spread(hits, '{:.1%}')}")
    print(f"  garbage collection   {spread([r['gc_share'] for r in rows], '{:.1%}')} of the timed wall time, "
          f"{spread([r['gc_full'] for r in rows])} full collections")
    print(f"  new states           {spread([r['new_share'] for r in rows], '{:.1%}')} of the timed steps reach a "
          f"state not seen before; each costs {spread([r['new_cost_us'] for r in rows])} us of CPU more than "
          f"a step to a seen state")
    print(f"  best case, all seen  the same seeded run again in the same env: cpu "
          f"{spread([r['again_cpu'] for r in rows])} steps/s = {spread([r['r_again'] for r in rows], '{:.3f}')}x "
          f"CartPole ({sum(r['again_misses'] for r in rows)} states not in the cache)")
    return {"rows": rows, "reset_cached": reset_cached}


def bench_families(args: argparse.Namespace) -> dict[str, list[float]]:
    by_family: dict[str, list] = collections.defaultdict(list)
    for s in load_scenario_set("train"):
        by_family[s.family].append(s)
    print(f"per family, train scenarios, cache off ({args.family_steps:,} steps x {args.repeats}, "
          f"CPU steps/s; wall in brackets; floor {FLOOR:,}):")
    out = {}
    for family in sorted(by_family):
        env = gym.make(ENV_ID, scenarios=by_family[family], outcome_cache_size=0)
        run_steps(env, 300, 99)  # warm-up: first parses, node sets
        runs = [run_steps(env, args.family_steps, k) for k in range(args.repeats)]
        cpu = [r[1] for r in runs]
        wall = [r[0] for r in runs]
        out[family] = cpu
        verdict = "met" if statistics.median(cpu) >= FLOOR else "NOT met"
        print(f"  {family:24s} {spread(cpu):>26s}   [{spread(wall)}]   {verdict}")
        env.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200_000, help="timed steps per default-env repeat")
    parser.add_argument("--warmup", type=int, default=100_000, help="untimed steps first (the cache fills)")
    parser.add_argument("--cartpole-steps", type=int, default=100_000, help="timed CartPole steps per repeat")
    parser.add_argument("--family-steps", type=int, default=2_000, help="timed steps per family repeat")
    parser.add_argument("--repeats", type=int, default=3, help="repeats; medians and ranges are shown")
    parser.add_argument("--quick", action="store_true", help="10x fewer steps (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.warmup, args.cartpole_steps = args.steps // 10, args.warmup // 10, args.cartpole_steps // 10
        args.family_steps = max(200, args.family_steps // 10)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {platform.python_version()}, gymnasium {gym.__version__}, numpy {np.__version__}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load:.1f}; random agent through gym.make")
    train = bench_split("train", args)
    bench_split("test", args)
    bench_families(args)
    bare = gym.make(ENV_ID, outcome_cache_size=0)
    run_steps(bare, 1_000, 5)
    reset_bare = reset_micros(bare, 500)
    bare.close()
    print(f"reset() median: {train['reset_cached']:.1f} us with the cache (train split, after the run), "
          f"{reset_bare:.1f} us without")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mib = peak / 2**20 if sys.platform == "darwin" else peak / 1024
    print(f"peak resident memory of this process: {peak_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The end-to-end walkthrough: create -> wait -> observe -> agent action -> reward -> cleanup.

    .venv/bin/python examples/demo.py                                   # embedded backend (in process)
    .venv/bin/python examples/demo.py --backend simkube \\
        --kubeconfig /tmp/fake.kubeconfig --trace-store /tmp/traces --speed 10000 --settle-seconds 0.02

One canonical scenario, one hand-coded agent (``heuristic`` by default); each phase prints one short,
labelled block, fit for a slide. docs/DEMO_GUIDE.md explains every line and the simkube variants.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym

import agents
import sim_arena_gym  # noqa: F401  (registers the environments)
from sim_arena_gym.scenarios.generate import canonical_scenarios


def _pods(info: dict) -> str:
    return f"{info['ready']}/{info['target']} Ready, {info['pending']} Pending"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="canonical-very-bad-cpu", help="a canonical scenario id")
    parser.add_argument("--policy", default="heuristic", choices=agents.available())
    parser.add_argument("--backend", choices=("embedded", "simkube"), default="embedded")
    parser.add_argument("--kubeconfig", help="simkube: kubeconfig of the cluster")
    parser.add_argument("--trace-store", help="simkube: the folder the SimKube driver reads traces from")
    parser.add_argument("--speed", type=float, help="simkube: SimKube speed factor")
    parser.add_argument("--settle-seconds", type=float, help="simkube: seconds the scheduler settles after the last event")
    args = parser.parse_args()

    canon = {s.id: s for s in canonical_scenarios()}
    if args.scenario not in canon:
        parser.error(f"--scenario {args.scenario}: choose one of {', '.join(canon)}")
    options = {key: value for key, value in (("kubeconfig", args.kubeconfig), ("trace_store", args.trace_store),
                                             ("speed", args.speed), ("settle_seconds", args.settle_seconds))
               if value is not None}
    if args.backend == "embedded" and options:
        parser.error("--kubeconfig, --trace-store, --speed and --settle-seconds need --backend simkube")

    print(f"1. create   SimArena-InsufficientResources-v0, scenario {args.scenario}, backend {args.backend}")
    env = gym.make("SimArena-InsufficientResources-v0", scenarios=[canon[args.scenario]],
                   backend=args.backend, backend_options=options)
    try:
        policy = agents.make(args.policy, env=env)
        started = time.perf_counter()
        obs, info = env.reset(seed=0)
        print(f"2. wait     the trace was simulated in {time.perf_counter() - started:.3f} s")
        print(f"3. observe  {env.unwrapped.scenario.workload}: {_pods(info)}; replicas {info['replicas']}")
        if info["scheduling_message"]:
            print(f"            pending: {info['scheduling_message']}")
        print(f"            observation vector of {obs.shape[0]} features, first 3: "
              f"{', '.join(f'{x:.2f}' for x in obs[:3])}")
        total = 0.0
        step = 0
        terminated = truncated = False
        while not (terminated or truncated):
            obs, reward, terminated, truncated, info = env.step(policy.act(obs, info))
            step += 1
            total += reward
            print(f"4. act      step {step}: {args.policy} chose {info['action']:<13} -> {_pods(info)}")
            print(f"5. reward   {reward:+.3f} (return so far {total:+.3f})")
        verdict = f"repaired in {step} steps" if info["success"] else f"not repaired after {step} steps"
        print(f"   result   {verdict}; requests now {info['requests']}")
    finally:
        env.close()
    print("6. cleanup  env.close(): the backend released what it held")
    return 0 if info["success"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

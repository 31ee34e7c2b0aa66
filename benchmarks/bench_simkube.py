"""Step latency of the simkube backend against the fake cluster, beside the embedded backend.

Every step is a real round trip through the ``kubernetes`` client over HTTP on 127.0.0.1: write the
trace, create the Simulation, watch it to Running, watch for the virtual namespaces, settle, read pods,
delete and wait until gone. The share of wall time spent in HTTP requests and in deliberate waits
(settling, polling) and in watch streams (waiting for the Simulation and its namespaces) is reported
from the backend's own counters.

    .venv/bin/python benchmarks/bench_simkube.py [--steps 40]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sim_arena_gym.backends import make_backend
from sim_arena_gym.scenarios.index import load_scenario_set
from sim_arena_gym.testing.fake_cluster import FakeCluster
from sim_arena_gym.trace.codec import load_trace


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    scenario = load_scenario_set("canonical")[0]
    trace = load_trace(scenario.trace_path)

    embedded = make_backend("embedded")
    embedded.run(trace, scenario)
    emb = []
    for _ in range(args.steps):
        t = time.perf_counter()
        embedded.run(trace, scenario)
        emb.append(time.perf_counter() - t)

    with FakeCluster() as cluster:
        backend = make_backend("simkube", **cluster.backend_options())
        backend.run(trace, scenario)  # nodes are made on the first step
        backend.timing.update(http_s=0.0, watch_s=0.0, wait_s=0.0, steps=0)
        sk = []
        for _ in range(args.steps):
            t = time.perf_counter()
            backend.run(trace, scenario)
            sk.append(time.perf_counter() - t)
        timing = dict(backend.timing)
        backend.close()
    total = sum(sk)
    print(f"scenario {scenario.id}, {args.steps} steps, fake cluster options speed=10000 settle_seconds=0.02")
    print(f"simkube (fake cluster, HTTP): median {statistics.median(sk) * 1e3:.1f} ms, p90 {_pct(sk, 0.9) * 1e3:.1f} ms")
    http, watching, sleeping = timing["http_s"] / total, timing["watch_s"] / total, timing["wait_s"] / total
    print(f"  share of step time: HTTP requests {http:.0%}, waiting in watches {watching:.0%}, "
          f"settle/poll sleeps {sleeping:.0%}, the rest (trace write with fsync, JSON, outcome) "
          f"{1 - http - watching - sleeping:.0%}")
    print(f"embedded:                     median {statistics.median(emb) * 1e6:.0f} us, p90 {_pct(emb, 0.9) * 1e6:.0f} us")
    print(f"ratio simkube/embedded (median): {statistics.median(sk) / statistics.median(emb):.0f}x")


if __name__ == "__main__":
    main()

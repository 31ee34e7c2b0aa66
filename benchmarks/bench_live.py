"""Latency of the live cluster (``sim-arena serve``) through the official ``kubernetes`` client.

Each edit is a strategic merge PATCH of the target Deployment's CPU request over HTTP on 127.0.0.1:
validation, safeguards, one env step (re-simulation; the outcome cache is off, so every edit
simulates), and the served objects replaced. Reads are ``list pods`` and ``list events`` of the
namespace. Edits alternate between two requests, each episode reset after ``max_steps`` edits.

    .venv/bin/python benchmarks/bench_live.py [--edits 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from kubernetes import client, config

from sim_arena_gym.live import LiveCluster


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        with LiveCluster("canonical", {"max_steps": 20, "outcome_cache_size": 0}, scenario="canonical-very-bad-cpu",
                         kubeconfig_path=kubeconfig) as cluster:
            api = config.new_client_from_config(str(kubeconfig))
            core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
            edits, reads = [], []
            for i in range(args.edits):
                if cluster.done:
                    cluster.reset("canonical-very-bad-cpu")
                cpu = "12" if i % 2 else "13"
                body = {"spec": {"template": {"spec": {"containers": [{"name": "web", "resources": {"requests": {"cpu": cpu}}}]}}}}
                t = time.perf_counter()
                apps.patch_namespaced_deployment("web", "shop", body)
                edits.append(time.perf_counter() - t)
                t = time.perf_counter()
                core.list_namespaced_pod("shop")
                core.list_namespaced_event("shop")
                reads.append(time.perf_counter() - t)
            api.close()
    print(f"live cluster, {args.edits} edits through the kubernetes client (HTTP, 127.0.0.1)")
    print(f"  edit (PATCH + re-simulation + republish): median {1000 * statistics.median(edits):.2f} ms, "
          f"p90 {1000 * _pct(edits, 0.9):.2f} ms")
    print(f"  read (list pods + list events):           median {1000 * statistics.median(reads):.2f} ms, "
          f"p90 {1000 * _pct(reads, 0.9):.2f} ms")


if __name__ == "__main__":
    main()

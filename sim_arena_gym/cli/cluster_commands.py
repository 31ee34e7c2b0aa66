"""``sim-arena fake-cluster``: run the fake Kubernetes + SimKube cluster in the foreground.

Example::

    sim-arena fake-cluster --port 6443 --kubeconfig-out /tmp/fake.kubeconfig --trace-store /tmp/traces
    sim-arena demo --backend simkube --kubeconfig /tmp/fake.kubeconfig --trace-store /tmp/traces --speed 10000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sim_arena_gym.cli import UsageError


def register(commands: Any, trace_commands: Any) -> None:
    """Add ``fake-cluster``."""
    p = commands.add_parser(
        "fake-cluster",
        help="serve a fake Kubernetes API with SimKube (on 127.0.0.1) until interrupted",
        description=(
            "A Kubernetes API server on 127.0.0.1 whose simkube.io Simulations replay on the embedded "
            "simulator. Point any Kubernetes client at the kubeconfig it writes; its driver reads a tracePath "
            "file:///data/NAME from DIR/NAME, as a kind node's /data mount would. Ctrl-C stops it."
        ),
    )
    p.add_argument("--port", metavar="N", type=int, default=0, help="TCP port (default: any free port)")
    p.add_argument("--kubeconfig-out", metavar="PATH", type=Path, help="write the kubeconfig here (default: a temporary file)")
    p.add_argument("--trace-store", metavar="DIR", type=Path, help="the folder the driver reads traces from (default: a temporary folder)")
    p.set_defaults(func=cmd_fake_cluster)


def cmd_fake_cluster(args: argparse.Namespace) -> int:
    """``sim-arena fake-cluster``: serve the fake cluster until interrupted."""
    from sim_arena_gym.testing.fake_cluster import FakeCluster

    if not 0 <= args.port < 65536:
        raise UsageError(f"--port {args.port}: expected 0-65535")
    if args.trace_store is not None and not args.trace_store.is_dir():
        raise UsageError(f"--trace-store {args.trace_store}: not a folder")
    if args.kubeconfig_out is not None and not args.kubeconfig_out.parent.is_dir():
        raise UsageError(f"--kubeconfig-out {args.kubeconfig_out}: folder {args.kubeconfig_out.parent} does not exist")
    try:
        cluster = FakeCluster(port=args.port, trace_store=args.trace_store, kubeconfig_path=args.kubeconfig_out)
    except OSError as exc:
        raise UsageError(f"--port {args.port}: cannot listen on 127.0.0.1 ({exc.strerror})") from None
    with cluster:
        print(f"fake cluster serving {cluster.url}", flush=True)
        print(f"kubeconfig: {cluster.kubeconfig}", flush=True)
        print(f"trace store: {cluster.trace_store} (seen by the driver as file:///data)", flush=True)
        print(f"try: sim-arena demo --backend simkube --kubeconfig {cluster.kubeconfig} "
              f"--trace-store {cluster.trace_store} --speed 10000 --settle-seconds 0.02", flush=True)
        try:
            import threading

            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping", file=sys.stderr)
    return 0

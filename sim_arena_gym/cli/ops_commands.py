"""``sim-arena preflight`` and ``sim-arena clean``: is a cluster ready for the simkube backend, and
remove what runs left in it.

Examples::

    sim-arena preflight --kubeconfig ~/.kube/sim-arena --trace-store ~/sim-arena-traces
    sim-arena preflight --kubeconfig ~/.kube/sim-arena --json
    sim-arena clean --kubeconfig ~/.kube/sim-arena --trace-store ~/sim-arena-traces
    sim-arena clean --kubeconfig ~/.kube/sim-arena --all
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sim_arena_gym.cli.backend_flags import add_simkube_arguments, simkube_option_values


def register(commands: Any, trace_commands: Any) -> None:
    """Add ``preflight`` and ``clean``."""
    pf = commands.add_parser(
        "preflight",
        help="check that a cluster is ready for --backend simkube (each check with its fix)",
        description=(
            "Check the cluster the kubeconfig points at: reachable, version, the Simulation CRD, the SimKube "
            "controller, the monitoring and driver namespaces, cert-manager's selfsigned ClusterIssuer, KWOK, "
            "the permissions the backend needs (SelfSubjectAccessReviews), the trace store, and (a probe Simulation) "
            "that the driver reads it. One line per check, with the fix as a command. Exit 0 when every check passes, 1 otherwise."
        ),
    )
    add_simkube_arguments(pf)
    pf.add_argument("--json", action="store_true", help="print the checks as JSON")
    pf.add_argument("--no-probe", dest="probe", action="store_false",
                    help="skip the last check, a probe Simulation that proves the driver reads the trace store")
    pf.set_defaults(func=cmd_preflight)

    cl = commands.add_parser(
        "clean",
        help="remove Simulations, virtual namespaces, nodes and trace files that sim-arena runs left",
        description=(
            "Delete every object labelled app.kubernetes.io/managed-by=sim-arena-gym (Simulations, virtual "
            "namespaces, KWOK nodes) of every run and env instance, and the runs' trace files in --trace-store, "
            "and wait until they are gone. A second run reports nothing to do. Exit 0."
        ),
    )
    add_simkube_arguments(cl)
    cl.add_argument("--run", metavar="ID", help="only this run (8 hex digits, label sim-arena.io/run)")
    cl.add_argument("--instance", metavar="ID", help="only this env instance (label sim-arena.io/instance, e.g. w1-e0)")
    cl.add_argument("--all", dest="everything", action="store_true",
                    help="also unlabelled objects named like the backend's (sa-<run>-...), e.g. virtual namespaces "
                         "of a run killed before it labelled them")
    cl.set_defaults(func=cmd_clean)


def cmd_preflight(args: argparse.Namespace) -> int:
    """``sim-arena preflight``: check the cluster; exit 1 when a check fails."""
    from sim_arena_gym.ops.preflight import preflight

    report = preflight(simkube_option_values(args), probe=args.probe)
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(report.text())
    return 0 if report.ok else 1


def cmd_clean(args: argparse.Namespace) -> int:
    """``sim-arena clean``: remove what sim-arena runs left in the cluster."""
    import re

    from sim_arena_gym.cli import UsageError
    from sim_arena_gym.ops.clean import clean

    if args.run is not None and not re.fullmatch(r"[0-9a-f]{8}", args.run):
        raise UsageError(f"--run {args.run!r}: expected 8 lowercase hex digits (the label sim-arena.io/run)")
    report = clean(simkube_option_values(args), run_id=args.run, instance=args.instance, everything=args.everything)
    sys.stdout.write(report.text())
    return 0

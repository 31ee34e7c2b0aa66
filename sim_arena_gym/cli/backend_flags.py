"""Backend flags shared by every command that runs episodes.

``add_backend_arguments(parser)`` adds ``--backend {embedded,simkube}`` and the simkube options
(``--kubeconfig``, ``--context``, ``--trace-store``, ...); ``backend_config(args)`` turns them into
the env's ``backend`` and ``backend_options`` (``UsageError`` for a flag that cannot work)."""

from __future__ import annotations

import argparse
from typing import Any

from sim_arena_gym.cli import UsageError

__all__ = ["add_backend_arguments", "add_simkube_arguments", "backend_config", "preflight_passes", "simkube_option_values"]

#: flag -> (option name, type, help)
_SIMKUBE_FLAGS: tuple[tuple[str, str, Any, str], ...] = (
    ("--kubeconfig", "kubeconfig", str, "kubeconfig file of the SimKube cluster (default $KUBECONFIG or ~/.kube/config)"),
    ("--context", "context", str, "kubeconfig context (default: the current one)"),
    ("--trace-store", "trace_store", str, "local folder the cluster's nodes mount (the driver reads traces from it)"),
    ("--trace-store-url", "trace_store_url", str, "URL under which the driver sees --trace-store (default file:///data)"),
    ("--driver-image", "driver_image", str, "sk-driver image (default quay.io/appliedcomputing/sk-driver:v2.7.0)"),
    ("--driver-namespace", "driver_namespace", str, "namespace of the driver Job (default simkube)"),
    ("--driver-port", "driver_port", int, "driver webhook port (default 8888)"),
    ("--virtual-ns-prefix", "virtual_ns_prefix", str, "prefix of the simulated namespaces (default sa-<run id>)"),
    ("--speed", "speed", float, "SimKube speed factor (default 1)"),
    ("--duration", "duration", str, "Simulation duration such as +5m (default: trace span + settle + read window)"),
    ("--settle-seconds", "settle_seconds", float, "seconds to let the scheduler settle after the last event (default 5)"),
    ("--start-timeout", "start_timeout", float, "most seconds until a Simulation runs (default 120)"),
    ("--lease-timeout", "lease_timeout", float, "most seconds to wait behind another simulation (default 600)"),
    ("--request-timeout", "request_timeout", float, "seconds per API request (default 10)"),
    ("--controller-namespace", "controller_namespace", str, "namespace of sk-ctrl and its lease (default simkube)"),
)
#: Flags of the cluster tools (preflight, clean): where the cluster and the store are.
CLUSTER_FLAGS = ("kubeconfig", "context", "trace_store", "trace_store_url", "driver_namespace", "controller_namespace",
                 "request_timeout")


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--backend`` and the simkube flags to ``parser``."""
    group = parser.add_argument_group("backend", "where each step is simulated (docs/SIMKUBE.md for simkube)")
    group.add_argument("--backend", choices=("embedded", "simkube"), default="embedded",
                       help="embedded (in process, default) or simkube (a SimKube cluster through the Kubernetes API)")
    for flag, dest, type_, text in _SIMKUBE_FLAGS:
        group.add_argument(flag, dest=f"simkube_{dest}", metavar=dest.upper(), type=type_, default=None, help=text)
    group.add_argument("--keep-simulations", action="store_true",
                       help="leave each step's Simulation in the cluster for inspection (`sim-arena clean` removes it)")


def add_simkube_arguments(parser: argparse.ArgumentParser, names: tuple[str, ...] = CLUSTER_FLAGS) -> None:
    """Add the simkube flags whose option names are in ``names`` (no ``--backend``)."""
    for flag, dest, type_, text in _SIMKUBE_FLAGS:
        if dest in names:
            parser.add_argument(flag, dest=f"simkube_{dest}", metavar=dest.upper(), type=type_, default=None, help=text)


def simkube_option_values(args: argparse.Namespace) -> dict[str, Any]:
    """The simkube options given on the command line, validated (``UsageError`` naming a bad one)."""
    from sim_arena_gym.backends.simkube_options import SimKubeOptionError, SimKubeOptions

    options = {dest: getattr(args, f"simkube_{dest}") for _, dest, _, _ in _SIMKUBE_FLAGS
               if getattr(args, f"simkube_{dest}", None) is not None}
    try:
        SimKubeOptions.from_mapping(options, require_trace_store=False)
    except SimKubeOptionError as exc:
        raise UsageError(str(exc)) from None
    return options


def backend_config(args: argparse.Namespace) -> dict[str, Any]:
    """``{"backend": ..., "backend_options": {...}}`` for the env, from the parsed flags."""
    backend = getattr(args, "backend", "embedded") or "embedded"
    options = {dest: getattr(args, f"simkube_{dest}") for _, dest, _, _ in _SIMKUBE_FLAGS
               if getattr(args, f"simkube_{dest}", None) is not None}
    if backend == "embedded":
        if options or getattr(args, "keep_simulations", False):
            flags = ", ".join([f for f, d, _, _ in _SIMKUBE_FLAGS if d in options]
                              + (["--keep-simulations"] if getattr(args, "keep_simulations", False) else []))
            raise UsageError(f"{flags}: simkube flags need --backend simkube")
        return {"backend": "embedded", "backend_options": {}}
    if "trace_store" not in options:
        raise UsageError("--backend simkube needs --trace-store DIR (a folder the cluster's nodes mount as /data)")
    options = simkube_option_values(args)
    if getattr(args, "keep_simulations", False):
        options["keep_simulations"] = True
    return {"backend": "simkube", "backend_options": options}


def preflight_passes(backend: dict[str, Any], before: str) -> bool:
    """On the simkube backend, run the preflight checks once (what an episode series does first); when
    one fails print the report and a one-line error naming what was not started (``before``). True
    when the series may start (always on the embedded backend)."""
    import sys

    if backend["backend"] != "simkube":
        return True
    from sim_arena_gym.ops.preflight import preflight

    report = preflight(backend["backend_options"])
    if not report.ok:
        sys.stdout.write(report.text())
        sys.stderr.write(f"sim-arena: error: preflight failed; fix the checks above before {before}\n")
        return False
    sys.stderr.write(f"preflight: all {len(report.checks)} checks passed\n")
    return True

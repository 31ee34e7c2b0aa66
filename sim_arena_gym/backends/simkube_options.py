"""Options of the simkube backend, validated up front: a bad one is one :class:`SimKubeOptionError`
naming the option.

Times are seconds of wall-clock time unless they say ``sim``; ``speed`` divides simulated time
(SimKube's ``spec.speed``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import Any, Mapping

__all__ = ["SimKubeOptionError", "SimKubeOptions", "DEFAULT_DRIVER_IMAGE"]

DEFAULT_DRIVER_IMAGE = "quay.io/appliedcomputing/sk-driver:v2.7.0"


class SimKubeOptionError(ValueError):
    """A simkube backend option is missing or has a bad value; the message names it."""


@dataclass(frozen=True)
class SimKubeOptions:
    """Every option of :class:`~sim_arena_gym.backends.simkube.SimKubeBackend`.

    Attributes:
        kubeconfig: kubeconfig file (``None``: ``$KUBECONFIG`` or ``~/.kube/config``).
        context: kubeconfig context (``None``: the current one).
        trace_store: local folder the backend writes traces into; the cluster's nodes must see it
            (a kind ``extraMounts`` host folder). Required.
        trace_store_url: the URL under which the driver sees ``trace_store``: ``file:///data`` (the
            node mount), or an object-store URL (``s3://bucket/prefix``) that ``trace_store`` is synced
            to; the Simulation's ``tracePath`` is ``<trace_store_url>/<file>``.
        driver_image, driver_namespace, driver_port: ``spec.driver`` fields (skctl's defaults).
        controller_namespace: where sk-ctrl runs and keeps the Lease ``sk-lease``.
        virtual_ns_prefix: ``spec.driver.virtualNsPrefix`` (``None``: ``sa-<run id>``).
        speed: ``spec.speed``; the driver sleeps ``(next_ts - ts) / speed`` between events.
        duration: ``spec.duration`` (``"+5m"``); ``None``: the trace span plus the settling and read
            windows (scaled by ``speed``), so that the pods are observed before the driver deletes
            its root.
        settle_seconds: wall-clock seconds to wait after the last event before reading pods (the
            scheduler and controllers settle).
        read_window_seconds: wall-clock seconds the simulation stays up after settling, for reading.
        request_timeout: seconds per HTTP request.
        start_timeout: most seconds from creating the Simulation until its driver starts (not
            counting ``Blocked``).
        lease_timeout: most seconds to wait while ``Blocked`` behind another simulation's lease.
        cleanup_timeout: most seconds to wait for the Simulation and the virtual namespaces to go.
        node_ready_timeout: most seconds to wait for created nodes to be Ready.
        watch_retries: watches resumed after the server closes them early, per wait.
        foreign_nodes: ``"error"``: refuse to run when virtual nodes that no sim-arena-gym run made
            exist (they change the scheduler's messages); ``"allow"``: run anyway.
        instance: the env instance id (``EnvInstance.id``, e.g. ``"w1-e0"``), put on everything the
            run makes as label ``sim-arena.io/instance`` (lowercase letters, digits, ``-``; at most 30).
        keep_simulations: leave each step's Simulation (and its trace file) in the cluster for
            inspection instead of deleting it; ``sim-arena clean`` removes them.
    """

    kubeconfig: str | None = None
    context: str | None = None
    trace_store: str | None = None
    trace_store_url: str = "file:///data"
    driver_image: str = DEFAULT_DRIVER_IMAGE
    driver_namespace: str = "simkube"
    driver_port: int = 8888
    controller_namespace: str = "simkube"
    virtual_ns_prefix: str | None = None
    speed: float = 1.0
    duration: str | None = None
    settle_seconds: float = 5.0
    read_window_seconds: float = 60.0
    request_timeout: float = 10.0
    start_timeout: float = 120.0
    lease_timeout: float = 600.0
    cleanup_timeout: float = 120.0
    node_ready_timeout: float = 60.0
    watch_retries: int = 3
    foreign_nodes: str = "error"
    instance: str | None = None
    keep_simulations: bool = False

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any], *, require_trace_store: bool = True) -> "SimKubeOptions":
        """Validated options from plain values (``backend_options``); :class:`SimKubeOptionError`
        naming the first bad option. The cluster tools (preflight, clean) pass
        ``require_trace_store=False``: without one they skip what needs it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise SimKubeOptionError(
                f"simkube backend: unknown option {unknown[0]!r}; known options: {', '.join(sorted(known))}"
            )
        values = dict(options)
        for name in ("kubeconfig", "context", "trace_store", "virtual_ns_prefix", "duration"):
            v = values.get(name)
            if v is not None and not isinstance(v, str):
                if name in ("kubeconfig", "trace_store") and hasattr(v, "__fspath__"):
                    values[name] = str(v)
                else:
                    raise SimKubeOptionError(f"simkube backend option {name!r}: expected a string, got {v!r}")
        for name in ("trace_store_url", "driver_image", "driver_namespace", "controller_namespace", "foreign_nodes"):
            if name in values and (not isinstance(values[name], str) or not values[name]):
                raise SimKubeOptionError(f"simkube backend option {name!r}: expected a non-empty string, got {values[name]!r}")
        for name in ("speed", "settle_seconds", "read_window_seconds", "request_timeout", "start_timeout",
                     "lease_timeout", "cleanup_timeout", "node_ready_timeout"):
            if name in values:
                v = values[name]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise SimKubeOptionError(f"simkube backend option {name!r}: expected a number, got {v!r}")
                positive = name in ("speed", "request_timeout", "start_timeout", "cleanup_timeout", "node_ready_timeout")
                if (v <= 0) if positive else (v < 0):
                    need = "positive" if positive else "zero or more"
                    raise SimKubeOptionError(f"simkube backend option {name!r}: must be {need}, got {v!r}")
                values[name] = float(v)
        for name in ("driver_port", "watch_retries"):
            if name in values:
                v = values[name]
                if isinstance(v, bool) or not isinstance(v, int) or v < 0 or (name == "driver_port" and not 0 < v < 65536):
                    raise SimKubeOptionError(f"simkube backend option {name!r}: expected a port / count, got {v!r}")
        if values.get("foreign_nodes", "error") not in ("error", "allow"):
            raise SimKubeOptionError(
                f"simkube backend option 'foreign_nodes': expected 'error' or 'allow', got {values['foreign_nodes']!r}"
            )
        if require_trace_store and not values.get("trace_store"):
            raise SimKubeOptionError(
                "simkube backend option 'trace_store' is required: a local folder the cluster's nodes mount "
                "(e.g. the host folder of a kind extraMounts entry for /data)"
            )
        if values.get("duration") is not None:
            from sim_arena_gym.backends.simkube_timing import parse_duration

            try:
                parse_duration(values["duration"])
            except ValueError as exc:
                raise SimKubeOptionError(f"simkube backend option 'duration': {exc}") from None
        if "keep_simulations" in values and not isinstance(values["keep_simulations"], bool):
            raise SimKubeOptionError(f"simkube backend option 'keep_simulations': expected true or false, got {values['keep_simulations']!r}")
        inst = values.get("instance")
        if inst is not None and (not isinstance(inst, str) or not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,28}[a-z0-9])?", inst)):
            raise SimKubeOptionError(
                f"simkube backend option 'instance': {inst!r} must be lowercase letters, digits and '-' (at most 30, "
                "alphanumeric ends), such as EnvInstance.id 'w1-e0'"
            )
        prefix = values.get("virtual_ns_prefix")
        if prefix is not None and (not prefix or len(prefix) > 40 or not all(c.isalnum() and c.islower() or c.isdigit() or c == "-" for c in prefix)):
            raise SimKubeOptionError(
                f"simkube backend option 'virtual_ns_prefix': {prefix!r} must be lowercase letters, digits and '-' (at most 40)"
            )
        return cls(**values)

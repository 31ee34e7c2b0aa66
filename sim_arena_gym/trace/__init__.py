"""SimKube traces: read, validate, inspect, edit and write ``.sktrace`` (msgpack) and JSON traces.

Public API (see ``docs/ARCHITECTURE.md``)::

    from sim_arena_gym.trace import load_trace, edit_workload, save_trace
    trace = load_trace("traces/x.sktrace")
    trace = edit_workload(trace, "dsb/compose-post-service", requests={"*": {"cpu": "500m"}})
    save_trace(trace, "traces/x-fixed.sktrace")

The model (:class:`Trace`, :class:`TraceEvent`), the errors and :class:`WorkloadRef` are imported
eagerly; the codec, hashing and workload helpers are imported on first use, so that
``import sim_arena_gym.trace`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sim_arena_gym.trace.errors import (
    QuantityFieldError,
    TraceConfigError,
    TraceError,
    TraceFormatError,
    TraceVersionError,
    WorkloadError,
)
from sim_arena_gym.trace.model import SUPPORTED_VERSION, Trace, TraceEvent
from sim_arena_gym.trace.refs import KIND_TO_GVK, WorkloadRef, gvk_of

if TYPE_CHECKING:  # pragma: no cover
    from sim_arena_gym.trace.codec import dumps_trace, load_trace, loads_trace, save_trace
    from sim_arena_gym.trace.hashing import pod_stable_spec_hash, refresh_index, siphash13, sk_hash
    from sim_arena_gym.trace.workloads import (
        ContainerResources,
        WorkloadInfo,
        edit_workload,
        find_workload,
        list_workloads,
    )

#: Lazily imported name -> defining module.
_LAZY = {
    "load_trace": "codec",
    "loads_trace": "codec",
    "dumps_trace": "codec",
    "save_trace": "codec",
    "sk_hash": "hashing",
    "siphash13": "hashing",
    "pod_stable_spec_hash": "hashing",
    "refresh_index": "hashing",
    "list_workloads": "workloads",
    "find_workload": "workloads",
    "edit_workload": "workloads",
    "ContainerResources": "workloads",
    "WorkloadInfo": "workloads",
}

__all__ = [
    "KIND_TO_GVK",
    "SUPPORTED_VERSION",
    "QuantityFieldError",
    "Trace",
    "TraceConfigError",
    "TraceError",
    "TraceEvent",
    "TraceFormatError",
    "TraceVersionError",
    "WorkloadError",
    "WorkloadRef",
    "gvk_of",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

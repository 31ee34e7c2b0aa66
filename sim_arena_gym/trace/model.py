"""The in-memory model of a SimKube trace (format version 2).

The model mirrors SimKube's ``Trace`` struct (``sk-core/src/trace/mod.rs``): a version, the tracer
config, time-ordered events, the object index and the pod lifecycles. Kubernetes objects stay plain
``dict`` values exactly as decoded (key order kept), so unknown fields survive a load/save round trip
byte for byte. Typed views of workloads live in :mod:`sim_arena_gym.trace.workloads`; the bytes on disk
are owned by :mod:`sim_arena_gym.trace.codec` alone.

Sharing rule: editing helpers never mutate a ``Trace`` in place. They return a new ``Trace`` that shares
every unchanged event list and object dict with the original (structural sharing), so that a backend may
cache parsed objects by identity (``id(obj)``) across edits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The only trace format version SimKube 2.x reads and writes.
SUPPORTED_VERSION = 2

#: JSON-like Kubernetes object, as decoded from the trace (maps are ``dict`` in file order).
KubeObject = dict[str, Any]

#: Owner key of ``pod_lifecycles``: ``(owner GVK string, "namespace/name")``, e.g.
#: ``("apps/v1.Deployment", "default/web")``. Decoded from a 2-element msgpack array.
OwnerKey = tuple[str, str]

#: One pod lifecycle entry as stored: ``"Empty"``, ``{"Running": start_ts}`` or
#: ``{"Finished": [start_ts, end_ts]}`` (Unix seconds).
LifecycleEntry = Any


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One trace event: the objects applied and deleted at second ``ts``.

    Attributes:
        ts: Unix time in whole seconds (UTC).
        applied_objs: full desired state of each object applied (server-side apply on replay).
        deleted_objs: objects deleted; only ``apiVersion``, ``kind`` and ``metadata.namespace/name``
            matter (the current tracer writes such stubs; older traces carry full objects).
        extra: unknown keys found in the event map, kept in file order and written back after the
            known keys.
    """

    ts: int
    applied_objs: tuple[KubeObject, ...]
    deleted_objs: tuple[KubeObject, ...]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Trace:
    """A SimKube trace, format version 2.

    Attributes:
        version: format version; always :data:`SUPPORTED_VERSION` for a loaded trace.
        config: the ``TracerConfig`` map as decoded (``{"trackedObjects": {gvk: {...}}}``), key order
            kept. Legacy keys (``podSpecTemplatePath``) are kept as found so the file round-trips;
            :func:`sim_arena_gym.trace.config.pod_spec_template_paths` gives the normalised view.
        events: events in file order (non-decreasing ``ts``).
        index: GVK string -> ("namespace/name" -> uint64 hash of the object's last applied ``spec``).
        pod_lifecycles: owner key -> (uint64 pod stable-spec hash -> list of lifecycle entries), in
            file order.
        extra: unknown top-level keys (e.g. a community ``metadata`` map), kept in file order and
            written back after the five known keys.
        source: where the trace was read from (a path or ``"<bytes>"``), for error messages; not
            written to disk.
        stale_index: ``(gvk, "namespace/name")`` index entries whose hash no longer matches the last
            applied ``spec`` because an editing helper changed it. Hashing is deferred to keep edits
            cheap (microseconds); the writer recomputes these entries before encoding.
    """

    version: int
    config: dict[str, Any]
    events: tuple[TraceEvent, ...]
    index: dict[str, dict[str, int]]
    pod_lifecycles: dict[OwnerKey, dict[int, list[LifecycleEntry]]]
    extra: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    stale_index: frozenset[tuple[str, str]] = frozenset()

    @property
    def start_ts(self) -> int | None:
        """Timestamp of the first event (seconds), or ``None`` for an empty trace."""
        return self.events[0].ts if self.events else None

    @property
    def end_ts(self) -> int | None:
        """Timestamp of the last event (seconds), or ``None`` for an empty trace."""
        return self.events[-1].ts if self.events else None

"""Read and write SimKube trace files: the only module that touches trace bytes.

Formats (``shared/docs/simkube-trace-format.md`` sections 1 and 2):

* **msgpack** (``.sktrace``): one msgpack map, no framing or trailing data, as SimKube 2.x writes it
  with rmp-serde: keys ``version`` (2), ``config``, ``events``, ``index``, ``pod_lifecycles`` in that
  order; strings never bin; integers in their smallest encoding. Decoding then encoding an unchanged
  trace reproduces the file byte for byte (dict order is kept everywhere, unknown keys included).
* **JSON** (SimKube's ``testutils/data/*.json``): the same structure as a JSON object. JSON cannot hold
  ``pod_lifecycles`` (its keys are ``[gvk, "namespace/name"]`` arrays and integer hashes), so JSON
  traces always have ``pod_lifecycles: {}``. Writing a trace with lifecycles as JSON raises
  :class:`TraceError` unless ``drop_lifecycles=True`` is passed (the lifecycles are then left out).

Reading validates the structure and raises a :class:`TraceError` subclass naming the file and the
place (``events[3].applied_objs[1] (Deployment default/web) spec.template.spec.containers``):

* :class:`TraceVersionError`: pre-v2 traces (a top-level 2- or 4-element array, SimKube <= 1.1.1) and
  versions other than 2;
* :class:`TraceFormatError`: not msgpack/JSON, truncated or trailing bytes, wrong types, missing keys,
  bin/ext values, events out of time order;
* :class:`TraceConfigError`: an invalid tracer config (see :mod:`sim_arena_gym.trace.config`);
* :class:`WorkloadError`: a workload's pod template without containers;
* :class:`QuantityFieldError`: a container request/limit that is not a Kubernetes quantity.

Writing recomputes the index entries named in :attr:`Trace.stale_index` (see
:func:`sim_arena_gym.trace.hashing.recompute_index`) without modifying the trace.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import msgpack

from sim_arena_gym.quantity import QuantityError, read_quantity
from sim_arena_gym.trace.config import describe_type, validate_config
from sim_arena_gym.trace.errors import (
    QuantityFieldError,
    TraceError,
    TraceFormatError,
    TraceVersionError,
    WorkloadError,
)
from sim_arena_gym.trace.files import atomic_write, check_destination, read_bounded
from sim_arena_gym.trace.hashing import recompute_index
from sim_arena_gym.trace.model import SUPPORTED_VERSION, Trace, TraceEvent

__all__ = [
    "FORMATS",
    "dumps_trace",
    "format_for_path",
    "load_trace",
    "loads_trace",
    "pod_spec_path",
    "save_trace",
    "sniff_format",
]

#: Formats this module reads and writes.
FORMATS = ("msgpack", "json")
#: Top-level keys of a version-2 trace, in SimKube's write order.
TOP_LEVEL_KEYS = ("version", "config", "events", "index", "pod_lifecycles")
#: Keys of one event, in SimKube's write order.
EVENT_KEYS = ("ts", "applied_objs", "deleted_objs")

#: Deepest nesting accepted inside one Kubernetes object (msgpack writers stop at 512 levels).
MAX_OBJECT_DEPTH = 400

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1
_REEXPORT_HINT = (
    "this package reads format version 2 only (SimKube >= 2.0): re-export the trace with a current "
    "SimKube (`skctl export`), or replay it with the SimKube release that wrote it"
)

#: Pod template location per workload kind: (API groups of the built-in kind, path to the pod spec).
_POD_SPEC_PATHS: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "Deployment": (frozenset({"apps", "extensions"}), ("spec", "template", "spec")),
    "StatefulSet": (frozenset({"apps"}), ("spec", "template", "spec")),
    "ReplicaSet": (frozenset({"apps", "extensions"}), ("spec", "template", "spec")),
    "DaemonSet": (frozenset({"apps", "extensions"}), ("spec", "template", "spec")),
    "Job": (frozenset({"batch"}), ("spec", "template", "spec")),
    "CronJob": (frozenset({"batch"}), ("spec", "jobTemplate", "spec", "template", "spec")),
    "Pod": (frozenset({""}), ("spec",)),
}


def pod_spec_path(obj: Mapping[str, Any]) -> tuple[str, ...] | None:
    """Keys leading from a built-in workload object to its pod spec, or ``None`` for other objects."""
    entry = _POD_SPEC_PATHS.get(obj.get("kind"))  # type: ignore[arg-type]
    if entry is None:
        return None
    api_version = obj.get("apiVersion")
    group = api_version.rpartition("/")[0] if isinstance(api_version, str) else None
    return entry[1] if group in entry[0] else None


# ---------------------------------------------------------------------------------------------------
# small helpers


def _is_int(value: Any) -> bool:
    return type(value) is int


def _label(obj: Mapping[str, Any]) -> str:
    """``(Kind namespace/name)`` for locations; tolerant of malformed objects."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    return f"({obj.get('kind')} {meta.get('namespace') or 'default'}/{meta.get('name')})"


def _pairs_hook(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """msgpack map hook: keep order; array keys (``pod_lifecycles`` owners) become tuples."""
    try:
        return dict(pairs)
    except TypeError:
        return {tuple(k) if isinstance(k, list) else k: v for k, v in pairs}


_JSON_SCALARS = (str, float, bool, type(None))


def _json_value_problem(value: Any, max_depth: int = MAX_OBJECT_DEPTH) -> tuple[str, str] | None:
    """First place where ``value`` is not a JSON value SimKube can hold: ``(path, problem)``.

    Rejects bin/ext data, non-string map keys, integers outside [-2^63, 2^64) and nesting deeper than
    ``max_depth``. Iterative, so deep input cannot exhaust the Python stack."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if type(node) is dict:
            if depth >= max_depth:
                return path, f"nested more than {max_depth} levels deep"
            for key, item in node.items():
                if type(key) is not str:
                    return path, f"map key {key!r} is {describe_type(key)}, expected a string"
                stack.append((item, f"{path}.{key}" if path else key, depth + 1))
        elif type(node) is list:
            if depth >= max_depth:
                return path, f"nested more than {max_depth} levels deep"
            for i, item in enumerate(node):
                stack.append((item, f"{path}[{i}]", depth + 1))
        elif type(node) is int:
            if not _INT64_MIN <= node <= _UINT64_MAX:
                return path, f"integer {node} is outside the 64-bit range"
        elif type(node) is float:
            if not math.isfinite(node):
                return path, f"{node} is not a JSON number"
        elif not isinstance(node, _JSON_SCALARS):
            return path, f"{describe_type(node)} is not allowed in a trace (only JSON values are)"
    return None


def _join(where: str, inner: str, sep: str = " ") -> str:
    """Append a location inside a value to an outer location (``sep`` before a key, none before ``[``)."""
    if not inner:
        return where
    if not where:
        return inner
    return f"{where}{inner}" if inner.startswith("[") else f"{where}{sep}{inner}"


# ---------------------------------------------------------------------------------------------------
# decoding


def sniff_format(data: bytes) -> str:
    """``"json"`` when the first non-blank byte is ``{`` or ``[``, else ``"msgpack"``."""
    head = data[:64].lstrip(b" \t\r\n")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip(b" \t\r\n")
    return "json" if head[:1] in (b"{", b"[") else "msgpack"


def format_for_path(path: str | os.PathLike[str]) -> str | None:
    """``"json"`` for a ``.json`` path, ``None`` (sniff on read, msgpack on write) otherwise."""
    return "json" if Path(path).suffix.lower() == ".json" else None


def _decode_msgpack(data: bytes, source: str) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, object_pairs_hook=_pairs_hook)
    except msgpack.ExtraData as exc:
        raise TraceFormatError(
            f"{len(exc.extra)} bytes of trailing data after the trace: a trace file is exactly one "
            "msgpack value",
            file=source,
        ) from None
    except UnicodeDecodeError as exc:
        raise TraceFormatError(f"a string is not valid UTF-8 ({exc.reason})", file=source) from None
    except Exception as exc:  # truncated, malformed, unhashable keys, too deep
        detail = str(exc) or type(exc).__name__
        raise TraceFormatError(f"not a msgpack trace (truncated or corrupt): {detail}", file=source) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of the float64 range")
    return value


def _decode_json(data: bytes, source: str) -> Any:
    try:
        return json.loads(data, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise TraceFormatError("not a JSON trace: nested too deeply", file=source) from None
    except Exception as exc:
        raise TraceFormatError(f"not a JSON trace: {exc}", file=source) from None


def _check_pre_v2(doc: list[Any], source: str, fmt: str) -> None:
    """Raise for SimKube's unversioned array formats; else report an array top level."""
    shapes = {2: (dict, list), 4: (dict, list, dict, dict)}
    expected = shapes.get(len(doc))
    if expected and all(isinstance(v, t) for v, t in zip(doc, expected)):
        if len(doc) == 2:
            found = 'SimKube\'s unversioned "v0" trace format (a 2-element array [config, events], SimKube 0.4)'
        else:
            found = (
                'SimKube\'s unversioned "v1" trace format (a 4-element array [config, events, index, '
                "pod_lifecycles], SimKube 0.7 to 1.1.1)"
            )
        raise TraceVersionError(f"this {fmt} file is {found}; {_REEXPORT_HINT}", file=source)
    raise TraceFormatError(
        f"the top level is an array of {len(doc)} elements, expected a map with keys "
        f"{', '.join(TOP_LEVEL_KEYS)}",
        file=source,
    )


def _check_top_level(doc: Any, source: str, fmt: str) -> None:
    if isinstance(doc, list):
        _check_pre_v2(doc, source, fmt)
    if not isinstance(doc, dict):
        raise TraceFormatError(
            f"the top level is {describe_type(doc)}, expected a map with keys {', '.join(TOP_LEVEL_KEYS)}",
            file=source,
        )
    if "version" in doc:
        version = doc["version"]
        if not _is_int(version):
            raise TraceFormatError(f"must be an integer, got {describe_type(version)}", file=source, where="version")
        if version != SUPPORTED_VERSION:
            newer = "a newer format than this package knows" if version > SUPPORTED_VERSION else "an old format"
            raise TraceVersionError(
                f"unsupported trace version {version} ({newer}); {_REEXPORT_HINT}", file=source, where="version"
            )
    missing = [k for k in TOP_LEVEL_KEYS if k not in doc]
    if missing:
        raise TraceFormatError(
            f"missing top-level key{'s' if len(missing) > 1 else ''} {', '.join(repr(k) for k in missing)} "
            f"(a version-2 trace has {', '.join(TOP_LEVEL_KEYS)})",
            file=source,
        )


def _check_identity(obj: Any, where: str) -> None:
    """An object must be a map with string apiVersion and kind and metadata.name."""
    if not isinstance(obj, dict):
        raise TraceFormatError(f"a Kubernetes object must be a map, got {describe_type(obj)}", where=where)
    for key in ("apiVersion", "kind"):
        value = obj.get(key)
        if not isinstance(value, str) or not value:
            got = "missing" if key not in obj else describe_type(value)
            raise TraceFormatError(f"{key} must be a non-empty string, got {got}", where=where)
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        got = "missing" if "metadata" not in obj else describe_type(meta)
        raise TraceFormatError(f"metadata must be a map, got {got}", where=where)
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        got = "missing" if "name" not in meta else describe_type(name)
        raise TraceFormatError(f"metadata.name must be a non-empty string, got {got}", where=where)
    namespace = meta.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise TraceFormatError(f"metadata.namespace must be a string, got {describe_type(namespace)}", where=where)


def _check_quantities(resources: Any, where: str, field: str) -> None:
    if resources is None:
        return
    if not isinstance(resources, dict):
        raise TraceFormatError(f"must be a map, got {describe_type(resources)}", where=f"{where} {field}")
    for part in ("requests", "limits"):
        values = resources.get(part)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise TraceFormatError(f"must be a map, got {describe_type(values)}", where=f"{where} {field}.{part}")
        for name, text in values.items():
            try:
                read_quantity(text)  # the one reader of quantities from traces and options
            except QuantityError as exc:
                raise QuantityFieldError(
                    f"invalid quantity {text!r}: {exc.reason}", where=f"{where} {field}.{part}.{name}"
                ) from None


def _check_containers(spec: dict[str, Any], where: str, prefix: str, kind: str) -> None:
    containers = spec.get("containers")
    if containers is None or containers == []:
        raise WorkloadError(f"a {kind} needs at least one container", where=f"{where} {prefix}.containers")
    for key in ("containers", "initContainers"):
        items = spec.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            raise TraceFormatError(f"must be an array, got {describe_type(items)}", where=f"{where} {prefix}.{key}")
        for i, container in enumerate(items):
            field = f"{prefix}.{key}[{i}]"
            if not isinstance(container, dict):
                raise TraceFormatError(
                    f"a container must be a map, got {describe_type(container)}", where=f"{where} {field}"
                )
            if not isinstance(container.get("name"), str) or not container["name"]:
                raise WorkloadError("a container needs a name", where=f"{where} {field}.name")
            _check_quantities(container.get("resources"), where, f"{field}.resources")


def _check_workload(obj: dict[str, Any], where: str) -> None:
    """Pod-template checks for the built-in workload kinds (others are kept as they are)."""
    path = pod_spec_path(obj)
    if path is None:
        return
    where = f"{where} {_label(obj)}"
    node: Any = obj
    for depth, key in enumerate(path):
        if not isinstance(node, dict):
            field = ".".join(path[:depth])
            raise TraceFormatError(f"must be a map, got {describe_type(node)}", where=f"{where} {field}")
        node = node.get(key)
        if node is None:
            break
    prefix = ".".join(path)
    if node is None:
        raise WorkloadError(f"a {obj['kind']} needs at least one container", where=f"{where} {prefix}.containers")
    if not isinstance(node, dict):
        raise TraceFormatError(f"must be a map, got {describe_type(node)}", where=f"{where} {prefix}")
    _check_containers(node, where, prefix, obj["kind"])


def _check_object(obj: Any, where: str, *, applied: bool) -> None:
    _check_identity(obj, where)
    problem = _json_value_problem(obj)
    if problem is not None:
        raise TraceFormatError(problem[1], where=_join(f"{where} {_label(obj)}", problem[0]))
    if applied:
        _check_workload(obj, where)


def _build_event(raw: Any, i: int) -> TraceEvent:
    where = f"events[{i}]"
    if not isinstance(raw, dict):
        raise TraceFormatError(f"an event must be a map, got {describe_type(raw)}", where=where)
    for key in EVENT_KEYS:
        if key not in raw:
            raise TraceFormatError(f"missing key {key!r}", where=where)
    ts = raw["ts"]
    if not _is_int(ts) or not _INT64_MIN <= ts <= _INT64_MAX:
        raise TraceFormatError(f"must be an integer (Unix seconds), got {describe_type(ts)}", where=f"{where}.ts")
    lists = []
    for key in ("applied_objs", "deleted_objs"):
        objs = raw[key]
        if not isinstance(objs, list):
            raise TraceFormatError(f"must be an array, got {describe_type(objs)}", where=f"{where}.{key}")
        for j, obj in enumerate(objs):
            _check_object(obj, f"{where}.{key}[{j}]", applied=key == "applied_objs")
        lists.append(tuple(objs))
    extra = {k: v for k, v in raw.items() if k not in EVENT_KEYS}
    if extra:
        problem = _json_value_problem(extra)
        if problem is not None:
            raise TraceFormatError(problem[1], where=_join(where, problem[0], "."))
    return TraceEvent(ts, lists[0], lists[1], extra)


def _build_events(raw: Any) -> tuple[TraceEvent, ...]:
    if not isinstance(raw, list):
        raise TraceFormatError(f"must be an array, got {describe_type(raw)}", where="events")
    events = []
    previous: int | None = None
    for i, item in enumerate(raw):
        event = _build_event(item, i)
        if previous is not None and event.ts < previous:
            raise TraceFormatError(
                f"ts {event.ts} is before the previous event's ts {previous}: events must be in time order",
                where=f"events[{i}].ts",
            )
        previous = event.ts
        events.append(event)
    return tuple(events)


def _check_index(raw: Any) -> dict[str, dict[str, int]]:
    if not isinstance(raw, dict):
        raise TraceFormatError(f"must be a map, got {describe_type(raw)}", where="index")
    for gvk, entries in raw.items():
        if not isinstance(gvk, str):
            raise TraceFormatError(f"keys must be GVK strings, got {describe_type(gvk)}", where="index")
        where = f'index["{gvk}"]'
        if not isinstance(entries, dict):
            raise TraceFormatError(
                f'must be a map of "namespace/name" to hash, got {describe_type(entries)}', where=where
            )
        for name, value in entries.items():
            if not isinstance(name, str):
                raise TraceFormatError(
                    f'keys must be "namespace/name" strings, got {describe_type(name)}', where=where
                )
            if not _is_int(value) or not 0 <= value <= _UINT64_MAX:
                raise TraceFormatError(
                    f"must be a uint64 hash, got {describe_type(value) if not _is_int(value) else value}",
                    where=f'{where}["{name}"]',
                )
    return raw


def _check_lifecycle_entry(entry: Any, where: str) -> None:
    if entry == "Empty":
        return
    if isinstance(entry, dict) and len(entry) == 1:
        ((tag, value),) = entry.items()
        if tag == "Running" and _is_int(value):
            return
        if tag == "Finished" and isinstance(value, list) and len(value) == 2 and all(map(_is_int, value)):
            return
    raise TraceFormatError(
        'must be "Empty", {"Running": start_ts} or {"Finished": [start_ts, end_ts]}, '
        f"got {entry!r}"[:300],
        where=where,
    )


def _check_lifecycles(raw: Any, fmt: str) -> dict[tuple[str, str], dict[int, list[Any]]]:
    if not isinstance(raw, dict):
        raise TraceFormatError(f"must be a map, got {describe_type(raw)}", where="pod_lifecycles")
    if fmt == "json" and raw:
        raise TraceFormatError(
            "JSON traces cannot hold pod lifecycles (their keys are [gvk, namespace/name] arrays and "
            "integer hashes); use {} or the msgpack format",
            where="pod_lifecycles",
        )
    for owner, by_hash in raw.items():
        if not (isinstance(owner, tuple) and len(owner) == 2 and all(isinstance(p, str) for p in owner)):
            raise TraceFormatError(
                f"keys must be [gvk, \"namespace/name\"] arrays, got {owner!r}"[:300], where="pod_lifecycles"
            )
        where = f"pod_lifecycles[{list(owner)!r}]"
        if not isinstance(by_hash, dict):
            raise TraceFormatError(
                f"must be a map of pod spec hash to lifecycles, got {describe_type(by_hash)}", where=where
            )
        for spec_hash, entries in by_hash.items():
            if not _is_int(spec_hash) or not 0 <= spec_hash <= _UINT64_MAX:
                raise TraceFormatError(f"keys must be uint64 pod spec hashes, got {spec_hash!r}"[:300], where=where)
            if not isinstance(entries, list):
                raise TraceFormatError(f"must be an array, got {describe_type(entries)}", where=f"{where}[{spec_hash}]")
            for k, entry in enumerate(entries):
                _check_lifecycle_entry(entry, f"{where}[{spec_hash}][{k}]")
    return raw


def _build_trace(doc: Any, source: str, fmt: str) -> Trace:
    _check_top_level(doc, source, fmt)
    try:
        validate_config(doc["config"])
        problem = _json_value_problem(doc["config"])
        if problem is not None:
            raise TraceFormatError(problem[1], where=_join("config", problem[0], "."))
        events = _build_events(doc["events"])
        index = _check_index(doc["index"])
        lifecycles = _check_lifecycles(doc["pod_lifecycles"], fmt)
        extra = {k: v for k, v in doc.items() if k not in TOP_LEVEL_KEYS}
        problem = _json_value_problem(extra) if extra else None
        if problem is not None:
            raise TraceFormatError(problem[1], where=problem[0])
    except TraceError as exc:
        raise exc.located(file=source) from None
    return Trace(
        version=doc["version"],
        config=doc["config"],
        events=events,
        index=index,
        pod_lifecycles=lifecycles,
        extra=extra,
        source=source,
    )


def loads_trace(data: bytes, *, format: str | None = None, source: str = "<bytes>") -> Trace:
    """Decode and validate a trace from bytes.

    ``format`` is ``"msgpack"``, ``"json"`` or ``None`` (sniffed: JSON when the data starts with ``{``
    or ``[``). ``source`` names the data in error messages and becomes :attr:`Trace.source`. Raises a
    :class:`TraceError` subclass (see the module docstring)."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TraceFormatError(f"trace data must be bytes, got {type(data).__name__}", file=source)
    fmt = format or sniff_format(data)
    if fmt not in FORMATS:
        raise TraceError(f"unknown trace format {fmt!r}; use one of {', '.join(FORMATS)}", file=source)
    if not data.strip():
        raise TraceFormatError("the file is empty", file=source)
    doc = _decode_msgpack(data, source) if fmt == "msgpack" else _decode_json(data, source)
    return _build_trace(doc, source, fmt)


def load_trace(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> Trace:
    """Read and validate a trace file: JSON for a ``.json`` path, otherwise sniffed (msgpack for
    ``.sktrace`` files). :attr:`Trace.source` is ``str(path)``.

    At most ``max_bytes`` are read (default: :data:`~sim_arena_gym.limits.MAX_TRACE_BYTES`, 256 MiB,
    raised with ``$SIM_ARENA_MAX_TRACE_BYTES``); a larger file raises :class:`TraceLimitError` before
    it is read (see :func:`~sim_arena_gym.trace.files.read_bounded`)."""
    source = os.fspath(path)
    try:
        data = read_bounded(source, max_bytes)
    except OSError as exc:
        raise TraceError(f"cannot read the trace file: {exc.strerror or exc}", file=source) from None
    return loads_trace(data, format=format_for_path(source), source=source)


# ---------------------------------------------------------------------------------------------------
# encoding


def _document(trace: Trace, *, lifecycles: Any) -> dict[str, Any]:
    """The top-level map to encode: known keys in SimKube's order, then the unknown ones."""
    for extra, where in [(trace.extra, "trace")] + [(e.extra, f"events[{i}]") for i, e in enumerate(trace.events)]:
        clash = [k for k in extra if k in TOP_LEVEL_KEYS or (where != "trace" and k in EVENT_KEYS)]
        if clash:
            raise TraceFormatError(f"extra key {clash[0]!r} clashes with a known key", file=trace.source, where=where)
    events = [
        {"ts": e.ts, "applied_objs": list(e.applied_objs), "deleted_objs": list(e.deleted_objs), **e.extra}
        if e.extra
        else {"ts": e.ts, "applied_objs": list(e.applied_objs), "deleted_objs": list(e.deleted_objs)}
        for e in trace.events
    ]
    doc = {
        "version": trace.version,
        "config": trace.config,
        "events": events,
        "index": recompute_index(trace),
        "pod_lifecycles": lifecycles,
    }
    doc.update(trace.extra)
    return doc


def _check_writable(trace: Trace) -> None:
    if trace.version != SUPPORTED_VERSION:
        raise TraceVersionError(
            f"cannot write trace version {trace.version}; only version {SUPPORTED_VERSION} is supported",
            file=trace.source,
        )
    for i, event in enumerate(trace.events):
        for key in ("applied_objs", "deleted_objs"):
            for j, obj in enumerate(getattr(event, key)):
                problem = _json_value_problem(obj)
                if problem is not None:
                    where = _join(f"events[{i}].{key}[{j}]", problem[0])
                    raise TraceFormatError(problem[1], file=trace.source, where=where)


def dumps_trace(trace: Trace, *, format: str = "msgpack", drop_lifecycles: bool = False) -> bytes:
    """Encode a trace as ``"msgpack"`` (SimKube's ``.sktrace`` bytes) or ``"json"`` (indent 2).

    Index entries named in ``trace.stale_index`` are recomputed from the last applied ``spec``; the
    trace itself is not modified. JSON cannot hold pod lifecycles: a trace with lifecycles raises
    :class:`TraceError` unless ``drop_lifecycles=True``, which writes ``pod_lifecycles: {}`` (also
    honoured for msgpack)."""
    if format not in FORMATS:
        raise TraceError(f"unknown trace format {format!r}; use one of {', '.join(FORMATS)}", file=trace.source)
    if format == "json" and trace.pod_lifecycles and not drop_lifecycles:
        count = sum(len(entries) for by_hash in trace.pod_lifecycles.values() for entries in by_hash.values())
        raise TraceError(
            f"the trace has pod lifecycles ({len(trace.pod_lifecycles)} owners, {count} entries), which JSON "
            "cannot hold (their keys are arrays and integer hashes); write msgpack instead, or drop them "
            "with drop_lifecycles=True (CLI: --drop-lifecycles)",
            file=trace.source,
        )
    _check_writable(trace)
    doc = _document(trace, lifecycles={} if drop_lifecycles else trace.pod_lifecycles)
    try:
        if format == "msgpack":
            return msgpack.packb(doc, use_bin_type=True)
        return (json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    except (TypeError, ValueError, OverflowError) as exc:
        raise TraceFormatError(f"cannot encode the trace as {format}: {exc}", file=trace.source) from None


def save_trace(
    trace: Trace,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    overwrite: bool = False,
    overwrite_source: bool = False,
    drop_lifecycles: bool = False,
    protected: Iterable[str | os.PathLike[str] | None] = (),
) -> Path:
    """Write ``trace`` to ``path`` atomically and return the path.

    The format is ``format`` if given, else JSON for a ``.json`` path and msgpack otherwise. The
    write follows the policy of :mod:`sim_arena_gym.trace.files`: a temporary file in the destination
    folder, fsynced and renamed over ``path`` (a reader never sees a partial file, a failed write
    leaves nothing behind, stale temporary files of killed writes are removed); never onto a
    directory, device, FIFO, socket or symbolic link; and, unless ``overwrite=True``, never onto the
    file the trace was loaded from (``trace.source``), one of the ``protected`` paths (a scenario's
    trace file) or the repository's committed scenario set. ``overwrite_source`` is the older name of
    ``overwrite``. Raises :class:`~sim_arena_gym.trace.errors.TraceWriteError` (a :class:`TraceError`)."""
    dest = Path(os.fspath(path))
    allow = overwrite or overwrite_source
    guarded = [trace.source, *protected]
    check_destination(dest, overwrite=allow, protected=guarded)  # refuse before encoding
    fmt = format or format_for_path(dest) or "msgpack"
    data = dumps_trace(trace, format=fmt, drop_lifecycles=drop_lifecycles)
    return atomic_write(dest, data, overwrite=allow, protected=guarded)

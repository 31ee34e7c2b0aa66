"""``sim-arena trace inspect`` and ``sim-arena trace convert``.

``trace inspect FILE [--json]`` summarises a SimKube trace: format and version, time window, events,
objects by kind, how many index hashes match the stored specs, pod lifecycles, the tracked GVKs, and
every workload with its replicas and per-container requests/limits.

``trace convert IN OUT [--format msgpack|json] [--drop-lifecycles]`` rewrites a trace in the other
format (JSON cannot hold pod lifecycles; ``--drop-lifecycles`` leaves them out).

Errors are :class:`~sim_arena_gym.trace.errors.TraceError` (the dispatcher prints them and exits 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import datetime, timezone
from typing import Any

__all__ = ["register", "inspect_trace", "format_inspection"]


def register(commands: argparse._SubParsersAction, trace_commands: argparse._SubParsersAction) -> None:
    """Add ``inspect`` and ``convert`` under ``sim-arena trace``."""
    inspect = trace_commands.add_parser(
        "inspect",
        help="summarise a SimKube trace (.sktrace or .json)",
        description="Summarise a SimKube trace: format, time window, objects, index, lifecycles, workloads.",
    )
    inspect.add_argument("file", metavar="FILE", help="trace file (.sktrace msgpack or .json)")
    inspect.add_argument("--json", action="store_true", help="print a machine-readable JSON summary")
    inspect.set_defaults(func=_run_inspect)

    convert = trace_commands.add_parser(
        "convert",
        help="convert a trace between msgpack (.sktrace) and JSON",
        description="Convert a SimKube trace between msgpack (.sktrace) and JSON.",
    )
    convert.add_argument("input", metavar="IN", help="trace to read")
    convert.add_argument("output", metavar="OUT",
                         help="file to write: must differ from IN (unless --overwrite) and be a regular file or "
                              "new; never a directory, device, symlink or a committed scenario file")
    convert.add_argument(
        "--format",
        choices=("msgpack", "json"),
        default=None,
        help="output format (default: json for a .json OUT, msgpack otherwise)",
    )
    convert.add_argument(
        "--drop-lifecycles",
        action="store_true",
        help="leave pod_lifecycles out (needed to write a trace that has them as JSON)",
    )
    convert.add_argument("--overwrite", action="store_true",
                         help="allow replacing IN itself or a file of the committed scenario set (traces/)")
    convert.set_defaults(func=_run_convert)


# ---------------------------------------------------------------------------------------------------
# inspect


def _iso(ts: int | None) -> str | None:
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(ts)


def _index_summary(trace: Any) -> dict[str, int]:
    """Index entries, how many match ``sk_hash`` of the last applied spec, how many have no object."""
    from sim_arena_gym.trace.hashing import object_key, sk_hash

    last: dict[tuple[str, str], Any] = {}
    for event in trace.events:
        for obj in event.applied_objs:
            last[object_key(obj)] = obj
    entries = matching = without_object = 0
    for gvk, names in trace.index.items():
        for name, stored in names.items():
            entries += 1
            obj = last.get((gvk, name))
            if obj is None:
                without_object += 1
            elif sk_hash(obj.get("spec")) == stored:
                matching += 1
    return {"entries": entries, "matching": matching, "mismatched": entries - matching - without_object,
            "without_object": without_object}  # fmt: skip


def inspect_trace(path: str) -> dict[str, Any]:
    """The machine-readable summary printed by ``trace inspect --json``."""
    from sim_arena_gym.trace.codec import format_for_path, sniff_format
    from sim_arena_gym.trace.codec import load_trace
    from sim_arena_gym.trace.config import validate_config
    from sim_arena_gym.trace.workloads import list_workloads

    trace = load_trace(path)
    data_format = format_for_path(path)
    if data_format is None:
        with open(path, "rb") as handle:
            data_format = sniff_format(handle.read(64))
    objects: dict[str, dict[str, int]] = {}
    applied, deleted = Counter(), Counter()
    for event in trace.events:
        applied.update(f"{o['apiVersion']}.{o['kind']}" for o in event.applied_objs)
        deleted.update(f"{o['apiVersion']}.{o['kind']}" for o in event.deleted_objs)
    for gvk in list(applied) + [g for g in deleted if g not in applied]:
        objects[gvk] = {"applied": applied[gvk], "deleted": deleted[gvk]}
    lifecycle_entries = sum(len(v) for by_hash in trace.pod_lifecycles.values() for v in by_hash.values())
    start, end = trace.start_ts, trace.end_ts
    return {
        "file": path,
        "format": data_format,
        "version": trace.version,
        "start_ts": start,
        "end_ts": end,
        "start": _iso(start),
        "end": _iso(end),
        "duration_s": (end - start) if start is not None and end is not None else 0,
        "events": len(trace.events),
        "objects": objects,
        "tracked": validate_config(trace.config),
        "index": _index_summary(trace),
        "lifecycles": {
            "owners": len(trace.pod_lifecycles),
            "pod_hashes": sum(len(by_hash) for by_hash in trace.pod_lifecycles.values()),
            "entries": lifecycle_entries,
        },
        "extra_keys": list(trace.extra),
        "workloads": [
            {
                "ref": str(info.ref),
                "replicas": info.replicas,
                "occurrences": info.occurrences,
                "last_event": info.last_event,
                "containers": [
                    {"name": c.name, "role": c.role, "requests": dict(c.requests), "limits": dict(c.limits)}
                    for c in info.containers + info.init_containers
                ],
            }
            for info in list_workloads(trace)
        ],
    }


def _resources_text(values: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items()) or "-"


def format_inspection(summary: dict[str, Any]) -> str:
    """The human-readable table printed by ``trace inspect``."""
    index = summary["index"]
    life = summary["lifecycles"]
    lines = [
        f"file:        {summary['file']}",
        f"format:      {summary['format']}, trace version {summary['version']}",
        f"time window: {summary['start'] or '-'} .. {summary['end'] or '-'} ({summary['duration_s']} s)",
        f"events:      {summary['events']}",
    ]
    if summary["objects"]:
        width = max(len(g) for g in summary["objects"])
        for i, (gvk, counts) in enumerate(summary["objects"].items()):
            head = "objects:     " if i == 0 else " " * 13
            lines.append(f"{head}{gvk:<{width}}  applied {counts['applied']}  deleted {counts['deleted']}")
    else:
        lines.append("objects:     none")
    entries = f"{index['entries']} {'entry' if index['entries'] == 1 else 'entries'}"
    index_line = f"index:       {entries}, {index['matching']} match the stored specs"
    if index["mismatched"]:
        index_line += f", {index['mismatched']} do not"
    if index["without_object"]:
        index_line += f", {index['without_object']} name no applied object"
    lines.append(index_line)
    lines.append(f"lifecycles:  {life['owners']} owners, {life['pod_hashes']} pod hashes, {life['entries']} entries")
    tracked = ", ".join(f"{gvk} ({' '.join(repr(p) for p in paths)})" for gvk, paths in summary["tracked"].items())
    lines.append(f"tracked:     {tracked or '-'}")
    if summary["extra_keys"]:
        lines.append(f"extra keys:  {', '.join(summary['extra_keys'])}")
    workloads = summary["workloads"]
    lines.append("")
    lines.append(f"workloads ({len(workloads)}):")
    if workloads:
        rows = [("WORKLOAD", "REPLICAS", "CONTAINER", "REQUESTS", "LIMITS")]
        for w in workloads:
            containers = w["containers"] or [{"name": "-", "role": "container", "requests": {}, "limits": {}}]
            for i, c in enumerate(containers):
                name = c["name"] if c["role"] == "container" else f"{c['name']} ({c['role']})"
                rows.append((
                    w["ref"] if i == 0 else "",
                    str(w["replicas"]) if i == 0 else "",
                    name,
                    _resources_text(c["requests"]),
                    _resources_text(c["limits"]),
                ))  # fmt: skip
        widths = [max(len(r[k]) for r in rows) for k in range(4)]
        for r in rows:
            lines.append("  " + "  ".join(r[k].ljust(widths[k]) for k in range(4)) + "  " + r[4])
    return "\n".join(line.rstrip() for line in lines)


def _run_inspect(args: argparse.Namespace) -> int:
    summary = inspect_trace(args.file)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_inspection(summary))
    return 0


# ---------------------------------------------------------------------------------------------------
# convert


def _run_convert(args: argparse.Namespace) -> int:
    from sim_arena_gym.trace.codec import load_trace, save_trace

    from sim_arena_gym.trace.files import check_destination

    check_destination(args.output, overwrite=args.overwrite, protected=[args.input])  # before reading IN
    trace = load_trace(args.input)
    written = save_trace(
        trace, args.output, format=args.format, drop_lifecycles=args.drop_lifecycles, overwrite=args.overwrite
    )
    fmt = args.format or ("json" if written.suffix.lower() == ".json" else "msgpack")
    print(f"wrote {written} ({fmt}, {written.stat().st_size} bytes)", file=sys.stdout)
    return 0

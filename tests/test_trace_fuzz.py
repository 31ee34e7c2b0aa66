"""Deterministic corruption of the fixtures: every variant loads or raises a TraceError, nothing else."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any, Callable, Iterator

import msgpack

from sim_arena_gym.trace import TraceError, dumps_trace, loads_trace
from sim_arena_gym.trace import codec

DATA = Path(__file__).parent / "data" / "simkube"
SKTRACES = ["bare-pods.sktrace", "cronjob.sktrace", "dsb-scaling.sktrace"]
JSONS = ["trace.json", "validation_trace.json"]


def _truncations(rng: random.Random) -> Iterator[tuple[str, bytes]]:
    for name in SKTRACES + JSONS:
        data = (DATA / name).read_bytes()
        offsets = {0, 1, 2, len(data) - 1, len(data) - 2} | {rng.randrange(len(data)) for _ in range(25)}
        for offset in sorted(offsets):
            yield f"{name}[:{offset}]", data[:offset]


def _bit_flips(rng: random.Random) -> Iterator[tuple[str, bytes]]:
    for name in SKTRACES:
        data = (DATA / name).read_bytes()
        for _ in range(30):
            buf = bytearray(data)
            for _ in range(rng.choice((1, 1, 2, 8))):
                pos = rng.randrange(len(buf))
                buf[pos] ^= 1 << rng.randrange(8)
            yield f"{name} flipped", bytes(buf)


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths to every node of a decoded document (map keys and array positions)."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _nodes(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _nodes(item, path + (i,))


REPLACEMENTS: list[Any] = [None, 0, -1, 2**64 - 1, 1.5, "", "x", True, [], {}, [1, "a"], {"k": None}, b"\x00"]


def _type_swaps(rng: random.Random) -> Iterator[tuple[str, bytes]]:
    for name in SKTRACES:
        doc = msgpack.unpackb((DATA / name).read_bytes(), strict_map_key=False, raw=False,
                              object_pairs_hook=codec._pairs_hook)  # fmt: skip
        paths = [p for p in _nodes(doc) if p]
        picks = rng.sample(paths, 40)
        # always include the interesting structural places
        picks += [p for p in paths if len(p) <= 3][:20]
        for path in picks:
            mutated = copy.deepcopy(doc)
            parent = mutated
            for key in path[:-1]:
                parent = parent[key]
            original = parent[path[-1]]
            choices = [r for r in REPLACEMENTS if type(r) is not type(original)]
            parent[path[-1]] = rng.choice(choices)
            yield f"{name} {path} swapped", msgpack.packb(mutated, use_bin_type=True)


def _random_bytes(rng: random.Random) -> Iterator[tuple[str, bytes]]:
    for size in (1, 2, 3, 5, 8, 16, 64, 256, 1024, 4096):
        for _ in range(2):
            yield f"random {size}", bytes(rng.randrange(256) for _ in range(size))
    for prefix in (b"\x85", b"\x95", b"\xde\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xdd\xff\xff\xff\xff"):
        yield f"header {prefix.hex()}", prefix + b"\x00" * 8


NON_TRACE_JSON = [
    "null", "[]", "{}", '"trace"', "1", "1e999", "[1, 2]", '{"version": 2}',
    '{"version": 2, "config": {}, "events": [], "index": {}, "pod_lifecycles": {}}',
    '{"version": 2, "config": {"trackedObjects": []}, "events": [], "index": {}, "pod_lifecycles": {}}',
    '{"version": 2, "config": {"trackedObjects": {}}, "events": [{}], "index": {}, "pod_lifecycles": {}}',
    '{"version": 2, "config": {"trackedObjects": {}}, "events": [], "index": {"a": {"b": 1e3}}, "pod_lifecycles": {}}',
    '{"version": 2, "config": {"trackedObjects": {}}, "events": [{"ts": 1, "applied_objs": [{"apiVersion": "v1", '
    '"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "resources": {"requests": '
    '{"cpu": [1]}}}]}}], "deleted_objs": []}], "index": {}, "pod_lifecycles": {}}',
    '{"version": 2, "config": {"trackedObjects": {}}, "events": [{"ts": 1, "applied_objs": [{"apiVersion": "v1", '
    '"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "resources": {"requests": '
    '{"cpu": 99999999999999999999999999}}}]}}], "deleted_objs": []}], "index": {}, "pod_lifecycles": {}}',
    '{"version": 2, "config": {"trackedObjects": {}}, "events": [{"ts": 1, "applied_objs": [{"apiVersion": "v1", '
    '"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "x": 123456789012345678901234567890}]}}], '
    '"deleted_objs": []}], "index": {}, "pod_lifecycles": {}}',
    "[" * 5000 + "]" * 5000,
    '{"a":' * 3000 + "1" + "}" * 3000,
    '{"version": 2, "version": 3}',
    "\ufeff{}",
]  # fmt: skip


def _non_trace_json() -> Iterator[tuple[str, bytes]]:
    for text in NON_TRACE_JSON:
        yield f"json {text[:40]}", text.encode("utf-8")
    deep = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep"}, "data": {}}
    node = deep["data"]
    for _ in range(600):
        node["x"] = {}
        node = node["x"]
    doc = {"version": 2, "config": {"trackedObjects": {}}, "events": [{"ts": 1, "applied_objs": [deep],
           "deleted_objs": []}], "index": {}, "pod_lifecycles": {}}  # fmt: skip
    yield "json deep object", json.dumps(doc).encode()


def _variants() -> Iterator[tuple[str, bytes]]:
    rng = random.Random(20240319)
    generators: list[Callable[[], Iterator[tuple[str, bytes]]]] = [
        lambda: _truncations(rng),
        lambda: _bit_flips(rng),
        lambda: _type_swaps(rng),
        lambda: _random_bytes(rng),
        _non_trace_json,
    ]
    for make in generators:
        yield from make()


def test_corrupted_traces_only_raise_trace_errors() -> None:
    tried = raised = loaded = 0
    kinds: dict[str, int] = {}
    for label, data in _variants():
        tried += 1
        try:
            trace = loads_trace(data, source=label)
        except TraceError as exc:
            raised += 1
            kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
            assert str(exc).startswith(label), (label, str(exc))
            continue
        except Exception as exc:  # pragma: no cover - the failure being tested for
            raise AssertionError(f"{label}: {type(exc).__name__}: {exc}") from exc
        loaded += 1
        for fmt in ("msgpack", "json"):  # whatever loads must also write, or fail cleanly
            try:
                loads_trace(dumps_trace(trace, format=fmt, drop_lifecycles=True))
            except TraceError:
                pass
    assert tried >= 200
    assert tried == raised + loaded
    assert raised >= tried * 0.6, (raised, tried)
    assert loaded >= 10, loaded
    assert {"TraceFormatError", "TraceVersionError"} <= set(kinds), kinds

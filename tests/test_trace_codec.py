"""Reading, validating and writing SimKube traces (msgpack and JSON)."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import msgpack
import pytest

from sim_arena_gym.trace import (
    QuantityFieldError,
    Trace,
    TraceConfigError,
    TraceError,
    TraceFormatError,
    TraceVersionError,
    WorkloadError,
    dumps_trace,
    load_trace,
    loads_trace,
    save_trace,
    sk_hash,
)
from sim_arena_gym.trace import codec
from sim_arena_gym.trace.builders import build_trace, container, deleted_stub, deployment, pod_spec
from sim_arena_gym.trace.config import pod_spec_template_paths, validate_config

DATA = Path(__file__).parent / "data" / "simkube"
SKTRACES = {
    "bare-pods.sktrace": "4cb094ac7e0b8fd3fc45514a31cda4057a9b676e91d4c0314c6853a6dd973c39",
    "cronjob.sktrace": "853666dbe8db6ca7c6dc8a6120279b7a0804b5265708083a70223ee7b5af1ea7",
    "dsb-scaling.sktrace": "9ae910256a7f0fe1815f13ab1638c499b9938e2005c9b36ef0a5fea160bd9326",
}
HINT = (
    "this package reads format version 2 only (SimKube >= 2.0): re-export the trace with a current "
    "SimKube (`skctl export`), or replay it with the SimKube release that wrote it"
)


def _raw(name: str) -> dict[str, Any]:
    """A fixture decoded without validation (maps in file order, array keys as tuples)."""
    return msgpack.unpackb((DATA / name).read_bytes(), strict_map_key=False, raw=False,
                           object_pairs_hook=codec._pairs_hook)  # fmt: skip


def _pack(doc: Any) -> bytes:
    return msgpack.packb(doc, use_bin_type=True)


def _web(cpu: str = "500m") -> dict[str, Any]:
    return deployment("web", pod_spec([container("app", cpu=cpu, memory="256Mi")]), replicas=2)


def _counts(trace: Trace) -> tuple[int, int, int, int, int]:
    applied = sum(len(e.applied_objs) for e in trace.events)
    deleted = sum(len(e.deleted_objs) for e in trace.events)
    index = sum(len(names) for names in trace.index.values())
    return len(trace.events), applied, deleted, index, len(trace.pod_lifecycles)


# ---------------------------------------------------------------------------------------------------
# fixtures


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bare-pods.sktrace", (4, 4, 0, 16, 4)),
        ("cronjob.sktrace", (3, 1, 1, 1, 1)),
        ("dsb-scaling.sktrace", (19, 46, 0, 27, 0)),
        ("trace.json", (1, 1, 1, 1, 0)),
        ("validation_trace.json", (1, 1, 0, 1, 0)),
        ("large_trace.json", (89, 250, 0, 27, 0)),
    ],
)
def test_fixtures_load_with_expected_counts(name: str, expected: tuple[int, ...]) -> None:
    trace = load_trace(DATA / name)
    assert _counts(trace) == expected
    assert trace.version == 2
    assert trace.source == str(DATA / name)
    assert trace.stale_index == frozenset()
    assert trace.extra == {}


def test_fixture_details() -> None:
    bare = load_trace(DATA / "bare-pods.sktrace")
    assert [e.ts for e in bare.events] == [1781282468, 1781282510, 1781282570, 1781282630]
    assert bare.pod_lifecycles[("v1.Pod", "testing/bare-pod-1781282630")] == {2151974655102796215: [{"Running": 1781282631}]}
    cron = load_trace(DATA / "cronjob.sktrace")
    assert cron.events[0].applied_objs == () and cron.events[0].ts == cron.events[1].ts == 1743286823
    assert cron.events[2].deleted_objs[0]["spec"]["schedule"] == "* * * * *"  # an old-style full deletion
    assert cron.config["trackedObjects"]["apps/v1.Deployment"] == {}  # kept as found, not normalised
    assert list(cron.pod_lifecycles[("batch/v1.CronJob", "default/hello-simkube")].values())[0][0] == {
        "Finished": [1743286861, 1743286891]
    }
    stub = load_trace(DATA / "trace.json").events[0].deleted_objs[0]
    assert stub == {"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "nginx-deployment-2", "namespace": "default"}, "spec": {}}  # fmt: skip
    assert isinstance(load_trace(DATA / "dsb-scaling.sktrace").events[1].applied_objs, tuple)


@pytest.mark.parametrize("name", sorted(SKTRACES))
def test_sktrace_round_trip_is_byte_for_byte(name: str) -> None:
    data = (DATA / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == SKTRACES[name]
    out = dumps_trace(loads_trace(data))
    assert hashlib.sha256(out).hexdigest() == SKTRACES[name]
    assert out == data


@pytest.mark.parametrize("name", ["trace.json", "validation_trace.json", "large_trace.json"])
def test_json_to_msgpack_to_json(name: str) -> None:
    original = load_trace(DATA / name)
    as_json = dumps_trace(original, format="json")
    as_msgpack = dumps_trace(original)
    back = loads_trace(as_msgpack)
    assert dumps_trace(back, format="json") == as_json
    assert json.loads(as_json) == json.loads((DATA / name).read_bytes())
    assert back.events == original.events and back.index == original.index
    assert as_json.startswith(b'{\n  "version": 2,\n  "config": {\n')
    assert as_json.endswith(b"\n")
    assert loads_trace(as_json).events == original.events  # sniffed as JSON


@pytest.mark.parametrize("name", sorted(SKTRACES))
def test_msgpack_to_json_to_msgpack(name: str) -> None:
    trace = load_trace(DATA / name)
    as_json = dumps_trace(trace, format="json", drop_lifecycles=True)
    back = loads_trace(as_json, format="json")
    assert back.pod_lifecycles == {}
    assert back.events == trace.events
    if not trace.pod_lifecycles:
        assert dumps_trace(back) == (DATA / name).read_bytes()


def test_lifecycles_cannot_be_written_as_json() -> None:
    trace = load_trace(DATA / "bare-pods.sktrace")
    with pytest.raises(TraceError) as info:
        dumps_trace(trace, format="json")
    assert str(info.value) == (
        f"{DATA / 'bare-pods.sktrace'}: the trace has pod lifecycles (4 owners, 4 entries), which JSON cannot "
        "hold (their keys are arrays and integer hashes); write msgpack instead, or drop them with "
        "drop_lifecycles=True (CLI: --drop-lifecycles)"
    )
    assert json.loads(dumps_trace(trace, format="json", drop_lifecycles=True))["pod_lifecycles"] == {}


def test_json_with_lifecycles_is_refused() -> None:
    doc = json.loads((DATA / "trace.json").read_bytes())
    doc["pod_lifecycles"] = {"x": {}}
    with pytest.raises(TraceFormatError) as info:
        loads_trace(json.dumps(doc).encode(), source="t.json")
    assert str(info.value) == (
        "t.json: pod_lifecycles: JSON traces cannot hold pod lifecycles (their keys are [gvk, namespace/name] "
        "arrays and integer hashes); use {} or the msgpack format"
    )


# ---------------------------------------------------------------------------------------------------
# versions


def test_pre_v2_v1_array_is_refused() -> None:
    doc = _raw("dsb-scaling.sktrace")
    v1 = [{"trackedObjects": {}}, doc["events"], {"dsb/x": 1}, {}]
    with pytest.raises(TraceVersionError) as info:
        loads_trace(_pack(v1), source="old.sktrace")
    assert str(info.value) == (
        'old.sktrace: this msgpack file is SimKube\'s unversioned "v1" trace format (a 4-element array '
        f"[config, events, index, pod_lifecycles], SimKube 0.7 to 1.1.1); {HINT}"
    )


def test_pre_v2_v0_array_is_refused_in_json_too() -> None:
    with pytest.raises(TraceVersionError) as info:
        loads_trace(json.dumps([{"trackedObjects": {}}, []]).encode(), source="v0.json")
    assert str(info.value) == (
        'v0.json: this json file is SimKube\'s unversioned "v0" trace format (a 2-element array '
        f"[config, events], SimKube 0.4); {HINT}"
    )


def test_other_arrays_are_format_errors() -> None:
    with pytest.raises(TraceFormatError) as info:
        loads_trace(_pack([1, 2, 3]), source="a")
    assert str(info.value) == (
        "a: the top level is an array of 3 elements, expected a map with keys version, config, events, index, "
        "pod_lifecycles"
    )


@pytest.mark.parametrize(("version", "kind"), [(3, "a newer format than this package knows"), (1, "an old format")])
def test_other_versions_are_refused(version: int, kind: str) -> None:
    doc = _raw("cronjob.sktrace")
    doc["version"] = version
    with pytest.raises(TraceVersionError) as info:
        loads_trace(_pack(doc), source="v.sktrace")
    assert str(info.value) == f"v.sktrace: version: unsupported trace version {version} ({kind}); {HINT}"


def test_version_3_with_a_different_layout_still_reports_the_version() -> None:
    with pytest.raises(TraceVersionError, match="unsupported trace version 3"):
        loads_trace(_pack({"version": 3, "something": []}))


# ---------------------------------------------------------------------------------------------------
# unknown and legacy keys


def test_unknown_top_level_and_event_keys_are_kept_and_written_last() -> None:
    doc = _raw("cronjob.sktrace")
    doc["metadata"] = {"owner": "me", "tags": ["a"]}
    doc["events"][1]["note"] = "hello"
    data = _pack(doc)
    trace = loads_trace(data)
    assert trace.extra == {"metadata": {"owner": "me", "tags": ["a"]}}
    assert trace.events[1].extra == {"note": "hello"}
    assert dumps_trace(trace) == data
    reordered = {"metadata": doc["metadata"], **{k: v for k, v in doc.items() if k != "metadata"}}
    assert dumps_trace(loads_trace(_pack(reordered))) == data  # known keys first, then the extra ones
    assert list(json.loads(dumps_trace(trace, format="json", drop_lifecycles=True))) == [
        "version", "config", "events", "index", "pod_lifecycles", "metadata"
    ]  # fmt: skip


def test_legacy_pod_spec_template_path_round_trips() -> None:
    doc = _raw("dsb-scaling.sktrace")
    doc["config"]["trackedObjects"]["apps/v1.Deployment"] = {"podSpecTemplatePath": "/spec/template"}
    data = _pack(doc)
    trace = loads_trace(data)
    assert trace.config["trackedObjects"]["apps/v1.Deployment"] == {"podSpecTemplatePath": "/spec/template"}
    assert pod_spec_template_paths(trace.config, "apps/v1.Deployment") == ["/spec/template"]
    assert dumps_trace(trace) == data


def test_config_normalisation() -> None:
    config = load_trace(DATA / "cronjob.sktrace").config
    assert validate_config(config) == {
        "apps/v1.Deployment": ["/spec/template"],
        "batch/v1.CronJob": ["/spec/jobTemplate/spec/template"],
        "apps/v1.StatefulSet": ["/spec/template"],
    }
    assert pod_spec_template_paths(config, "v1.Pod") == [""]
    assert pod_spec_template_paths(config, "example.com/v1.Thing") == []
    crd = {"trackedObjects": {"batch.volcano.sh/v1alpha1.Job": {"podSpecTemplatePaths": ["/spec/tasks/*/template"]},
                              "/v1.Pod": {"podSpecTemplatePath": ""}}}  # fmt: skip
    assert validate_config(crd) == {"batch.volcano.sh/v1alpha1.Job": ["/spec/tasks/*/template"], "/v1.Pod": [""]}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"apps/v1.Deployment": {"podSpecTemplatePaths": ["/spec/template"], "trackLifecyle": True}},
            'config.trackedObjects["apps/v1.Deployment"]: unknown key \'trackLifecyle\' in the config of '
            "apps/v1.Deployment (allowed: podSpecTemplatePaths, trackLifecycle, skipOwned, podSpecTemplatePath)",
        ),
        (
            {"example.com/v1.Thing": {}},
            'config.trackedObjects["example.com/v1.Thing"]: missing pod spec template path for example.com/v1.Thing: '
            "a GVK that is not built into SimKube needs podSpecTemplatePaths",
        ),
        (
            {"apps/v1.Deployment": {"podSpecTemplatePaths": ["/spec"]}},
            'config.trackedObjects["apps/v1.Deployment"]: invalid pod spec template path \'/spec\' for '
            "apps/v1.Deployment: SimKube only accepts its built-in path '/spec/template' for this GVK",
        ),
        (
            {"apps/v1.Deployment": {"skipOwned": "yes"}},
            'config.trackedObjects["apps/v1.Deployment"]: skipOwned of apps/v1.Deployment must be a bool, got a string',
        ),
        (
            {"Deployment": {}},
            "config.trackedObjects[\"Deployment\"]: invalid GVK 'Deployment': expected 'group/version.Kind' "
            "(core group: 'version.Kind')",
        ),
    ],
)
def test_config_errors(entry: dict[str, Any], message: str) -> None:
    doc = _raw("dsb-scaling.sktrace")
    doc["config"]["trackedObjects"] = entry
    with pytest.raises(TraceConfigError) as info:
        loads_trace(_pack(doc), source="c.sktrace")
    assert str(info.value) == f"c.sktrace: {message}"


def test_config_without_tracked_objects() -> None:
    doc = _raw("dsb-scaling.sktrace")
    doc["config"] = {}
    with pytest.raises(TraceConfigError) as info:
        loads_trace(_pack(doc), source="c.sktrace")
    assert str(info.value) == "c.sktrace: config: missing the trackedObjects map"


# ---------------------------------------------------------------------------------------------------
# structural errors


def _with_event(applied: list[Any], deleted: list[Any] | None = None) -> dict[str, Any]:
    doc = _raw("dsb-scaling.sktrace")
    doc["events"] = [{"ts": 10, "applied_objs": [], "deleted_objs": []},
                     {"ts": 11, "applied_objs": applied, "deleted_objs": deleted or []}]  # fmt: skip
    return doc


def _error(doc: Any, kind: type[TraceError] = TraceFormatError, name: str = "tests/x.sktrace") -> str:
    with pytest.raises(kind) as info:
        loads_trace(_pack(doc), source=name)
    assert type(info.value) is kind
    return str(info.value)


def test_workload_without_containers() -> None:
    web = _web()
    web["spec"]["template"]["spec"]["containers"] = []
    assert _error(_with_event([web]), WorkloadError) == (
        "tests/x.sktrace: events[1].applied_objs[0] (Deployment default/web) spec.template.spec.containers: "
        "a Deployment needs at least one container"
    )
    del web["spec"]["template"]
    assert _error(_with_event([web]), WorkloadError).endswith(
        "(Deployment default/web) spec.template.spec.containers: a Deployment needs at least one container"
    )
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": None}}
    assert _error(_with_event([pod]), WorkloadError) == (
        "tests/x.sktrace: events[1].applied_objs[0] (Pod default/p) spec.containers: a Pod needs at least one container"
    )


def test_bad_quantity_names_the_field() -> None:
    web = _web(cpu="1K")
    assert _error(_with_event([_web(), web]), QuantityFieldError) == (
        "tests/x.sktrace: events[1].applied_objs[1] (Deployment default/web) "
        "spec.template.spec.containers[0].resources.requests.cpu: invalid quantity '1K': unable to parse "
        "quantity's suffix"
    )
    web = _web()
    web["spec"]["template"]["spec"]["initContainers"] = [container("init", limit_memory="1 Gi")]
    message = _error(_with_event([web]), QuantityFieldError)
    assert message.startswith(
        "tests/x.sktrace: events[1].applied_objs[0] (Deployment default/web) "
        "spec.template.spec.initContainers[0].resources.limits.memory: invalid quantity '1 Gi': quantities must match"
    )


def test_quantities_accept_numbers_and_json_whitespace() -> None:
    web = _web()
    web["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": 0.5, "memory": " 1Gi "}}
    trace = loads_trace(_pack(_with_event([web])))
    assert trace.events[1].applied_objs[0]["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == 0.5


def test_other_kinds_are_not_checked_for_containers() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}
    crd_job = {"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"name": "j"}, "spec": {}}
    assert _counts(loads_trace(_pack(_with_event([cm, crd_job]))))[1] == 2


def test_deleted_objects_are_identity_only() -> None:
    web = _web()
    web["spec"]["template"]["spec"]["containers"] = []
    trace = loads_trace(_pack(_with_event([], [deleted_stub(_web()), web])))
    assert trace.events[1].deleted_objs[0] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                               "metadata": {"name": "web", "namespace": "default"}}  # fmt: skip
    assert _error(_with_event([], [{"apiVersion": "v1", "kind": "Pod", "metadata": {}}])) == (
        "tests/x.sktrace: events[1].deleted_objs[0]: metadata.name must be a non-empty string, got missing"
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("index"), "missing top-level key 'index' (a version-2 trace has version, config, events, index, pod_lifecycles)"),
        (lambda d: d.update(events={}), "events: must be an array, got a map"),
        (lambda d: d["events"][3].update(ts=1.5), "events[3].ts: must be an integer (Unix seconds), got a float"),
        (lambda d: d["events"][3].update(ts=True), "events[3].ts: must be an integer (Unix seconds), got a bool"),
        (lambda d: d["events"][3].pop("deleted_objs"), "events[3]: missing key 'deleted_objs'"),
        (lambda d: d["events"][3]["applied_objs"].append("x"), "events[3].applied_objs[3]: a Kubernetes object must be a map, got a string"),
        (lambda d: d["events"][3]["applied_objs"][0].pop("kind"), "events[3].applied_objs[0]: kind must be a non-empty string, got missing"),
        (lambda d: d["events"][3].update(ts=5), "events[3].ts: ts 5 is before the previous event's ts 1710892561: events must be in time order"),
        (lambda d: d["index"]["apps/v1.Deployment"].update({"dsb/jaeger": -1}), 'index["apps/v1.Deployment"]["dsb/jaeger"]: must be a uint64 hash, got -1'),
        (lambda d: d["index"]["apps/v1.Deployment"].update({"dsb/jaeger": "1"}), 'index["apps/v1.Deployment"]["dsb/jaeger"]: must be a uint64 hash, got a string'),
        (lambda d: d.update(index=[]), "index: must be a map, got an array"),
        (lambda d: d.update(version="2"), "version: must be an integer, got a string"),
        (lambda d: d["events"][1]["applied_objs"][0]["metadata"].update(uid=b"\x00"),
         "events[1].applied_objs[0] (Deployment dsb/user-timeline-service) metadata.uid: binary data is not allowed in a trace (only JSON values are)"),
        (lambda d: d["events"][1]["applied_objs"][0]["spec"].update({1: 2}),
         "events[1].applied_objs[0] (Deployment dsb/user-timeline-service) spec: map key 1 is an integer, expected a string"),
        (lambda d: d["events"][1]["applied_objs"][0]["spec"].update(x=msgpack.ExtType(5, b"z")),
         "events[1].applied_objs[0] (Deployment dsb/user-timeline-service) spec.x: ExtType is not allowed in a trace (only JSON values are)"),
    ],
)  # fmt: skip
def test_format_errors_name_the_place(mutate: Any, message: str) -> None:
    doc = _raw("dsb-scaling.sktrace")
    mutate(doc)
    assert _error(doc) == f"tests/x.sktrace: {message}"


@pytest.mark.parametrize(
    ("entry", "shown"),
    [("Gone", "'Gone'"), ({"Running": "1"}, "{'Running': '1'}"), ({"Finished": [1]}, "{'Finished': [1]}"),
     ({"Running": 1, "Finished": [1, 2]}, "{'Running': 1, 'Finished': [1, 2]}")],
)  # fmt: skip
def test_bad_lifecycle_entries(entry: Any, shown: str) -> None:
    doc = _raw("cronjob.sktrace")
    owner = ("batch/v1.CronJob", "default/hello-simkube")
    (spec_hash,) = doc["pod_lifecycles"][owner]
    doc["pod_lifecycles"][owner][spec_hash][1] = entry
    assert _error(doc) == (
        f"tests/x.sktrace: pod_lifecycles[['batch/v1.CronJob', 'default/hello-simkube']][{spec_hash}][1]: "
        f'must be "Empty", {{"Running": start_ts}} or {{"Finished": [start_ts, end_ts]}}, got {shown}'
    )


def test_lifecycle_keys_must_be_pairs() -> None:
    doc = _raw("cronjob.sktrace")
    doc["pod_lifecycles"] = {"default/hello-simkube": {}}
    assert _error(doc) == (
        "tests/x.sktrace: pod_lifecycles: keys must be [gvk, \"namespace/name\"] arrays, got 'default/hello-simkube'"
    )
    doc["pod_lifecycles"] = {("a", "b"): {-5: []}}
    assert _error(doc) == "tests/x.sktrace: pod_lifecycles[['a', 'b']]: keys must be uint64 pod spec hashes, got -5"
    doc["pod_lifecycles"] = {("a", "b"): {5: ["Empty", {"Running": 3}]}}
    assert loads_trace(_pack(doc)).pod_lifecycles == {("a", "b"): {5: ["Empty", {"Running": 3}]}}


def test_byte_level_errors() -> None:
    data = (DATA / "cronjob.sktrace").read_bytes()
    with pytest.raises(TraceFormatError) as info:
        loads_trace(data + b"\x00\x01", source="t.sktrace")
    assert str(info.value) == (
        "t.sktrace: 2 bytes of trailing data after the trace: a trace file is exactly one msgpack value"
    )
    with pytest.raises(TraceFormatError, match=r"^t.sktrace: not a msgpack trace \(truncated or corrupt\): "):
        loads_trace(data[:-3], source="t.sktrace")
    with pytest.raises(TraceFormatError) as info:
        loads_trace(b"", source="t.sktrace")
    assert str(info.value) == "t.sktrace: the file is empty"
    with pytest.raises(TraceFormatError, match=r"^t.json: not a JSON trace: "):
        loads_trace(b'{"version": 2,', source="t.json")
    with pytest.raises(TraceFormatError, match="^t.sktrace: a string is not valid UTF-8"):
        loads_trace(b"\x81\xa2\xff\xfe\x01", source="t.sktrace")
    with pytest.raises(TraceFormatError) as info:
        loads_trace(_pack(5), source="n")
    assert str(info.value) == "n: the top level is an integer, expected a map with keys version, config, events, index, pod_lifecycles"
    with pytest.raises(TraceFormatError, match="NaN is not a JSON number"):
        loads_trace(b'{"version": 2, "x": NaN}', source="n")


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(TraceError) as info:
        load_trace(tmp_path / "missing.sktrace")
    assert str(info.value) == f"{tmp_path / 'missing.sktrace'}: cannot read the trace file: No such file or directory"


# ---------------------------------------------------------------------------------------------------
# writing


def test_dumps_recomputes_stale_entries_without_mutating() -> None:
    trace = load_trace(DATA / "dsb-scaling.sktrace")
    key = ("apps/v1.Deployment", "dsb/jaeger")
    old = trace.index[key[0]][key[1]]
    last = next(o for e in reversed(trace.events) for o in e.applied_objs if o["metadata"]["name"] == "jaeger")
    changed = copy.deepcopy(last)
    changed["spec"]["replicas"] = 7
    events = list(trace.events)
    events[-1] = dataclasses.replace(events[-1], applied_objs=events[-1].applied_objs + (changed,))
    edited = dataclasses.replace(trace, events=tuple(events), stale_index=frozenset({key}))
    reloaded = loads_trace(dumps_trace(edited))
    assert reloaded.index[key[0]][key[1]] == sk_hash(changed["spec"]) != old
    assert edited.index[key[0]][key[1]] == old
    assert edited.stale_index == frozenset({key})
    assert reloaded.index[key[0]]["dsb/media-service"] == trace.index[key[0]]["dsb/media-service"]


def test_built_traces_get_their_index_hashes_on_write() -> None:
    trace = build_trace([(100, [_web()], [])])
    assert trace.index == {"apps/v1.Deployment": {"default/web": 0}}
    reloaded = loads_trace(dumps_trace(trace))
    assert reloaded.index == {"apps/v1.Deployment": {"default/web": sk_hash(_web()["spec"])}}
    assert reloaded.config == {"trackedObjects": {"apps/v1.Deployment": {"podSpecTemplatePaths": ["/spec/template"]}}}


def test_dumps_refuses_values_json_cannot_hold() -> None:
    web = _web()
    web["metadata"]["blob"] = b"\x00"
    with pytest.raises(TraceFormatError) as info:
        dumps_trace(build_trace([(1, [web], [])]))
    assert str(info.value) == "events[0].applied_objs[0] metadata.blob: binary data is not allowed in a trace (only JSON values are)"
    with pytest.raises(TraceError, match="unknown trace format 'yaml'"):
        dumps_trace(build_trace([(1, [_web()], [])]), format="yaml")


def test_save_is_atomic_and_never_touches_the_source(tmp_path: Path) -> None:
    source = tmp_path / "in.sktrace"
    source.write_bytes((DATA / "dsb-scaling.sktrace").read_bytes())
    before = source.stat()
    trace = load_trace(source)
    with pytest.raises(TraceError) as info:
        save_trace(trace, source)
    assert str(info.value) == (
        f"{source}: refusing to overwrite the file this trace was loaded from; write to another path or pass "
        "overwrite=True (CLI: --overwrite)"
    )
    with pytest.raises(TraceError, match="refusing to overwrite"):
        save_trace(trace, tmp_path / "." / "in.sktrace")
    assert source.stat().st_mtime_ns == before.st_mtime_ns
    out = save_trace(trace, tmp_path / "out.sktrace")
    assert out == tmp_path / "out.sktrace"
    assert out.read_bytes() == source.read_bytes()
    as_json = save_trace(trace, tmp_path / "out.json")
    assert json.loads(as_json.read_bytes())["version"] == 2
    forced = save_trace(trace, tmp_path / "forced.bin", format="json")
    assert forced.read_bytes()[:1] == b"{"
    assert save_trace(trace, source, overwrite_source=True) == source
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forced.bin", "in.sktrace", "out.json", "out.sktrace"]


def test_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trace = load_trace(DATA / "cronjob.sktrace")
    target = tmp_path / "t.sktrace"
    target.write_bytes(b"old")

    def broken_replace(src: str, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(TraceError) as info:
        save_trace(trace, target)
    assert str(info.value) == f"{target}: cannot write the trace file: No space left on device"
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.sktrace"]
    monkeypatch.undo()
    with pytest.raises(TraceError, match="does not exist"):
        save_trace(trace, tmp_path / "nope" / "t.sktrace")
    with pytest.raises(TraceError, match="JSON cannot hold"):
        save_trace(trace, tmp_path / "t.json")
    assert [p.name for p in tmp_path.iterdir()] == ["t.sktrace"]

"""SimKube's hashes (simkube-trace-format.md 1.8) against the spec's vectors and the real fixtures."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sim_arena_gym.trace import Trace, load_trace, pod_stable_spec_hash, refresh_index, siphash13, sk_hash
from sim_arena_gym.trace.builders import bare_pod, build_trace, container, deployment, pod_spec
from sim_arena_gym.trace.hashing import object_key, recompute_index, sk_hash_bytes

DATA = Path(__file__).parent / "data" / "simkube"


def _last_applied(trace: Trace) -> dict[tuple[str, str], dict]:
    last: dict[tuple[str, str], dict] = {}
    for event in trace.events:
        for obj in event.applied_objs:
            last[object_key(obj)] = obj
    return last


def test_empty_pod_spec_vector() -> None:
    assert sk_hash({"containers": [], "volumes": []}) == 17506812802394981455


def test_traversal_bytes() -> None:
    assert sk_hash_bytes(None) == b"\x00" * 8
    assert sk_hash_bytes(True) == b"\x01"
    assert sk_hash_bytes(False) == b"\x00"
    assert sk_hash_bytes(1) == b"\x01" + b"\x00" * 7
    assert sk_hash_bytes(-1) == b"\xff" * 8
    assert sk_hash_bytes(2**64 - 1) == b"\xff" * 8
    assert sk_hash_bytes(1.0) == bytes.fromhex("000000000000f03f")
    assert sk_hash_bytes(-0.0) == sk_hash_bytes(0.0) == b"\x00" * 8
    assert sk_hash_bytes("ab") == b"ab\xff"
    assert sk_hash_bytes("é") == b"\xc3\xa9\xff"
    assert sk_hash_bytes([1, "a"]) == b"\x01" + b"\x00" * 7 + b"a\xff"
    assert sk_hash_bytes({"b": None, "a": True}) == b"a\xff\x01b\xff" + b"\x00" * 8
    assert sk_hash_bytes({"B": 1, "a": 1, "_": 1})[:2] == b"B\xff"  # byte-wise order: "B" < "_" < "a"
    assert sk_hash_bytes([]) == b"" and sk_hash_bytes({}) == b""


def test_containers_are_transparent() -> None:
    # no length prefixes or type tags: these values feed identical byte streams
    assert sk_hash([[1], [2]]) == sk_hash([1, 2]) == sk_hash((1, 2))
    assert sk_hash({"a": "b"}) == sk_hash(["a", "b"])


def test_siphash_block_boundaries_and_keys() -> None:
    values = {siphash13(b"x" * n) for n in range(0, 33)}
    assert len(values) == 33
    assert all(0 <= v < 2**64 for v in values)
    assert siphash13(b"abc", 1, 2) != siphash13(b"abc")
    assert siphash13(b"abc", 0, 0) == siphash13(b"abc")


def test_unhashable_values_raise_type_error() -> None:
    with pytest.raises(TypeError):
        sk_hash(b"bytes")
    with pytest.raises(TypeError):
        sk_hash({1: "x"})


def test_dsb_scaling_index_matches_every_last_applied_spec() -> None:
    trace = load_trace(DATA / "dsb-scaling.sktrace")
    last = _last_applied(trace)
    entries = [(gvk, name, h) for gvk, names in trace.index.items() for name, h in names.items()]
    assert len(entries) == 27
    for gvk, name, stored in entries:
        assert sk_hash(last[(gvk, name)].get("spec")) == stored, name
    assert trace.index["apps/v1.Deployment"]["dsb/user-timeline-service"] == 1646562640943922285


def test_cronjob_index_entry() -> None:
    trace = load_trace(DATA / "cronjob.sktrace")
    ((gvk, names),) = trace.index.items()
    ((name, stored),) = names.items()
    assert (gvk, name) == ("batch/v1.CronJob", "default/hello-simkube")
    assert sk_hash(_last_applied(trace)[(gvk, name)]["spec"]) == stored


def test_bare_pods_stable_spec_hash_is_the_lifecycle_key() -> None:
    trace = load_trace(DATA / "bare-pods.sktrace")
    pods = [obj for event in trace.events for obj in event.applied_objs]
    assert len(pods) == 4
    for pod in pods:
        assert pod_stable_spec_hash(pod["spec"]) == 2151974655102796215
        owner = ("v1.Pod", f"testing/{pod['metadata']['name']}")
        assert list(trace.pod_lifecycles[owner]) == [2151974655102796215]


def test_bare_pods_index_matches_after_restoring_service_account() -> None:
    trace = load_trace(DATA / "bare-pods.sktrace")
    for pod in (obj for event in trace.events for obj in event.applied_objs):
        stored = trace.index["v1.Pod"][f"testing/{pod['metadata']['name']}"]
        assert sk_hash(pod["spec"]) != stored  # a SKEL transform removed the service account fields
        restored = {**pod["spec"], "serviceAccount": "default", "serviceAccountName": "default"}
        assert sk_hash(restored) == stored


def test_stable_spec_drops_volatile_fields() -> None:
    base = {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]}
    noisy = {
        "containers": [{"name": "c", "image": "i", "volumeMounts": [{"name": "kube-api-access-x", "mountPath": "/s"}]}],
        "nodeName": "node-1",
        "serviceAccount": "sa",
        "serviceAccountName": "sa",
        "volumes": [{"name": "kube-api-access-x", "projected": {}}],
        "priority": None,
    }
    assert pod_stable_spec_hash(base) == pod_stable_spec_hash(noisy)
    expected = {"containers": [{"name": "c", "image": "i", "volumeMounts": []}], "volumes": []}
    assert pod_stable_spec_hash(base) == sk_hash(expected)
    with_init = {**base, "initContainers": [{"name": "i", "ports": [{"containerPort": 1}]}]}
    assert pod_stable_spec_hash(with_init) == sk_hash(
        {**expected, "initContainers": [{"name": "i", "ports": [{"containerPort": 1}], "volumeMounts": []}]}
    )


def test_refresh_index_recomputes_only_stale_entries() -> None:
    web = deployment("web", pod_spec([container("app", cpu="500m")]))
    other = bare_pod("p", pod_spec([container("c")]))
    trace = build_trace([(100, [web, other], [])])
    assert trace.index == {"apps/v1.Deployment": {"default/web": 0}, "v1.Pod": {"default/p": 0}}
    fresh = refresh_index(trace)
    assert fresh.stale_index == frozenset()
    assert fresh.index == {"apps/v1.Deployment": {"default/web": sk_hash(web["spec"])}, "v1.Pod": {"default/p": sk_hash(other["spec"])}}
    assert trace.index["apps/v1.Deployment"]["default/web"] == 0  # input untouched
    assert refresh_index(fresh) is fresh
    only_web = dataclasses.replace(trace, stale_index=frozenset({("apps/v1.Deployment", "default/web")}))
    index = recompute_index(only_web)
    assert index["v1.Pod"] is trace.index["v1.Pod"]
    assert index["apps/v1.Deployment"]["default/web"] == sk_hash(web["spec"])


def test_refresh_index_uses_the_last_occurrence_and_null_spec() -> None:
    v1 = deployment("web", pod_spec([container("app", cpu="1")]))
    v2 = deployment("web", pod_spec([container("app", cpu="2")]))
    no_spec = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"}}
    trace = build_trace([(1, [v1], []), (2, [v2, no_spec], [])])
    index = refresh_index(trace).index
    assert index["apps/v1.Deployment"]["default/web"] == sk_hash(v2["spec"]) != sk_hash(v1["spec"])
    assert index["v1.ConfigMap"]["default/cm"] == sk_hash(None)

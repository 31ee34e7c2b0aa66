"""Listing, finding and editing workloads inside a trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sim_arena_gym.trace import (
    ContainerResources,
    QuantityFieldError,
    Trace,
    WorkloadError,
    WorkloadInfo,
    WorkloadRef,
    edit_workload,
    find_workload,
    list_workloads,
    load_trace,
    save_trace,
    sk_hash,
)
from sim_arena_gym.trace.builders import (
    bare_pod,
    build_trace,
    container,
    deployment,
    pod_spec,
    replicaset,
    statefulset,
)

DATA = Path(__file__).parent / "data" / "simkube"
COMPOSE = WorkloadRef("Deployment", "dsb", "compose-post-service")


@pytest.fixture(scope="module")
def dsb() -> Trace:
    return load_trace(DATA / "dsb-scaling.sktrace")


def _occurrences(trace: Trace, ref: WorkloadRef) -> list[dict[str, Any]]:
    return [obj for event in trace.events for obj in event.applied_objs if ref.matches(obj)]


def _resources(obj: dict[str, Any], i: int = 0, key: str = "containers") -> dict[str, Any]:
    spec = obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]
    return spec[key][i]["resources"]


def _mixed() -> Trace:
    web = deployment(
        "web",
        pod_spec(
            [container("app", cpu="500m", memory="256Mi", limit_cpu="1", limit_memory="512Mi"), container("log", cpu="100m")],
            init_containers=[container("setup", cpu="200m"), container("proxy", cpu="50m", restart_policy="Always")],
        ),
        replicas=3,
    )
    db = statefulset("db", pod_spec([container("db", cpu="2", memory="4Gi")]), namespace="data", replicas=2)
    rs = replicaset("rs", pod_spec([container("c", cpu="1")]))
    pod = bare_pod("solo", pod_spec([container("c", memory="64Mi")]))
    web2 = deployment("web", pod_spec([container("app", cpu="750m", memory="256Mi", limit_cpu="1")]), replicas=4)
    return build_trace([(100, [web, db], []), (200, [rs, pod], []), (300, [web2], [])])


# ---------------------------------------------------------------------------------------------------
# reading


def test_list_workloads_of_dsb(dsb: Trace) -> None:
    infos = list_workloads(dsb)
    assert len(infos) == 27
    assert infos[0].ref == WorkloadRef("Deployment", "dsb", "user-timeline-service")
    by_name = {info.ref.name: info for info in infos}
    nginx = by_name["nginx-thrift"]
    assert (nginx.replicas, nginx.occurrences) == (10, 5)
    assert nginx.init_containers == (
        ContainerResources("alpine-container", {"cpu": "1", "memory": "1Gi"}, {}, "init"),
    )
    assert by_name["compose-post-service"] == WorkloadInfo(
        ref=COMPOSE,
        replicas=2,
        containers=(ContainerResources("compose-post-service", {"cpu": "1", "memory": "1Gi"}, {}, "container"),),
        init_containers=(),
        occurrences=4,
        last_event=18,
    )
    assert sum(info.occurrences for info in infos) == 46


def test_find_workload_accepts_strings(dsb: Trace) -> None:
    assert find_workload(dsb, "dsb/compose-post-service").ref == COMPOSE
    assert find_workload(dsb, "Deployment/dsb/compose-post-service") == find_workload(dsb, COMPOSE)


def test_find_workload_not_found_lists_workloads(dsb: Trace) -> None:
    with pytest.raises(WorkloadError) as info:
        find_workload(dsb, "default/web")
    message = str(info.value)
    assert message.startswith(
        f"Deployment default/web not found in {DATA / 'dsb-scaling.sktrace'}; workloads in the trace: "
        "Deployment dsb/user-timeline-service, Deployment dsb/media-service, "
    )
    assert message.endswith("Deployment dsb/nginx-thrift")
    assert message.count("Deployment dsb/") == 27
    with pytest.raises(WorkloadError, match="kind 'Job' is not one of"):
        find_workload(dsb, "Job/default/x")


def test_kinds_and_roles() -> None:
    trace = _mixed()
    infos = {str(info.ref): info for info in list_workloads(trace)}
    assert list(infos) == ["Deployment/default/web", "StatefulSet/data/db", "ReplicaSet/default/rs", "Pod/default/solo"]
    web = infos["Deployment/default/web"]
    assert (web.replicas, web.occurrences, web.last_event) == (4, 2, 2)
    assert [c.name for c in web.containers] == ["app"]
    assert infos["StatefulSet/data/db"].replicas == 2
    assert infos["Pod/default/solo"].replicas == 1
    first = edit_workload(trace, "default/web", replicas=3, occurrences="all")
    assert find_workload(first, "default/web").replicas == 3
    web1 = list_workloads(build_trace([(1, [trace.events[0].applied_objs[0]], [])]))[0]
    assert [(c.name, c.role) for c in web1.init_containers] == [("setup", "init"), ("proxy", "sidecar")]
    assert web1.containers[0] == ContainerResources("app", {"cpu": "500m", "memory": "256Mi"}, {"cpu": "1", "memory": "512Mi"}, "container")


# ---------------------------------------------------------------------------------------------------
# editing


def test_edit_round_trip_updates_the_index(dsb: Trace, tmp_path: Path) -> None:
    old_hash = dsb.index["apps/v1.Deployment"]["dsb/compose-post-service"]
    edited = edit_workload(dsb, COMPOSE, requests={"*": {"cpu": "500m"}})
    assert edited.stale_index == frozenset({("apps/v1.Deployment", "dsb/compose-post-service")})
    assert edited.index is dsb.index
    path = save_trace(edited, tmp_path / "edited.sktrace")
    reloaded = load_trace(path)
    last = _occurrences(reloaded, COMPOSE)[-1]
    assert _resources(last) == {"requests": {"cpu": "500m", "memory": "1Gi"}}
    new_hash = reloaded.index["apps/v1.Deployment"]["dsb/compose-post-service"]
    assert new_hash == sk_hash(last["spec"])
    assert new_hash != old_hash
    for name, value in dsb.index["apps/v1.Deployment"].items():
        if name != "dsb/compose-post-service":
            assert reloaded.index["apps/v1.Deployment"][name] == value
    assert all(_resources(o)["requests"]["cpu"] == "500m" for o in _occurrences(reloaded, COMPOSE))


def test_edit_shares_everything_untouched(dsb: Trace) -> None:
    edited = edit_workload(dsb, COMPOSE, requests={"compose-post-service": {"memory": "512Mi"}}, occurrences="last")
    assert edited is not dsb
    for i, (old, new) in enumerate(zip(dsb.events, edited.events)):
        if i == 18:
            assert new is not old
            assert new.deleted_objs is old.deleted_objs and new.ts == old.ts
        else:
            assert new is old
    old_obj, new_obj = dsb.events[18].applied_objs[0], edited.events[18].applied_objs[0]
    assert new_obj is not old_obj
    assert new_obj["metadata"] is old_obj["metadata"]
    assert new_obj["spec"]["selector"] is old_obj["spec"]["selector"]
    assert new_obj["spec"]["template"]["metadata"] is old_obj["spec"]["template"]["metadata"]
    new_c = new_obj["spec"]["template"]["spec"]["containers"][0]
    old_c = old_obj["spec"]["template"]["spec"]["containers"][0]
    assert new_c["volumeMounts"] is old_c["volumeMounts"]
    assert new_obj["spec"]["template"]["spec"]["volumes"] is old_obj["spec"]["template"]["spec"]["volumes"]
    assert old_c["resources"] == {"requests": {"cpu": "1", "memory": "1Gi"}}  # input unchanged
    assert new_c["resources"] == {"requests": {"cpu": "1", "memory": "512Mi"}}
    assert list(new_obj) == list(old_obj) and list(new_c) == list(old_c)
    earlier = _occurrences(edited, COMPOSE)[:-1]
    assert all(_resources(o) == {"requests": {"cpu": "1", "memory": "1Gi"}} for o in earlier)
    assert edited.config is dsb.config and edited.pod_lifecycles is dsb.pod_lifecycles


def test_edit_all_occurrences(dsb: Trace) -> None:
    edited = edit_workload(dsb, COMPOSE, limits={"*": {"cpu": "2"}})
    changed = [i for i, (a, b) in enumerate(zip(dsb.events, edited.events)) if a is not b]
    assert changed == [1, 3, 7, 18]
    assert [_resources(o) for o in _occurrences(edited, COMPOSE)] == [
        {"limits": {"cpu": "2"}, "requests": {"cpu": "1", "memory": "1Gi"}}
    ] * 4


def test_edit_replicas(dsb: Trace) -> None:
    edited = edit_workload(dsb, COMPOSE, replicas=7, occurrences="last")
    assert [o["spec"]["replicas"] for o in _occurrences(edited, COMPOSE)] == [1, 4, 6, 7]
    old_obj, new_obj = dsb.events[18].applied_objs[0], edited.events[18].applied_objs[0]
    assert new_obj["spec"]["template"] is old_obj["spec"]["template"]
    assert find_workload(edited, COMPOSE).replicas == 7
    assert find_workload(edit_workload(dsb, COMPOSE, replicas=0), COMPOSE).replicas == 0


def test_request_above_limit_raises_the_limit() -> None:
    trace = _mixed()
    edited = edit_workload(trace, "default/web", requests={"app": {"cpu": "1500m"}}, occurrences="all")
    first, last = _occurrences(edited, WorkloadRef.parse("default/web"))
    assert _resources(first) == {"limits": {"cpu": "1500m", "memory": "512Mi"}, "requests": {"cpu": "1500m", "memory": "256Mi"}}
    assert _resources(last) == {"limits": {"cpu": "1500m"}, "requests": {"cpu": "1500m", "memory": "256Mi"}}


def test_limit_below_request_lowers_the_request() -> None:
    trace = _mixed()
    edited = edit_workload(trace, "default/web", limits={"*": {"memory": "128Mi"}})
    first, last = _occurrences(edited, WorkloadRef.parse("default/web"))
    assert _resources(first, 0) == {"limits": {"cpu": "1", "memory": "128Mi"}, "requests": {"cpu": "500m", "memory": "128Mi"}}
    assert _resources(first, 1) == {"limits": {"memory": "128Mi"}, "requests": {"cpu": "100m"}}
    assert _resources(last) == {"limits": {"cpu": "1", "memory": "128Mi"}, "requests": {"cpu": "750m", "memory": "128Mi"}}


def test_explicit_request_above_explicit_limit_is_an_error() -> None:
    trace = _mixed()
    with pytest.raises(WorkloadError) as info:
        edit_workload(trace, "default/web", requests={"app": {"cpu": "2"}}, limits={"app": {"cpu": "500m"}})
    assert str(info.value) == (
        "events[0].applied_objs[0] (Deployment default/web) spec.template.spec.containers[0].resources.requests.cpu: "
        'Invalid value: "2": must be less than or equal to cpu limit of 500m'
    )
    ok = edit_workload(trace, "default/web", requests={"app": {"cpu": "500m"}}, limits={"app": {"cpu": "500m"}})
    assert _resources(_occurrences(ok, WorkloadRef.parse("default/web"))[-1]) == {
        "limits": {"cpu": "500m"}, "requests": {"cpu": "500m", "memory": "256Mi"}
    }  # fmt: skip


def test_negative_and_bad_quantities() -> None:
    trace = _mixed()
    with pytest.raises(WorkloadError) as info:
        edit_workload(trace, "default/web", requests={"*": {"cpu": "-1"}})
    assert str(info.value) == 'Deployment default/web requests.cpu: Invalid value: "-1": must be greater than or equal to 0'
    with pytest.raises(QuantityFieldError) as bad:
        edit_workload(trace, "default/web", limits={"*": {"memory": "1GB"}})
    assert str(bad.value).startswith("Deployment default/web limits.memory: invalid quantity '1GB': quantities must match")
    with pytest.raises(WorkloadError, match='spec.replicas: Invalid value: "-2": must be greater than or equal to 0'):
        edit_workload(trace, "default/web", replicas=-2)


def test_remove_keys_and_add_new_ones_in_sorted_order() -> None:
    trace = _mixed()
    ref = WorkloadRef.parse("default/web")
    edited = edit_workload(trace, ref, requests={"*": {"memory": None}}, limits={"*": {"cpu": None}}, occurrences="last")
    assert _resources(_occurrences(edited, ref)[-1]) == {"requests": {"cpu": "750m"}}
    added = edit_workload(trace, "Pod/default/solo", limits={"c": {"cpu": "1", "ephemeral-storage": "1Gi"}},
                          requests={"c": {"cpu": "250m"}})  # fmt: skip
    res = _resources(_occurrences(added, WorkloadRef.parse("Pod/default/solo"))[0])
    assert res == {"limits": {"cpu": "1", "ephemeral-storage": "1Gi"}, "requests": {"cpu": "250m", "memory": "64Mi"}}
    assert list(res) == ["limits", "requests"] and list(res["requests"]) == ["cpu", "memory"]
    gone = edit_workload(trace, ref, requests={"log": {"cpu": None}}, occurrences="all")
    assert "resources" in _occurrences(gone, ref)[0]["spec"]["template"]["spec"]["containers"][1]
    assert _resources(_occurrences(gone, ref)[0], 1) == {}


def test_named_init_container_and_star_selects_main_only() -> None:
    trace = _mixed()
    ref = WorkloadRef.parse("default/web")
    edited = edit_workload(trace, ref, requests={"*": {"cpu": "300m"}, "proxy": {"cpu": "75m"}})
    first = _occurrences(edited, ref)[0]
    assert [_resources(first, i)["requests"]["cpu"] for i in range(2)] == ["300m", "300m"]
    assert _resources(first, 0, "initContainers")["requests"]["cpu"] == "200m"
    assert _resources(first, 1, "initContainers")["requests"]["cpu"] == "75m"


def test_unknown_container_lists_names() -> None:
    with pytest.raises(WorkloadError) as info:
        edit_workload(_mixed(), "default/web", requests={"nope": {"cpu": "1"}})
    assert str(info.value) == "Deployment default/web in the trace has no container 'nope'; its containers: app, log, setup, proxy"
    with pytest.raises(WorkloadError) as last_only:
        edit_workload(_mixed(), "default/web", requests={"log": {"cpu": "1"}}, occurrences="last")
    assert str(last_only.value) == "Deployment default/web in the trace has no container 'log'; its containers: app"
    dsb = load_trace(DATA / "dsb-scaling.sktrace")
    with pytest.raises(WorkloadError) as info:
        edit_workload(dsb, "dsb/nginx-thrift", limits={"nginx": {"cpu": "1"}})
    assert str(info.value) == (
        f"Deployment dsb/nginx-thrift in {DATA / 'dsb-scaling.sktrace'} has no container 'nginx'; its containers: "
        "nginx-thrift, alpine-container"
    )


def test_other_edit_errors() -> None:
    trace = _mixed()
    with pytest.raises(WorkloadError) as info:
        edit_workload(trace, "Pod/default/solo", replicas=2)
    assert str(info.value) == "Pod default/solo is a bare Pod: it has no replicas to change"
    with pytest.raises(WorkloadError) as missing:
        edit_workload(trace, "StatefulSet/default/db", replicas=1)
    assert str(missing.value) == (
        "StatefulSet default/db not found in the trace; workloads in the trace: Deployment default/web, "
        "StatefulSet data/db, ReplicaSet default/rs, Pod default/solo"
    )
    with pytest.raises(WorkloadError, match="occurrences must be 'all' or 'last', got 'first'"):
        edit_workload(trace, "default/web", replicas=1, occurrences="first")
    empty = build_trace([(1, [], [])])
    with pytest.raises(WorkloadError, match="the trace has no workloads"):
        find_workload(empty, "default/web")


def test_repeated_edits_stay_consistent() -> None:
    trace = _mixed()
    ref = WorkloadRef("StatefulSet", "data", "db")
    current = trace
    for millis in range(100, 1100, 100):
        current = edit_workload(current, ref, requests={"*": {"cpu": f"{millis}m"}})
    assert find_workload(current, ref).containers[0].requests == {"cpu": "1000m", "memory": "4Gi"}
    assert find_workload(trace, ref).containers[0].requests == {"cpu": "2", "memory": "4Gi"}
    assert current.stale_index == trace.stale_index  # a built trace lists every entry already
    loaded = load_trace(DATA / "dsb-scaling.sktrace")
    for cpu in ("1", "2", "3"):
        loaded = edit_workload(loaded, COMPOSE, requests={"*": {"cpu": cpu}})
    assert loaded.stale_index == frozenset({("apps/v1.Deployment", "dsb/compose-post-service")})

"""The live cluster (sim-arena serve) through the official `kubernetes` client only: a scenario read as a
running cluster, repaired with patches, scored as the Gym env scores the same edits; refused writes."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import pytest
from kubernetes import client, config

import sim_arena_gym  # noqa: F401 - registers the envs
from sim_arena_gym.live import LiveCluster
from sim_arena_gym.live.patches import strategic_merge_patch
from sim_arena_gym.trace.codec import dumps_trace


@pytest.fixture
def live(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    with LiveCluster("canonical", scenario="canonical-very-bad-cpu", kubeconfig_path=kubeconfig) as cluster:
        api = config.new_client_from_config(str(kubeconfig))
        yield cluster, client.CoreV1Api(api), client.AppsV1Api(api)
        api.close()


def _cpu_patch(cpu: str) -> dict:
    return {"spec": {"template": {"spec": {"containers": [{"name": "web", "resources": {"requests": {"cpu": cpu}}}]}}}}


def test_read_failed_scheduling_repair_and_see_pods_ready(live):
    cluster, core, apps = live
    pods = core.list_namespaced_pod("shop").items
    assert len(pods) == 4 and {p.status.phase for p in pods} == {"Pending"}
    assert all(p.spec.node_name is None for p in pods)
    pending = pods[0]
    events = core.list_namespaced_event(
        "shop", field_selector=f"involvedObject.name={pending.metadata.name},reason=FailedScheduling").items
    assert len(events) == 1
    assert events[0].message == ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
                                 "3 No preemption victims found for incoming pod.")
    assert events[0].type == "Warning" and events[0].involved_object.uid == pending.metadata.uid
    scheduled = [c for c in pending.status.conditions if c.type == "PodScheduled"][0]
    assert (scheduled.status, scheduled.reason) == ("False", "Unschedulable")
    assert {n.metadata.name for n in core.list_node().items} == {"node-0", "node-1", "node-2"}
    image = apps.read_namespaced_deployment("web", "shop").spec.template.spec.containers[0].image

    dep = apps.patch_namespaced_deployment("web", "shop", _cpu_patch("16"))  # strategic merge (the client's default)
    assert dep.spec.template.spec.containers[0].resources.requests == {"cpu": "16", "memory": "2Gi"}
    assert dep.spec.template.spec.containers[0].image == image  # merged by container name, not replaced
    assert dep.status.ready_replicas == 3
    scale = apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 3}})
    assert scale.spec.replicas == 3
    pods = core.list_namespaced_pod("shop").items
    assert len(pods) == 3
    assert all(p.status.phase == "Running" and p.spec.node_name for p in pods)
    assert all({c.type: c.status for c in p.status.conditions}["Ready"] == "True" for p in pods)
    rs = apps.list_namespaced_replica_set("shop").items
    assert [(r.spec.replicas, r.status.ready_replicas) for r in rs] == [(3, 3)]
    assert rs[0].metadata.owner_references[0].uid == dep.metadata.uid
    status = cluster.episode_status()
    assert (status["step"], status["success"], status["done"]) == (2, True, True)


def test_report_equals_the_gym_env_for_the_same_edits(live):
    """16500m, 16 and replicas 3 are the actions cpu_down, cpu_down, replicas_down; the live cluster's
    episode (steps, rewards, success, edited trace) is the Gym env's, byte for byte."""
    cluster, core, apps = live
    apps.patch_namespaced_deployment("web", "shop", _cpu_patch("16500m"))
    apps.patch_namespaced_deployment("web", "shop", [
        {"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/cpu", "value": "16"}])
    apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 3}})
    report = cluster.episode_status()

    env = gym.make("SimArena-InsufficientResources-v0", scenarios="canonical")
    _, info = env.reset(options={"scenario": "canonical-very-bad-cpu"})
    rewards = []
    for name in ("cpu_down", "cpu_down", "replicas_down"):
        _, reward, terminated, truncated, info = env.step(env.unwrapped.action_index(name))
        rewards.append(reward)
    assert report["rewards"] == rewards
    assert report["reward"] == sum(rewards)
    assert (report["step"], report["success"], report["terminated"]) == (3, info["success"], terminated)
    assert (report["requests"], report["limits"], report["replicas"]) == (info["requests"], info["limits"], info["replicas"])
    assert dumps_trace(cluster.env.current_trace()) == dumps_trace(env.unwrapped.current_trace())
    env.close()


def _refused(call) -> dict:
    with pytest.raises(client.ApiException) as err:
        call()
    return {"code": err.value.status, **json.loads(err.value.body)}


def test_refused_writes_get_a_status_naming_the_field_and_change_nothing(live):
    cluster, core, apps = live
    before_rv = cluster.store.resource_version
    before = apps.read_namespaced_deployment("web", "shop")

    apps.patch_namespaced_deployment("web", "shop", _cpu_patch("16500m"))  # accepted: lowers towards the cap
    above = _refused(lambda: apps.patch_namespaced_deployment("web", "shop", _cpu_patch("17500m")))
    assert above["code"] == 403 and above["reason"] == "Forbidden"
    assert above["message"] == ('deployments.apps "web" is forbidden: spec.template.spec.containers[0].resources.'
                                "requests[cpu]: cpu request 17500m would exceed the 16 CPU cap per container "
                                "(a safeguard of the scenario)")
    assert above["details"]["causes"][0]["field"] == "spec.template.spec.containers[0].resources.requests[cpu]"
    step_after_one = cluster.episode_status()["step"]
    assert step_after_one == 1
    rv = cluster.store.resource_version

    malformed = _refused(lambda: apps.patch_namespaced_deployment("web", "shop", _cpu_patch("2 cores")))
    assert malformed["code"] == 422 and malformed["reason"] == "Invalid"
    assert malformed["details"] == {"name": "web", "group": "apps", "kind": "Deployment", "causes": [{
        "reason": "FieldValueInvalid", "field": "spec.template.spec.containers[0].resources.requests[cpu]",
        "message": "Invalid value: \"2 cores\": quantities must match the regular expression "
                   "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"}]}
    assert malformed["message"].startswith(
        'Deployment.apps "web" is invalid: spec.template.spec.containers[0].resources.requests[cpu]: Invalid value: "2 cores"')
    limit = _refused(lambda: apps.patch_namespaced_deployment("web", "shop", {"spec": {"template": {"spec": {
        "containers": [{"name": "web", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]}}}}))
    assert limit["code"] == 422
    assert limit["message"] == ('Deployment.apps "web" is invalid: spec.template.spec.containers[0].resources.requests: '
                                'Invalid value: "2": must be less than or equal to cpu limit of 1')
    image = _refused(lambda: apps.patch_namespaced_deployment("web", "shop", {"spec": {"template": {"spec": {
        "containers": [{"name": "web", "image": "nginx:2"}]}}}}))
    assert image["code"] == 422 and "spec.template.spec.containers[0].image: Forbidden" in image["message"]
    other = _refused(lambda: core.patch_node("node-0", {"metadata": {"labels": {"x": "y"}}}))
    assert other["code"] == 403 and other["message"].startswith('nodes "node-0" is forbidden: the live cluster accepts only '
                                                                "repairs of Deployment/shop/web")
    pod = core.list_namespaced_pod("shop").items[0].metadata.name
    deleted = _refused(lambda: core.delete_namespaced_pod(pod, "shop"))
    assert deleted["code"] == 403
    created = _refused(lambda: apps.create_namespaced_deployment("shop", {
        "metadata": {"name": "web2"}, "spec": before.to_dict()["spec"]}))
    assert created["code"] == 403 and 'deployments.apps "web2" is forbidden' in created["message"]
    replicas = _refused(lambda: apps.patch_namespaced_deployment_scale("web", "shop", {"spec": {"replicas": 101}}))
    assert replicas["code"] == 403 and "spec.replicas: replicas 101 would exceed the cap of 100" in replicas["message"]

    assert cluster.store.resource_version == rv  # nothing changed after the one accepted edit
    assert cluster.episode_status()["step"] == 1
    assert before_rv < rv


def test_strategic_merge_patch_directives():
    original = {"containers": [{"name": "a", "image": "x", "env": [{"name": "E", "value": "1"}]}, {"name": "b"}]}
    patched = strategic_merge_patch(original, {
        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
        "containers": [{"name": "a", "env": [{"name": "F", "value": "2"}]}, {"name": "b", "$patch": "delete"}]})
    assert patched == {"containers": [{"name": "a", "image": "x", "env": [{"name": "E", "value": "1"}, {"name": "F", "value": "2"}]}]}
    assert original["containers"][1] == {"name": "b"}
    assert strategic_merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"$patch": "replace", "b": 3}}) == {"a": {"b": 3}}


@contextlib.contextmanager
def _serving(tmp_path, *args: str):
    """``sim-arena serve ARGS`` in a subprocess, once listening (its kubeconfig written); killed on the way
    out if it is still running."""
    kubeconfig = tmp_path / "kc"
    proc = subprocess.Popen([sys.executable, "-m", "sim_arena_gym.cli", "serve", *args, "--kubeconfig-out", str(kubeconfig)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not kubeconfig.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield proc, kubeconfig
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_serve_command_reports_on_exit(tmp_path):
    report = tmp_path / "report.json"
    with _serving(tmp_path, "--scenario", "canonical-slightly-bad-cpu", "--report", str(report), "--exit-when-done",
                  "--trace-out", str(tmp_path / "fixed.sktrace")) as (proc, kubeconfig):
        api = config.new_client_from_config(str(kubeconfig))
        client.AppsV1Api(api).patch_namespaced_deployment("web", "shop", _cpu_patch("8"))
        api.close()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    final = json.loads(out.strip().splitlines()[-1])
    assert final == json.loads(report.read_text())
    assert (final["scenario"], final["step"], final["success"], final["rewards"]) == (
        "canonical-slightly-bad-cpu", 1, True, [1.24])
    assert (tmp_path / "fixed.sktrace").is_file()


def test_put_takes_the_whole_object_and_a_stale_resource_version_is_a_conflict(live):
    cluster, core, apps = live
    stale = apps.read_namespaced_deployment("web", "shop")
    fresh = apps.read_namespaced_deployment("web", "shop")
    fresh.spec.template.spec.containers[0].resources.requests["cpu"] = "16"
    done = apps.replace_namespaced_deployment("web", "shop", fresh)
    assert done.spec.template.spec.containers[0].resources.requests["cpu"] == "16"
    assert done.status.ready_replicas == 3 and cluster.episode_status()["step"] == 1
    stale.spec.replicas = 3
    conflict = _refused(lambda: apps.replace_namespaced_deployment("web", "shop", stale))
    assert conflict["code"] == 409 and conflict["reason"] == "Conflict"
    assert cluster.episode_status()["step"] == 1


def test_a_watch_sees_the_edit_replace_the_pods(live):
    from kubernetes import watch

    cluster, core, apps = live
    listed = core.list_namespaced_pod("shop")
    old = {p.metadata.name for p in listed.items}
    apps.patch_namespaced_deployment("web", "shop", _cpu_patch("16"))
    seen = [(e["type"], e["object"].metadata.name) for e in watch.Watch().stream(
        core.list_namespaced_pod, "shop", resource_version=listed.metadata.resource_version, timeout_seconds=1)]
    new = {p.metadata.name for p in core.list_namespaced_pod("shop").items}
    assert old.isdisjoint(new) and len(new) == 4
    assert sorted(n for t, n in seen if t == "DELETED") == sorted(old)
    assert sorted(n for t, n in seen if t == "ADDED") == sorted(new)


def test_the_episode_endpoint_and_the_trace_endpoint(live):
    cluster, core, apps = live
    import urllib.request

    with urllib.request.urlopen(f"{cluster.url}/sim-arena/v1/episode", timeout=10) as answer:
        status = json.loads(answer.read())
    assert (status["scenario"], status["step"], status["target"], status["success"]) == ("canonical-very-bad-cpu", 0, 3, False)
    apps.patch_namespaced_deployment("web", "shop", _cpu_patch("16"))
    with urllib.request.urlopen(f"{cluster.url}/sim-arena/v1/trace", timeout=10) as answer:
        doc = json.loads(answer.read())
    assert json.dumps(doc, sort_keys=True) == json.dumps(
        json.loads(dumps_trace(cluster.env.current_trace(), format="json")), sort_keys=True)
    applied = [o for e in doc["events"] for o in e["applied_objs"] if o["kind"] == "Deployment"]
    assert applied[-1]["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "16"


def test_serve_user_errors_are_one_line_and_exit_2(tmp_path):
    for argv, expected in (
        (["--scenario", "no-such-scenario"], "unknown scenario 'no-such-scenario'"),
        (["--scenario", "canonical-very-bad-cpu", "--workload", "shop/web"], "--workload goes with --trace"),
        (["--scenario", "canonical-very-bad-cpu", "--steps", "0"], "--steps 0: must be at least 1"),
        (["--scenario", "canonical-very-bad-cpu", "--report", str(tmp_path / "no" / "r.json")], "does not exist"),
    ):
        done = subprocess.run([sys.executable, "-m", "sim_arena_gym.cli", "serve", *argv], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and expected in done.stderr and "Traceback" not in done.stderr


def test_serve_stops_on_sigterm_with_the_report(tmp_path):
    import signal

    trace = Path(__file__).resolve().parents[1] / "traces" / "canonical" / "canonical-mixed-errors.sktrace"
    with _serving(tmp_path, "--trace", str(trace), "--workload", "shop/web", "--target", "4") as (proc, kubeconfig):
        api = config.new_client_from_config(str(kubeconfig))
        pods = client.CoreV1Api(api).list_namespaced_pod("shop").items
        api.close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert sorted(p.status.phase for p in pods) == ["Pending", "Running", "Running", "Running"]
    final = json.loads(out.strip().splitlines()[-1])
    assert (final["scenario"], final["workload"], final["target"], final["step"], final["done"]) == (
        "canonical-mixed-errors", "Deployment/shop/web", 4, 0, False)


def test_fake_cluster_serves_the_scale_subresource(fake_cluster):
    api = config.new_client_from_config(str(fake_cluster.kubeconfig))
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment("default", {
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "x"}]}}}})
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert (scale.kind, scale.spec.replicas, scale.status.selector) == ("Scale", 2, "app=web")
    api.close()


def test_a_repair_of_another_workload_is_forbidden_and_changes_nothing(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    with LiveCluster("test", scenario="competing-deployments-008", kubeconfig_path=kubeconfig) as cluster:
        api = config.new_client_from_config(str(kubeconfig))
        apps = client.AppsV1Api(api)
        before = apps.read_namespaced_deployment("kafka-connect", "data")
        rv = cluster.store.resource_version
        refused = _refused(lambda: apps.patch_namespaced_deployment("kafka-connect", "data", {"spec": {"replicas": 1}}))
        assert refused["code"] == 403 and refused["message"] == (
            'deployments.apps "kafka-connect" is forbidden: the live cluster accepts only repairs of '
            "Deployment/auth/login: spec.replicas and the cpu/memory requests and limits of the pod template's "
            "containers (PATCH or PUT of the workload, or its scale subresource)")
        scaled = _refused(lambda: apps.patch_namespaced_deployment_scale("kafka-connect", "data", {"spec": {"replicas": 1}}))
        assert scaled["code"] == 403
        assert cluster.store.resource_version == rv and cluster.episode_status()["step"] == 0
        assert apps.read_namespaced_deployment("kafka-connect", "data").spec == before.spec
        api.close()

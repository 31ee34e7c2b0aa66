"""The simkube backend against the fake cluster, through the real ``kubernetes`` client over HTTP:
equality with the embedded backend step by step, faults, cleanup, Ctrl-C."""

from __future__ import annotations

import re
import threading

import gymnasium as gym
import numpy as np
import pytest

import agents
import sim_arena_gym  # noqa: F401 - registers the env ids
from sim_arena_gym.backends import BackendError, make_backend
from sim_arena_gym.backends.simkube import BackendInterrupted
from sim_arena_gym.backends.simkube_options import SimKubeOptionError
from sim_arena_gym.scenarios.index import load_scenario_set
from sim_arena_gym.testing.fake_cluster import FakeCluster
from sim_arena_gym.trace.codec import load_trace

SCENARIOS = [*load_scenario_set("canonical"), *load_scenario_set("test")]
CANONICAL = SCENARIOS[0]


@pytest.fixture(scope="module")
def shared_cluster():
    with FakeCluster() as cluster:
        yield cluster


def _without_hashes(outcome, part: str) -> str:
    """``repr`` of ``outcome.<part>`` with the pod-template hashes replaced: the uploaded trace's pod
    templates carry the run's nodeSelector, so their hashes (in pod and ReplicaSet names) differ."""
    text = repr(getattr(outcome, part))
    for h in {p.template_hash for p in outcome.pods if p.template_hash}:
        text = text.replace(h, "HASH")
    return re.sub(r"-HASH-[a-z0-9]{5}'", "-HASH-xxxxx'", text)


def _same_info(a: dict, b: dict) -> None:
    a, b = dict(a), dict(b)
    assert np.array_equal(a.pop("action_mask"), b.pop("action_mask"))
    assert a == b


def _play_both(cluster: FakeCluster, scenario, agent: str, max_steps: int = 20) -> int:
    """Play ``agent`` on both backends, comparing every step; returns the number of steps."""
    sk = gym.make("SimArena-InsufficientResources-v0", scenarios=[scenario], backend="simkube",
                  backend_options=cluster.backend_options(), max_steps=max_steps)
    emb = gym.make("SimArena-InsufficientResources-v0", scenarios=[scenario], max_steps=max_steps)
    try:
        policy = agents.make(agent, env=emb.unwrapped, **({"seed": 3} if agent == "random" else {}))
        obs_e, info_e = emb.reset(seed=0)
        obs_s, info_s = sk.reset(seed=0)
        assert np.array_equal(obs_e, obs_s)
        _same_info(info_e, info_s)
        steps = 0
        done = False
        while not done:
            action = policy.act(obs_e, info_e)
            obs_e, rew_e, term_e, trunc_e, info_e = emb.step(action)
            obs_s, rew_s, term_s, trunc_s, info_s = sk.step(action)
            steps += 1
            assert np.array_equal(obs_e, obs_s), (scenario.id, steps)
            assert (rew_e, term_e, trunc_e) == (rew_s, term_s, trunc_s), (scenario.id, steps)
            _same_info(info_e, info_s)
            done = term_e or trunc_e
        return steps
    finally:
        sk.close()
        emb.close()


@pytest.mark.parametrize("agent", ["heuristic", "random"])
def test_every_canonical_and_test_scenario_matches_the_embedded_backend(shared_cluster: FakeCluster, agent: str) -> None:
    """Whole episodes (up to 20 steps) through ``gym.make``, every step compared."""
    before = shared_cluster.snapshot()
    steps = [_play_both(shared_cluster, s, agent) for s in SCENARIOS]
    assert min(steps) >= 1 and sum(steps) >= 3 * len(SCENARIOS)
    if agent == "random":
        assert max(steps) == 20  # some episodes run to truncation
    assert shared_cluster.snapshot() == before
    assert list(shared_cluster.trace_store.iterdir()) == []


def test_gym_make_runs_whole_episodes_over_http(fake_cluster: FakeCluster) -> None:
    before = fake_cluster.snapshot()
    env = gym.make("SimArena-InsufficientResources-v0", scenarios="canonical", backend="simkube",
                   backend_options=fake_cluster.backend_options())
    ref = gym.make("SimArena-InsufficientResources-v0", scenarios="canonical")
    creates_before = fake_cluster.server.request_counts.get("create", 0)
    for episode in range(5):  # five consecutive episodes
        obs, info = env.reset(seed=episode)
        robs, rinfo = ref.reset(seed=episode)
        assert np.array_equal(obs, robs)
        policy = agents.make("heuristic", env=ref.unwrapped)
        done = False
        while not done:
            action = policy.act(robs, rinfo)
            obs, r, term, trunc, info = env.step(action)
            robs, rr, rterm, rtrunc, rinfo = ref.step(action)
            assert np.array_equal(obs, robs) and r == rr and info["scheduling_message"] == rinfo["scheduling_message"]
            done = term or trunc
        assert info["success"] is True
    assert fake_cluster.server.request_counts["create"] > creates_before
    env.close()
    ref.close()
    assert fake_cluster.snapshot() == before
    assert list(fake_cluster.trace_store.iterdir()) == []


def test_outcome_equals_the_embedded_one(fake_cluster: FakeCluster) -> None:
    trace = load_trace(CANONICAL.trace_path)
    backend = make_backend("simkube", **fake_cluster.backend_options())
    try:
        got = backend.run(trace, CANONICAL)
    finally:
        backend.close()
    want = make_backend("embedded").run(trace, CANONICAL)
    assert got.backend == "simkube"
    assert got.nodes == want.nodes
    assert _without_hashes(got, "workloads") == _without_hashes(want, "workloads")
    assert _without_hashes(got, "pods") == _without_hashes(want, "pods")


def test_nodes_are_kwok_nodes_made_once_and_removed_on_close(fake_cluster: FakeCluster) -> None:
    from kubernetes import client, config

    trace = load_trace(CANONICAL.trace_path)
    backend = make_backend("simkube", **fake_cluster.backend_options())
    api = config.new_client_from_config(config_file=str(fake_cluster.kubeconfig))
    core = client.CoreV1Api(api)
    try:
        backend.run(trace, CANONICAL)
        nodes = core.list_node(label_selector=f"sim-arena.io/run={backend.run_id}").items
        uids = sorted(n.metadata.uid for n in nodes)
        assert [n.metadata.name for n in nodes] == [f"sa-{backend.run_id}-node-{i}" for i in range(3)]
        node = nodes[0]
        assert node.metadata.annotations == {"kwok.x-k8s.io/node": "fake"}
        assert node.metadata.labels["type"] == "virtual"
        assert [(t.key, t.value, t.effect) for t in node.spec.taints] == [
            ("sim-arena.io/run", backend.run_id, "NoSchedule"), ("kwok-provider", "true", "NoSchedule")]
        assert node.status.allocatable == {"cpu": "16", "memory": str(32 * 2**30), "pods": "110"}
        backend.run(trace, CANONICAL)
        again = core.list_node(label_selector=f"sim-arena.io/run={backend.run_id}").items
        assert sorted(n.metadata.uid for n in again) == uids  # reused across steps
    finally:
        backend.close()
    assert core.list_node().items == []
    api.close()


def test_simulation_carries_the_run_labels_and_a_required_lifecycle(fake_cluster: FakeCluster) -> None:
    seen: list[dict] = []
    fake_cluster.store.hooks.append(lambda c: seen.append(c.obj) if c.rtype.plural == "simulations" and c.type == "ADDED" else None)
    backend = make_backend("simkube", **fake_cluster.backend_options())
    try:
        backend.run(load_trace(CANONICAL.trace_path), CANONICAL)
    finally:
        backend.close()
    (sim,) = seen
    assert sim["metadata"]["name"] == f"sa-{backend.run_id}-000001"
    assert sim["metadata"]["labels"] == {"sim-arena.io/run": backend.run_id, "app.kubernetes.io/managed-by": "sim-arena-gym",
                                         "sim-arena.io/scenario": CANONICAL.id}
    spec = sim["spec"]
    assert spec["lifecycleParams"] == {}
    assert spec["driver"]["tracePath"] == f"file:///data/sa-{backend.run_id}-000001.sktrace"
    assert spec["driver"]["virtualNsPrefix"] == f"sa-{backend.run_id}"
    assert spec["speed"] == 10000.0


# -- faults ------------------------------------------------------------------------------------


def _run_expecting(cluster: FakeCluster, match: str, error=BackendError, **options) -> BackendError:
    before = cluster.snapshot()
    backend = make_backend("simkube", **cluster.backend_options(**options))
    try:
        with pytest.raises(error, match=match) as caught:
            backend.run(load_trace(CANONICAL.trace_path), CANONICAL)
    finally:
        backend.close()
    assert cluster.snapshot() == before
    assert list(cluster.trace_store.iterdir()) == []
    return caught.value


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        ({"status": 401, "verb": "create", "resource": "simulations"}, r"HTTP 401 .*credentials .* were rejected"),
        ({"status": 403, "verb": "create", "resource": "nodes"}, r"could not create node .*HTTP 403 .*may not do this"),
        ({"status": 404, "verb": "list", "resource": "pods"}, r"could not list the pods of .*HTTP 404"),
        ({"status": 409, "verb": "create", "resource": "simulations"}, r"HTTP 409 .*already exists or changed"),
        ({"status": 500, "verb": "list", "resource": "pods"}, r"HTTP 500 .*the API server failed"),
        ({"status": 500, "verb": "watch", "resource": "simulations"}, r"watch for Simulation .* to start running: HTTP 500"),
        ({"delay_s": 0.5, "verb": "list", "resource": "pods", "times": None}, r"cannot reach the Kubernetes API .*list the pods"),
        ({"drop_watch": True, "verb": "watch", "resource": "simulations", "times": None}, r"closed the watch for Simulation .* 4 times"),
    ],
)
def test_each_request_fault_is_one_clear_error_and_leaves_nothing(fake_cluster: FakeCluster, fault: dict, match: str) -> None:
    fake_cluster.faults.add(**fault)
    _run_expecting(fake_cluster, match, request_timeout=0.3)


def test_a_dropped_watch_is_resumed(fake_cluster: FakeCluster) -> None:
    fake_cluster.faults.add(drop_watch=True, verb="watch", resource="simulations", times=2)
    backend = make_backend("simkube", **fake_cluster.backend_options())
    try:
        outcome = backend.run(load_trace(CANONICAL.trace_path), CANONICAL)
    finally:
        backend.close()
    assert outcome.workload(CANONICAL.workload).total == 4


def test_a_failed_simulation(fake_cluster: FakeCluster) -> None:
    fake_cluster.faults.fail_simulations = 1
    _run_expecting(fake_cluster, r"Simulation sa-\w+-000001 failed \(driver Job failed: BackoffLimitExceeded\); see `kubectl logs")


def test_a_missing_crd(fake_cluster: FakeCluster) -> None:
    fake_cluster.uninstall_simkube()
    _run_expecting(fake_cluster, r"does not serve simkube.io/v1 simulations \(SimKube's CRDs are missing\); install SimKube")


def test_an_unreachable_cluster(tmp_path) -> None:
    with FakeCluster() as cluster:
        options = cluster.backend_options(trace_store=str(tmp_path))
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(cluster.kubeconfig.read_text())
        options["kubeconfig"] = str(kubeconfig)
    backend = make_backend("simkube", **options, request_timeout=0.5)
    with pytest.raises(BackendError, match=r"cannot reach the Kubernetes API at http://127.0.0.1:\d+ while trying to read /version"):
        backend.run(load_trace(CANONICAL.trace_path), CANONICAL)
    backend.close()
    assert [p.name for p in tmp_path.iterdir()] == ["kubeconfig"]


def test_a_start_timeout_names_what_it_saw_last(fake_cluster: FakeCluster) -> None:
    fake_cluster.faults.initializing_s = 5.0
    _run_expecting(fake_cluster, r"timed out waiting for Simulation .* to start running; last seen: state Initializing",
                   start_timeout=0.3)


def test_retrying_is_waited_for_and_bounded(fake_cluster: FakeCluster) -> None:
    fake_cluster.faults.retrying_s = 0.1
    backend = make_backend("simkube", **fake_cluster.backend_options())
    try:
        assert backend.run(load_trace(CANONICAL.trace_path), CANONICAL).workload(CANONICAL.workload).total == 4
    finally:
        backend.close()
    fake_cluster.faults.retrying_s = 30.0
    _run_expecting(fake_cluster, r"start running; last seen: state Retrying", start_timeout=0.3)


def test_blocked_by_a_held_lease(fake_cluster: FakeCluster) -> None:
    from sim_arena_gym.testing.fake_cluster.resources import GROUPS

    lease_type = GROUPS["coordination.k8s.io"][1][0]
    fake_cluster.faults.hold_lease("other-sim", 30.0)
    fake_cluster.store.create(lease_type, "simkube", {"metadata": {"name": "sk-lease"},
                                                      "spec": {"holderIdentity": "other-sim"}})
    _run_expecting(fake_cluster, r"last seen: state Blocked \(lease sk-lease in simkube held by other-sim\)",
                   lease_timeout=0.3)
    assert fake_cluster.store.get(lease_type, "simkube", "sk-lease")["spec"]["holderIdentity"] == "other-sim"


def test_a_lease_released_in_time_is_waited_for(fake_cluster: FakeCluster) -> None:
    fake_cluster.faults.hold_lease("other-sim", 0.2)
    backend = make_backend("simkube", **fake_cluster.backend_options())
    try:
        assert backend.run(load_trace(CANONICAL.trace_path), CANONICAL).workload(CANONICAL.workload).total == 4
    finally:
        backend.close()


def _pause_new_simulations(cluster: FakeCluster, resume_after_s: float | None) -> None:
    """Set ``spec.pausedTime`` on every new Simulation (as ``skctl pause`` would); clear it after a while."""
    from sim_arena_gym.testing.fake_cluster.resources import GROUPS

    sims = GROUPS["simkube.io"][1][0]

    def hook(change) -> None:
        if change.rtype is sims and change.type == "ADDED":
            name = change.obj["metadata"]["name"]
            cluster.store.patch(sims, None, name, {"spec": {"pausedTime": "2026-01-01T00:00:00Z"}})
            if resume_after_s is not None:
                timer = threading.Timer(resume_after_s, lambda: cluster.store.patch(sims, None, name, {"spec": {"pausedTime": None}}))
                timer.daemon = True
                timer.start()

    cluster.store.hooks.append(hook)


def test_a_paused_simulation_is_waited_for(fake_cluster: FakeCluster) -> None:
    _pause_new_simulations(fake_cluster, resume_after_s=0.2)
    backend = make_backend("simkube", **fake_cluster.backend_options())
    try:
        assert backend.run(load_trace(CANONICAL.trace_path), CANONICAL).workload(CANONICAL.workload).total == 4
    finally:
        backend.close()


def test_a_simulation_paused_for_too_long_times_out(fake_cluster: FakeCluster) -> None:
    _pause_new_simulations(fake_cluster, resume_after_s=None)
    _run_expecting(fake_cluster, r"timed out waiting for Simulation .* to start running; last seen: state Paused",
                   start_timeout=0.3)


def test_reading_after_the_driver_deleted_its_root_is_an_error(fake_cluster: FakeCluster) -> None:
    # A one-second simulation at speed 10000 is over (root deleted, pods collected) before the read.
    _run_expecting(fake_cluster, r"was Finished before its pods were read, so they had been garbage-collected",
                   duration="+1s", settle_seconds=0.05)


def test_ctrl_c_mid_step_cleans_up(fake_cluster: FakeCluster) -> None:
    fake_cluster.faults.add(interrupt=True, verb="list", resource="pods")
    err = _run_expecting(fake_cluster, r"interrupted \(Ctrl-C\) .* were deleted", error=BackendInterrupted)
    assert isinstance(err, KeyboardInterrupt)


def test_bad_options_name_the_option(tmp_path) -> None:
    with pytest.raises(SimKubeOptionError, match="unknown option 'sped'"):
        make_backend("simkube", trace_store=str(tmp_path), sped=2)
    with pytest.raises(SimKubeOptionError, match="option 'speed': must be positive, got 0"):
        make_backend("simkube", trace_store=str(tmp_path), speed=0)
    with pytest.raises(SimKubeOptionError, match="option 'trace_store' is required"):
        make_backend("simkube")
    with pytest.raises(SimKubeOptionError, match="option 'duration': '5 minutes'"):
        make_backend("simkube", trace_store=str(tmp_path), duration="5 minutes")
    with pytest.raises(SimKubeOptionError, match="option 'foreign_nodes'"):
        make_backend("simkube", trace_store=str(tmp_path), foreign_nodes="maybe")


def test_foreign_virtual_nodes_are_refused(fake_cluster: FakeCluster) -> None:
    from sim_arena_gym.testing.fake_cluster.resources import CORE

    fake_cluster.store.create(CORE[1], None, {"metadata": {"name": "someone-elses", "labels": {"type": "virtual"}}})
    _run_expecting(fake_cluster, r"already has 1 virtual node\(s\) this run did not make \(someone-elses\)")


def test_the_driver_sleeps_whole_seconds_and_the_backend_waits_for_them(fake_cluster: FakeCluster) -> None:
    import time

    from sim_arena_gym.scenarios.model import NodePool, Scenario
    from sim_arena_gym.trace.builders import build_trace, container, deployment, pod_spec
    from sim_arena_gym.trace.refs import WorkloadRef

    spec = pod_spec([container("app", cpu="6", memory="1Gi")])
    # 2 replicas at ts 100, 5 replicas at ts 103: at speed 2 the driver sleeps int(3 / 2) = 1 s between.
    trace = build_trace([(100, [deployment("web", spec, replicas=2)], []), (103, [deployment("web", spec, replicas=5)], [])])
    scenario = Scenario(id="two-events", trace_path=None, workload=WorkloadRef("Deployment", "default", "web"),
                        node_pools=(NodePool(count=2, cpu="13"),), trace=trace)
    backend = make_backend("simkube", **fake_cluster.backend_options(speed=2.0))
    try:
        started = time.monotonic()
        got = backend.run(trace, scenario)
        elapsed = time.monotonic() - started
    finally:
        backend.close()
    want = make_backend("embedded").run(trace, scenario)
    assert elapsed >= 1.0
    assert _without_hashes(got, "workloads") == _without_hashes(want, "workloads") and got.nodes == want.nodes
    wl = got.workload("Deployment/default/web")
    assert (wl.ready, wl.pending, wl.total) == (4, 1, 5)


def test_pods_land_only_on_the_runs_own_nodes(fake_cluster: FakeCluster) -> None:
    from sim_arena_gym.testing.fake_cluster.resources import CORE

    # canonical-very-bad-cpu: 4 pods of 17 CPU on 16-CPU nodes, all Pending. A 64-CPU virtual node
    # made by someone else would take three of them; the run's nodeSelector keeps them off it.
    fake_cluster.store.create(CORE[1], None, {
        "metadata": {"name": "big", "labels": {"type": "virtual"}, "annotations": {"kwok.x-k8s.io/node": "fake"}},
        "spec": {"taints": [{"key": "kwok-provider", "value": "true", "effect": "NoSchedule"}]},
        "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": "110"}},
    })
    backend = make_backend("simkube", **fake_cluster.backend_options(foreign_nodes="allow"))
    try:
        outcome = backend.run(load_trace(CANONICAL.trace_path), CANONICAL)
    finally:
        backend.close()
    wl = outcome.workload(CANONICAL.workload)
    assert (wl.ready, wl.pending) == (0, 4)
    assert [n.pod_count for n in outcome.nodes] == [0, 0, 0]
    assert wl.scheduling_message.startswith("0/4 nodes are available: 1 node(s) didn't match Pod's node affinity/selector")


def test_no_threads_or_ports_left_after_close() -> None:
    import socket

    before = set(threading.enumerate())
    with FakeCluster() as cluster:
        port = cluster.server.port
        backend = make_backend("simkube", **cluster.backend_options())
        backend.run(load_trace(CANONICAL.trace_path), CANONICAL)
        backend.close()
    assert set(threading.enumerate()) <= before
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # the port is free again

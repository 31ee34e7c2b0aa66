"""Replaying traces: SimKube mutations, lifecycles, usage floors, fixtures, the backend API
(simkube-trace-format.md 1.5, 1.7, 5.2-5.3; k8s-scheduling-rules.md 6-7; design.md section 2)."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest

from sim_arena_gym.backends import (
    Backend,
    BackendError,
    EmbeddedBackend,
    make_backend,
    simulate,
)
from sim_arena_gym.scenarios.model import NodePool, Scenario
from sim_arena_gym.sim import SimOptions
from sim_arena_gym.sim.nodes import KWOK_INITIALIZE, build_nodes, kwokctl_pool
from sim_arena_gym.sim.observe import _positional_maker
from sim_arena_gym.sim.outcome import NodeOutcome, PodOutcome, WorkloadOutcome
from sim_arena_gym.trace.builders import (
    bare_pod,
    build_trace,
    container,
    deleted_stub,
    deployment,
    pod_spec,
)
from sim_arena_gym.trace.codec import load_trace
from sim_arena_gym.trace.errors import TraceError
from sim_arena_gym.trace.refs import WorkloadRef
from sim_arena_gym.trace.workloads import edit_workload

DATA = Path(__file__).parent / "data" / "simkube"
WEB = "Deployment/default/web"
GI = 1024**3


def scenario(pools=(NodePool(count=3),), workload: str = WEB, **kw) -> Scenario:
    return Scenario("t", None, WorkloadRef(*workload.split("/")), tuple(pools), **kw)


def web(cpu: str = "1", memory: str = "1Gi", replicas: int = 4, **kw) -> dict:
    return deployment("web", pod_spec([container("app", cpu=cpu, memory=memory)], **kw), replicas=replicas)


class TestBackendApi:
    def test_make_backend(self) -> None:
        backend = make_backend()
        assert isinstance(backend, EmbeddedBackend) and isinstance(backend, Backend)
        assert backend.name == "embedded"
        assert make_backend("embedded", version="1.29").options.version.value == "1.29"
        with pytest.raises(ValueError, match="unknown backend 'nope'; available: 'embedded', 'simkube'"):
            make_backend("nope")
        with pytest.raises(ValueError, match="option 'trace_store' is required"):
            make_backend("simkube")
        with pytest.raises(ValueError):
            EmbeddedBackend(no_such_option=1)

    def test_outcome_shape(self) -> None:
        out = EmbeddedBackend().run(build_trace([(100, [web()], [])]), scenario())
        assert out.backend == "embedded" and out.end_ts == 100
        assert [n.name for n in out.nodes] == ["node-0", "node-1", "node-2"]
        assert sum(n.requested_cpu_millis for n in out.nodes) == 4000
        assert sum(n.pod_count for n in out.nodes) == 4
        node = out.nodes[0]
        assert (node.allocatable_cpu_millis, node.allocatable_memory_bytes, node.allocatable_pods) == (16000, 32 * GI, 110)
        assert node.labels == {"type": "virtual", "kubernetes.io/hostname": "node-0"}
        wl = out.workload(WEB)
        assert (wl.desired, wl.ready, wl.pending, wl.total, wl.updated) == (4, 4, 0, 4, 4)
        pod = out.pods[0]
        assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}", pod.name)
        assert pod.name.startswith(f"web-{pod.template_hash}-")
        assert (pod.phase, pod.ready, pod.reason, pod.message) == ("Running", True, None, "")
        assert (pod.cpu_request_millis, pod.memory_request_bytes) == (1000, GI)

    def test_names_are_deterministic_and_follow_the_template(self) -> None:
        trace = build_trace([(100, [web()], [])])
        a = EmbeddedBackend().run(trace, scenario())
        b = simulate(build_trace([(100, [web()], [])]), scenario())
        assert [p.name for p in a.pods] == [p.name for p in b.pods]
        assert len({p.name for p in a.pods}) == 4
        edited = EmbeddedBackend().run(edit_workload(trace, "default/web", requests={"*": {"cpu": "2"}}), scenario())
        assert edited.pods[0].template_hash != a.pods[0].template_hash

    def test_repeated_runs_after_edits_match_fresh_backends(self) -> None:
        backend = EmbeddedBackend()
        trace = build_trace([(100, [web(), deployment("db", pod_spec([container("db", cpu="2")]), replicas=2)], [])])
        for cpu in ["2", "6", "500m", "16", "2"]:
            trace = edit_workload(trace, "default/web", requests={"*": {"cpu": cpu}})
            assert backend.run(trace, scenario()) == EmbeddedBackend().run(trace, scenario())

    def test_positional_constructors_equal_the_dataclasses(self) -> None:
        values = ("p", "ns", "Deployment/ns/w", "n0", "Running", True, None, "", 1, 2, None, False, "h")
        assert _positional_maker(PodOutcome)(*values) == PodOutcome(*values)
        node = ("n", 1, 2, 3, 4, 5, 6, {"a": "b"})
        assert _positional_maker(NodeOutcome)(*node) == NodeOutcome(*node)
        wl = ("k", 1, 1, 0, 1, (), "", 0, 0, 1, ())
        made = _positional_maker(WorkloadOutcome)(*wl)
        assert made == WorkloadOutcome(*wl) and hash(made) == hash(WorkloadOutcome(*wl))

    def test_bad_scenario_is_a_backend_error(self) -> None:
        with pytest.raises(BackendError, match="not a Kubernetes quantity"):
            EmbeddedBackend().run(build_trace([(1, [web()], [])]), scenario((NodePool(cpu="lots"),)))
        with pytest.raises(BackendError):
            EmbeddedBackend().run(build_trace([(1, [web()], [])]), scenario(usage_floors={"app": {"cpu": "1K"}}))

    def test_bad_trace_object_is_a_trace_error(self) -> None:
        bad = web()
        bad["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "1K"
        with pytest.raises(TraceError, match=r"events\[0\]"):
            EmbeddedBackend().run(build_trace([(1, [bad], [])]), scenario())


class TestNodes:
    def test_pool_nodes(self) -> None:
        pools = (NodePool(name="a", count=2, cpu="4", memory="8Gi", pods=10), NodePool(name="b", count=1, ephemeral_storage="100Gi"))
        nodes = build_nodes(pools)
        assert [n.name for n in nodes] == ["a-0", "a-1", "b-0"]
        assert (nodes[0].cpu_millis, nodes[0].memory_bytes, nodes[0].pods) == (4000, 8 * GI, 10)
        assert nodes[2].ephemeral_bytes == 100 * GI
        assert nodes[1].labels["kubernetes.io/hostname"] == "a-1"

    def test_kwok_defaults(self) -> None:
        bare = build_nodes([NodePool(count=1, cpu="", memory="")])[0]
        assert (bare.cpu_millis, bare.memory_bytes, bare.pods) == (1_000_000, 1024**4, KWOK_INITIALIZE["pods"])
        kwok = build_nodes([kwokctl_pool(1)])[0]
        assert (kwok.cpu_millis, kwok.memory_bytes, kwok.pods, kwok.labels["type"], kwok.taints) == (32000, 256 * GI, 110, "kwok", ())


class TestSimKubeMode:
    def test_pods_reach_virtual_nodes_only(self) -> None:
        pools = (NodePool(name="real", count=2, labels={"type": "kind-worker"}, taints=()), NodePool(name="virtual", count=1))
        out = EmbeddedBackend().run(build_trace([(1, [web(replicas=3)], [])]), scenario(pools))
        assert {p.node for p in out.pods} == {"virtual-0"}

    def test_existing_type_selector_is_overwritten(self) -> None:
        obj = web(replicas=2, node_selector={"type": "gpu"})
        out = EmbeddedBackend().run(build_trace([(1, [obj], [])]), scenario())
        assert out.workload(WEB).ready == 2
        off = EmbeddedBackend().run(build_trace([(1, [obj], [])]), scenario(simkube_mode=False))
        assert off.workload(WEB).pending == 2

    def test_without_simkube_mode_the_kwok_taint_is_not_tolerated(self) -> None:
        out = EmbeddedBackend().run(build_trace([(1, [web(replicas=1)], [])]), scenario(simkube_mode=False))
        assert out.workload(WEB).scheduling_message.startswith(
            "0/3 nodes are available: 3 node(s) had untolerated taint {kwok-provider: true}."
        )
        plain = (NodePool(count=3, labels={}, taints=()),)
        assert EmbeddedBackend().run(build_trace([(1, [web(replicas=1)], [])]), scenario(plain, simkube_mode=False)).workload(WEB).ready == 1


class TestUsageFloors:
    FLOORS = {"app": {"cpu": "500m", "memory": "512Mi"}}

    def _run(self, **container_kw):
        obj = deployment("web", pod_spec([container("app", **container_kw), container("side", cpu="10m")]), replicas=2)
        other = deployment("other", pod_spec([container("app", cpu="10m", memory="1Mi")]), replicas=1)
        return EmbeddedBackend().run(build_trace([(1, [obj, other], [])]), scenario(usage_floors=self.FLOORS))

    def test_memory_below_the_floor_is_oomkilled(self) -> None:
        out = self._run(cpu="1", memory="256Mi")
        wl = out.workload(WEB)
        assert (wl.ready, wl.crashlooping, wl.pending, wl.total) == (0, 2, 0, 2)
        pod = out.pods_of(WEB)[0]
        assert (pod.phase, pod.ready, pod.reason, pod.last_state) == ("Running", False, "CrashLoopBackOff", "OOMKilled")
        assert sum(n.requested_memory_bytes for n in out.nodes) == 2 * 256 * 1024**2 + 1024**2  # still held
        assert out.workload("Deployment/default/other").ready == 1  # floors apply to the target only
        conds = {c.type: c.status for c in wl.conditions}
        assert conds["Available"] == "False"

    def test_memory_limit_counts_before_the_request(self) -> None:
        assert self._run(cpu="1", memory="256Mi", limit_memory="1Gi").workload(WEB).ready == 2
        assert self._run(cpu="1", memory="256Mi", limit_memory="300Mi").workload(WEB).crashlooping == 2
        assert self._run(cpu="1").workload(WEB).ready == 2  # no memory request or limit: never OOMKilled

    def test_cpu_below_the_floor_is_throttled_but_ready(self) -> None:
        out = self._run(cpu="250m", memory="1Gi")
        wl = out.workload(WEB)
        assert (wl.ready, wl.throttled, wl.crashlooping) == (2, 2, 0)
        assert all(p.throttled and p.ready for p in out.pods_of(WEB))

    def test_at_the_floor_is_fine(self) -> None:
        wl = self._run(cpu="500m", memory="512Mi").workload(WEB)
        assert (wl.ready, wl.throttled, wl.crashlooping) == (2, 0, 0)

    def test_crashlooping_rollout_stalls(self) -> None:
        good = deployment("web", pod_spec([container("app", cpu="1", memory="1Gi")]), replicas=4)
        bad = deployment("web", pod_spec([container("app", cpu="1", memory="100Mi")]), replicas=4)
        out = EmbeddedBackend().run(build_trace([(1, [good], []), (2, [bad], [])]), scenario(usage_floors=self.FLOORS))
        wl = out.workload(WEB)
        assert (wl.ready, wl.crashlooping) == (3, 2)


class TestReplay:
    def test_deletion_stub_removes_workload_and_pods(self) -> None:
        out = EmbeddedBackend().run(build_trace([(1, [web()], []), (2, [], [deleted_stub(web())])]), scenario())
        assert out.pods == () and WEB not in out.workloads
        assert all(n.pod_count == 0 for n in out.nodes)

    def test_observe_at(self) -> None:
        trace = build_trace([(1, [web(replicas=1)], []), (5, [web(replicas=3)], [])])
        assert EmbeddedBackend(SimOptions(observe_at_ts=3)).run(trace, scenario()).workload(WEB).total == 1
        out = EmbeddedBackend(SimOptions(observe_after_seconds=10)).run(trace, scenario())
        assert (out.workload(WEB).total, out.end_ts) == (3, 15)

    def test_bare_pod_update_is_ignored(self) -> None:
        pod = bare_pod("solo", pod_spec([container("c", cpu="1")]))
        bigger = bare_pod("solo", pod_spec([container("c", cpu="2")]))
        out = EmbeddedBackend().run(build_trace([(1, [pod], []), (2, [bigger], [])]), scenario(workload="Pod/default/solo"))
        assert [(p.name, p.cpu_request_millis) for p in out.pods] == [("solo", 1000)]

    def test_priority_classes_from_the_trace(self) -> None:
        pc = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000}
        low = deployment("low", pod_spec([container("l", cpu="8")]), replicas=2)
        high = deployment("web", pod_spec([container("h", cpu="8")], priority_class_name="high"), replicas=1)
        out = EmbeddedBackend().run(build_trace([(1, [pc, low], []), (2, [high], [])]), scenario((NodePool(count=1),)))
        assert out.workload(WEB).ready == 1
        assert out.workload("Deployment/default/low").pending == 1

    def test_priority_is_resolved_when_each_pod_is_created(self) -> None:
        # The first web pod is created before its PriorityClass exists (priority 0: it waits, nothing to
        # preempt); the second, of the same template, after it (1000: it preempts a "low" pod).
        pc = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000}
        low = deployment("low", pod_spec([container("l", cpu="8")]), replicas=2)
        spec = pod_spec([container("h", cpu="8")], priority_class_name="high")
        trace = build_trace([
            (1, [low, deployment("web", spec, replicas=1)], []),
            (2, [pc], []),
            (3, [deployment("web", spec, replicas=2)], []),
        ])  # fmt: skip
        out = EmbeddedBackend().run(trace, scenario((NodePool(count=1),)))
        web = out.workload(WEB)
        assert (web.ready, web.pending) == (1, 1)
        assert (out.workload("Deployment/default/low").ready, out.workload("Deployment/default/low").pending) == (1, 1)

    def test_node_name_binds_without_the_scheduler(self) -> None:
        spec = pod_spec([container("c", cpu="20")])
        spec["nodeName"] = "node-1"
        out = EmbeddedBackend().run(build_trace([(1, [bare_pod("pinned", spec)], [])]), scenario(workload="Pod/default/pinned"))
        assert (out.pods[0].node, out.pods[0].phase) == ("node-1", "Running")  # no kubelet admission in KWOK

    def test_scheduling_gates_and_other_schedulers(self) -> None:
        gated = pod_spec([container("c")])
        gated["schedulingGates"] = [{"name": "wait"}]
        other = pod_spec([container("c")])
        other["schedulerName"] = "volcano"
        out = EmbeddedBackend().run(build_trace([(1, [bare_pod("g", gated), bare_pod("o", other)], [])]),
                                    scenario(workload="Pod/default/g"))
        assert [(p.phase, p.reason) for p in out.pods] == [("Pending", "SchedulingGated"), ("Pending", None)]


class TestFixtures:
    def test_dsb_scaling_on_a_big_pool(self) -> None:
        trace = load_trace(DATA / "dsb-scaling.sktrace")
        out = EmbeddedBackend().run(trace, scenario((NodePool(count=10),), workload="Deployment/dsb/nginx-thrift"))
        assert len(out.workloads) == 27
        desired = {key.split("/")[-1]: wl.desired for key, wl in out.workloads.items()}
        assert (desired["nginx-thrift"], desired["compose-post-service"], desired["text-service"]) == (10, 2, 1)
        assert (desired["post-storage-service"], desired["home-timeline-service"]) == (5, 2)
        assert (desired["social-graph-service"], desired["url-shorten-service"], desired["user-timeline-service"]) == (1, 1, 1)
        assert sum(desired.values()) == 42
        assert collections.Counter(p.phase for p in out.pods) == {"Running": 42}
        assert all(wl.ready == wl.desired for wl in out.workloads.values())
        assert out.end_ts == 1710893272 and all(p.namespace == "dsb" for p in out.pods)

    def test_dsb_scaling_on_a_small_pool(self) -> None:
        trace = load_trace(DATA / "dsb-scaling.sktrace")
        out = EmbeddedBackend().run(trace, scenario((NodePool(count=2),), workload="Deployment/dsb/nginx-thrift"))
        # 2 nodes x 16 CPU hold 32 pods of 1 CPU / 1Gi; 42 are wanted.
        assert collections.Counter(p.phase for p in out.pods) == {"Running": 32, "Pending": 10}
        assert sum(wl.pending for wl in out.workloads.values()) == 10
        nginx = out.workload("Deployment/dsb/nginx-thrift")
        assert nginx.pending > 0 and nginx.pending_reasons == ("Insufficient cpu",)
        assert nginx.scheduling_message == (
            "0/2 nodes are available: 2 Insufficient cpu. "
            "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
        )

    def test_cronjob(self) -> None:
        trace = load_trace(DATA / "cronjob.sktrace")
        key = "CronJob/default/hello-simkube"
        pools = (NodePool(count=1),)
        mid = EmbeddedBackend(SimOptions(observe_at_ts=1743286990)).run(trace, scenario(pools, workload=key))
        # Jobs are named <cronjob>-<scheduled Unix minute>; their pods <job>-<5 characters>.
        assert [(re.sub(r"-[^-]{5}$", "", p.name), p.phase) for p in mid.pods] == [
            ("hello-simkube-29054781", "Succeeded"),
            ("hello-simkube-29054782", "Succeeded"),
            ("hello-simkube-29054783", "Running"),
        ]
        assert all(p.workload == key for p in mid.pods)
        assert mid.nodes[0].pod_count == 1
        before_delete = EmbeddedBackend(SimOptions(observe_at_ts=1743287020)).run(trace, scenario(pools, workload=key))
        assert [p.phase for p in before_delete.pods] == ["Succeeded"] * 3
        assert before_delete.nodes[0].pod_count == 0
        end = EmbeddedBackend().run(trace, scenario(pools, workload=key))
        assert end.pods == () and key not in end.workloads  # the CronJob is deleted at the last event

    def test_bare_pods(self) -> None:
        trace = load_trace(DATA / "bare-pods.sktrace")
        out = EmbeddedBackend().run(trace, scenario((NodePool(count=1),), workload="Pod/testing/bare-pod-1781282630"))
        assert [(p.name, p.namespace, p.phase) for p in out.pods] == [
            ("bare-pod-1781282449", "testing", "Succeeded"),
            ("bare-pod-1781282509", "testing", "Succeeded"),
            ("bare-pod-1781282570", "testing", "Succeeded"),
            ("bare-pod-1781282630", "testing", "Running"),
        ]
        assert out.nodes[0].pod_count == 1

    @pytest.mark.parametrize("name", ["trace.json", "validation_trace.json", "large_trace.json"])
    def test_json_fixtures_replay(self, name: str) -> None:
        trace = load_trace(DATA / name)
        out = EmbeddedBackend().run(trace, scenario((NodePool(count=20),)))
        assert out.workloads and all(p.phase in ("Running", "Pending") for p in out.pods)

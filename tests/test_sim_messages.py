"""FailedScheduling messages, byte for byte (k8s-scheduling-rules.md 3.2-3.3, 7; checklist 14-19)."""

from __future__ import annotations

import pytest

from sim_arena_gym.backends import EmbeddedBackend
from sim_arena_gym.scenarios.model import NodePool, Scenario, Taint
from sim_arena_gym.sim import KubeVersion, SimOptions
from sim_arena_gym.sim.messages import (
    NO_NODES,
    fit_error,
    histogram,
    preemption_part,
    taint_reason,
    truncate,
)
from sim_arena_gym.trace.builders import build_trace, container, deployment, pod_spec
from sim_arena_gym.trace.refs import WorkloadRef

CANONICAL = (
    "0/3 nodes are available: 3 Insufficient cpu. "
    "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
)


def run(objs, pools, *, version: str = "1.33", simkube: bool = True, workload: str = "Deployment/default/web"):
    scenario = Scenario("t", None, WorkloadRef.parse(workload), tuple(pools), simkube_mode=simkube)
    return EmbeddedBackend(SimOptions(version=version)).run(build_trace([(100, objs, [])]), scenario)


def web(cpu: str = "20", memory: str = "1Gi", replicas: int = 4, **kw):
    return deployment("web", pod_spec([container("app", cpu=cpu, memory=memory)], **kw), replicas=replicas)


class TestFormatting:
    def test_histogram_sorts_as_strings(self) -> None:
        assert histogram({"Insufficient memory": 2, "Insufficient cpu": 10}) == "10 Insufficient cpu, 2 Insufficient memory"
        assert histogram({"Too many pods": 1, "node(s) didn't match Pod's node affinity/selector": 154}) == (
            "1 Too many pods, 154 node(s) didn't match Pod's node affinity/selector"
        )
        # equal counts: uppercase reasons first
        assert histogram({"node(s) were unschedulable": 1, "Insufficient cpu": 1}) == (
            "1 Insufficient cpu, 1 node(s) were unschedulable"
        )

    def test_canonical_default_version(self) -> None:
        v = KubeVersion.V1_33
        part = preemption_part(3, {"No preemption victims found for incoming pod": 3})
        assert fit_error(3, {"Insufficient cpu": 3}, v, preemption=part) == CANONICAL

    def test_mixed_reasons_example(self) -> None:
        part = preemption_part(4, {"No preemption victims found for incoming pod": 4})
        assert fit_error(4, {"Insufficient cpu": 3, "Insufficient memory": 2}, KubeVersion.V1_33, preemption=part) == (
            "0/4 nodes are available: 2 Insufficient memory, 3 Insufficient cpu. "
            "preemption: 0/4 nodes are available: 4 No preemption victims found for incoming pod."
        )

    def test_v129_doubled_period(self) -> None:
        part = preemption_part(3, {"No preemption victims found for incoming pod": 3})
        assert fit_error(3, {"Insufficient cpu": 3}, KubeVersion.V1_29, preemption=part) == CANONICAL + "."

    def test_dra_clause(self) -> None:
        part = preemption_part(
            3,
            {"Preemption is not helpful for scheduling": 1, "No preemption victims found for incoming pod": 2},
        )
        counts = {"node(s) had untolerated taint(s)": 1, "Insufficient cpu": 2}
        assert fit_error(3, counts, KubeVersion.V1_34, preemption=part) == (
            "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu. no new claims to "
            "deallocate, preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
            "2 No preemption victims found for incoming pod."
        )

    def test_taint_text_per_version(self) -> None:
        taint = Taint("node-role.kubernetes.io/control-plane", "", "NoSchedule")
        assert taint_reason(taint, KubeVersion.V1_33) == "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
        assert taint_reason(Taint("k", "v"), KubeVersion.V1_34) == "node(s) had untolerated taint {k: v}"
        assert taint_reason(taint, KubeVersion.V1_35) == "node(s) had untolerated taint(s)"

    def test_not_eligible(self) -> None:
        assert fit_error(1, {"Insufficient cpu": 1}, KubeVersion.V1_33, preemption=preemption_part(1, None, never=True)) == (
            "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
        )

    def test_preemption_success_leaves_the_part_out(self) -> None:
        assert fit_error(2, {"Insufficient cpu": 2}, KubeVersion.V1_35) == "0/2 nodes are available: 2 Insufficient cpu."

    def test_no_nodes(self) -> None:
        assert fit_error(0, {}, KubeVersion.V1_33, preemption="anything") == NO_NODES == "no nodes available to schedule pods"

    def test_cut_at_1024_bytes(self) -> None:
        message = "x" * 2000
        cut = truncate(message)
        assert len(cut.encode()) == 1024 and cut.endswith(" ...") and cut.startswith("x" * 1020)
        assert truncate("short") == "short"

    def test_version_parsing(self) -> None:
        assert KubeVersion.parse("v1.35") is KubeVersion.V1_35
        assert SimOptions(version="1.29").version is KubeVersion.V1_29
        with pytest.raises(ValueError, match="1.33"):
            KubeVersion.parse("1.20")


class TestScheduledMessages:
    """Messages produced by real scheduling runs."""

    def test_canonical_insufficient_cpu(self) -> None:
        out = run([web()], [NodePool(count=3)])
        wl = out.workload("Deployment/default/web")
        assert (wl.pending, wl.ready) == (4, 0)
        assert wl.scheduling_message == CANONICAL
        assert wl.pending_reasons == ("Insufficient cpu",)
        assert all(p.reason == "Unschedulable" and p.message == CANONICAL for p in out.pods)

    @pytest.mark.parametrize(
        ("version", "expected"),
        [
            ("1.29", CANONICAL + "."),
            ("1.33", CANONICAL),
            (
                "1.34",
                "0/3 nodes are available: 3 Insufficient cpu. no new claims to deallocate, preemption: 0/3 nodes "
                "are available: 3 Preemption is not helpful for scheduling.",
            ),
        ],
    )
    def test_versions_end_to_end(self, version: str, expected: str) -> None:
        # 20 CPU never fits a 16 CPU node: from v1.34 that is unresolvable (spec 3.1).
        out = run([web()], [NodePool(count=3)], version=version)
        assert out.workload("Deployment/default/web").scheduling_message == expected

    def test_v134_resolvable_when_the_empty_node_would_fit(self) -> None:
        filler = deployment("filler", pod_spec([container("f", cpu="10")]), replicas=3)
        out = run([filler, web(cpu="8", replicas=1)], [NodePool(count=3)], version="1.34")
        assert out.workload("Deployment/default/web").scheduling_message == (
            "0/3 nodes are available: 3 Insufficient cpu. no new claims to deallocate, preemption: 0/3 nodes "
            "are available: 3 No preemption victims found for incoming pod."
        )

    def test_mixed_memory_and_cpu_across_nodes(self) -> None:
        # Four nodes: two short of memory only, one short of cpu only... counted per node and reason.
        pools = [
            NodePool(name="small-mem", count=2, cpu="32", memory="1Gi"),
            NodePool(name="small-cpu", count=1, cpu="1", memory="64Gi"),
            NodePool(name="small-both", count=1, cpu="1", memory="1Gi"),
        ]
        out = run([web(cpu="2", memory="2Gi", replicas=1)], pools)
        assert out.workload("Deployment/default/web").scheduling_message == (
            "0/4 nodes are available: 2 Insufficient cpu, 3 Insufficient memory. "
            "preemption: 0/4 nodes are available: 4 No preemption victims found for incoming pod."
        )

    def test_lexicographic_histogram_10_before_2(self) -> None:
        pools = [NodePool(name="a", count=10, cpu="1", memory="64Gi"), NodePool(name="b", count=2, cpu="64", memory="1Gi")]
        out = run([web(cpu="2", memory="2Gi", replicas=1)], pools)
        assert out.workload("Deployment/default/web").scheduling_message.startswith(
            "0/12 nodes are available: 10 Insufficient cpu, 2 Insufficient memory."
        )

    def test_too_many_pods(self) -> None:
        out = run([web(cpu="100m", replicas=5)], [NodePool(count=2, pods=2)])
        wl = out.workload("Deployment/default/web")
        assert (wl.ready, wl.pending) == (4, 1)
        assert wl.scheduling_message == (
            "0/2 nodes are available: 2 Too many pods. "
            "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
        )

    def test_tainted_node_never_says_insufficient(self) -> None:
        pools = [
            NodePool(name="tainted", count=1, cpu="1", taints=(Taint("dedicated", "gpu", "NoSchedule"),)),
            NodePool(name="node", count=2, taints=()),
        ]
        out = run([web()], pools, simkube=False)
        assert out.workload("Deployment/default/web").scheduling_message == (
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. "
            "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
            "2 No preemption victims found for incoming pod."
        )

    def test_simkube_mixed_example(self) -> None:
        """Spec section 7: a control-plane node, a real worker and three full virtual nodes."""
        pools = [
            NodePool(name="control-plane", count=1, labels={"type": "kind-control-plane"},
                     taints=(Taint("node-role.kubernetes.io/control-plane", "", "NoSchedule"),)),
            NodePool(name="worker", count=1, labels={"type": "kind-worker"}, taints=()),
            NodePool(name="virtual", count=3),
        ]
        out = run([web(cpu="8")], [*pools[:2], NodePool(name="virtual", count=3, cpu="4")], version="1.35")
        message = out.workload("Deployment/default/web").scheduling_message
        assert message.startswith(
            "0/5 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
            "1 node(s) had untolerated taint(s), 3 Insufficient cpu."
        )
        # v1.35: 8 CPU exceeds the whole 4 CPU virtual nodes too, so no node is worth preempting on.
        assert message.endswith(
            " no new claims to deallocate, preemption: 0/5 nodes are available: "
            "5 Preemption is not helpful for scheduling."
        )
        same_in_133 = run([web(cpu="8")], [*pools[:2], NodePool(name="virtual", count=3, cpu="4")], version="1.33")
        assert same_in_133.workload("Deployment/default/web").scheduling_message == (
            "0/5 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had "
            "untolerated taint {node-role.kubernetes.io/control-plane: }, 3 Insufficient cpu. preemption: 0/5 "
            "nodes are available: 2 Preemption is not helpful for scheduling, 3 No preemption victims found "
            "for incoming pod."
        )
        reasons = out.workload("Deployment/default/web").pending_reasons
        assert reasons == (
            "Insufficient cpu",
            "node(s) didn't match Pod's node affinity/selector",
            "node(s) had untolerated taint(s)",
        )

    def test_unschedulable_node(self) -> None:
        from sim_arena_gym.sim.cluster import NodeSet
        from sim_arena_gym.sim.filters import static_filter
        from sim_arena_gym.sim.objects import Node, SchedulingConstraints

        nodes = NodeSet([Node("n0", 1000, 10**9, unschedulable=True), Node("n1", 1000, 10**9)])
        result = static_filter(SchedulingConstraints(), nodes, KubeVersion.V1_33)
        assert result.reasons == ["node(s) were unschedulable", None]

    def test_no_nodes_at_all(self) -> None:
        out = run([web(replicas=1)], [NodePool(count=0)])
        assert out.workload("Deployment/default/web").scheduling_message == "no nodes available to schedule pods"

    def test_preemption_that_cannot_help_reports_the_filter_reason(self) -> None:
        low = deployment("low", pod_spec([container("l", cpu="10")], priority=0))
        trace = build_trace([(100, [low], []), (200, [web(replicas=1, priority=100)], [])])
        scenario = Scenario("t", None, WorkloadRef.parse("default/web"), (NodePool(count=1),))
        out = EmbeddedBackend().run(trace, scenario)
        # Removing the lower-priority pod frees 16 CPU, still short of 20.
        assert out.workload("Deployment/default/web").scheduling_message == (
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Insufficient cpu."
        )

    def test_preemption_policy_never(self) -> None:
        spec = pod_spec([container("app", cpu="20")])
        spec["preemptionPolicy"] = "Never"
        out = run([deployment("web", spec)], [NodePool(count=1)])
        assert out.workload("Deployment/default/web").scheduling_message == (
            "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
        )

    def test_long_messages_are_cut(self) -> None:
        pools = [NodePool(name=f"p{i}", count=1, cpu="1", labels={"type": "virtual"},
                          taints=(Taint(f"key-{i}-" + "x" * 40, "v", "NoSchedule"),)) for i in range(40)]
        out = run([web(replicas=1)], pools)
        message = out.workload("Deployment/default/web").scheduling_message
        assert len(message.encode()) == 1024 and message.endswith(" ...")

"""Filters, scoring, queue order and preemption (k8s-scheduling-rules.md 3-4, 7-8; checklist 9-15,
20-25, 36-38)."""

from __future__ import annotations

import random

from sim_arena_gym.backends import EmbeddedBackend
from sim_arena_gym.scenarios.model import NodePool, Scenario, Taint
from sim_arena_gym.sim import KubeVersion, SimOptions
from sim_arena_gym.sim.board import Board
from sim_arena_gym.sim.cluster import Cluster, NodeSet, Pod
from sim_arena_gym.sim.copying import StateCopier
from sim_arena_gym.sim.filters import fit_reasons, fits, static_filter
from sim_arena_gym.sim.objects import (
    Node,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodRequest,
    PodSpec,
    SchedulingConstraints,
    Toleration,
)
from sim_arena_gym.sim.scheduler import evaluate_failure
from sim_arena_gym.sim.scoring import (
    balanced_allocation,
    base_score,
    least_allocated,
    normalize_spread,
    round_half_away,
)
from sim_arena_gym.trace.builders import bare_pod, build_trace, container, deployment, pod_spec
from sim_arena_gym.trace.refs import WorkloadRef

GI = 1024**3
V = KubeVersion.V1_33


def request(cpu: int, mem: int, *, nz_cpu: int | None = None, nz_mem: int | None = None) -> PodRequest:
    return PodRequest(cpu, mem, 0, (), cpu if nz_cpu is None else nz_cpu, mem if nz_mem is None else nz_mem, False)


def fake_pod(uid: int, req: PodRequest, group: object = None, priority: int = 0) -> Pod:
    spec = PodSpec(containers=(), request=req)
    return Pod(uid, f"p{uid}", "default", "Deployment/default/x", None, spec, SchedulingConstraints(), priority, group, "", 0)


def run(objs, pools, *, simkube: bool = True, version: str = "1.33"):
    scenario = Scenario("t", None, WorkloadRef.parse("Deployment/default/web"), tuple(pools), simkube_mode=simkube)
    return EmbeddedBackend(SimOptions(version=version)).run(build_trace([(100, objs, [])]), scenario)


def run_general(objs, pools, *, simkube: bool = True, version: str = "1.33"):
    """:func:`run` on the general replay (``fast_path=False``)."""
    scenario = Scenario("t", None, WorkloadRef.parse("Deployment/default/web"), tuple(pools), simkube_mode=simkube)
    return EmbeddedBackend(SimOptions(version=version, fast_path=False)).run(build_trace([(100, objs, [])]), scenario)


class TestScoring:
    def test_worked_example_581_674(self) -> None:
        """Spec 4.4: A runs one replica of the same ReplicaSet (1 CPU / 2Gi), B is empty."""
        nodes = NodeSet([Node("A", 4000, 8 * GI), Node("B", 4000, 8 * GI)])
        cluster = Cluster(nodes)
        group = object()
        cluster.bind(fake_pod(1, request(1000, 2 * GI), group), 0)
        static = nodes.static(SchedulingConstraints(), V)
        board = Board(cluster, static, request(1000, 1 * GI), group, V)
        assert board.totals() == {0: 581, 1: 674}
        assert board.select() == 1
        assert least_allocated(4000, 8 * GI, 2000, 3 * GI) == 56
        assert least_allocated(4000, 8 * GI, 1000, 1 * GI) == 81
        assert balanced_allocation(4000, 8 * GI, 2000, 3 * GI) == 93
        assert balanced_allocation(4000, 8 * GI, 1000, 1 * GI) == 93
        assert normalize_spread(3, 3, 2) == 66 and normalize_spread(2, 3, 2) == 100

    def test_base_score_matches_the_two_plugins(self) -> None:
        rng = random.Random(7)
        for _ in range(2000):
            a_cpu, a_mem = rng.choice([0, 1, 1000, 4000, 16000]), rng.choice([0, 1, GI, 32 * GI])
            nz_cpu, nz_mem = rng.randrange(0, 20000), rng.randrange(0, 40 * GI)
            cpu, mem = rng.randrange(0, 20000), rng.randrange(0, 40 * GI)
            expected = least_allocated(a_cpu, a_mem, nz_cpu, nz_mem)
            if a_cpu and a_mem:
                expected += balanced_allocation(a_cpu, a_mem, cpu, mem)
            else:
                expected += 100
            assert base_score(a_cpu, a_mem, nz_cpu, nz_mem, cpu, mem, True) == expected

    def test_round_half_away_from_zero(self) -> None:
        assert round_half_away(2.5) == 3 and round(2.5) == 2
        assert round_half_away(3.386) == 3 and round_half_away(3.5) == 4

    def test_list_and_vector_boards_agree(self) -> None:
        rng = random.Random(11)
        for trial in range(40):
            n = rng.randrange(2, 60)
            nodes = NodeSet([Node(f"n{i}", rng.choice([4000, 16000, 32000]), rng.choice([8, 32, 64]) * GI,
                                  pods=rng.choice([3, 110])) for i in range(n)])
            cluster = Cluster(nodes)
            group = object()
            uid = 0
            for _ in range(rng.randrange(0, 3 * n)):
                uid += 1
                i = rng.randrange(n)
                req = request(rng.randrange(0, 3000), rng.randrange(0, 4 * GI))
                if fits(cluster, i, req):
                    cluster.bind(fake_pod(uid, req, group if rng.random() < 0.5 else None), i)
            req = request(rng.randrange(0, 4000), rng.randrange(0, 8 * GI), nz_cpu=rng.randrange(100, 4000))
            static = nodes.static(SchedulingConstraints(), V)
            plain = Board(cluster, static, req, group, V, vector=False)
            fast = Board(cluster, static, req, group, V, vector=True)
            assert fast.vector and not plain.vector
            for _ in range(rng.randrange(1, 12)):
                assert plain.totals() == fast.totals(), trial
                j = plain.select()
                assert j == fast.select()
                if j < 0:
                    break
                uid += 1
                cluster.bind(fake_pod(uid, req, group), j)
                plain.bound(j)
                fast.bound(j)

    def test_replicas_spread_across_identical_nodes(self) -> None:
        out = run([deployment("web", pod_spec([container("app", cpu="1", memory="1Gi")]), replicas=6)], [NodePool(count=3)])
        per_node = {n.name: n.pod_count for n in out.nodes}
        assert per_node == {"node-0": 2, "node-1": 2, "node-2": 2}

    def test_ties_go_to_the_first_node_and_the_tied_set_is_exposed(self) -> None:
        nodes = NodeSet([Node(f"n{i}", 4000, 8 * GI) for i in range(4)])
        cluster = Cluster(nodes)
        board = Board(cluster, nodes.static(SchedulingConstraints(), V), request(500, GI), object(), V)
        assert board.tied_best() == [0, 1, 2, 3]
        assert board.select() == 0  # deterministic choice; upstream picks any tied node at random

    def test_prefer_no_schedule_taints_lower_the_score(self) -> None:
        nodes = NodeSet([Node("soft", 4000, 8 * GI, taints=(Taint("k", "v", "PreferNoSchedule"),)), Node("clean", 4000, 8 * GI)])
        board = Board(Cluster(nodes), nodes.static(SchedulingConstraints(), V), request(500, GI), None, V)
        totals = board.totals()
        assert totals[1] - totals[0] == 300  # TaintToleration weight 3 x (100 - 0)
        assert board.select() == 1

    def test_zone_spreading(self) -> None:
        zone = "topology.kubernetes.io/zone"
        nodes = NodeSet([Node(f"n{i}", 4000, 8 * GI, labels={zone: "a" if i < 2 else "b"}) for i in range(3)])
        cluster = Cluster(nodes)
        group = object()
        cluster.bind(fake_pod(1, request(100, 1), group), 0)
        board = Board(cluster, nodes.static(SchedulingConstraints(), V), request(100, 1), group, V)
        # zone a holds one replica; n2 (zone b, empty) wins over n1 (zone a, empty).
        assert board.select() == 2
        totals = board.totals()
        assert totals[2] > totals[1] > totals[0]


class TestFilters:
    def test_equality_fits(self) -> None:
        nodes = NodeSet([Node("n", 1000, GI, pods=2)])
        cluster = Cluster(nodes)
        assert fits(cluster, 0, request(1000, GI))
        assert not fits(cluster, 0, request(1001, GI))

    def test_every_failing_resource_is_reported(self) -> None:
        nodes = NodeSet([Node("n", 1000, GI, ephemeral_bytes=0, pods=1)])
        cluster = Cluster(nodes)
        cluster.bind(fake_pod(1, request(0, 0)), 0)
        r = PodRequest(2000, 2 * GI, 1, (("nvidia.com/gpu", 1),), 2000, 2 * GI, False)
        reasons, unresolvable = fit_reasons(cluster, 0, r, V)
        assert reasons == ["Too many pods", "Insufficient cpu", "Insufficient memory",
                           "Insufficient ephemeral-storage", "Insufficient nvidia.com/gpu"]
        assert not unresolvable
        assert fit_reasons(cluster, 0, r, KubeVersion.V1_34)[1]

    def test_zero_request_pods_skip_resource_checks_but_count_for_pods(self) -> None:
        nodes = NodeSet([Node("n", 1000, GI, pods=2)])
        cluster = Cluster(nodes)
        cluster.bind(fake_pod(1, request(1000, GI)), 0)  # node full
        zero = request(0, 0)
        assert fits(cluster, 0, zero)
        cluster.bind(fake_pod(2, zero), 0)
        assert fit_reasons(cluster, 0, zero, V) == (["Too many pods"], False)

    def test_zero_request_pods_end_to_end(self) -> None:
        spec = pod_spec([container("app")])
        out = run([deployment("web", spec, replicas=5)], [NodePool(count=1, cpu="0", memory="0", pods=3)])
        wl = out.workload("Deployment/default/web")
        assert (wl.ready, wl.pending) == (3, 2)
        assert wl.pending_reasons == ("Too many pods",)

    def test_missing_pods_allocatable_rejects_everything(self) -> None:
        nodes = NodeSet([Node("n", 1000, GI, pods=0)])
        assert not fits(Cluster(nodes), 0, request(0, 0))

    def test_taints_tolerations(self) -> None:
        t = Taint("k", "v", "NoSchedule")
        assert Toleration("k", "Equal", "v", "NoSchedule").tolerates(t)
        assert Toleration("k", "Exists").tolerates(t)
        assert Toleration("", "Exists").tolerates(t)
        assert not Toleration("k", "Equal", "w").tolerates(t)
        assert not Toleration("k", "Exists", effect="NoExecute").tolerates(t)
        nodes = NodeSet([Node("a", 1000, GI, taints=(Taint("x", "", "PreferNoSchedule"),)), Node("b", 1000, GI, taints=(t,)),
                         Node("c", 1000, GI, taints=(Taint("e", "1", "NoExecute"),))])
        result = static_filter(SchedulingConstraints(), nodes, V)
        assert result.reasons == [None, "node(s) had untolerated taint {k: v}", "node(s) had untolerated taint {e: 1}"]

    def test_node_selector_and_affinity(self) -> None:
        nodes = NodeSet([Node("a", 1000, GI, labels={"disk": "ssd", "gen": "5"}), Node("b", 1000, GI, labels={"disk": "hdd"})])
        sel = SchedulingConstraints(node_selector=(("disk", "ssd"),))
        assert static_filter(sel, nodes, V).passing == (0,)
        ops = {
            ("In", ("ssd",)): (0,),
            ("NotIn", ("ssd",)): (1,),
            ("Exists", ()): (0, 1),
            ("DoesNotExist", ()): (),
        }
        for (op, values), passing in ops.items():
            c = SchedulingConstraints(required_terms=(NodeSelectorTerm((NodeSelectorRequirement("disk", op, values),)),))
            assert static_filter(c, nodes, V).passing == passing, op
        gt = SchedulingConstraints(required_terms=(NodeSelectorTerm((NodeSelectorRequirement("gen", "Gt", ("4",)),)),))
        assert static_filter(gt, nodes, V).passing == (0,)
        # terms are ORed, expressions inside a term ANDed; an empty term matches nothing
        ored = SchedulingConstraints(required_terms=(
            NodeSelectorTerm((NodeSelectorRequirement("disk", "In", ("nvme",)),)),
            NodeSelectorTerm((NodeSelectorRequirement("disk", "In", ("hdd",)),)),
            NodeSelectorTerm(),
        ))
        assert static_filter(ored, nodes, V).passing == (1,)
        by_name = SchedulingConstraints(required_terms=(NodeSelectorTerm(match_fields=(NodeSelectorRequirement("metadata.name", "In", ("b",)),)),))
        assert static_filter(by_name, nodes, V).passing == (1,)

    def test_affinity_from_a_trace(self) -> None:
        spec = pod_spec([container("app", cpu="1")])
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-2"]}]}]}}}
        out = run([deployment("web", spec, replicas=2)], [NodePool(count=3)])
        assert {p.node for p in out.pods} == {"node-2"}

    def test_fragmentation_leaves_a_pod_pending(self) -> None:
        """Checklist 22: 3 free CPU in total, but no node has 2."""
        filler = bare_pod("filler-0", pod_spec([container("f", cpu="3")], node_selector={"kubernetes.io/hostname": "node-0"}))
        filler2 = bare_pod("filler-1", pod_spec([container("f", cpu="3")], node_selector={"kubernetes.io/hostname": "node-1"}))
        web = deployment("web", pod_spec([container("app", cpu="2")]), replicas=1)
        scenario = Scenario("t", None, WorkloadRef.parse("default/web"), (NodePool(count=2, cpu="4"),))
        out = EmbeddedBackend().run(build_trace([(1, [filler, filler2], []), (2, [web], [])]), scenario)
        assert out.workload("Deployment/default/web").pending == 1


class TestQueueAndPreemption:
    def test_higher_priority_schedules_first(self) -> None:
        low = deployment("low", pod_spec([container("l", cpu="4")], priority=0), replicas=3)
        high = deployment("web", pod_spec([container("h", cpu="4")], priority=1000), replicas=3)
        out = run([low, high], [NodePool(count=1, cpu="16")])
        assert out.workload("Deployment/default/web").ready == 3
        assert out.workload("Deployment/default/low").ready == 1

    def test_victims_and_node_choice(self) -> None:
        """Checklist 37: the node whose victims have the lowest highest priority wins, and victims are
        reprieved most important first."""
        def pinned(name: str, cpu: str, node: str, priority: int) -> dict:
            return bare_pod(name, pod_spec([container("c", cpu=cpu)], priority=priority,
                                           node_selector={"kubernetes.io/hostname": node}))

        first = [pinned("p1", "2", "node-0", 10), pinned("p2", "2", "node-0", 20),
                 pinned("p4", "3", "node-1", 5), pinned("p3", "1", "node-1", 5)]
        incoming = bare_pod("web", pod_spec([container("c", cpu="3")], priority=100))
        scenario = Scenario("t", None, WorkloadRef.parse("Pod/default/web"), (NodePool(count=2, cpu="4"),))
        out = EmbeddedBackend().run(build_trace([(1, first, []), (2, [incoming], [])]), scenario)
        pods = {p.name: p for p in out.pods}
        assert "p4" not in pods  # the only victim: node-1 victims have priority 5 < 20
        assert {n: pods[n].node for n in ("p1", "p2", "p3")} == {"p1": "node-0", "p2": "node-0", "p3": "node-1"}
        assert pods["web"].node == "node-1" and pods["web"].phase == "Running"
        assert "Pod/default/p4" not in out.workloads

    def test_equal_priority_is_never_preempted(self) -> None:
        first = bare_pod("a", pod_spec([container("c", cpu="3")], priority=5))
        second = bare_pod("web", pod_spec([container("c", cpu="3")], priority=5))
        scenario = Scenario("t", None, WorkloadRef.parse("Pod/default/web"), (NodePool(count=1, cpu="4"),))
        out = EmbeddedBackend().run(build_trace([(1, [first], []), (2, [second], [])]), scenario)
        assert {p.name: p.phase for p in out.pods} == {"a": "Running", "web": "Pending"}

    def test_preempted_replicas_are_recreated_and_wait(self) -> None:
        low = deployment("low", pod_spec([container("l", cpu="4")], priority=0), replicas=4)
        high = deployment("web", pod_spec([container("h", cpu="8")], priority=1000), replicas=1)
        scenario = Scenario("t", None, WorkloadRef.parse("default/web"), (NodePool(count=1, cpu="16"),))
        out = EmbeddedBackend().run(build_trace([(1, [low], []), (2, [high], [])]), scenario)
        assert out.workload("Deployment/default/web").ready == 1
        low_wl = out.workload("Deployment/default/low")
        assert (low_wl.ready, low_wl.pending, low_wl.total) == (2, 2, 4)
        pending = [p for p in out.pods if p.phase == "Pending"]
        # equal-priority replicas cannot preempt each other
        assert pending[0].message.endswith("preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")

    def test_capacity_freed_retries_pending_pods(self) -> None:
        """Checklist 21: a Pending pod schedules once a bound pod goes away."""
        blocker = bare_pod("blocker", pod_spec([container("c", cpu="15")]))
        web = deployment("web", pod_spec([container("app", cpu="4")]), replicas=1)
        scenario = Scenario("t", None, WorkloadRef.parse("default/web"), (NodePool(count=1),))
        from sim_arena_gym.trace.builders import deleted_stub

        trace = build_trace([(1, [blocker, web], []), (50, [], [deleted_stub(blocker)])])
        out = EmbeddedBackend(SimOptions(observe_at_ts=10)).run(trace, scenario)
        assert out.workload("Deployment/default/web").pending == 1
        out = EmbeddedBackend().run(trace, scenario)
        assert out.workload("Deployment/default/web").ready == 1
        assert [p.name for p in out.pods] == [out.pods_of("Deployment/default/web")[0].name]


class TestFailureMemoOfLargeClusters:
    """``evaluate_failure`` remembers its result on a cluster of more than 64 nodes while the
    cluster's usage stays unchanged: it must give what a fresh evaluation gives at every usage."""

    def _fresh(self, nodes: NodeSet, assumed: list[tuple[PodRequest, int]], static, req: PodRequest):
        """``evaluate_failure`` on a new cluster (an empty memo) with the same pods assumed."""
        cluster = Cluster(nodes, track_pods=False)
        for r, i in assumed:
            cluster.assume(r, None, 0, i)
        counts, unresolvable, resolvable = evaluate_failure(cluster, static, req, V)
        return dict(counts), set(unresolvable), resolvable

    def test_results_follow_every_bind_and_stay_apart_in_a_copy(self) -> None:
        rng = random.Random(7)
        nodes = NodeSet([Node(f"n{i}", 1000 + 500 * (i % 5), (2 + i % 3) * GI, pods=4 + i % 2) for i in range(80)])
        static = nodes.static(SchedulingConstraints(), V)
        requests = [request(cpu, mem * GI // 4) for cpu in (0, 400, 900, 2500, 4000) for mem in (0, 1, 5, 9, 20)]
        cluster = Cluster(nodes, track_pods=False)
        assumed: list[tuple[PodRequest, int]] = []
        for _ in range(150):
            req = rng.choice(requests)
            got = evaluate_failure(cluster, static, req, V)
            assert evaluate_failure(cluster, static, req, V) is got  # remembered at this usage
            assert (dict(got[0]), set(got[1]), got[2]) == self._fresh(nodes, assumed, static, req)
            small = request(rng.choice((100, 300)), GI // 8)
            i = rng.randrange(len(nodes))
            if fits(cluster, i, small):
                cluster.assume(small, None, 0, i)
                assumed.append((small, i))
        full = request(250, GI // 8)
        before = evaluate_failure(cluster, static, full, V)
        copy = cluster.copy(StateCopier())
        i = next(i for i in range(len(nodes)) if fits(copy, i, full))
        copy.assume(full, None, 0, i)
        assert evaluate_failure(cluster, static, full, V) is before  # the original's usage is unchanged
        after = evaluate_failure(copy, static, full, V)
        assert (dict(after[0]), set(after[1]), after[2]) == self._fresh(nodes, [*assumed, (full, i)], static, full)

    def test_a_full_cluster_reports_each_failing_deployment_as_the_general_replay_does(self) -> None:
        """100 nodes, 60 Deployments of 5 requests: the cluster fills and the rest fail with the
        messages of the general replay (which evaluates the failures through the scheduler)."""
        cpus, mems = ["300m", "700m", "1", "1500m", "2"], ["256Mi", "1Gi", "3Gi"]
        objs = [
            deployment(f"app-{k:02d}", pod_spec([container("app", cpu=cpus[k % 5], memory=mems[k % 3])]), replicas=6)
            for k in range(60)
        ]
        pools = [NodePool(count=100, cpu="2", memory="4Gi")]
        fast = run(objs, pools)
        general = run_general(objs, pools)
        assert fast == general
        pending = [w for w in fast.workloads.values() if w.pending]
        assert len(pending) >= 20
        messages = {p.message for p in fast.pods if p.phase == "Pending"}
        assert all(m.startswith("0/100 nodes are available: ") for m in messages)

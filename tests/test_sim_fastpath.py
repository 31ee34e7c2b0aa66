"""The short replay of :mod:`sim_arena_gym.sim.fastpath` against the general replay, the batch
placement of :meth:`Board.fill` against select/assume/bound, and lazily built pod outcomes.

The fast path must give exactly the outcome of the general replay (``SimOptions(fast_path=False)``)
on every trace it accepts, and decline the others; these tests compare the two on many random small
traces, including edited ones replayed through one long-lived backend (its parse caches)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import random

import pytest

from sim_arena_gym.backends import EmbeddedBackend
from sim_arena_gym.scenarios.model import NodePool, Scenario, Taint
from sim_arena_gym.sim import SimOptions
from sim_arena_gym.sim.board import Board
from sim_arena_gym.sim.cluster import Cluster, NodeSet
from sim_arena_gym.sim.fastpath import fast_outcome
from sim_arena_gym.sim.nodes import build_nodes
from sim_arena_gym.sim.objects import Node, PodRequest, SchedulingConstraints, Toleration
from sim_arena_gym.sim.options import KubeVersion
from sim_arena_gym.sim.outcome import ClusterOutcome, PodOutcome
from sim_arena_gym.sim.parse import ObjectParser
from sim_arena_gym.trace.builders import (
    build_trace,
    container,
    deleted_stub,
    deployment,
    pod_spec,
    statefulset,
)
from sim_arena_gym.trace.refs import WorkloadRef
from sim_arena_gym.trace.workloads import edit_workload

GI = 1024**3
CPUS = ["100m", "250m", "500m", "1", "1500m", "2", "3", "4", "5", "8", "8500m", "9", "17", "0.5m", "0"]
MEMS = ["64Mi", "256Mi", "1Gi", "2Gi", "8Gi", "33Gi", "0"]


def _container(rng: random.Random, name: str) -> dict:
    kw = {}
    if rng.random() < 0.85:
        kw["cpu"] = rng.choice(CPUS)
    if rng.random() < 0.8:
        kw["memory"] = rng.choice(MEMS)
    if rng.random() < 0.15:
        kw["limit_cpu"] = rng.choice(["4", "20"])
    if rng.random() < 0.15:
        kw["limit_memory"] = rng.choice(["8Gi", "64Gi"])
    return container(name, **kw)


def _pod_spec(rng: random.Random, classes: list[str]) -> dict:
    kw: dict = {}
    if rng.random() < 0.15:
        init = _container(rng, "init")
        if rng.random() < 0.5:
            init["restartPolicy"] = "Always"
        kw["init_containers"] = [init]
    if rng.random() < 0.15:
        kw["node_selector"] = {"tier": rng.choice(["a", "b"])}
    if rng.random() < 0.15:
        effect = rng.choice(["NoSchedule", "PreferNoSchedule", ""])
        kw["tolerations"] = [{"key": "dedicated", "operator": "Exists", "effect": effect}]
    if classes and rng.random() < 0.4:
        kw["priority_class_name"] = rng.choice(classes + ["missing"])
    if rng.random() < 0.05:
        kw["priority"] = rng.choice([0, 1000])
    if rng.random() < 0.05:
        kw["overhead"] = {"cpu": "100m"}
    spec = pod_spec([_container(rng, f"c{i}") for i in range(rng.choice([1, 1, 2]))], **kw)
    if rng.random() < 0.08:
        spec["preemptionPolicy"] = "Never"
    if rng.random() < 0.03:
        spec["schedulingGates"] = [{"name": "gate"}]
    if rng.random() < 0.03:
        spec["schedulerName"] = "other"
    if rng.random() < 0.05:
        spec["containers"][0]["resources"].setdefault("requests", {})["nvidia.com/gpu"] = "1"
    return spec


def _pools(rng: random.Random) -> tuple[NodePool, ...]:
    pools = []
    for p in range(rng.choice([1, 1, 2])):
        labels = {"type": "virtual"}
        if rng.random() < 0.3:
            labels["tier"] = rng.choice(["a", "b"])
        if rng.random() < 0.2:
            labels["topology.kubernetes.io/zone"] = rng.choice(["z1", "z2"])
        taints = [Taint("kwok-provider", "true", "NoSchedule")]
        if rng.random() < 0.2:
            taints.append(Taint("dedicated", "x", rng.choice(["NoSchedule", "PreferNoSchedule"])))
        pools.append(NodePool(
            count=rng.choice([0, 1, 2, 3, 3, 4, 6]), cpu=rng.choice(["4", "16", "32"]),
            memory=rng.choice(["8Gi", "32Gi"]), pods=rng.choice([110, 110, 3]), labels=labels,
            taints=tuple(taints), name=f"pool{p}", ephemeral_storage=rng.choice([None, None, "100Gi"]),
        ))  # fmt: skip
    return tuple(pools)


def random_case(seed: int, *, others: bool = False) -> tuple:
    """(trace, scenario, options). Mostly Deployments created once (the fast path's shape); with
    ``others``, also updates, deletions, StatefulSets and lifecycles (the general path's)."""
    rng = random.Random(seed)
    classes: list[str] = []
    applied_first: list[dict] = []
    if rng.random() < 0.3:
        for i, value in enumerate(rng.sample([0, 100, 1000], rng.choice([1, 2]))):
            classes.append(f"pc{i}")
            pc = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": f"pc{i}"}, "value": value}
            if rng.random() < 0.2:
                pc["globalDefault"] = True
            applied_first.append(pc)
    events = []
    made: list[dict] = []
    ts = 1_700_000_000
    for e in range(rng.choice([1, 1, 2, 3])):
        applied, deleted = (applied_first if e == 0 else []), []
        for _ in range(rng.choice([1, 1, 2, 3]) if e == 0 else rng.choice([0, 1, 2])):
            name = f"app{len(made)}"
            spec = _pod_spec(rng, classes)
            if others and rng.random() < 0.15:
                obj = statefulset(name, spec, replicas=rng.choice([1, 3]))
            else:
                kw: dict = {}
                if rng.random() < 0.15:
                    kw["strategy"] = {"type": "Recreate"}
                elif rng.random() < 0.3:
                    kw["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {
                        "maxSurge": rng.choice(["25%", 1, 0, "50%", -1]), "maxUnavailable": rng.choice(["25%", 0, 1])}}
                if rng.random() < 0.1:
                    kw["min_ready_seconds"] = rng.choice([0, 5])
                if rng.random() < 0.15:
                    kw["progress_deadline_seconds"] = rng.choice([0, 10, 2**31 - 1, -5])
                obj = deployment(name, spec, replicas=rng.choice([0, 1, 2, 3, 4, 4, 5, 10]),
                                 namespace=rng.choice(["default", "shop"]), **kw)
                if rng.random() < 0.04:
                    obj["spec"]["paused"] = True
            made.append(obj)
            applied.append(obj)
        if others and e and made and rng.random() < 0.5:
            prev = rng.choice(made)
            if rng.random() < 0.6:
                again = copy.deepcopy(prev)
                again["spec"]["replicas"] = rng.choice([0, 2, 5])
                applied.append(again)
            else:
                deleted.append(deleted_stub(prev))
        events.append((ts, applied, deleted))
        ts += rng.choice([0, 0, 1, 30, 700])
    lifecycles = None
    if others and rng.random() < 0.2:
        obj = made[0]
        key = (f"{obj['apiVersion']}.{obj['kind']}", f"{obj['metadata']['namespace']}/{obj['metadata']['name']}")
        lifecycles = {key: {1: [{"Finished": [0, 20]}]}}
    target = made[0]
    ref = WorkloadRef(target["kind"], target["metadata"]["namespace"], target["metadata"]["name"])
    floors = {"c0": {"cpu": rng.choice(["100m", "1"]), "memory": rng.choice(["128Mi", "1Gi"])}} if rng.random() < 0.25 else {}
    scenario = Scenario("t", None, ref, _pools(rng), usage_floors=floors, simkube_mode=rng.random() < 0.85)
    options = SimOptions(
        version=rng.choice(["1.29", "1.33", "1.33", "1.34", "1.35"]),
        observe_after_seconds=rng.choice([0, 0, 0, 10, 700]),
        elapse_progress_deadlines=rng.random() < 0.3,
        vector_min_nodes=rng.choice([48, 48, 2]),
    )
    return build_trace(events, pod_lifecycles=lifecycles), scenario, options


def outcome_or_error(backend: EmbeddedBackend, trace, scenario) -> object:
    try:
        out = backend.run(trace, scenario)
    except Exception as exc:  # noqa: BLE001 - both paths must fail alike
        return (type(exc).__name__, str(exc))
    return (out, repr(out))


def general(options: SimOptions) -> EmbeddedBackend:
    return EmbeddedBackend(dataclasses.replace(options, fast_path=False))


class TestFastPathEqualsGeneralReplay:
    def test_random_traces(self) -> None:
        taken = 0
        for seed in range(400):
            trace, scenario, options = random_case(seed)
            fast, slow = EmbeddedBackend(options), general(options)
            assert outcome_or_error(fast, trace, scenario) == outcome_or_error(slow, trace, scenario), seed
            nodeset = NodeSet(build_nodes(scenario.node_pools))
            taken += fast_outcome(trace, nodeset, ObjectParser(), options, scenario.simkube_mode,
                                  str(scenario.workload), fast._usage_floors(scenario), "embedded") is not None
        assert taken > 150  # most of these traces take the short replay

    def test_random_traces_with_other_shapes_fall_back(self) -> None:
        for seed in range(150):
            trace, scenario, options = random_case(10_000 + seed, others=True)
            assert outcome_or_error(EmbeddedBackend(options), trace, scenario) == outcome_or_error(
                general(options), trace, scenario
            ), seed

    def test_edits_through_one_backend(self) -> None:
        """An agent's loop: one backend, many path-copied edits of the target (parse caches at work)."""
        rng = random.Random(5)
        for seed in range(40):
            trace, scenario, options = random_case(20_000 + seed)
            if scenario.workload.kind != "Deployment":
                continue
            fast, slow = EmbeddedBackend(options), general(options)
            for _ in range(6):
                changes: dict = {"requests": {"*": {"cpu": rng.choice(CPUS[:-2])}}}
                if rng.random() < 0.3:
                    changes["replicas"] = rng.choice([1, 3, 6])
                try:
                    edited = edit_workload(trace, scenario.workload, occurrences="last", **changes)
                except Exception:  # noqa: BLE001 - e.g. a request above a limit: not an edit to test
                    continue
                assert outcome_or_error(fast, edited, scenario) == outcome_or_error(slow, edited, scenario), seed
            assert outcome_or_error(fast, trace, scenario) == outcome_or_error(slow, trace, scenario), seed

    @pytest.mark.parametrize("shape", ["deleted", "statefulset", "updated", "lifecycles", "observe_at", "priorities"])
    def test_declines_other_shapes(self, shape: str) -> None:
        web = deployment("web", pod_spec([container("app", cpu="1", memory="1Gi")]), replicas=2)
        options = SimOptions()
        lifecycles = None
        if shape == "deleted":
            events = [(1, [web], []), (2, [], [deleted_stub(web)])]
        elif shape == "statefulset":
            events = [(1, [web, statefulset("db", pod_spec([container("db", cpu="1")]))], [])]
        elif shape == "updated":
            events = [(1, [web], []), (2, [copy.deepcopy(web)], [])]
        elif shape == "lifecycles":
            events = [(1, [web], [])]
            lifecycles = {("apps/v1.Deployment", "default/web"): {1: [{"Finished": [0, 5]}]}}
        elif shape == "observe_at":
            events = [(1, [web], [])]
            options = SimOptions(observe_at_ts=1)
        else:
            low = deployment("low", pod_spec([container("app", cpu="1")], priority=-1))
            events = [(1, [web, low], [])]
        trace = build_trace(events, pod_lifecycles=lifecycles)
        scenario = Scenario("t", None, WorkloadRef.parse("Deployment/default/web"), (NodePool(count=2),))
        nodeset = NodeSet(build_nodes(scenario.node_pools))
        assert fast_outcome(trace, nodeset, ObjectParser(), options, True, None, {}, "embedded") is None
        assert EmbeddedBackend(options).run(trace, scenario) == general(options).run(trace, scenario)

    def test_canonical_case_takes_the_fast_path(self) -> None:
        trace = build_trace([(1, [], []), (1, [deployment("web", pod_spec([container("app", cpu="8500m", memory="2Gi")]), replicas=4)], [])])
        scenario = Scenario("t", None, WorkloadRef.parse("Deployment/default/web"), (NodePool(count=3),))
        nodeset = NodeSet(build_nodes(scenario.node_pools))
        out = fast_outcome(trace, nodeset, ObjectParser(), SimOptions(), True, None, {}, "embedded")
        assert out is not None
        wl = out.workload("Deployment/default/web")
        assert (wl.ready, wl.pending, wl.total) == (3, 1, 4)
        assert wl.scheduling_message == (
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
            "3 No preemption victims found for incoming pod."
        )
        assert out == general(SimOptions()).run(trace, scenario)


class TestBoardFill:
    """:meth:`Board.fill` places the same pods on the same nodes as select, assume and bound in turn."""

    def test_fill_matches_select_and_bound(self) -> None:
        rng = random.Random(3)
        version = KubeVersion.V1_33
        for trial in range(150):
            n = rng.randrange(1, 12)
            zones = rng.random() < 0.2
            nodes = NodeSet([
                Node(f"n{i}", rng.choice([4000, 16000]), rng.choice([8, 32]) * GI, pods=rng.choice([3, 110]),
                     labels={"topology.kubernetes.io/zone": f"z{i % 2}"} if zones else {},
                     taints=(Taint("soft", "x", "PreferNoSchedule"),) if rng.random() < 0.1 else ())
                for i in range(n)
            ])  # fmt: skip
            constraints = SchedulingConstraints(tolerations=(Toleration("other", "Exists"),))
            static = nodes.static(constraints, version)
            clusters = [Cluster(nodes), Cluster(nodes)]
            group, other = object(), object()
            for _ in range(rng.randrange(0, 2 * n)):  # the same earlier usage in both clusters
                i = rng.randrange(n)
                r = PodRequest(rng.randrange(0, 3000), rng.randrange(0, 4 * GI), 0, (), 500, GI, False)
                g = rng.choice([group, other, None])
                for cluster in clusters:
                    cluster.assume(r, g, 0, i)
            cpu = rng.randrange(0, 5000)
            r = PodRequest(cpu, rng.randrange(0, 6 * GI), 0, (), max(cpu, 100), GI, rng.random() < 0.1)
            limit = rng.randrange(0, 3 * n + 2)
            vector = rng.random() < 0.3
            filled = Board(clusters[0], static, r, group, version, vector=vector).fill(limit, 7)
            board = Board(clusters[1], static, r, group, version, vector=vector)
            stepped = []
            for _ in range(limit):
                j = board.select()
                if j < 0:
                    break
                clusters[1].assume(r, group, 7, j)
                board.bound(j)
                stepped.append(j)
            assert filled == stepped, trial
            a, b = clusters
            assert (a.req_cpu, a.req_mem, a.nz_cpu, a.nz_mem, a.npods, a.group_counts, a.priority_counts, a.version) == (
                b.req_cpu, b.req_mem, b.nz_cpu, b.nz_mem, b.npods, b.group_counts, b.priority_counts, b.version
            ), trial


class TestLazyPods:
    def _outcomes(self) -> tuple[ClusterOutcome, ClusterOutcome]:
        pods = (PodOutcome("a", "default", "Deployment/default/a", None, "Pending", False),)
        eager = ClusterOutcome(pods, (), {}, 5, "embedded")
        lazy = ClusterOutcome.with_lazy_pods(lambda: pods, (), {}, 5, "embedded")
        return eager, lazy

    def test_readers_cannot_tell(self) -> None:
        eager, lazy = self._outcomes()
        assert lazy == eager and eager == lazy and repr(lazy) == repr(eager)
        assert lazy.pods == eager.pods and lazy.pods_of("Deployment/default/a") == eager.pods
        _, lazy = self._outcomes()
        assert pickle.loads(pickle.dumps(lazy)) == eager
        _, lazy = self._outcomes()
        assert dataclasses.replace(lazy, end_ts=6).pods == eager.pods
        _, lazy = self._outcomes()
        assert copy.deepcopy(lazy) == eager and dataclasses.asdict(lazy) == dataclasses.asdict(eager)
        with pytest.raises(dataclasses.FrozenInstanceError):
            lazy.pods = ()  # type: ignore[misc]
        with pytest.raises(AttributeError):
            lazy.no_such_field  # noqa: B018

    def test_pods_are_built_once(self) -> None:
        calls = []
        lazy = ClusterOutcome.with_lazy_pods(lambda: calls.append(1) or (), (), {}, 0)
        assert lazy.pods == () and lazy.pods == () and calls == [1]


class TestParseCaches:
    def test_equal_content_shares_the_parsed_spec(self) -> None:
        parser = ObjectParser()
        base = build_trace([(1, [deployment("web", pod_spec([container("app", cpu="1", memory="1Gi")]))], [])])
        first = parser.parse_object(base.events[0].applied_objs[0])
        two = edit_workload(base, "default/web", requests={"app": {"cpu": "2"}})
        one_again = edit_workload(two, "default/web", requests={"app": {"cpu": "1"}})
        again = parser.parse_object(one_again.events[0].applied_objs[0])
        assert again is not first and again.spec.template.raw is not first.spec.template.raw
        assert again.spec.template.spec is first.spec.template.spec  # found by content
        assert parser.parse_object(two.events[0].applied_objs[0]).spec.template.spec.request.cpu_millis == 2000

    def test_invalid_content_is_never_shared(self) -> None:
        parser = ObjectParser()
        ok = deployment("web", pod_spec([container("app", cpu="1", limit_cpu="2")]))
        parser.parse_object(ok)
        bad = deployment("web", pod_spec([container("app", cpu="3", limit_cpu="2")]))
        with pytest.raises(Exception, match="must be less than or equal to cpu limit of 2"):
            parser.parse_object(bad)
        flagged = deployment("web", pod_spec([container("app")]))
        flagged["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": True}}
        with pytest.raises(Exception, match="quantities must be strings or numbers"):
            parser.parse_object(flagged)

    def test_object_memo_sweeps_edited_copies_and_keeps_shared_objects(self) -> None:
        parser = ObjectParser()
        parser.OBJECT_SWEEP = 8
        parser.clear()
        base = build_trace([(1, [deployment("web", pod_spec([container("app", cpu="1")])),
                                 deployment("db", pod_spec([container("db", cpu="1")]))], [])])
        db = parser.parse_object(base.events[0].applied_objs[1])
        for k in range(40):
            edited = edit_workload(base, "default/web", requests={"app": {"cpu": f"{k + 1}"}})
            for obj in edited.events[0].applied_objs:
                parser.parse_object(obj)
        assert len(parser._objects) <= 8
        assert parser.parse_object(base.events[0].applied_objs[1]) is db  # the shared object stayed

"""Resuming a replay from a saved state (:mod:`sim_arena_gym.sim.snapshot`) against the full replay.

A backend that resumes (the default) must give exactly the outcome -- every field of the
ClusterOutcome, pods included -- or exactly the error of a backend that replays every trace from
the start (``EmbeddedBackend(resume=False)``), on random traces of every modelled kind and random
path-copying edits of any occurrence of any workload; an edit of an event must resume at or before
that event. A copied replay state shares no mutable object with its original.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import random

import pytest

from sim_arena_gym.backends import EmbeddedBackend
from sim_arena_gym.scenarios.model import NodePool, Scenario, Taint
from sim_arena_gym.sim import SimOptions
from sim_arena_gym.sim.cluster import Cluster, NodeSet, Pod
from sim_arena_gym.sim.controllers import Controller
from sim_arena_gym.sim.nodes import build_nodes
from sim_arena_gym.sim.observe import build_outcome
from sim_arena_gym.sim.parse import ObjectParser
from sim_arena_gym.sim.replay import Replay
from sim_arena_gym.sim.scheduler import Scheduler
from sim_arena_gym.sim.snapshot import SnapshotCache, shared_prefix
from sim_arena_gym.trace.builders import (
    bare_pod,
    build_trace,
    container,
    deleted_stub,
    deployment,
    job,
    pod_spec,
    statefulset,
)
from sim_arena_gym.trace.model import Trace
from sim_arena_gym.trace.refs import WorkloadRef
from sim_arena_gym.trace.workloads import edit_workload

CPUS = ["100m", "500m", "1", "2", "3", "5", "9", "17"]
MEMS = ["128Mi", "1Gi", "4Gi", "40Gi"]
T0 = 1_700_000_000


def _spec(rng: random.Random, classes: list[str]) -> dict:
    kw: dict = {}
    if classes and rng.random() < 0.4:
        kw["priority_class_name"] = rng.choice(classes)
    if rng.random() < 0.1:
        kw["node_selector"] = {"tier": "a"}
    return pod_spec([container("c0", cpu=rng.choice(CPUS), memory=rng.choice(MEMS))], **kw)


def _cronjob(name: str, spec: dict, rng: random.Random) -> dict:
    return {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": "default"},
        "spec": {"schedule": rng.choice(["* * * * *", "*/5 * * * *"]),
                 "concurrencyPolicy": rng.choice(["Allow", "Forbid", "Replace"]),
                 "successfulJobsHistoryLimit": rng.choice([0, 1, 3]),
                 "jobTemplate": {"spec": {"completions": 1, "parallelism": 1,
                                          "template": {"spec": {**spec, "restartPolicy": "Never"}}}}},
    }  # fmt: skip


def _workload(rng: random.Random, name: str, classes: list[str]) -> dict:
    spec = _spec(rng, classes)
    kind = rng.choice(["Deployment"] * 5 + ["StatefulSet", "Job", "CronJob", "Pod"])
    if kind == "StatefulSet":
        obj = statefulset(name, spec, replicas=rng.choice([1, 2, 3]))
        if rng.random() < 0.3:
            obj["spec"]["podManagementPolicy"] = "Parallel"
        return obj
    if kind == "Job":
        return job(name, spec, completions=rng.choice([1, 3]), parallelism=rng.choice([1, 2]))
    if kind == "CronJob":
        return _cronjob(name, spec, rng)
    if kind == "Pod":
        return bare_pod(name, spec)
    kw: dict = {}
    if rng.random() < 0.2:
        kw["strategy"] = {"type": "Recreate"}
    if rng.random() < 0.2:
        kw["min_ready_seconds"] = 5
    if rng.random() < 0.3:
        kw["progress_deadline_seconds"] = rng.choice([10, 600])
    return deployment(name, spec, replicas=rng.choice([0, 1, 2, 4, 6]), **kw)


def random_case(seed: int) -> tuple[Trace, Scenario, SimOptions]:
    """A trace of 2-5 events creating, changing and deleting workloads of every modelled kind."""
    rng = random.Random(seed)
    classes: list[str] = []
    first: list[dict] = []
    if rng.random() < 0.4:
        for i, value in enumerate(rng.sample([0, 100, 1000], 2)):
            classes.append(f"pc{i}")
            first.append({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                          "metadata": {"name": f"pc{i}"}, "value": value})  # fmt: skip
    made: list[dict] = []
    events = []
    ts = T0
    for e in range(rng.choice([2, 3, 3, 4, 5])):
        applied, deleted = (first if e == 0 else []), []
        for _ in range(rng.choice([1, 1, 2])):
            obj = _workload(rng, f"w{len(made)}", classes)
            made.append(obj)
            applied.append(obj)
        if e and made and rng.random() < 0.6:
            prev = rng.choice(made[:-1] or made)
            if rng.random() < 0.75 and prev["kind"] != "Pod":
                again = copy.deepcopy(prev)
                if "replicas" in again["spec"]:
                    again["spec"]["replicas"] = rng.choice([0, 1, 3, 5])
                else:
                    again["spec"]["suspend"] = rng.random() < 0.3
                applied.append(again)
            elif prev not in applied:
                deleted.append(deleted_stub(prev))
        events.append((ts, applied, deleted))
        ts += rng.choice([0, 1, 30, 90, 700])
    lifecycles = {}
    for obj in made:
        if obj["kind"] in ("Job", "CronJob", "Deployment") and rng.random() < 0.3:
            key = (f"{obj['apiVersion']}.{obj['kind']}", f"default/{obj['metadata']['name']}")
            lifecycles[key] = {1: [{"Finished": [0, rng.choice([20, 120])]}]}
    target = rng.choice(made)
    ref = WorkloadRef(target["kind"], "default", target["metadata"]["name"])
    pools = [NodePool(count=rng.choice([0, 1, 2, 3]), cpu=rng.choice(["4", "16"]), memory="16Gi",
                      labels={"type": "virtual", "tier": rng.choice(["a", "b"])},
                      taints=(Taint("kwok-provider", "true", "NoSchedule"),), name="p0")]  # fmt: skip
    floors = {"c0": {"cpu": "1", "memory": "1Gi"}} if rng.random() < 0.3 else {}
    scenario = Scenario("t", None, ref, tuple(pools), usage_floors=floors, simkube_mode=rng.random() < 0.9)
    options = SimOptions(
        observe_after_seconds=rng.choice([0, 0, 60, 700]),
        observe_at_ts=rng.choice([None, None, None, T0 + 45]),
        elapse_progress_deadlines=rng.random() < 0.3,
        fast_path=rng.random() < 0.5,
    )
    return build_trace(events, pod_lifecycles=lifecycles), scenario, options


def edit_occurrence(trace: Trace, event: int, position: int, rng: random.Random) -> Trace:
    """``trace`` with ``events[event].applied_objs[position]`` replaced by an edited copy (new CPU
    request or replicas), path-copied: every other event and object is the same object."""
    ev = trace.events[event]
    obj = copy.deepcopy(ev.applied_objs[position])
    spec = obj.get("spec", {})
    if "replicas" in spec and rng.random() < 0.4:
        spec["replicas"] = rng.choice([0, 1, 2, 5, 8])
    else:
        holder = spec.get("jobTemplate", {}).get("spec", spec)
        pod = holder.get("template", {}).get("spec", spec)
        if "containers" in pod:
            pod["containers"][0]["resources"]["requests"]["cpu"] = rng.choice(CPUS)
    objs = list(ev.applied_objs)
    objs[position] = obj
    events = list(trace.events)
    events[event] = dataclasses.replace(ev, applied_objs=tuple(objs))
    return dataclasses.replace(trace, events=tuple(events))


def outcome_or_error(backend: EmbeddedBackend, trace: Trace, scenario: Scenario) -> tuple:
    try:
        out = backend.run(trace, scenario)
    except Exception as exc:  # noqa: BLE001 - both must fail alike
        return ("error", type(exc).__name__, str(exc))
    return ("ok", out, out.pods, out.nodes, dict(out.workloads), out.end_ts, repr(out))


def _occurrences(trace: Trace) -> list[tuple[int, int]]:
    return [(e, p) for e, ev in enumerate(trace.events) for p, obj in enumerate(ev.applied_objs)
            if obj.get("kind") != "PriorityClass"]  # fmt: skip


class TestResumeEqualsFullReplay:
    @pytest.mark.parametrize("chunk", range(4))
    def test_random_traces_and_edits(self, chunk: int) -> None:
        resumed_runs = 0
        for seed in range(chunk * 40, chunk * 40 + 40):
            trace, scenario, options = random_case(seed)
            rng = random.Random(seed)
            resuming = EmbeddedBackend(options)
            full = EmbeddedBackend(options, resume=False)
            cache = resuming._snapshots
            assert outcome_or_error(resuming, trace, scenario) == outcome_or_error(full, trace, scenario)
            places = _occurrences(trace)
            for step in range(12):
                if rng.random() < 0.5:  # the env's edit: the target's last occurrence
                    try:
                        edited = edit_workload(trace, scenario.workload, requests={"*": {"cpu": rng.choice(CPUS)}},
                                               occurrences="last")  # fmt: skip
                    except Exception:  # noqa: BLE001 - a bare Pod, a template without containers
                        continue
                else:
                    edited = edit_occurrence(trace, *rng.choice(places), rng)
                changed = shared_prefix(edited.events, trace.events)
                if changed < len(edited.events) and rng.random() < 0.2:  # the edited event moved in time
                    events = list(edited.events)
                    shift = rng.choice([-20, 5, 700])
                    events[changed] = dataclasses.replace(events[changed], ts=events[changed].ts + shift)
                    edited = dataclasses.replace(edited, events=tuple(events))
                skipped = cache.events_skipped
                got = outcome_or_error(resuming, edited, scenario)
                assert got == outcome_or_error(full, edited, scenario), (seed, step)
                assert cache.events_skipped - skipped <= changed, "resumed after the edited event"
                resumed_runs += cache.events_skipped > skipped
                if rng.random() < 0.3:
                    trace = edited  # edit the edit next (a longer chain of shared prefixes)
        assert resumed_runs >= 40  # the comparison covers resumed runs, many of them

    def test_env_scenarios_resume_at_the_edited_event(self) -> None:
        """mid-trace-change: the target is created at event 1 and changed at events 2 and 3; the env
        edits event 3 only, so every edit after the first replays one event."""
        pools = (NodePool(count=2, cpu="16", memory="32Gi"),)
        spec = lambda cpu: pod_spec([container("app", cpu=cpu, memory="1Gi")])  # noqa: E731
        trace = build_trace([
            (T0, [], []),
            (T0 + 3, [deployment("catalog", spec("1"), replicas=2)], []),
            (T0 + 400, [deployment("catalog", spec("3"), replicas=5)], []),
            (T0 + 1800, [deployment("catalog", spec("5750m"), replicas=5)], []),
        ])  # fmt: skip
        scenario = Scenario("t", None, WorkloadRef.parse("Deployment/default/catalog"), pools)
        resuming, full = EmbeddedBackend(), EmbeddedBackend(resume=False)
        cache = resuming._snapshots
        for k, cpu in enumerate(["5", "4", "5", "6", "5750m", "7"]):
            edited = edit_workload(trace, "default/catalog", requests={"*": {"cpu": cpu}}, occurrences="last")
            assert outcome_or_error(resuming, edited, scenario) == outcome_or_error(full, edited, scenario)
            # the second trace (the first that shares events with an earlier one) saves the state
            # before event 3; every later one resumes there
            resumed = max(0, k - 1)
            assert (cache.resumed, cache.events_skipped) == (resumed, 3 * resumed)
        assert len(cache) == 1 and cache.saved_pods == 5


    def test_saved_state_ran_its_timers_and_fits_only_the_same_time(self) -> None:
        """A state is saved after the timers due by the next event's time (here a progress deadline
        10 s after the first event, due before the second at +30 s): a resumed run does not run them
        again, and a trace whose next event comes earlier (deadline not due), or that ends there, must
        not resume from it; every outcome equals the full replay's."""
        pools = (NodePool(count=1, cpu="4", memory="16Gi"),)
        spec = lambda cpu: pod_spec([container("app", cpu=cpu, memory="1Gi")])  # noqa: E731
        first = deployment("db", spec("3"), replicas=2, progress_deadline_seconds=10)
        trace = build_trace([(T0, [first], []), (T0 + 30, [deployment("web", spec("1"), replicas=1)], [])])
        scenario = Scenario("t", None, WorkloadRef.parse("Deployment/default/web"), pools)
        resuming, full = EmbeddedBackend(resume=True, fast_path=False), EmbeddedBackend(resume=False)
        cache = resuming._snapshots

        def same(t: Trace) -> None:
            assert outcome_or_error(resuming, t, scenario) == outcome_or_error(full, t, scenario)

        def moved(t: Trace, ts: int) -> Trace:
            return dataclasses.replace(t, events=(t.events[0], dataclasses.replace(t.events[1], ts=ts)))

        for cpu in ("2", "3"):  # the second saves the state before event 1, deadline timer run
            same(edit_workload(trace, "default/web", requests={"*": {"cpu": cpu}}, occurrences="last"))
        saved = cache._contexts[next(iter(cache._contexts))].saved
        assert [(s.index, s.ts) for s in saved] == [(1, T0 + 30)]
        assert saved[0].replay.now == T0 + 30 and not saved[0].replay._timers  # the deadline fired
        same(edit_workload(trace, "default/web", requests={"*": {"cpu": "500m"}}, occurrences="last"))
        assert (cache.resumed, cache.events_skipped) == (1, 1)
        early = moved(edit_workload(trace, "default/web", requests={"*": {"cpu": "2"}}, occurrences="last"), T0 + 5)
        same(early)  # deadline not due yet at T0 + 5
        assert cache.resumed == 1
        alone = dataclasses.replace(trace, events=trace.events[:1])
        same(alone)  # ends after event 0: observed at T0, before the deadline
        assert cache.resumed == 1
        same(moved(edit_workload(trace, "default/web", requests={"*": {"cpu": "1"}}, occurrences="last"), T0 + 30))
        assert cache.resumed == 2

    def test_contexts_interleave(self) -> None:
        """Two scenarios (other targets, usage floors) on one backend keep their saved states apart:
        after each has saved one, every run of either resumes, with the full replay's outcome."""
        pools = (NodePool(count=2, cpu="16", memory="32Gi"),)
        spec = lambda cpu: pod_spec([container("app", cpu=cpu, memory="1Gi")])  # noqa: E731
        trace = build_trace([
            (T0, [statefulset("db", spec("2"), replicas=2)], []),
            (T0 + 5, [deployment("api", spec("1"), replicas=3), deployment("web", spec("1"), replicas=3)], []),
        ])  # fmt: skip
        floors = {"app": {"cpu": "1500m", "memory": "512Mi"}}
        scenarios = [Scenario("t", None, WorkloadRef.parse(f"Deployment/default/{name}"), pools, usage_floors=floors)
                     for name in ("api", "web")]  # fmt: skip
        resuming, full = EmbeddedBackend(), EmbeddedBackend(resume=False)
        cache = resuming._snapshots
        for k, cpu in enumerate(["2", "3", "4", "5", "6", "7"]):
            for scenario in scenarios:
                edited = edit_workload(trace, scenario.workload, requests={"*": {"cpu": cpu}}, occurrences="last")
                assert outcome_or_error(resuming, edited, scenario) == outcome_or_error(full, edited, scenario)
        assert (cache.resumed, cache.events_skipped, len(cache)) == (8, 8, 2)


class TestCopiesShareNothingMutable:
    def _reachable(self, root: object, skip: set[int]) -> dict[int, object]:
        """Mutable objects of the replay's state graph reachable from ``root`` (not descending into
        specs, traces, the node set, the parser or the options, which are shared by design)."""
        walk = (Replay, Cluster, Scheduler, Pod, Controller, list, dict, set, tuple)
        seen: dict[int, object] = {}
        stack = [root]
        while stack:
            obj = stack.pop()
            if id(obj) in seen or id(obj) in skip:
                continue
            if not isinstance(obj, walk) and not hasattr(obj, "__self__"):
                continue
            seen[id(obj)] = obj
            stack.extend(gc.get_referents(obj))
        return {k: v for k, v in seen.items() if not isinstance(v, tuple)}

    @pytest.mark.parametrize("seed", range(30))
    def test_copy_is_disjoint_and_runs_alike(self, seed: int) -> None:
        trace, scenario, options = random_case(seed)
        nodeset = NodeSet(build_nodes(scenario.node_pools))
        options = dataclasses.replace(options, observe_at_ts=None)
        parser = ObjectParser()
        index = len(trace.events) - 1
        replay = Replay(trace, nodeset, parser, options)
        try:
            saved = replay.run(save_at=index)
        except Exception:  # noqa: BLE001 - a trace the replay rejects has nothing to copy
            return
        assert saved is not None and not saved._dirty
        resumed = saved.copy()
        skip = {id(saved.floors), id(saved.options), id(saved.trace), id(nodeset), id(parser)}
        mine = self._reachable(saved, skip)
        theirs = self._reachable(resumed, skip)
        assert any(isinstance(o, Pod) for o in mine.values()) or not saved.pods
        shared = set(mine) & set(theirs)
        assert not shared, [type(mine[i]).__name__ for i in shared][:5]
        assert resumed._timer_keys == {(ts, id(c), what) for ts, _, c, what in resumed._timers}
        assert len(resumed._timer_keys) == len(saved._timer_keys)
        resumed.run(start=index)
        again = saved.copy()
        again.run(start=index)  # the saved state was not changed by the first resumed run
        assert [(p.name, p.phase, p.node, p.ready, p.message) for p in resumed.pods.values()] == [
            (p.name, p.phase, p.node, p.ready, p.message) for p in again.pods.values()
        ]
        assert resumed.cluster.req_cpu == again.cluster.req_cpu == replay.cluster.req_cpu
        assert resumed.end_ts == again.end_ts == replay.end_ts


class TestUpdatedOwner:
    @pytest.mark.parametrize("seed", range(40))
    def test_agrees_with_is_updated(self, seed: int) -> None:
        """build_outcome counts updated pods with ``Controller.updated_owner``: the same answer as
        ``is_updated`` for every pod of every top-level controller, on random replays."""
        trace, scenario, options = random_case(seed)
        replay = Replay(trace, NodeSet(build_nodes(scenario.node_pools)), ObjectParser(), options)
        try:
            replay.run()
        except Exception:  # noqa: BLE001 - a trace the replay rejects
            return
        from sim_arena_gym.sim.controllers.base import UPDATED_ANY, UPDATED_ASK

        for controller in replay.objects.values():
            owner = controller.updated_owner()
            for pod in replay.pods.values():
                if owner is UPDATED_ASK:
                    continue
                assert controller.is_updated(pod) == (owner is UPDATED_ANY or pod.owner is owner)


class _PerPodFailures(Scheduler):
    """The scheduler with every failed pod of a class going through ``_fail`` (the reference for
    ``_park_alike``, which parks the rest of a class at once)."""

    def _park_alike(self, first: Pod, run: list[Pod], start: int) -> bool:
        return False


def _final_state(trace: Trace, scenario: Scenario, options: SimOptions, reference: bool) -> tuple:
    replay = Replay(trace, NodeSet(build_nodes(scenario.node_pools)), ObjectParser(), options,
                    simkube_mode=scenario.simkube_mode)  # fmt: skip
    if reference:
        replay.scheduler = _PerPodFailures(replay.cluster, options.version, replay._on_bound, replay._on_preempt,
                                           vector_min_nodes=options.vector_min_nodes)  # fmt: skip
    try:
        replay.run()
    except Exception as exc:  # noqa: BLE001 - both must fail alike
        return ("error", type(exc).__name__, str(exc))
    out = build_outcome(replay)
    pods = [(p.uid, p.queue_seq, p.message, p.reasons, p.node, p.nominated) for p in replay.pods.values()]
    return out.pods, out.nodes, dict(out.workloads), out.end_ts, replay.scheduler.attempts, pods


class TestSchedulerShortcuts:
    @pytest.mark.parametrize("chunk", range(4))
    def test_classes_parked_at_once_as_one_by_one(self, chunk: int) -> None:
        """Random traces and their edits: the same outcome, attempts, queue stamps and messages as
        the scheduler failing each pod in turn."""
        compared = 0
        for seed in range(chunk * 50, chunk * 50 + 50):
            trace, scenario, options = random_case(seed)
            rng = random.Random(seed)
            for _ in range(3):
                got = _final_state(trace, scenario, options, reference=False)
                assert got == _final_state(trace, scenario, options, reference=True), seed
                compared += got[0] != "error"
                places = _occurrences(trace)
                if not places:
                    break
                trace = edit_occurrence(trace, *rng.choice(places), rng)
        assert compared >= 100


class TestBounds:
    def test_saved_states_and_pods_stay_bounded(self) -> None:
        cache = SnapshotCache(max_contexts=3, max_saved_pods=25)
        parser = ObjectParser()
        spec = pod_spec([container("app", cpu="100m")])
        for n in range(6):  # six node sets: six contexts, three kept
            nodeset = NodeSet(build_nodes([NodePool(count=1 + n)]))
            base = build_trace([(T0, [deployment("a", spec, replicas=10)], []), (T0 + 1, [deployment("b", spec)], [])])
            for cpu in ("200m", "300m"):
                edited = edit_workload(base, "default/b", requests={"*": {"cpu": cpu}}, occurrences="last")
                cache.replay(edited, nodeset, parser, SimOptions(), simkube_mode=True, target=None, floors={})
            assert len(cache._contexts) <= 3
            assert cache.saved_pods <= 25
            assert cache.saved_pods == sum(s.pods for c in cache._contexts.values() for s in c.saved)
        assert len(cache) == 2 and cache.saved_pods == 20

"""Workload controllers (k8s-scheduling-rules.md section 5; checklist 26-33) and CronJob schedules."""

from __future__ import annotations

import datetime as dt

import pytest

from sim_arena_gym.backends import EmbeddedBackend
from sim_arena_gym.scenarios.model import NodePool, Scenario
from sim_arena_gym.sim import SimOptions
from sim_arena_gym.sim.controllers import resolve_fenceposts, scaled_value
from sim_arena_gym.sim.cron import CronError, parse_schedule
from sim_arena_gym.trace.builders import build_trace, container, deployment, job, pod_spec, statefulset
from sim_arena_gym.trace.refs import WorkloadRef

WEB = "Deployment/default/web"


def web(cpu: str, replicas: int, **kw) -> dict:
    return deployment("web", pod_spec([container("app", cpu=cpu, memory="1Gi")]), replicas=replicas, **kw)


def replay(events, *, nodes: int = 3, cpu: str = "16", options: SimOptions | None = None, lifecycles=None,
           workload: str = WEB):
    scenario = Scenario("t", None, WorkloadRef(*workload.split("/")), (NodePool(count=nodes, cpu=cpu),))
    return EmbeddedBackend(options).run(build_trace(events, pod_lifecycles=lifecycles), scenario)


def phases(out, key: str = WEB) -> tuple[int, int]:
    pods = out.pods_of(key)
    return sum(p.phase == "Running" for p in pods), sum(p.phase == "Pending" for p in pods)


class TestFenceposts:
    @pytest.mark.parametrize(("replicas", "surge", "unavailable"), [(1, 1, 0), (2, 1, 0), (3, 1, 0), (4, 1, 1), (10, 3, 2)])
    def test_defaults_table(self, replicas: int, surge: int, unavailable: int) -> None:
        assert resolve_fenceposts("25%", "25%", replicas) == (surge, unavailable)

    def test_both_zero_makes_unavailable_one(self) -> None:
        assert resolve_fenceposts(0, "10%", 5) == (0, 1)
        assert scaled_value("50%", 3, True) == 2 and scaled_value("50%", 3, False) == 1 and scaled_value(7, 3, True) == 7


class TestRollingUpdate:
    @pytest.mark.parametrize(("replicas", "old", "new"), [(1, 1, 1), (2, 2, 1), (3, 3, 1), (4, 3, 2), (10, 8, 5)])
    def test_stalled_rollout(self, replicas: int, old: int, new: int) -> None:
        """Checklist 30: the new pods never fit; old pods keep running."""
        out = replay([(100, [web("1", replicas)], []), (200, [web("20", replicas)], [])])
        assert phases(out) == (old, new)
        wl = out.workload(WEB)
        assert (wl.ready, wl.pending, wl.total, wl.updated) == (old, new, old + new, new)
        new_hashes = {p.template_hash for p in out.pods if p.phase == "Pending"}
        old_hashes = {p.template_hash for p in out.pods if p.phase == "Running"}
        assert len(new_hashes) == len(old_hashes) == 1 and new_hashes != old_hashes
        assert all(p.name.startswith(f"web-{p.template_hash}-") for p in out.pods)

    def test_rollout_completes_when_new_pods_fit(self) -> None:
        out = replay([(100, [web("1", 4)], []), (200, [web("2", 4)], [])])
        wl = out.workload(WEB)
        assert (wl.ready, wl.pending, wl.total, wl.updated) == (4, 0, 4, 4)
        assert {p.cpu_request_millis for p in out.pods_of(WEB)} == {2000}
        assert wl.conditions[1].reason == "NewReplicaSetAvailable"

    def test_rollout_that_needs_freed_capacity(self) -> None:
        """Deleting old pods frees room for new ones (spec 5.4 caveat): one 16 CPU node, 4 x 4 CPU."""
        out = replay([(100, [web("4", 4)], []), (200, [web("3500m", 4)], [])], nodes=1)
        assert phases(out) == (4, 0)
        assert out.workload(WEB).updated == 4

    def test_same_template_is_not_a_rollout(self) -> None:
        out = replay([(100, [web("1", 4)], []), (200, [web("1", 4)], [])])
        assert len({p.template_hash for p in out.pods}) == 1 and len(out.pods) == 4

    def test_new_replicaset_found_by_its_template_alone(self) -> None:
        """``_find_new`` answers the remembered new ReplicaSet when it holds the spec's very template:
        templates flipping A -> B -> A -> B (some at one instant) never give two ReplicaSets equal
        templates, so it is the one match the scan over ``rss`` (oldest first) would find."""
        from sim_arena_gym.sim.cluster import NodeSet
        from sim_arena_gym.sim.nodes import build_nodes
        from sim_arena_gym.sim.parse import ObjectParser
        from sim_arena_gym.sim.replay import Replay

        events = [(100, [web("1", 3)], []), (200, [web("2", 3)], []), (200, [web("1", 3)], []),
                  (300, [web("2", 3)], []), (301, [web("1", 3)], [])]
        replay = Replay(build_trace(events), NodeSet(build_nodes((NodePool(count=3, cpu="16"),))), ObjectParser(),
                        SimOptions())
        replay.run()
        (dep,) = replay.objects.values()
        assert len(dep.rss) == 2 and len({rs.template.raw == dep.rss[0].template.raw for rs in dep.rss}) == 2
        assert dep.new_rs is dep.rss[0] and dep.new_rs.template is dep.spec.template
        assert dep._find_new() is dep.rss[0]
        dep.new_rs = dep.rss[1]  # a stale remembered one (another template) is not taken
        assert dep._find_new() is dep.rss[0]
        assert {p.template_hash for p in replay.pods.values()} == {dep.rss[0].hash_label}

    def test_template_reverted_reuses_the_old_replicaset(self) -> None:
        out = replay([(100, [web("1", 2)], []), (200, [web("2", 2)], []), (300, [web("1", 2)], [])])
        first = replay([(100, [web("1", 2)], [])])
        assert {p.template_hash for p in out.pods} == {p.template_hash for p in first.pods}


class TestConditions:
    def _stalled(self, **options):
        return replay([(100, [web("1", 4)], []), (200, [web("20", 4)], [])], options=SimOptions(**options))

    def test_progressing_before_the_deadline(self) -> None:
        conds = {c.type: c for c in self._stalled(observe_after_seconds=600).workload(WEB).conditions}
        assert (conds["Available"].status, conds["Available"].reason) == ("True", "MinimumReplicasAvailable")
        assert conds["Available"].message == "Deployment has minimum availability."
        assert (conds["Progressing"].status, conds["Progressing"].reason) == ("True", "ReplicaSetUpdated")

    def test_progress_deadline_exceeded(self) -> None:
        out = self._stalled(observe_after_seconds=601)
        new_rs = {p.name.rsplit("-", 1)[0] for p in out.pods if p.phase == "Pending"}.pop()
        conds = {c.type: c for c in out.workload(WEB).conditions}
        assert (conds["Progressing"].status, conds["Progressing"].reason) == ("False", "ProgressDeadlineExceeded")
        assert conds["Progressing"].message == f'ReplicaSet "{new_rs}" has timed out progressing.'
        assert phases(out) == (3, 2)  # nothing is rolled back

    def test_elapse_option_reports_the_settled_condition(self) -> None:
        conds = {c.type: c for c in self._stalled(elapse_progress_deadlines=True).workload(WEB).conditions}
        assert conds["Progressing"].reason == "ProgressDeadlineExceeded"
        assert self._stalled().workload(WEB).conditions[1].reason == "ReplicaSetUpdated"

    def test_custom_deadline_and_unavailable(self) -> None:
        out = replay([(100, [web("20", 2, progress_deadline_seconds=30)], [])], options=SimOptions(observe_after_seconds=31))
        conds = {c.type: c for c in out.workload(WEB).conditions}
        assert conds["Available"].status == "False"
        assert conds["Available"].message == "Deployment does not have minimum availability."
        assert conds["Progressing"].reason == "ProgressDeadlineExceeded"


class TestScaling:
    def test_scale_down_removes_pending_first(self) -> None:
        """Checklist 32: 6 replicas on room for 4 -> 4 Running + 2 Pending; scaling to 4 keeps the 4."""
        first = replay([(100, [web("4", 6)], [])], nodes=1)
        assert phases(first) == (4, 2)
        out = replay([(100, [web("4", 6)], []), (200, [web("4", 4)], [])], nodes=1)
        assert phases(out) == (4, 0)
        running = {p.name for p in first.pods if p.phase == "Running"}
        assert {p.name for p in out.pods} == running

    def test_scale_up(self) -> None:
        out = replay([(100, [web("1", 2)], []), (200, [web("1", 5)], [])])
        assert phases(out) == (5, 0) and out.workload(WEB).desired == 5

    def test_proportional_scaling_mid_rollout(self) -> None:
        """Kubernetes docs example: 10 replicas, maxSurge 3, maxUnavailable 2, stalled at 8 old + 5 new,
        then scaled to 15: 3 more old and 2 more new."""
        strategy = {"rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}, "type": "RollingUpdate"}
        events = [
            (100, [web("1", 10, strategy=strategy)], []),
            (200, [web("20", 10, strategy=strategy)], []),
            (300, [web("20", 15, strategy=strategy)], []),
        ]
        assert phases(replay(events[:2])) == (8, 5)
        assert phases(replay(events)) == (11, 7)


class TestRecreate:
    def test_old_pods_go_first(self) -> None:
        strategy = {"type": "Recreate"}
        out = replay([(100, [web("1", 4, strategy=strategy)], []), (200, [web("20", 4, strategy=strategy)], [])])
        assert phases(out) == (0, 4)
        assert {c.type: c.status for c in out.workload(WEB).conditions}["Available"] == "False"

    def test_recreate_completes(self) -> None:
        strategy = {"type": "Recreate"}
        out = replay([(100, [web("1", 4, strategy=strategy)], []), (200, [web("2", 4, strategy=strategy)], [])])
        assert phases(out) == (4, 0) and out.workload(WEB).updated == 4


class TestStatefulSet:
    STS = "StatefulSet/default/db"

    def _sts(self, cpu: str, replicas: int, policy: str | None = None) -> dict:
        obj = statefulset("db", pod_spec([container("db", cpu=cpu)]), replicas=replicas)
        if policy:
            obj["spec"]["podManagementPolicy"] = policy
        return obj

    def test_pending_ordinal_blocks_the_rest(self) -> None:
        out = replay([(100, [self._sts("10", 4)], [])], nodes=2, workload=self.STS)
        assert [(p.name, p.phase) for p in out.pods] == [("db-0", "Running"), ("db-1", "Running"), ("db-2", "Pending")]
        wl = out.workload(self.STS)
        assert (wl.desired, wl.ready, wl.pending, wl.total) == (4, 2, 1, 3)

    def test_parallel_creates_all(self) -> None:
        out = replay([(100, [self._sts("10", 4, "Parallel")], [])], nodes=2, workload=self.STS)
        assert [p.name for p in out.pods] == ["db-0", "db-1", "db-2", "db-3"]
        assert phases(out, self.STS) == (2, 2)

    def test_scale_down_highest_first(self) -> None:
        out = replay([(100, [self._sts("1", 4)], []), (200, [self._sts("1", 2)], [])], workload=self.STS)
        assert [p.name for p in out.pods] == ["db-0", "db-1"]

    def test_scale_down_removes_the_pending_ordinal(self) -> None:
        out = replay([(100, [self._sts("10", 3)], []), (200, [self._sts("10", 2)], [])], nodes=2, workload=self.STS)
        assert [(p.name, p.phase) for p in out.pods] == [("db-0", "Running"), ("db-1", "Running")]

    def test_rolling_update_replaces_from_the_highest_ordinal(self) -> None:
        done = replay([(100, [self._sts("1", 3)], []), (200, [self._sts("2", 3)], [])], workload=self.STS)
        assert sorted((p.name, p.cpu_request_millis, p.phase) for p in done.pods) == [
            ("db-0", 2000, "Running"), ("db-1", 2000, "Running"), ("db-2", 2000, "Running")]
        stuck = replay([(100, [self._sts("1", 3)], []), (200, [self._sts("20", 3)], [])], workload=self.STS)
        assert sorted((p.name, p.cpu_request_millis, p.phase) for p in stuck.pods) == [
            ("db-0", 1000, "Running"), ("db-1", 1000, "Running"), ("db-2", 20000, "Pending")]
        assert stuck.workload(self.STS).updated == 1


class TestJobs:
    JOB = "Job/default/batch"

    def _job(self, cpu: str = "10", completions: int = 3, parallelism: int = 2) -> dict:
        return job("batch", pod_spec([container("work", cpu=cpu)]), completions=completions, parallelism=parallelism)

    def test_finished_pods_succeed_and_free_resources(self) -> None:
        lifecycles = {("batch/v1.Job", "default/batch"): {1: [{"Finished": [0, 30]}]}}
        events = [(100, [self._job()], [])]
        early = replay(events, nodes=2, options=SimOptions(observe_after_seconds=10), lifecycles=lifecycles, workload=self.JOB)
        assert phases(early, self.JOB) == (2, 0)
        late = replay(events, nodes=2, options=SimOptions(observe_after_seconds=70), lifecycles=lifecycles, workload=self.JOB)
        assert [p.phase for p in late.pods] == ["Succeeded"] * 3
        assert all(n.requested_cpu_millis == 0 and n.pod_count == 0 for n in late.nodes)
        assert late.workload(self.JOB).desired == 0 and late.workload(self.JOB).total == 0

    def test_completed_job_makes_room_for_a_pending_pod(self) -> None:
        lifecycles = {("batch/v1.Job", "default/batch"): {1: [{"Finished": [0, 30]}]}}
        events = [(100, [self._job(completions=1, parallelism=1), web("10", 1)], [])]
        out = replay(events, nodes=1, options=SimOptions(observe_after_seconds=31), lifecycles=lifecycles)
        assert phases(out) == (1, 0)
        before = replay(events, nodes=1, options=SimOptions(observe_after_seconds=29), lifecycles=lifecycles)
        assert phases(before) == (0, 1)

    def test_without_lifecycle_pods_run_forever(self) -> None:
        out = replay([(100, [self._job()], [])], nodes=2, options=SimOptions(observe_after_seconds=3600), workload=self.JOB)
        assert phases(out, self.JOB) == (2, 0)


class TestCron:
    def _next(self, schedule: str, when: str, tz: str | None = None) -> str:
        start = int(dt.datetime.fromisoformat(when).replace(tzinfo=dt.timezone.utc).timestamp())
        nxt = parse_schedule(schedule, tz).next_after(start)
        return dt.datetime.fromtimestamp(nxt, dt.timezone.utc).isoformat(timespec="minutes")

    def test_every_minute_is_strictly_after(self) -> None:
        assert self._next("* * * * *", "2025-03-29T22:20:23") == "2025-03-29T22:21+00:00"
        assert self._next("* * * * *", "2025-03-29T22:21:00") == "2025-03-29T22:22+00:00"

    def test_steps_ranges_names_macros(self) -> None:
        assert self._next("*/15 * * * *", "2025-03-29T22:20:00") == "2025-03-29T22:30+00:00"
        assert self._next("0 9-17/4 * * mon-fri", "2025-03-29T22:20:00") == "2025-03-31T09:00+00:00"
        assert self._next("@hourly", "2025-03-29T22:20:00") == "2025-03-29T23:00+00:00"
        assert self._next("@yearly", "2025-03-29T22:20:00") == "2026-01-01T00:00+00:00"
        assert self._next("30 4 1 jan *", "2025-03-29T22:20:00") == "2026-01-01T04:30+00:00"

    def test_day_of_month_or_day_of_week(self) -> None:
        # both restricted: either matches (the 1st, or a Monday)
        assert self._next("0 0 1 * mon", "2025-03-29T00:00:00") == "2025-03-31T00:00+00:00"

    def test_time_zone(self) -> None:
        assert self._next("CRON_TZ=UTC 0 12 * * *", "2025-03-29T13:00:00") == "2025-03-30T12:00+00:00"

    @pytest.mark.parametrize("bad", ["* * * *", "61 * * * *", "* * * * 8", "*/0 * * * *", "x * * * *"])
    def test_invalid(self, bad: str) -> None:
        with pytest.raises(CronError):
            parse_schedule(bad)

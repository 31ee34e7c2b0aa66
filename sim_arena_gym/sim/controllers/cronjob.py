"""The CronJob controller (``pkg/controller/cronjob``)."""

from __future__ import annotations

from typing import Any

from sim_arena_gym.sim.controllers.base import Controller, ControllerHost
from sim_arena_gym.sim.controllers.job import JobController
from sim_arena_gym.sim.cron import CronError, parse_schedule
from sim_arena_gym.sim.objects import CronJobSpec
from sim_arena_gym.trace.errors import WorkloadError


__all__ = ["CronJobController"]


class CronJobController(Controller):
    """A CronJob: at each scheduled minute after its creation it creates the Job
    ``<name>-<scheduled Unix minutes>`` from ``jobTemplate`` (``concurrencyPolicy`` Allow, Forbid or
    Replace; ``suspend``), and keeps the last ``successfulJobsHistoryLimit`` finished Jobs."""

    kind = "CronJob"

    def __init__(self, host: ControllerHost, namespace: str, name: str, spec: CronJobSpec) -> None:
        super().__init__(host, namespace, name, None)
        self.jobs: list[JobController] = []
        self.spec = spec
        self.next_ts: int | None = None
        self._schedule(host, spec, host.now)

    def relink(self, copier: Any) -> None:
        super().relink(copier)
        controller = copier.controller
        self.jobs = [controller(job) for job in self.jobs]

    def _schedule(self, host: ControllerHost, spec: CronJobSpec, after: int) -> None:
        try:
            schedule = parse_schedule(spec.schedule, spec.time_zone)
        except CronError as exc:
            raise WorkloadError(f"schedule {spec.schedule!r}: {exc}", where=f"CronJob {self.namespace}/{self.name}") from None
        self._cron = schedule
        self.next_ts = schedule.next_after(after)
        if self.next_ts is not None:
            host.at(self.next_ts, self, f"tick:{self.next_ts}")

    def update(self, host: ControllerHost, spec: CronJobSpec) -> None:
        changed = spec.schedule != self.spec.schedule or spec.time_zone != self.spec.time_zone
        self.spec = spec
        if changed:
            self._schedule(host, spec, host.now)
        host.mark(self)

    def timer(self, host: ControllerHost, what: str) -> None:
        if self.deleted or not what.startswith("tick:"):
            host.mark(self)
            return
        ts = int(what.split(":", 1)[1])
        if ts != self.next_ts:
            return  # superseded by a schedule change
        spec = self.spec
        active = [j for j in self.jobs if not j.finished and not j.deleted]
        if not spec.suspend:
            if spec.concurrency_policy == "Forbid" and active:
                pass
            else:
                if spec.concurrency_policy == "Replace":
                    for job in active:
                        host.delete_controller(job)
                name = f"{self.name}-{ts // 60}"
                if not any(j.name == name for j in self.jobs):
                    job = JobController(host, self.namespace, name, spec.job, owner=self, scheduled_ts=ts)
                    self.jobs.append(job)
                    host.mark(job)
        self.next_ts = self._cron.next_after(ts)
        if self.next_ts is not None:
            host.at(self.next_ts, self, f"tick:{self.next_ts}")
        host.mark(self)

    def sync(self, host: ControllerHost) -> None:
        """History limits: delete the oldest finished Jobs beyond the limits."""
        self.jobs = [j for j in self.jobs if not j.deleted]
        finished = [j for j in self.jobs if j.finished]
        excess = len(finished) - self.spec.successful_jobs_history_limit
        for job in sorted(finished, key=lambda j: j.finished_ts or 0)[: max(0, excess)]:
            host.delete_controller(job)
        self.jobs = [j for j in self.jobs if not j.deleted]

    def delete(self, host: ControllerHost) -> None:
        super().delete(host)
        for job in self.jobs:
            job.delete(host)

    def desired(self) -> int:
        return sum(j.desired() for j in self.jobs if not j.deleted)

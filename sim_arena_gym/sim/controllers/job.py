"""The Job controller (``pkg/controller/job``)."""

from __future__ import annotations

from typing import Any

from sim_arena_gym.sim.cluster import RUNNING, SUCCEEDED, Pod
from sim_arena_gym.sim.controllers.base import Controller, ControllerHost
from sim_arena_gym.sim.names import pod_suffix
from sim_arena_gym.sim.objects import JobSpec


__all__ = ["JobController"]


class JobController(Controller):
    """A Job: keeps ``min(parallelism, completions - succeeded)`` pods active until ``completions``
    pods Succeeded (work-queue mode, no ``completions``: until one pod Succeeded and none is active).
    Pod run times come from the trace's ``pod_lifecycles`` (``Finished`` entries); a pod without one
    runs until the end. A finished Job keeps its Succeeded pods; ``ttlSecondsAfterFinished`` deletes it.
    """

    kind = "Job"

    def __init__(
        self,
        host: ControllerHost,
        namespace: str,
        name: str,
        spec: JobSpec,
        owner: Controller | None = None,
        scheduled_ts: int | None = None,
    ) -> None:
        super().__init__(host, namespace, name, owner)
        self.spec = spec
        self.pods: dict[int, Pod] = {}  # every pod it created that still exists
        self.succeeded = 0
        self.created_pods = 0
        self.finished_ts: int | None = None
        self.scheduled_ts = scheduled_ts

    def relink(self, copier: Any) -> None:
        super().relink(copier)
        self.pods = copier.copied_pods(self.pods)

    def update(self, host: ControllerHost, spec: JobSpec) -> None:
        # The pod template of a Job is immutable; parallelism and completions may change.
        self.spec = JobSpec(
            template=self.spec.template,
            parallelism=spec.parallelism,
            completions=spec.completions,
            ttl_seconds_after_finished=spec.ttl_seconds_after_finished,
            suspend=spec.suspend,
        )
        host.mark(self)

    @property
    def active_pods(self) -> list[Pod]:
        return [p for p in self.pods.values() if p.active]

    def sync(self, host: ControllerHost) -> None:
        if self.deleted or self.finished_ts is not None:
            return
        spec = self.spec
        active = self.active_pods
        done = (
            self.succeeded >= spec.completions
            if spec.completions is not None
            else self.succeeded > 0 and not active
        )
        if done:
            self.finished_ts = host.now
            if spec.ttl_seconds_after_finished is not None:
                host.at(host.now + spec.ttl_seconds_after_finished, self, "ttl")
            if self.owner is not None:
                host.mark(self.owner)
            return
        if spec.suspend:
            want = 0
        elif spec.completions is not None:
            want = min(spec.parallelism, spec.completions - self.succeeded)
        else:
            want = spec.parallelism if self.succeeded == 0 else 0
        if len(active) < want:
            for _ in range(want - len(active)):
                name = f"{self.name}-{pod_suffix(self.name, self.created_pods)}"
                self.created_pods += 1
                pod = host.create_pod(self, name, spec.template, group=None, template_hash="")
                self.pods[pod.uid] = pod
        elif len(active) > want:
            surplus = sorted(active, key=lambda p: (p.node >= 0, p.phase is RUNNING, -p.uid))
            for pod in surplus[: len(active) - want]:
                host.delete_pod(pod)

    def timer(self, host: ControllerHost, what: str) -> None:
        if what == "ttl" and not self.deleted:
            host.delete_controller(self)
        else:
            host.mark(self)

    def pod_bound(self, host: ControllerHost, pod: Pod) -> None:
        host.mark(self)

    def pod_gone(self, host: ControllerHost, pod: Pod) -> None:
        if pod.phase is SUCCEEDED and not pod.deleted:
            self.succeeded += 1
        if pod.deleted:
            self.pods.pop(pod.uid, None)
        host.mark(self)

    def delete(self, host: ControllerHost) -> None:
        super().delete(host)
        for pod in list(self.pods.values()):
            host.delete_pod(pod)

    @property
    def finished(self) -> bool:
        return self.finished_ts is not None

    def desired(self) -> int:
        if self.finished_ts is not None:
            return 0
        spec = self.spec
        if spec.completions is None:
            return spec.parallelism
        return min(spec.parallelism, spec.completions)

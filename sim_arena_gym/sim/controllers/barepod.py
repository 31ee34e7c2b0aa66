"""Bare Pods applied directly (one pod, never recreated)."""

from __future__ import annotations

from typing import Any

from sim_arena_gym.sim.cluster import Pod
from sim_arena_gym.sim.controllers.base import Controller, ControllerHost
from sim_arena_gym.sim.objects import PodTemplate


__all__ = ["BarePodController"]


class BarePodController(Controller):
    """A Pod applied directly: exactly one pod, never recreated. A later apply with a different spec
    is ignored (a Pod's spec is immutable; the API server would reject the update). Deleting the pod
    (preemption) deletes the object."""

    kind = "Pod"

    def __init__(self, host: ControllerHost, namespace: str, name: str, template: PodTemplate) -> None:
        super().__init__(host, namespace, name, None)
        self.template = template
        self.pod: Pod | None = None
        self.created = False

    def relink(self, copier: Any) -> None:
        super().relink(copier)
        if self.pod is not None:
            self.pod = copier.pod(self.pod)

    def sync(self, host: ControllerHost) -> None:
        if not self.created and not self.deleted:
            self.created = True
            self.pod = host.create_pod(self, self.name, self.template, group=None, template_hash="")

    def pod_gone(self, host: ControllerHost, pod: Pod) -> None:
        if pod.deleted and not self.deleted:  # the pod is the object: deleting it (preemption) removes it
            host.delete_controller(self)

    def delete(self, host: ControllerHost) -> None:
        super().delete(host)
        if self.pod is not None:
            host.delete_pod(self.pod)

    def desired(self) -> int:
        return 1

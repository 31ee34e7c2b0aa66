"""The StatefulSet controller (``pkg/controller/statefulset``)."""

from __future__ import annotations

from typing import Any

from sim_arena_gym.sim.cluster import RUNNING, Pod
from sim_arena_gym.sim.controllers.base import UPDATED_ASK, Controller, ControllerHost
from sim_arena_gym.sim.names import content_digest, template_hash
from sim_arena_gym.sim.objects import PodTemplate, StatefulSetSpec


__all__ = ["StatefulSetController"]


class StatefulSetController(Controller):
    """A StatefulSet: pods ``<name>-<ordinal>``.

    ``OrderedReady`` (default): pod N+1 is created only once pods 0..N are Running and Ready, so a
    Pending ordinal blocks the rest; scale-down removes the highest ordinal first, one at a time.
    ``Parallel`` creates and deletes without waiting. ``RollingUpdate`` replaces pods of an old
    revision from the highest ordinal down to ``partition``, one at a time, each after the pods are
    healthy; ``OnDelete`` never replaces pods.
    """

    kind = "StatefulSet"

    def __init__(self, host: ControllerHost, namespace: str, name: str, spec: StatefulSetSpec) -> None:
        super().__init__(host, namespace, name, None)
        self.pods: dict[int, Pod] = {}  # ordinal -> pod
        self.current_hash = ""
        self.current_template: PodTemplate | None = None
        self.apply(spec)
        self.current_hash = self.update_hash
        self.current_template = spec.template

    def relink(self, copier: Any) -> None:
        super().relink(copier)
        self.pods = copier.copied_pods(self.pods)

    def apply(self, spec: StatefulSetSpec) -> None:
        self.spec = spec
        self.update_hash = template_hash(content_digest(spec.template.raw))

    def update(self, host: ControllerHost, spec: StatefulSetSpec) -> None:
        self.apply(spec)
        host.mark(self)

    @staticmethod
    def _healthy(pod: Pod) -> bool:
        return pod.phase is RUNNING and pod.ready

    def _template_for(self, ordinal: int) -> tuple[PodTemplate, str]:
        """Template of a (re)created pod: the current revision below ``partition`` during a
        RollingUpdate, else the update revision."""
        spec = self.spec
        if spec.update_strategy == "RollingUpdate" and ordinal < spec.partition and self.current_template is not None:
            return self.current_template, self.current_hash
        return spec.template, self.update_hash

    def sync(self, host: ControllerHost) -> None:
        if self.deleted:
            return
        spec = self.spec
        monotonic = spec.pod_management_policy != "Parallel"
        for ordinal in range(spec.replicas):
            pod = self.pods.get(ordinal)
            if pod is None:
                template, hash_label = self._template_for(ordinal)
                pod = host.create_pod(
                    self, f"{self.name}-{ordinal}", template, group=self, template_hash=hash_label, ordinal=ordinal
                )
                self.pods[ordinal] = pod
                if monotonic:
                    return
                continue
            if monotonic and not self._healthy(pod):
                return
        condemned = sorted((o for o in self.pods if o >= spec.replicas), reverse=True)
        if condemned:
            unhealthy = [o for o in sorted(self.pods) if not self._healthy(self.pods[o])]
            first_unhealthy = unhealthy[0] if unhealthy else None
            for ordinal in condemned:
                pod = self.pods[ordinal]
                if monotonic and not self._healthy(pod) and ordinal != first_unhealthy:
                    return
                host.delete_pod(pod)
                if monotonic:
                    return
            return
        if spec.update_strategy != "RollingUpdate":
            return
        if all(p.template_hash == self.update_hash for p in self.pods.values()):
            self.current_hash = self.update_hash
            self.current_template = spec.template
            return
        for ordinal in range(spec.replicas - 1, spec.partition - 1, -1):
            pod = self.pods.get(ordinal)
            if pod is None:
                return
            if pod.template_hash != self.update_hash:
                host.delete_pod(pod)
                host.mark(self)
                return
            if not self._healthy(pod):
                return

    def pod_bound(self, host: ControllerHost, pod: Pod) -> None:
        host.mark(self)

    def pod_gone(self, host: ControllerHost, pod: Pod) -> None:
        if self.pods.get(pod.ordinal) is pod:
            del self.pods[pod.ordinal]
        if not pod.deleted:  # a finished pod is deleted and recreated under the same name
            host.delete_pod(pod)
        host.mark(self)

    def delete(self, host: ControllerHost) -> None:
        super().delete(host)
        for pod in list(self.pods.values()):
            host.delete_pod(pod)

    def desired(self) -> int:
        return self.spec.replicas

    def is_updated(self, pod: Pod) -> bool:
        return pod.template_hash == self.update_hash

    def updated_owner(self) -> Any:
        return UPDATED_ASK

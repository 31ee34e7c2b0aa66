"""The ReplicaSet controller (``pkg/controller/replicaset``, checklist 32)."""

from __future__ import annotations

from collections import Counter
from operator import attrgetter, itemgetter
from typing import Any

from sim_arena_gym.sim.cluster import PENDING, Pod
from sim_arena_gym.sim.controllers.base import Controller, ControllerHost, _mark_up
from sim_arena_gym.sim.names import pod_suffix
from sim_arena_gym.sim.objects import PodTemplate, ReplicaSetSpec


__all__ = ["ReplicaSetController"]

_NODE = attrgetter("node")
_LAST = itemgetter(6)


class ReplicaSetController(Controller):
    """A ReplicaSet: keeps ``replicas`` active pods from its template (checklist 32).

    Scale-down deletes pods in ``ActivePodsWithRanks`` order: unscheduled before scheduled, Pending
    before Running, not Ready before Ready, more pods of the same Deployment on the node first, more
    recently Ready first, newer first. Pending replicas therefore go first.
    """

    kind = "ReplicaSet"

    def __init__(
        self,
        host: ControllerHost,
        namespace: str,
        name: str,
        template: PodTemplate,
        replicas: int,
        *,
        min_ready_seconds: int = 0,
        hash_label: str = "",
        owner: Controller | None = None,
    ) -> None:
        super().__init__(host, namespace, name, owner)
        self.template = template
        self.replicas = replicas
        self.min_ready_seconds = min_ready_seconds
        self.hash_label = hash_label
        self.pods: dict[int, Pod] = {}
        self.ready = 0
        self.created_pods = 0
        #: ``deployment.kubernetes.io/desired-replicas`` and ``max-replicas`` annotations
        self.desired_annotation: int | None = None
        self.max_annotation: int | None = None

    def relink(self, copier: Any) -> None:
        super().relink(copier)
        self.pods = copier.copied_pods(self.pods)

    def update(self, spec: ReplicaSetSpec) -> None:
        """A new version of a standalone ReplicaSet: new pods use the new template (existing pods stay)."""
        self.template = spec.template
        self.replicas = spec.replicas
        self.min_ready_seconds = spec.min_ready_seconds

    def sync(self, host: ControllerHost) -> None:
        diff = self.replicas - len(self.pods)
        if diff > 0:
            name, template, hash_label, pods = self.name, self.template, self.hash_label, self.pods
            create = host.create_pod
            first = self.created_pods
            for k in range(first, first + diff):
                self.created_pods = k + 1
                pod = create(self, f"{name}-{pod_suffix(name, k)}", template, group=self, template_hash=hash_label)
                pods[pod.uid] = pod
            if self.owner is not None:
                host.mark(self.owner)
        elif diff < 0:
            for pod in self._deletion_order()[:-diff]:
                host.delete_pod(pod)

    def _deletion_order(self) -> list[Pod]:
        owner = self.owner  # a Deployment's ReplicaSets count together (its ``rss``)
        siblings = owner.rss if owner is not None and owner.kind == "Deployment" else (self,)
        # pods of the siblings per node (counted in C; unassigned pods count under -1, which no rank reads)
        nodes: list[int] = []
        for rs in siblings:
            nodes += map(_NODE, rs.pods.values())
        related = Counter(nodes)

        # each pod's rank, then the pod (never compared: the ranks end with distinct uids)
        ranked = []
        append = ranked.append
        for p in self.pods.values():
            node = p.node
            ready = p.ready
            append((
                node >= 0,
                0 if p.phase is PENDING else 2,
                ready,
                -related[node] if node >= 0 else 0,
                -p.ready_ts if ready else 0,
                -p.uid,
                p,
            ))  # fmt: skip
        ranked.sort()
        return list(map(_LAST, ranked))

    def available(self, now: int) -> int:
        """Pods Ready for ``minReadySeconds`` (checklist 29)."""
        if self.min_ready_seconds <= 0:
            return self.ready
        limit = now - self.min_ready_seconds
        return sum(1 for p in self.pods.values() if p.ready and p.ready_ts <= limit)

    def pod_bound(self, host: ControllerHost, pod: Pod) -> None:
        if pod.ready:
            self.ready += 1
            if self.min_ready_seconds > 0 and self.owner is not None:
                host.at(pod.ready_ts + self.min_ready_seconds, self.owner)
        _mark_up(host, self)

    def pod_gone(self, host: ControllerHost, pod: Pod) -> None:
        if self.pods.pop(pod.uid, None) is not None and pod.ready:
            self.ready -= 1
        _mark_up(host, self)

    def delete(self, host: ControllerHost) -> None:
        super().delete(host)
        for pod in list(self.pods.values()):
            host.delete_pod(pod)

    def desired(self) -> int:
        return self.replicas

    def is_updated(self, pod: Pod) -> bool:
        return pod.owner is self

    def updated_owner(self) -> Any:
        return self

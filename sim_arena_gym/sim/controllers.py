"""Workload controllers: Deployment, ReplicaSet, StatefulSet, Job, CronJob and bare Pods
(``k8s-scheduling-rules.md`` section 5, checklist 26-33).

Each controller keeps only what the upstream controller reads (spec counts, replica annotations,
pod counts, availability) and acts through the :class:`ControllerHost` (the replay): create or delete
pods, ask for a sync of itself or another controller, set a timer. The replay runs dirty controllers
and the scheduler in turn until nothing changes (checklist 28: "repeat until nothing changes, running
the scheduler between steps").

Upstream sources mirrored here: ``pkg/controller/deployment/{rolling.go,sync.go,recreate.go,
progress.go}``, ``deployment/util/deployment_util.go``, ``pkg/controller/replicaset``
(``ActivePodsWithRanks``), ``pkg/controller/statefulset/stateful_set_control.go``,
``pkg/controller/job``, ``pkg/controller/cronjob``. No upstream code is copied.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Protocol

from sim_arena_gym.sim.cluster import PENDING, RUNNING, SUCCEEDED, Pod
from sim_arena_gym.sim.cron import CronError, parse_schedule
from sim_arena_gym.sim.names import content_digest, pod_suffix, template_hash
from sim_arena_gym.sim.objects import (
    CronJobSpec,
    DeploymentSpec,
    JobSpec,
    PodTemplate,
    ReplicaSetSpec,
    StatefulSetSpec,
)
from sim_arena_gym.sim.outcome import Condition
from sim_arena_gym.trace.errors import WorkloadError

__all__ = [
    "BarePodController",
    "Controller",
    "ControllerHost",
    "CronJobController",
    "DeploymentController",
    "JobController",
    "ReplicaSetController",
    "StatefulSetController",
    "resolve_fenceposts",
    "scaled_value",
]

#: Deployment condition reasons and messages (``deployment_util.go``).
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"


class ControllerHost(Protocol):
    """What controllers need from the replay (implemented by :class:`~sim_arena_gym.sim.replay.Replay`)."""

    now: int

    def create_pod(
        self, owner: "Controller", name: str, template: PodTemplate, *, group: Any, template_hash: str,
        ordinal: int = -1,
    ) -> Pod: ...

    def delete_pod(self, pod: Pod) -> None: ...

    def mark(self, controller: "Controller") -> None: ...

    def at(self, ts: int, controller: "Controller", what: str = "sync") -> None: ...

    def delete_controller(self, controller: "Controller") -> None: ...

    def next_seq(self) -> int: ...


# ---------------------------------------------------------------------------------------------------
# int-or-percent (apimachinery intstr) and the rolling-update fenceposts


def scaled_value(value: int | str, total: int, round_up: bool) -> int:
    """``GetScaledValueFromIntOrPercent``: an int as is, ``"25%"`` of ``total`` rounded up or down."""
    if isinstance(value, int):
        return value
    percent = int(value.rstrip("%"))
    return -((-percent * total) // 100) if round_up else (percent * total) // 100


def resolve_fenceposts(max_surge: int | str, max_unavailable: int | str, replicas: int) -> tuple[int, int]:
    """``ResolveFenceposts``: maxSurge rounded up, maxUnavailable rounded down, both against
    ``replicas``; both zero -> maxUnavailable 1 (checklist 26). 4 replicas -> (1, 1); 10 -> (3, 2);
    1-3 -> (1, 0)."""
    surge = scaled_value(max_surge, replicas, True)
    unavailable = scaled_value(max_unavailable, replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


# ---------------------------------------------------------------------------------------------------
# base


class Controller:
    """Common state: identity, the owning controller, and the top-level workload key.

    Attributes:
        kind, namespace, name: identity (``Deployment``, ``default``, ``web``).
        owner: the controller owning this one (a Deployment for its ReplicaSets), or ``None``.
        workload: ``"Kind/namespace/name"`` of the top-level owner (the key in the outcome).
        seq: creation order (ReplicaSetsByCreationTimestamp).
        deleted: removed from the cluster.
    """

    kind = ""

    def __init__(self, host: ControllerHost, namespace: str, name: str, owner: "Controller | None") -> None:
        self.namespace = namespace
        self.name = name
        self.owner = owner
        self.workload = owner.workload if owner is not None else f"{self.kind}/{namespace}/{name}"
        self.seq = host.next_seq()
        self.created_ts = host.now
        self.deleted = False

    @property
    def top(self) -> "Controller":
        node = self
        while node.owner is not None:
            node = node.owner
        return node

    def sync(self, host: ControllerHost) -> None:
        """Reconcile once."""

    def timer(self, host: ControllerHost, what: str) -> None:
        """A timer set with ``host.at`` fired."""
        host.mark(self)

    def pod_bound(self, host: ControllerHost, pod: Pod) -> None:
        """One of its pods was bound (Running; Ready unless a usage floor kills it)."""

    def pod_gone(self, host: ControllerHost, pod: Pod) -> None:
        """One of its pods finished or was deleted."""

    def delete(self, host: ControllerHost) -> None:
        """Cascade deletion (background propagation)."""
        self.deleted = True

    # outcome ------------------------------------------------------------------------------------

    def desired(self) -> int:
        return 0

    def is_updated(self, pod: Pod) -> bool:
        return True

    def conditions(self, host: ControllerHost, *, elapse_deadline: bool = False) -> tuple[Condition, ...]:
        return ()


def _mark_up(host: ControllerHost, controller: Controller) -> None:
    host.mark(controller)
    if controller.owner is not None:
        host.mark(controller.owner)


# ---------------------------------------------------------------------------------------------------
# ReplicaSet


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

    def update(self, spec: ReplicaSetSpec) -> None:
        """A new version of a standalone ReplicaSet: new pods use the new template (existing pods stay)."""
        self.template = spec.template
        self.replicas = spec.replicas
        self.min_ready_seconds = spec.min_ready_seconds

    def sync(self, host: ControllerHost) -> None:
        diff = self.replicas - len(self.pods)
        if diff > 0:
            name = self.name
            for _ in range(diff):
                pod_name = f"{name}-{pod_suffix(name, self.created_pods)}"
                self.created_pods += 1
                pod = host.create_pod(self, pod_name, self.template, group=self, template_hash=self.hash_label)
                self.pods[pod.uid] = pod
            if self.owner is not None:
                host.mark(self.owner)
        elif diff < 0:
            for pod in self._deletion_order()[:-diff]:
                host.delete_pod(pod)

    def _deletion_order(self) -> list[Pod]:
        related: dict[int, int] = {}
        siblings: Iterable[Any] = self.owner.rss if isinstance(self.owner, DeploymentController) else (self,)
        for rs in siblings:
            for p in rs.pods.values():
                if p.node >= 0:
                    related[p.node] = related.get(p.node, 0) + 1

        def rank(p: Pod) -> tuple:
            assigned = p.node >= 0
            phase = 0 if p.phase is PENDING else 2
            return (
                assigned,
                phase,
                p.ready,
                -related.get(p.node, 0) if assigned else 0,
                -p.ready_ts if p.ready else 0,
                -p.uid,
            )

        return sorted(self.pods.values(), key=rank)

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


# ---------------------------------------------------------------------------------------------------
# Deployment


_CONDITIONS: dict[tuple[str, str, str, str], Condition] = {}


def _condition(type_: str, status: str, reason: str, message: str) -> Condition:
    """An outcome :class:`Condition`; equal ones share one immutable object."""
    key = (type_, status, reason, message)
    found = _CONDITIONS.get(key)
    if found is None:
        if len(_CONDITIONS) > 4096:
            _CONDITIONS.clear()
        found = _CONDITIONS[key] = Condition(type_, status, reason, message)
    return found


class _Cond:
    __slots__ = ("type", "status", "reason", "message", "last_update", "last_transition")

    def __init__(self, type_: str, status: str, reason: str, message: str, now: int) -> None:
        self.type = type_
        self.status = status
        self.reason = reason
        self.message = message
        self.last_update = now
        self.last_transition = now


class DeploymentController(Controller):
    """A Deployment (checklist 26-33).

    RollingUpdate: scale the new ReplicaSet up to ``min(replicas + maxSurge - total, replicas - new)``,
    then scale old ones down by at most ``total - minAvailable - newUnavailable``, unhealthy replicas of
    the oldest ReplicaSets first, then by ``available - minAvailable``; one step per sync, the replay
    re-syncs after every change. A rollout whose new pods cannot be scheduled therefore stalls: 4
    replicas -> 3 old Running + 2 new Pending; 10 -> 8 + 5; 1-3 -> all old + 1 new Pending.
    Recreate: old ReplicaSets to 0 first, then the new one to full size. A change of
    ``spec.replicas`` alone is scaling, shared in proportion across active ReplicaSets mid-rollout.

    Conditions: ``Available`` (``available >= replicas - maxUnavailable``) and ``Progressing``
    (``NewReplicaSetCreated``, ``ReplicaSetUpdated``, ``NewReplicaSetAvailable``, and ``False /
    ProgressDeadlineExceeded / ReplicaSet "<new>" has timed out progressing.`` once ``now`` passes the
    last progress plus ``progressDeadlineSeconds``). Nothing is rolled back automatically.
    """

    kind = "Deployment"

    def __init__(self, host: ControllerHost, namespace: str, name: str, spec: DeploymentSpec) -> None:
        super().__init__(host, namespace, name, None)
        self._set_spec(spec)
        self.rss: list[ReplicaSetController] = []
        self.new_rs: ReplicaSetController | None = None
        self.conds: dict[str, _Cond] = {}
        #: last written status: (replicas, updated, ready, available)
        self.status = (0, 0, 0, 0)

    def update(self, host: ControllerHost, spec: DeploymentSpec) -> None:
        self._set_spec(spec)
        host.mark(self)

    def _set_spec(self, spec: DeploymentSpec) -> None:
        self.spec = spec
        self._rolling = spec.strategy == "RollingUpdate"
        if self._rolling:
            surge, unavailable = resolve_fenceposts(spec.max_surge, spec.max_unavailable, spec.replicas)
        else:
            surge = unavailable = 0
        self._max_surge = surge
        self._max_unavailable = 0 if spec.replicas == 0 else min(unavailable, spec.replicas)

    # -- helpers -----------------------------------------------------------------------------------

    def max_surge(self) -> int:
        """``MaxSurge``: resolved maxSurge (0 for Recreate)."""
        return self._max_surge

    def max_unavailable(self) -> int:
        """``MaxUnavailable``: resolved maxUnavailable capped at replicas (0 for Recreate or 0 replicas)."""
        return self._max_unavailable

    def _find_new(self) -> ReplicaSetController | None:
        template = self.spec.template
        for rs in self.rss:  # oldest first, as upstream's FindNewReplicaSet sorts
            if rs.template is template or rs.template.raw is template.raw:
                return rs
        raw = template.raw
        for rs in self.rss:
            if rs.template.raw == raw:
                rs.template = template
                return rs
        return None

    def _create_new(self, host: ControllerHost) -> ReplicaSetController:
        digest = content_digest(self.spec.template.raw)
        names = {rs.name for rs in self.rss}
        collision = 0
        hash_label = template_hash(digest, collision)
        while f"{self.name}-{hash_label}" in names:
            collision += 1
            hash_label = template_hash(digest, collision)
        rs = ReplicaSetController(
            host,
            self.namespace,
            f"{self.name}-{hash_label}",
            self.spec.template,
            0,
            min_ready_seconds=self.spec.min_ready_seconds,
            hash_label=hash_label,
            owner=self,
        )
        replicas = self.spec.replicas
        rs.desired_annotation = replicas
        rs.max_annotation = replicas + self.max_surge()
        self.rss.append(rs)
        if self.spec.progress_deadline_seconds is not None:
            self._set_cond(host, "Progressing", "True", NEW_RS_CREATED, f'Created new replica set "{rs.name}"')
        return rs

    def _get_new(self, host: ControllerHost, create: bool) -> ReplicaSetController | None:
        rs = self._find_new()
        if rs is None and create:
            rs = self._create_new(host)
        elif rs is not None and self.spec.progress_deadline_seconds is not None and "Progressing" not in self.conds:
            self._set_cond(host, "Progressing", "True", FOUND_NEW_RS, f'Found new replica set "{rs.name}"')
        if rs is not None:
            rs.min_ready_seconds = self.spec.min_ready_seconds
        self.new_rs = rs
        return rs

    def _set_cond(self, host: ControllerHost, type_: str, status: str, reason: str, message: str) -> None:
        """``SetDeploymentCondition``: no change for the same status and reason; the transition time is
        kept while the status does not change."""
        current = self.conds.get(type_)
        if current is not None and current.status == status and current.reason == reason:
            return
        cond = _Cond(type_, status, reason, message, host.now)
        if current is not None and current.status == status:
            cond.last_transition = current.last_transition
        self.conds[type_] = cond

    def _scale(self, host: ControllerHost, rs: ReplicaSetController, count: int, *, record_only_if_changed: bool) -> bool:
        """``scaleReplicaSetAndRecordEvent`` (``record_only_if_changed``) or ``scaleReplicaSet``."""
        replicas = self.spec.replicas
        max_replicas = replicas + self.max_surge()
        size_changed = rs.replicas != count
        if record_only_if_changed and not size_changed:
            return False
        if size_changed or rs.desired_annotation != replicas or rs.max_annotation != max_replicas:
            rs.replicas = count
            rs.desired_annotation = replicas
            rs.max_annotation = max_replicas
            if size_changed:
                host.mark(rs)
        return size_changed

    @staticmethod
    def _active(rss: Iterable[ReplicaSetController | None]) -> list[ReplicaSetController]:
        return [rs for rs in rss if rs is not None and rs.replicas > 0]

    # -- sync --------------------------------------------------------------------------------------

    def sync(self, host: ControllerHost) -> None:
        if self.deleted:
            return
        new = self._find_new()
        olds = [rs for rs in self.rss if rs is not new]
        if self.spec.paused or self._is_scaling_event(new, olds):
            new = self._get_new(host, create=False)
            self._scale_deployment(host, new, olds)
            self._write_status(host, new, progress=False)
            return
        if self.spec.strategy == "Recreate":
            self._rollout_recreate(host, olds)
        else:
            self._rollout_rolling(host)

    def _is_scaling_event(self, new: ReplicaSetController | None, olds: list[ReplicaSetController]) -> bool:
        for rs in self._active(olds + [new]):
            if rs.desired_annotation is not None and rs.desired_annotation != self.spec.replicas:
                return True
        return False

    def _scale_deployment(
        self, host: ControllerHost, new: ReplicaSetController | None, olds: list[ReplicaSetController]
    ) -> None:
        """``sync.go: scale`` (checklist 32)."""
        replicas = self.spec.replicas
        newest_first = sorted(olds, key=lambda r: r.seq, reverse=True)
        active = self._active(newest_first + [new])
        if len(active) <= 1:  # FindActiveOrLatest
            if active:
                target: ReplicaSetController | None = active[0]
            else:
                target = new if new is not None else (newest_first[0] if newest_first else None)
            if target is not None and target.replicas != replicas:
                self._scale(host, target, replicas, record_only_if_changed=True)
            return
        if (
            new is not None
            and new.replicas == replicas
            and new.desired_annotation == replicas
            and new.available(host.now) == replicas
        ):
            for rs in self._active(olds):
                self._scale(host, rs, 0, record_only_if_changed=False)
            return
        if not self._rolling:
            return
        total = sum(rs.replicas for rs in active)
        allowed = replicas + self.max_surge() if replicas > 0 else 0
        to_add = allowed - total
        if to_add > 0:
            active.sort(key=lambda r: (-r.replicas, -r.seq))  # larger first, newer first on ties
        elif to_add < 0:
            active.sort(key=lambda r: (-r.replicas, r.seq))  # larger first, older first on ties
        added = 0
        sizes = {}
        for rs in active:
            if to_add != 0:
                proportion = self._proportion(rs, to_add, added)
                sizes[rs] = rs.replicas + proportion
                added += proportion
            else:
                sizes[rs] = rs.replicas
        for i, rs in enumerate(active):
            if i == 0 and to_add != 0:
                sizes[rs] = max(0, sizes[rs] + to_add - added)
            self._scale(host, rs, sizes[rs], record_only_if_changed=False)

    def _proportion(self, rs: ReplicaSetController, to_add: int, added: int) -> int:
        """``GetProportion`` with ``getReplicaSetFraction`` (rounded half away from zero)."""
        if rs.replicas == 0 or to_add == 0 or to_add == added:
            return 0
        if self.spec.replicas == 0:
            fraction = -rs.replicas
        else:
            deployment_replicas = self.spec.replicas + self.max_surge()
            annotated = rs.max_annotation if rs.max_annotation is not None else self.status[0]
            if not annotated:
                fraction = 0
            else:
                size = float(rs.replicas * deployment_replicas) / float(annotated)
                fraction = int(math.floor(size + 0.5)) - rs.replicas
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    def _rollout_rolling(self, host: ControllerHost) -> None:
        new = self._get_new(host, create=True)
        assert new is not None
        olds = [rs for rs in self.rss if rs is not new]
        all_rss = olds + [new]
        if self._reconcile_new(host, new, all_rss):
            self._write_status(host, new, progress=True)
            return
        if self._reconcile_old(host, new, self._active(olds), all_rss):
            self._write_status(host, new, progress=True)
            return
        self._write_status(host, new, progress=True)

    def _reconcile_new(self, host: ControllerHost, new: ReplicaSetController, all_rss: list[ReplicaSetController]) -> bool:
        replicas = self.spec.replicas
        if new.replicas == replicas:
            return False
        if new.replicas > replicas:
            return self._scale(host, new, replicas, record_only_if_changed=True)
        current = sum(rs.replicas for rs in all_rss)
        max_total = replicas + self.max_surge()
        if current >= max_total:
            count = new.replicas
        else:
            count = new.replicas + min(max_total - current, replicas - new.replicas)
        return self._scale(host, new, count, record_only_if_changed=True)

    def _reconcile_old(
        self,
        host: ControllerHost,
        new: ReplicaSetController,
        olds: list[ReplicaSetController],
        all_rss: list[ReplicaSetController],
    ) -> bool:
        now = host.now
        old_pods = sum(rs.replicas for rs in olds)
        if old_pods == 0:
            return False
        all_pods = sum(rs.replicas for rs in all_rss)
        min_available = self.spec.replicas - self.max_unavailable()
        new_unavailable = new.replicas - new.available(now)
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        olds = sorted(olds, key=lambda r: r.seq)
        cleaned = 0
        for rs in olds:  # cleanupUnhealthyReplicas: oldest first
            if cleaned >= max_scaled_down:
                break
            available = rs.available(now)
            if rs.replicas == 0 or rs.replicas == available:
                continue
            count = min(max_scaled_down - cleaned, rs.replicas - available)
            self._scale(host, rs, rs.replicas - count, record_only_if_changed=True)
            cleaned += count
        available_all = sum(rs.available(now) for rs in olds + [new])
        scaled = 0
        if available_all > min_available:
            budget = available_all - min_available
            for rs in olds:
                if scaled >= budget:
                    break
                if rs.replicas == 0:
                    continue
                count = min(rs.replicas, budget - scaled)
                self._scale(host, rs, rs.replicas - count, record_only_if_changed=True)
                scaled += count
        return cleaned + scaled > 0

    def _rollout_recreate(self, host: ControllerHost, olds: list[ReplicaSetController]) -> None:
        new = self._get_new(host, create=False)
        scaled_down = False
        for rs in self._active(olds):
            scaled_down |= self._scale(host, rs, 0, record_only_if_changed=True)
        if scaled_down or any(rs.pods for rs in olds):
            self._write_status(host, new, progress=True)
            return
        if new is None:
            new = self._get_new(host, create=True)
            assert new is not None
        self._scale(host, new, self.spec.replicas, record_only_if_changed=True)
        self._write_status(host, new, progress=True)

    # -- status ------------------------------------------------------------------------------------

    def _calculate(self, host: ControllerHost, new: ReplicaSetController | None) -> tuple[int, int, int, int]:
        now = host.now
        replicas = sum(len(rs.pods) for rs in self.rss)
        updated = len(new.pods) if new is not None else 0
        ready = sum(rs.ready for rs in self.rss)
        available = sum(rs.available(now) for rs in self.rss)
        return (replicas, updated, ready, available)

    def complete(self, status: tuple[int, int, int, int]) -> bool:
        """``DeploymentComplete``: all replicas updated, no extra pods, and **all** available.

        The spec's section 5.5 words the last test as ``available >= replicas - maxUnavailable``; the
        current upstream ``deployment_util.go`` requires ``availableReplicas == replicas``, which is
        what this follows (a rollout with a Pending new pod is not complete and can time out)."""
        replicas = self.spec.replicas
        return status[1] == replicas and status[0] == replicas and status[3] == replicas

    def _write_status(self, host: ControllerHost, new: ReplicaSetController | None, *, progress: bool) -> None:
        status = self._calculate(host, new)
        if status[3] >= self.spec.replicas - self.max_unavailable():
            self._set_cond(host, "Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.")
        else:
            self._set_cond(host, "Available", "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability.")
        deadline = self.spec.progress_deadline_seconds
        if deadline is None:
            self.conds.pop("Progressing", None)
        elif progress:
            self._progress(host, new, status, deadline)
        self.status = status

    def _progress(
        self, host: ControllerHost, new: ReplicaSetController | None, status: tuple[int, int, int, int], deadline: int
    ) -> None:
        """``syncRolloutStatus`` (checklist 31)."""
        current = self.conds.get("Progressing")
        if status[0] == status[1] and current is not None and current.reason == NEW_RS_AVAILABLE:
            return
        rs_text = f'ReplicaSet "{new.name}"' if new is not None else f'Deployment "{self.name}"'
        old = self.status
        if self.complete(status):
            self._set_cond(host, "Progressing", "True", NEW_RS_AVAILABLE, f"{rs_text} has successfully progressed.")
        elif (
            status[1] > old[1]
            or (status[0] - status[1]) < (old[0] - old[1])
            or status[2] > old[2]
            or status[3] > old[3]
        ):
            cond = _Cond("Progressing", "True", RS_UPDATED, f"{rs_text} is progressing.", host.now)
            if current is not None and current.status == "True":
                cond.last_transition = current.last_transition
            self.conds["Progressing"] = cond
            host.at(host.now + deadline + 1, self, "deadline")
        elif self.timed_out(host.now, deadline):
            self._set_cond(host, "Progressing", "False", TIMED_OUT, f"{rs_text} has timed out progressing.")
        else:
            cond = self.conds.get("Progressing")
            if cond is not None and cond.status == "True":
                host.at(cond.last_update + deadline + 1, self, "deadline")

    def timed_out(self, now: int, deadline: int) -> bool:
        """``DeploymentTimedOut``: the last progress is more than ``deadline`` seconds old."""
        cond = self.conds.get("Progressing")
        if cond is None or cond.reason == NEW_RS_AVAILABLE:
            return False
        if cond.reason == TIMED_OUT:
            return True
        return cond.last_update + deadline < now

    def timer(self, host: ControllerHost, what: str) -> None:
        host.mark(self)

    def delete(self, host: ControllerHost) -> None:
        super().delete(host)
        for rs in self.rss:
            rs.delete(host)

    # -- outcome -----------------------------------------------------------------------------------

    def desired(self) -> int:
        return self.spec.replicas

    def is_updated(self, pod: Pod) -> bool:
        return self.new_rs is not None and pod.owner is self.new_rs

    def conditions(self, host: ControllerHost, *, elapse_deadline: bool = False) -> tuple[Condition, ...]:
        out = []
        for type_ in ("Available", "Progressing"):
            cond = self.conds.get(type_)
            if cond is None:
                continue
            if (
                elapse_deadline
                and type_ == "Progressing"
                and cond.status == "True"
                and cond.reason != NEW_RS_AVAILABLE
                and not self.complete(self.status)
            ):
                name = self.new_rs.name if self.new_rs is not None else self.name
                kind = "ReplicaSet" if self.new_rs is not None else "Deployment"
                out.append(_condition(type_, "False", TIMED_OUT, f'{kind} "{name}" has timed out progressing.'))
                continue
            out.append(_condition(cond.type, cond.status, cond.reason, cond.message))
        return tuple(out)


# ---------------------------------------------------------------------------------------------------
# StatefulSet


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


# ---------------------------------------------------------------------------------------------------
# Job and CronJob


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


# ---------------------------------------------------------------------------------------------------
# bare Pod


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

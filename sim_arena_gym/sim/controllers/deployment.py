"""The Deployment controller (``pkg/controller/deployment``, checklist 26-33)."""

from __future__ import annotations

import math
from operator import attrgetter
from typing import Any, Iterable

from sim_arena_gym.sim.cluster import Pod
from sim_arena_gym.sim.controllers.base import (
    FOUND_NEW_RS,
    MIN_AVAILABLE,
    MIN_UNAVAILABLE,
    NEW_RS_AVAILABLE,
    NEW_RS_CREATED,
    RS_UPDATED,
    TIMED_OUT,
    UPDATED_NONE,
    Controller,
    ControllerHost,
    _condition,
    resolve_fenceposts,
)
from sim_arena_gym.sim.controllers.replicaset import ReplicaSetController
from sim_arena_gym.sim.names import content_digest, template_hash
from sim_arena_gym.sim.objects import DeploymentSpec
from sim_arena_gym.sim.outcome import Condition


__all__ = ["DeploymentController"]

_REPLICAS = attrgetter("replicas")
_NAME = attrgetter("name")


class _Cond:
    __slots__ = ("type", "status", "reason", "message", "last_update", "last_transition", "subject")

    def __init__(self, type_: str, status: str, reason: str, message: str, now: int) -> None:
        self.type = type_
        self.status = status
        self.reason = reason
        self.message = message
        self.last_update = now
        self.last_transition = now
        #: name of the new ReplicaSet a ``ReplicaSetUpdated`` message names (None: it names the Deployment)
        self.subject: str | None = None


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
        #: its ReplicaSets in creation order (ascending ``seq``: only appended, when created)
        self.rss: list[ReplicaSetController] = []
        self.new_rs: ReplicaSetController | None = None
        self.conds: dict[str, _Cond] = {}
        #: last written status: (replicas, updated, ready, available)
        self.status = (0, 0, 0, 0)

    def relink(self, copier: Any) -> None:
        super().relink(copier)
        controller = copier.controller
        self.rss = list(map(controller, self.rss))
        if self.new_rs is not None:
            self.new_rs = controller(self.new_rs)
        self.conds = self.conds.copy()  # a _Cond is never changed once stored

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
        rs = self.new_rs
        if rs is not None and rs.template is template:
            return rs  # the only match: no two of ``rss`` have equal templates (one is made when none matches)
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
        template = self.spec.template
        digest = template.digest
        if digest is None:  # once per parsed template (as the fast path does)
            digest = template.digest = content_digest(template.raw)
        names = set(map(_NAME, self.rss))
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
        rs.max_annotation = replicas + self._max_surge
        self.rss.append(rs)
        if self.spec.progress_deadline_seconds is not None:
            self._set_cond(host, "Progressing", "True", NEW_RS_CREATED, f'Created new replica set "{rs.name}"')
        return rs

    def _get_new(
        self, host: ControllerHost, create: bool, found: ReplicaSetController | None = None
    ) -> ReplicaSetController | None:
        """``getNewReplicaSet``; ``found``: what :meth:`_find_new` just returned, if it did."""
        rs = found if found is not None else self._find_new()
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
        max_replicas = replicas + self._max_surge
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
        out = []
        for rs in rss:  # a loop, not a comprehension (a function call on Python 3.11)
            if rs is not None and rs.replicas > 0:
                out.append(rs)
        return out

    # -- sync --------------------------------------------------------------------------------------

    def sync(self, host: ControllerHost) -> None:
        if self.deleted:
            return
        new = self._find_new()
        olds = self.rss.copy()
        if new is not None:  # one of rss
            olds.remove(new)
        if self.spec.paused or self._is_scaling_event(new, olds):
            new = self._get_new(host, create=False)
            self._scale_deployment(host, new, olds)
            self._write_status(host, new, progress=False)
            return
        if self.spec.strategy == "Recreate":
            self._rollout_recreate(host, olds)
        else:
            self._rollout_rolling(host, new, olds)

    def _is_scaling_event(self, new: ReplicaSetController | None, olds: list[ReplicaSetController]) -> bool:
        replicas = self.spec.replicas
        for rs in olds:
            if rs.replicas > 0 and rs.desired_annotation is not None and rs.desired_annotation != replicas:
                return True
        return (
            new is not None
            and new.replicas > 0
            and new.desired_annotation is not None
            and new.desired_annotation != replicas
        )

    def _scale_deployment(
        self, host: ControllerHost, new: ReplicaSetController | None, olds: list[ReplicaSetController]
    ) -> None:
        """``sync.go: scale`` (checklist 32)."""
        replicas = self.spec.replicas
        newest_first = olds[::-1]  # rss is in creation (seq) order
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
        total = sum(map(_REPLICAS, active))
        allowed = replicas + self._max_surge if replicas > 0 else 0
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
            deployment_replicas = self.spec.replicas + self._max_surge
            annotated = rs.max_annotation if rs.max_annotation is not None else self.status[0]
            if not annotated:
                fraction = 0
            else:
                size = float(rs.replicas * deployment_replicas) / float(annotated)
                fraction = int(math.floor(size + 0.5)) - rs.replicas
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    def _rollout_rolling(
        self, host: ControllerHost, found: ReplicaSetController | None, olds: list[ReplicaSetController]
    ) -> None:
        """``rolloutRolling``; ``found`` and ``olds``: the new ReplicaSet as :meth:`_find_new` just
        found it (``None``: there is none yet) and the others."""
        new = self._get_new(host, create=True, found=found)
        assert new is not None
        if found is None:
            olds = self.rss.copy()
            olds.remove(new)
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
        current = sum(map(_REPLICAS, all_rss))
        max_total = replicas + self._max_surge
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
        old_pods = sum(map(_REPLICAS, olds))
        if old_pods == 0:
            return False
        all_pods = sum(map(_REPLICAS, all_rss))
        min_available = self.spec.replicas - self._max_unavailable
        new_unavailable = new.replicas - new.available(now)
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        # olds keep rss's creation (seq) order: oldest first, as upstream sorts them
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
        available_all = new.available(now)
        for rs in olds:
            available_all += rs.available(now)
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

    def complete(self, status: tuple[int, int, int, int]) -> bool:
        """``DeploymentComplete``: all replicas updated, no extra pods, and **all** available.

        The spec's section 5.5 words the last test as ``available >= replicas - maxUnavailable``; the
        current upstream ``deployment_util.go`` requires ``availableReplicas == replicas``, which is
        what this follows (a rollout with a Pending new pod is not complete and can time out)."""
        replicas = self.spec.replicas
        return status[1] == replicas and status[0] == replicas and status[3] == replicas

    def _write_status(self, host: ControllerHost, new: ReplicaSetController | None, *, progress: bool) -> None:
        now = host.now
        replicas = ready = available = 0
        for rs in self.rss:  # calculateStatus: replicas, updated, ready, available
            replicas += len(rs.pods)
            ready += rs.ready
            available += rs.ready if rs.min_ready_seconds <= 0 else rs.available(now)
        status = (replicas, len(new.pods) if new is not None else 0, ready, available)
        if available >= self.spec.replicas - self._max_unavailable:
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
        old = self.status
        if self.complete(status):
            rs_text = f'ReplicaSet "{new.name}"' if new is not None else f'Deployment "{self.name}"'
            self._set_cond(host, "Progressing", "True", NEW_RS_AVAILABLE, f"{rs_text} has successfully progressed.")
        elif (
            status[1] > old[1]
            or (status[0] - status[1]) < (old[0] - old[1])
            or status[2] > old[2]
            or status[3] > old[3]
        ):
            if (
                current is not None
                and current.reason == RS_UPDATED
                and current.last_update == host.now
                and current.subject == (new.name if new is not None else None)
                and current.status == "True"
            ):  # the same condition as the one stored (same text, times and transition)
                host.at(host.now + deadline + 1, self, "deadline")
                return
            rs_text = f'ReplicaSet "{new.name}"' if new is not None else f'Deployment "{self.name}"'
            cond = _Cond("Progressing", "True", RS_UPDATED, f"{rs_text} is progressing.", host.now)
            cond.subject = new.name if new is not None else None
            if current is not None and current.status == "True":
                cond.last_transition = current.last_transition
            self.conds["Progressing"] = cond
            host.at(host.now + deadline + 1, self, "deadline")
        elif self.timed_out(host.now, deadline):
            rs_text = f'ReplicaSet "{new.name}"' if new is not None else f'Deployment "{self.name}"'
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

    def updated_owner(self) -> Any:
        return self.new_rs if self.new_rs is not None else UPDATED_NONE

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

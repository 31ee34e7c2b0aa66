"""The controller base: identity, the host protocol the replay implements, int-or-percent
fenceposts and the shared Deployment condition texts.

How controllers act through the host and which upstream sources they mirror: see the package
docstring (:mod:`sim_arena_gym.sim.controllers`).
"""

from __future__ import annotations

from typing import Any, Protocol

from sim_arena_gym.sim.cluster import Pod
from sim_arena_gym.sim.objects import PodTemplate
from sim_arena_gym.sim.outcome import Condition
from sim_arena_gym.trace.recent import RecentMemo


__all__ = ["Controller", "ControllerHost", "resolve_fenceposts", "scaled_value"]

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


#: :meth:`Controller.updated_owner` answers (owners no pod has)
UPDATED_ANY = object()
UPDATED_ASK = object()
UPDATED_NONE = object()


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

    def copy(self) -> "Controller":
        """A new controller with this one's attributes (containers and references still shared
        until :meth:`relink`; see :class:`~sim_arena_gym.sim.copying.StateCopier`)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

    def relink(self, copier: Any) -> None:
        """On a copy: own copies of the mutable containers, references mapped through ``copier``
        (its ``pod`` and ``controller`` methods). Each subclass extends it for what it adds."""
        if self.owner is not None:
            self.owner = copier.controller(self.owner)

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

    def updated_owner(self) -> Any:
        """:meth:`is_updated` as a test the outcome builder runs per pod: :data:`UPDATED_ANY` (every
        pod is updated), :data:`UPDATED_ASK` (call :meth:`is_updated`), or the owner whose pods are
        the updated ones (:data:`UPDATED_NONE`: none is). Must agree with :meth:`is_updated`."""
        return UPDATED_ANY

    def conditions(self, host: ControllerHost, *, elapse_deadline: bool = False) -> tuple[Condition, ...]:
        return ()


def _mark_up(host: ControllerHost, controller: Controller) -> None:
    host.mark(controller)
    if controller.owner is not None:
        host.mark(controller.owner)


#: Conditions by content; short-lived (trace/recent.py): messages name the ReplicaSet, which changes
#: with each edited pod template, and a long-lived table would keep one per simulated state alive
_CONDITIONS = RecentMemo(16)


def _condition(type_: str, status: str, reason: str, message: str) -> Condition:
    """An outcome :class:`Condition`; equal ones share one immutable object."""
    key = (type_, status, reason, message)
    found = _CONDITIONS.get(key)
    if found is None:
        found = Condition(type_, status, reason, message)
        _CONDITIONS.put(key, found)
    return found

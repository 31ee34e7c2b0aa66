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


One controller per module, as kube-controller-manager keeps one per package: :mod:`.replicaset`,
:mod:`.deployment`, :mod:`.statefulset`, :mod:`.job`, :mod:`.cronjob`, :mod:`.barepod`; the shared
base (identity, host protocol, fenceposts, condition texts) is :mod:`.base`.
"""

from __future__ import annotations

from sim_arena_gym.sim.controllers.barepod import BarePodController
from sim_arena_gym.sim.controllers.base import (  # noqa: F401  (condition texts re-exported)
    FOUND_NEW_RS,
    MIN_AVAILABLE,
    MIN_UNAVAILABLE,
    NEW_RS_AVAILABLE,
    NEW_RS_CREATED,
    RS_UPDATED,
    TIMED_OUT,
    Controller,
    ControllerHost,
    _condition,
    resolve_fenceposts,
    scaled_value,
)
from sim_arena_gym.sim.controllers.cronjob import CronJobController
from sim_arena_gym.sim.controllers.deployment import DeploymentController
from sim_arena_gym.sim.controllers.job import JobController
from sim_arena_gym.sim.controllers.replicaset import ReplicaSetController
from sim_arena_gym.sim.controllers.statefulset import StatefulSetController

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

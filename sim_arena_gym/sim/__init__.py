"""An in-process Kubernetes cluster simulator faithful to the kube-scheduler and the workload
controllers, for replaying SimKube traces (no RL concepts here).

Modules, one job each:

============== =======================================================================================
``objects``    domain values: Node, Toleration, SchedulingConstraints, ContainerSpec, PodSpec, specs
``requests``   the scheduler's pod request (exact sums, per-pod rounding, init/sidecar rules, defaults)
``parse``      Kubernetes object dicts -> domain objects, memoised by identity
``pools``      the node-pool model (NodePool, Taint, SimKube / KWOK node constants)
``nodes``      nodes from node pools (KWOK / SimKube defaults)
``cluster``    node usage in flat lists, pods, the static node set
``filters``    filter plugins in the default order (static part cached per constraints)
``scoring``    score plugins with upstream arithmetic
``board``      per-class node scores, list or numpy arrays
``scheduler``  queue, scheduling cycle, failure messages
``preemption`` DefaultPreemption dry run and node choice
``messages``   the FailedScheduling text, per Kubernetes version
``controllers`` one module per controller: Deployment, ReplicaSet, StatefulSet, Job, CronJob, bare Pod
``cron``       CronJob schedules
``names``      deterministic template hashes and pod names
``replay``     events in time order, timers, settling, SimKube mutation, usage floors
``copying``    copies of a replay's pod/controller graph (nothing mutable shared)
``snapshot``   saved replay states; a run resumes before the first event it changes
``fastpath``   the same outcome, computed directly, for traces that only create Deployments
``observe``    the ClusterOutcome
``options``    SimOptions and KubeVersion
============== =======================================================================================
"""

from __future__ import annotations

from sim_arena_gym.sim.options import KubeVersion, SimOptions
from sim_arena_gym.sim.outcome import ClusterOutcome, Condition, NodeOutcome, PodOutcome, WorkloadOutcome

__all__ = [
    "ClusterOutcome",
    "Condition",
    "KubeVersion",
    "NodeOutcome",
    "PodOutcome",
    "SimOptions",
    "WorkloadOutcome",
]


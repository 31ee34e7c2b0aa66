"""Build the :class:`~sim_arena_gym.sim.outcome.ClusterOutcome` of a finished replay.

Outcome objects are created here, at the end of a replay (and by :mod:`~sim_arena_gym.sim.fastpath`,
with the same helpers and rules).

* Pods: every pod that exists, in creation order, built on first access to ``outcome.pods``. A
  Pending pod that failed to schedule has reason ``Unschedulable`` and its FailedScheduling message;
  a Running pod OOMKilled by a usage floor has reason ``CrashLoopBackOff``,
  ``last_state="OOMKilled"`` and is not Ready.
* Nodes: allocatable, and the requests of the non-terminal pods bound to each (checklist 9).
* Workloads (keyed ``Kind/namespace/name`` of the top-level owner): ``desired`` from the spec (1 for a
  bare Pod), counts of Ready / Pending / non-terminal pods, the distinct pending reasons (sorted), the
  message of the first Pending pod, OOMKilled and throttled counts, pods of the newest template, and
  the Deployment conditions (``Available``, ``Progressing``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from sim_arena_gym.sim.cluster import PENDING, RUNNING, Cluster, Pod
from sim_arena_gym.sim.controllers.base import UPDATED_ANY, UPDATED_ASK
from sim_arena_gym.sim.outcome import ClusterOutcome, NodeOutcome, PodOutcome, WorkloadOutcome
from sim_arena_gym.sim.replay import Replay

__all__ = ["build_outcome", "node_outcomes", "pod_outcomes", "CRASH_LOOP_BACK_OFF", "OOM_KILLED"]

#: ``Controller.updated_owner`` answers: every pod of the workload is updated / ask ``is_updated``
_ANY = UPDATED_ANY
_ASK = UPDATED_ASK

CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
OOM_KILLED = "OOMKilled"


def _positional_maker(cls: type) -> Callable[..., Any]:
    """A constructor taking every field positionally, for a frozen slotted dataclass.

    The generated ``__init__`` of a frozen dataclass routes each field through
    ``object.__setattr__``; this one sets the slots directly (about twice as fast), which matters
    when an outcome holds thousands of pods. It sets exactly the dataclass's fields, in order, and the
    object it builds is equal to ``cls(*values)`` (checked in ``tests/test_sim_replay.py``)."""
    names = [f.name for f in dataclasses.fields(cls)]
    if tuple(names) != tuple(cls.__slots__) or getattr(cls, "__post_init__", None) is not None:
        return cls  # shape not understood: use the real constructor
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for name in names:
        scope[f"_set_{name}"] = cls.__dict__[name].__set__
    lines = [f"def make({', '.join(names)}):", "    obj = _new(_cls)"]
    lines += [f"    _set_{name}(obj, {name})" for name in names]
    lines.append("    return obj")
    exec("\n".join(lines), scope)  # noqa: S102 - generated from the dataclass's own field names
    return scope["make"]


_pod_outcome = _positional_maker(PodOutcome)
_node_outcome = _positional_maker(NodeOutcome)
_workload_outcome = _positional_maker(WorkloadOutcome)

def node_outcomes(cluster: Cluster) -> tuple[NodeOutcome, ...]:
    """Every node with what its non-terminal pods request (checklist 9).

    Up to 256 nodes they are built each time: successive runs of the env's edited traces seldom leave
    every node as an earlier run did (on the default env about one run in three would find its
    nodes in a memo of recent runs, one node in five its own), and a memo would keep objects alive
    for the garbage collector to walk. A larger node set keeps one per (node, usage) in its own table
    (``NodeSet.outcomes``, cleared when full), as most of its nodes are the same from run to run."""
    nodeset = cluster.nodeset
    nodes = nodeset.nodes
    if len(nodes) > 256:
        return _large_node_outcomes(cluster)
    make = _node_outcome
    return tuple(
        [
            make(node.name, node.cpu_millis, node.memory_bytes, node.pods, cpu, mem, count, node.labels)
            for node, cpu, mem, count in zip(nodes, cluster.req_cpu, cluster.req_mem, cluster.npods)
        ]
    )


def _large_node_outcomes(cluster: Cluster) -> tuple[NodeOutcome, ...]:
    """:func:`node_outcomes` of a node set of more than 256 nodes, memoised in ``NodeSet.outcomes``."""
    nodeset = cluster.nodeset
    known = nodeset.outcomes
    if len(known) >= 16384:
        known.clear()
    out = []
    append = out.append
    for i, cpu, mem, count in zip(nodeset.indices, cluster.req_cpu, cluster.req_mem, cluster.npods):
        key = (i, cpu, mem, count)
        found = known.get(key)
        if found is None:
            node = nodeset.nodes[i]
            found = known[key] = _node_outcome(
                node.name, node.cpu_millis, node.memory_bytes, node.pods, cpu, mem, count, node.labels
            )
        append(found)
    return tuple(out)


def build_outcome(replay: Replay, backend: str = "embedded") -> ClusterOutcome:
    """The outcome of ``replay`` (which must have run). Its ``pods`` are built on first access,
    from the replay's final pods (nothing changes them once the replay has run)."""
    cluster = replay.cluster
    pods = list(replay.pods.values())
    # per workload: [ready, pending, total, crashlooping, throttled, updated, first message, reasons,
    # its controller's updated_owner(), its controller]; terminal pods count nowhere
    stats: dict[str, list] = {}
    for controller in replay.objects.values():  # is_updated, per workload, as a pod-owner test
        updated_owner = controller.updated_owner()
        stats[controller.workload] = [0, 0, 0, 0, 0, 0, None, set(), updated_owner, controller]
    for pod in pods:
        phase = pod.phase
        if phase is not RUNNING and phase is not PENDING:
            continue
        entry = stats.get(pod.workload)
        if entry is None:  # a workload with no controller in replay.objects
            entry = stats[pod.workload] = [0, 0, 0, 0, 0, 0, None, set(), _ANY, None]
        entry[2] += 1
        if phase is RUNNING:
            if pod.ready:
                entry[0] += 1
                if pod.throttled:
                    entry[4] += 1
            elif pod.oom_killed:
                entry[3] += 1
        else:
            entry[1] += 1
            if entry[6] is None:
                entry[6] = pod.message
            reasons = pod.reasons
            if reasons:
                entry[7].update(reasons)
        owner = entry[8]
        if owner is _ANY or pod.owner is owner or (owner is _ASK and entry[9].is_updated(pod)):
            entry[5] += 1
    nodes = node_outcomes(cluster)
    elapse = replay.options.elapse_progress_deadlines
    workloads = {}
    for controller in replay.objects.values():
        key = controller.workload
        entry = stats[key]
        workloads[key] = _workload_outcome(
            key,
            controller.desired(),
            entry[0],
            entry[1],
            entry[2],
            tuple(sorted(entry[7])),
            entry[6] or "",
            entry[3],
            entry[4],
            entry[5],
            controller.conditions(replay, elapse_deadline=elapse),
        )
    names = cluster.nodeset.names
    return ClusterOutcome.with_lazy_pods(lambda: pod_outcomes(pods, names), nodes, workloads, replay.end_ts, backend)


def pod_outcomes(pods: list[Pod], names: list[str]) -> tuple[PodOutcome, ...]:
    """The outcome of each pod (``names``: node names by index), in the given order."""
    out = []
    for pod in pods:
        phase = pod.phase
        running = phase is RUNNING
        pending = phase is PENDING
        oom = running and pod.oom_killed
        ready = pod.ready
        r = pod.request
        out.append(
            _pod_outcome(
                pod.name,
                pod.namespace,
                pod.workload,
                names[pod.node] if pod.node >= 0 else None,
                phase,
                ready,
                CRASH_LOOP_BACK_OFF if oom else (pod.unschedulable_reason if pending else None),
                pod.message if pending else "",
                r.cpu_millis,
                r.memory_bytes,
                OOM_KILLED if oom else None,
                bool(running and ready and pod.throttled),
                pod.template_hash,
            )
        )
    return tuple(out)

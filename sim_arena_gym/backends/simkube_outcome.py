"""Read a finished SimKube step back into the :class:`~sim_arena_gym.sim.outcome.ClusterOutcome` the
embedded backend would build.

Input: the pods of the Simulation (label ``simkube.io/simulation=<name>``) with their phase,
conditions and container states; the FailedScheduling events of the virtual namespaces; the
simulated workloads (``spec.replicas``, ``status``); the run's nodes. Rules (as :mod:`sim.observe
<sim_arena_gym.sim.observe>`):

* a pod's workload is its top-level owner: a ReplicaSet ``<deployment>-<pod-template-hash>`` means
  the Deployment, a Job owned by a CronJob the CronJob, no owner the Pod itself;
* pods are in creation order (``creationTimestamp``, then ``resourceVersion``);
* Pending: ``PodScheduled=False`` gives the reason and message (else the newest FailedScheduling
  event); the pending reasons are the filter reasons of the message;
* Running and not Ready with a container last terminated ``OOMKilled``: ``CrashLoopBackOff``;
* throttled: a Ready pod of the target workload whose CPU request is below the usage floor;
* node requests: the sum of the non-terminal pods bound to the node, per pod as the scheduler rounds.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from sim_arena_gym.backends.simkube_names import ANNOTATION_ORIGINAL_NAMESPACE
from sim_arena_gym.backends.simkube_pods import pod_request_of, scheduling_reasons
from sim_arena_gym.quantity import cpu_millis, memory_bytes
from sim_arena_gym.sim.outcome import (
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    ClusterOutcome,
    Condition,
    NodeOutcome,
    PodOutcome,
    WorkloadOutcome,
)

__all__ = ["ScenarioNode", "build_cluster_outcome"]

_PHASES = {"Pending": PENDING, "Running": RUNNING, "Succeeded": SUCCEEDED, "Failed": FAILED}


class ScenarioNode:
    """A node of the scenario as the cluster has it: ``name`` in the scenario (``node-0``), ``cluster_name``
    in the cluster (``sa-<run>-node-0``), and the labels the embedded simulator would give it."""

    __slots__ = ("name", "cluster_name", "labels")

    def __init__(self, name: str, cluster_name: str, labels: Mapping[str, str]) -> None:
        self.name = name
        self.cluster_name = cluster_name
        self.labels = dict(labels)


def _condition(pod: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == type_:
            return c
    return None


def _owner_key(pod: Mapping[str, Any], original_ns: str, jobs: Mapping[tuple[str, str], Mapping[str, Any]]) -> str:
    meta = pod.get("metadata") or {}
    refs = [r for r in meta.get("ownerReferences") or () if r.get("controller", True)]
    ref = next((r for r in refs if r.get("kind") not in ("SimulationRoot",)), None)
    if ref is None:
        return f"Pod/{original_ns}/{meta.get('name')}"
    kind, name = ref.get("kind"), ref.get("name", "")
    if kind == "ReplicaSet":
        suffix = (meta.get("labels") or {}).get("pod-template-hash")
        if suffix and name.endswith("-" + suffix):
            return f"Deployment/{original_ns}/{name[: -len(suffix) - 1]}"
        return f"ReplicaSet/{original_ns}/{name}"
    if kind == "Job":
        job = jobs.get((meta.get("namespace", ""), name))
        for r in ((job or {}).get("metadata") or {}).get("ownerReferences") or ():
            if r.get("kind") == "CronJob":
                return f"CronJob/{original_ns}/{r.get('name')}"
    return f"{kind}/{original_ns}/{name}"


def _floor_verdict(spec: Mapping[str, Any], floors: Mapping[str, tuple[int | None, int | None]]) -> tuple[bool, bool]:
    """(OOMKilled, throttled) of a pod spec under usage floors (per container: cpu millis, memory bytes)."""
    oom = throttled = False
    for c in spec.get("containers") or ():
        floor = floors.get(c.get("name"))
        if floor is None:
            continue
        res = c.get("resources") or {}
        requests, limits = res.get("requests") or {}, res.get("limits") or {}
        cpu_floor, mem_floor = floor
        if mem_floor is not None:
            mem = limits.get("memory", requests.get("memory"))
            if mem is not None and memory_bytes(mem) < mem_floor:
                oom = True
        if cpu_floor is not None:
            cpu = requests.get("cpu", limits.get("cpu", 0))
            if cpu_millis(cpu) < cpu_floor:
                throttled = True
    return oom, throttled


def build_cluster_outcome(
    pods: Iterable[Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]],
    workloads: Iterable[Mapping[str, Any]],
    jobs: Iterable[Mapping[str, Any]],
    nodes: Iterable[tuple[ScenarioNode, Mapping[str, Any]]],
    *,
    prefix: str,
    target: str | None,
    floors: Mapping[str, tuple[int | None, int | None]],
    trace_workloads: Mapping[str, int],
    end_ts: int,
) -> ClusterOutcome:
    """The outcome (see the module docstring). ``nodes``: each scenario node with its cluster
    ``v1/Node``; ``trace_workloads``: ``Kind/ns/name`` -> desired replicas per the trace, for
    workloads the cluster does not show; ``floors`` parsed (millicores, bytes)."""
    cut = len(prefix) + 1
    job_map = {((j.get("metadata") or {}).get("namespace", ""), (j.get("metadata") or {}).get("name", "")): j for j in jobs}
    messages: dict[tuple[str, str], tuple[str, str]] = {}
    for ev in events:
        if ev.get("reason") != "FailedScheduling":
            continue
        inv = ev.get("involvedObject") or {}
        key = (inv.get("namespace", ""), inv.get("name", ""))
        stamp = ev.get("lastTimestamp") or ev.get("eventTime") or ""
        if key not in messages or stamp >= messages[key][0]:
            messages[key] = (stamp, ev.get("message", ""))
    by_cluster_name = {}
    node_list = list(nodes)
    for sn, _ in node_list:
        by_cluster_name[sn.cluster_name] = sn.name
    ordered = sorted(pods, key=lambda p: ((p.get("metadata") or {}).get("creationTimestamp") or "",
                                          int((p.get("metadata") or {}).get("resourceVersion") or 0)))
    usage: dict[str, list[int]] = {}
    out_pods: list[PodOutcome] = []
    stats: dict[str, list[Any]] = {}
    for pod in ordered:
        meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
        vns = meta.get("namespace", "")
        original_ns = (meta.get("annotations") or {}).get(ANNOTATION_ORIGINAL_NAMESPACE) or (
            vns[cut:] if vns.startswith(prefix + "-") else vns)
        workload = _owner_key(pod, original_ns, job_map)
        phase = _PHASES.get(status.get("phase", "Pending"), PENDING)
        ready_c = _condition(pod, "Ready")
        ready = bool(ready_c and ready_c.get("status") == "True") and phase is RUNNING
        cpu, mem = pod_request_of(spec)
        cluster_node = spec.get("nodeName")
        node = by_cluster_name.get(cluster_node, cluster_node) if cluster_node else None
        reason: str | None = None
        message = ""
        oom = False
        if phase is PENDING:
            sched = _condition(pod, "PodScheduled")
            if sched is not None and sched.get("status") == "False":
                reason = sched.get("reason")
                message = sched.get("message") or ""
            if not message:
                message = messages.get((vns, meta.get("name", "")), ("", ""))[1]
                if message and reason is None:
                    reason = "Unschedulable"
        elif phase is RUNNING and not ready:
            oom = any(((cs.get("lastState") or {}).get("terminated") or {}).get("reason") == "OOMKilled"
                      for cs in status.get("containerStatuses") or ())
            if oom:
                reason = "CrashLoopBackOff"
        throttled = False
        if phase is RUNNING and ready and floors and workload == target:
            throttled = _floor_verdict(spec, floors)[1]
        labels = meta.get("labels") or {}
        out_pods.append(PodOutcome(
            name=meta.get("name", ""), namespace=original_ns, workload=workload, node=node, phase=phase,
            ready=ready, reason=reason, message=message, cpu_request_millis=cpu, memory_request_bytes=mem,
            last_state="OOMKilled" if oom else None, throttled=throttled,
            template_hash=labels.get("pod-template-hash", ""),
        ))
        active = phase is PENDING or phase is RUNNING
        if active and cluster_node:
            u = usage.setdefault(cluster_node, [0, 0, 0])
            u[0] += cpu
            u[1] += mem
            u[2] += 1
        entry = stats.setdefault(workload, [0, 0, 0, 0, 0, None, set()])
        if active:
            entry[2] += 1
        if phase is RUNNING:
            if ready:
                entry[0] += 1
                if throttled:
                    entry[4] += 1
            elif oom:
                entry[3] += 1
        elif phase is PENDING:
            entry[1] += 1
            if entry[5] is None:
                entry[5] = message
            entry[6].update(scheduling_reasons(message))
    out_nodes = []
    for sn, node_obj in node_list:
        alloc = (node_obj.get("status") or {}).get("allocatable") or {}
        u = usage.get(sn.cluster_name, [0, 0, 0])
        out_nodes.append(NodeOutcome(
            name=sn.name, allocatable_cpu_millis=cpu_millis(alloc.get("cpu", "0")),
            allocatable_memory_bytes=memory_bytes(alloc.get("memory", "0")),
            allocatable_pods=int(alloc.get("pods", 0)), requested_cpu_millis=u[0], requested_memory_bytes=u[1],
            pod_count=u[2], labels=sn.labels,
        ))
    seen: dict[str, Mapping[str, Any]] = {}
    for w in workloads:
        meta = w.get("metadata") or {}
        vns = meta.get("namespace", "")
        ns = vns[cut:] if vns.startswith(prefix + "-") else vns
        seen[f"{w.get('kind')}/{ns}/{meta.get('name')}"] = w
    out_workloads: dict[str, WorkloadOutcome] = {}
    for key in list(trace_workloads) + [k for k in seen if k not in trace_workloads]:
        w = seen.get(key)
        entry = stats.get(key) or [0, 0, 0, 0, 0, None, set()]
        spec, status = (w or {}).get("spec") or {}, (w or {}).get("status") or {}
        desired = int(spec.get("replicas", 1)) if w is not None and "replicas" in spec else trace_workloads.get(key, 1)
        updated = int(status["updatedReplicas"]) if "updatedReplicas" in status else entry[2]
        conditions = tuple(Condition(c.get("type", ""), c.get("status", ""), c.get("reason", ""), c.get("message", ""))
                           for c in status.get("conditions") or ())
        out_workloads[key] = WorkloadOutcome(
            key=key, desired=desired, ready=entry[0], pending=entry[1], total=entry[2],
            pending_reasons=tuple(sorted(entry[6])), scheduling_message=entry[5] or "", crashlooping=entry[3],
            throttled=entry[4], updated=updated, conditions=conditions,
        )
    return ClusterOutcome(pods=tuple(out_pods), nodes=tuple(out_nodes), workloads=out_workloads, end_ts=end_ts,
                          backend="simkube")

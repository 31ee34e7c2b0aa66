"""A simulated state as Kubernetes API objects: what the live cluster serves for one edit state.

:func:`cluster_objects` turns the embedded simulator's :class:`~sim_arena_gym.sim.outcome.ClusterOutcome`
of a trace (the trace as edited so far) into the objects a real cluster would hold at the end of
the simulated window: Nodes, Namespaces, the trace's workloads (spec as last applied, status from
the outcome), a ReplicaSet per pod template of a Deployment, Pods (phase, conditions, ``nodeName``,
container states) and Events (``FailedScheduling`` with the scheduler's exact message, ``Scheduled``
for bound pods). Namespaces are the trace's own (no SimKube ``virtual-`` prefix). Objects are plain
JSON dicts without the fields the store sets (uid, resourceVersion, creationTimestamp); their
timestamps are :data:`PUBLISH_TIME`.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from typing import Any

from sim_arena_gym.scenarios.model import NodePool, Scenario
from sim_arena_gym.sim.outcome import PENDING, RUNNING, ClusterOutcome, PodOutcome
from sim_arena_gym.testing.fake_cluster.simkube import applied_objects, pod_template, template_that_made
from sim_arena_gym.trace.model import Trace

__all__ = ["ClusterObjects", "PUBLISH_TIME", "WORKLOAD_KINDS", "cluster_objects"]

#: Workload kinds served, with their resource (plural) in ``apps`` / ``batch``.
WORKLOAD_KINDS: dict[str, str] = {
    "Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets",
    "ReplicaSet": "replicasets", "Job": "jobs", "CronJob": "cronjobs",
}

#: What every timestamp of a built object says: the simulated window's end has no wall time, so the live
#: cluster writes the wall time at which it first serves the object (or this version of it) instead.
PUBLISH_TIME = "<publish-time>"


@dataclass
class ClusterObjects:
    """The objects of one state, by resource plural: ``{"pods": {(namespace, name): body}}``
    (namespace ``""`` for cluster-scoped resources)."""

    by_resource: dict[str, dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)

    def add(self, plural: str, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        self.by_resource.setdefault(plural, {})[(meta.get("namespace", ""), meta["name"])] = body


def _pool_of(node_name: str, pools: tuple[NodePool, ...]) -> NodePool | None:
    for pool in pools:
        if node_name.startswith(f"{pool.name}-"):
            return pool
    return None


def _node(outcome_node: Any, pools: tuple[NodePool, ...]) -> dict[str, Any]:
    pool = _pool_of(outcome_node.name, pools)
    alloc = {"cpu": f"{outcome_node.allocatable_cpu_millis}m", "memory": str(outcome_node.allocatable_memory_bytes),
             "pods": str(outcome_node.allocatable_pods)}
    if pool is not None:
        alloc["cpu"], alloc["memory"] = pool.cpu, pool.memory
    labels = {"kubernetes.io/hostname": outcome_node.name, "kubernetes.io/os": "linux", **dict(outcome_node.labels)}
    spec: dict[str, Any] = {}
    if pool is not None and pool.taints:
        spec["taints"] = [{"key": t.key, "value": t.value, "effect": t.effect} for t in pool.taints]
    return {
        "metadata": {"name": outcome_node.name, "labels": labels},
        "spec": spec,
        "status": {
            "capacity": dict(alloc), "allocatable": alloc,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status", "lastTransitionTime": PUBLISH_TIME}],
            "nodeInfo": {"kubeletVersion": "v1.32.0-sim-arena", "kubeProxyVersion": "v1.32.0-sim-arena",
                         "operatingSystem": "linux", "architecture": "amd64", "osImage": "sim-arena embedded simulator",
                         "kernelVersion": "", "containerRuntimeVersion": "sim-arena://0", "bootID": "",
                         "machineID": outcome_node.name, "systemUUID": outcome_node.name},
        },
    }


def _workload_status(kind: str, wl: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"observedGeneration": 1, "replicas": wl.total}
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        status.update(readyReplicas=wl.ready, availableReplicas=wl.ready)
        if kind != "ReplicaSet":
            status["updatedReplicas"] = wl.updated
        if kind == "Deployment" and wl.total > wl.ready:
            status["unavailableReplicas"] = wl.total - wl.ready
    if wl.conditions:
        status["conditions"] = [{"type": c.type, "status": c.status, "reason": c.reason, "message": c.message,
                                 "lastTransitionTime": PUBLISH_TIME, "lastUpdateTime": PUBLISH_TIME} for c in wl.conditions]
    return status


def _container_statuses(spec: dict[str, Any], pod: PodOutcome) -> list[dict[str, Any]]:
    out = []
    for c in spec.get("containers") or ():
        entry: dict[str, Any] = {"name": c.get("name", ""), "image": c.get("image", ""), "imageID": "",
                                 "ready": bool(pod.ready), "restartCount": 0, "started": bool(pod.ready)}
        if pod.last_state == "OOMKilled":
            entry.update(ready=False, started=False, restartCount=5,
                         state={"waiting": {"reason": "CrashLoopBackOff",
                                            "message": "back-off restarting failed container"}},
                         lastState={"terminated": {"reason": "OOMKilled", "exitCode": 137}})
        elif pod.phase == RUNNING:
            entry["state"] = {"running": {"startedAt": PUBLISH_TIME}}
        else:
            entry["state"] = {"terminated": {"reason": "Completed" if pod.phase == "Succeeded" else "Error",
                                             "exitCode": 0 if pod.phase == "Succeeded" else 1}}
        out.append(entry)
    return out


def _pod_status(spec: dict[str, Any], pod: PodOutcome) -> dict[str, Any]:
    if pod.phase == PENDING:
        cond: dict[str, Any] = {"type": "PodScheduled", "status": "False", "lastTransitionTime": PUBLISH_TIME}
        if pod.reason:
            cond["reason"] = pod.reason
        if pod.message:
            cond["message"] = pod.message
        return {"phase": PENDING, "conditions": [cond], "qosClass": _qos(spec)}
    ready = "True" if pod.ready else "False"
    conditions = [{"type": t, "status": s, "lastTransitionTime": PUBLISH_TIME} for t, s in (
        ("PodScheduled", "True"), ("Initialized", "True"), ("ContainersReady", ready), ("Ready", ready))]
    if not pod.ready:
        for c in conditions[2:]:
            c["reason"] = "ContainersNotReady"
    digest = hashlib.sha1(pod.name.encode()).digest()
    return {"phase": pod.phase, "conditions": conditions, "hostIP": "10.0.0.1",
            "podIP": f"10.244.{digest[0]}.{2 + digest[1] % 252}",
            "startTime": PUBLISH_TIME, "qosClass": _qos(spec), "containerStatuses": _container_statuses(spec, pod)}


def _qos(spec: dict[str, Any]) -> str:
    containers = spec.get("containers") or ()
    if not any((c.get("resources") or {}).get("requests") or (c.get("resources") or {}).get("limits") for c in containers):
        return "BestEffort"
    guaranteed = all(
        (c.get("resources") or {}).get("limits", {}).get(r) is not None
        and (c.get("resources") or {}).get("requests", {}).get(r, (c.get("resources") or {}).get("limits", {}).get(r))
        == (c.get("resources") or {}).get("limits", {}).get(r)
        for c in containers for r in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"


def _event(pod: PodOutcome, reason: str, kind: str, message: str, component: str) -> dict[str, Any]:
    digest = hashlib.sha1(f"{pod.name}/{reason}/{message}".encode()).hexdigest()[:16]
    return {
        "metadata": {"name": f"{pod.name}.{digest}", "namespace": pod.namespace},
        "involvedObject": {"kind": "Pod", "namespace": pod.namespace, "name": pod.name, "apiVersion": "v1"},
        "reason": reason, "message": message, "type": kind, "count": 1,
        "firstTimestamp": PUBLISH_TIME, "lastTimestamp": PUBLISH_TIME, "source": {"component": component},
        "reportingComponent": component,
    }


def cluster_objects(trace: Trace, outcome: ClusterOutcome, scenario: Scenario) -> ClusterObjects:
    """Every object of the cluster that ``outcome`` (the replay of ``trace``) leaves (see the module
    docstring)."""
    out = ClusterObjects()
    for n in outcome.nodes:
        out.add("nodes", _node(n, scenario.node_pools))
    objects, versions = applied_objects(trace)
    namespaces = {"default", "kube-system", "kube-public", "kube-node-lease"}
    workloads: dict[str, dict[str, Any]] = {}
    for key, obj in objects.items():
        kind, ns, _ = key.split("/", 2)
        namespaces.add(ns)
        plural = WORKLOAD_KINDS.get(kind)
        if plural is None:
            continue
        body = copy.deepcopy(obj)
        meta = body.setdefault("metadata", {})
        for k in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
            meta.pop(k, None)
        meta["namespace"] = ns
        if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
            body.setdefault("spec", {}).setdefault("replicas", 1)
        wl = outcome.workloads.get(key)
        body["status"] = _workload_status(kind, wl) if wl is not None else {}
        workloads[key] = body
        out.add(plural, body)
    for ns in sorted(namespaces):
        out.add("namespaces", {"metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                               "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
    replicasets: dict[tuple[str, str], dict[str, Any]] = {}
    for pod in outcome.pods:
        kind, ns, wname = pod.workload.split("/", 2)
        tpl = template_that_made(versions.get(pod.workload, []), pod) if kind != "Pod" else pod_template(objects.get(pod.workload, {}))
        labels = dict((tpl.get("metadata") or {}).get("labels") or {})
        owner: dict[str, Any] | None = None
        if kind == "Deployment" and pod.workload in workloads:
            labels["pod-template-hash"] = pod.template_hash
            rs_name = f"{wname}-{pod.template_hash}"
            rs = replicasets.get((ns, rs_name))
            if rs is None:  # owner uids are filled in by the live cluster once the owners are stored
                rs = replicasets[(ns, rs_name)] = {
                    "metadata": {"name": rs_name, "namespace": ns, "labels": dict(labels),
                                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": wname,
                                                      "controller": True, "blockOwnerDeletion": True}]},
                    "spec": {"replicas": 0, "selector": {"matchLabels": dict(labels)}, "template": copy.deepcopy(tpl)},
                    "status": {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0, "observedGeneration": 1},
                }
            rs["spec"]["replicas"] += 1
            rs["status"]["replicas"] += 1
            rs["status"]["readyReplicas"] += int(pod.ready)
            rs["status"]["availableReplicas"] += int(pod.ready)
            owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name, "controller": True,
                     "blockOwnerDeletion": True}
        elif kind in WORKLOAD_KINDS and kind != "CronJob":
            owner = {"apiVersion": "batch/v1" if kind == "Job" else "apps/v1", "kind": kind, "name": wname,
                     "controller": True, "blockOwnerDeletion": True}
        spec = copy.deepcopy(tpl.get("spec") or {})
        if pod.node:
            spec["nodeName"] = pod.node
        spec.setdefault("schedulerName", "default-scheduler")
        meta: dict[str, Any] = {"name": pod.name, "namespace": ns, "labels": labels}
        annotations = dict((tpl.get("metadata") or {}).get("annotations") or {})
        if annotations:
            meta["annotations"] = annotations
        if owner is not None:
            meta["ownerReferences"] = [owner]
        out.add("pods", {"metadata": meta, "spec": spec, "status": _pod_status(spec, pod)})
        if pod.phase == PENDING and pod.message:
            out.add("events", _event(pod, "FailedScheduling", "Warning", pod.message, "default-scheduler"))
        elif pod.node:
            out.add("events", _event(pod, "Scheduled", "Normal",
                                     f"Successfully assigned {ns}/{pod.name} to {pod.node}", "default-scheduler"))
    for (ns, name), rs in replicasets.items():
        out.add("replicasets", rs)
    return out

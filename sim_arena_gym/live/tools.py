"""The live cluster as tools with text answers: what a person reads from kubectl, for tool-using agents.

:class:`ClusterTools` works in-process on a :class:`~sim_arena_gym.live.cluster.LiveCluster`: reads come
from the served objects (``kubectl get`` / ``describe`` style text), writes go through the cluster's
write gate (:meth:`LiveCluster.write`), so a tool call is validated, safeguarded, re-simulated and
scored exactly as the same request over HTTP. A refused write answers the apiserver's message
(``Error from server (Forbidden): ...``), as kubectl prints it. The MCP server
(:mod:`~sim_arena_gym.live.mcp_server`) exposes these methods one for one.
"""

from __future__ import annotations

import json
from typing import Any

from sim_arena_gym.backends.simkube_pods import pod_request_of
from sim_arena_gym.live.cluster import RESOURCE_TYPES, LiveCluster
from sim_arena_gym.testing.fake_cluster.server import WriteRequest
from sim_arena_gym.testing.fake_cluster.store import ApiError

__all__ = ["ClusterTools"]


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _pod_status(pod: dict[str, Any]) -> tuple[str, str, int]:
    """(READY column, STATUS column, restarts) as ``kubectl get pods`` shows them."""
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    ready = sum(1 for c in statuses if c.get("ready"))
    shown = status.get("phase", "Unknown")
    for c in statuses:
        waiting = (c.get("state") or {}).get("waiting")
        if waiting:
            shown = waiting.get("reason", shown)
    return f"{ready}/{total}", shown, sum(int(c.get("restartCount", 0)) for c in statuses)


class ClusterTools:
    """Text tools over ``cluster`` (see the module docstring). Namespaces default to the target's."""

    def __init__(self, cluster: LiveCluster) -> None:
        self.cluster = cluster

    @property
    def _ns(self) -> str:
        return self.cluster.env.context.scenario.workload.namespace

    # -- reads ---------------------------------------------------------------------------------

    def get_pods(self, namespace: str | None = None) -> str:
        """``kubectl get pods -o wide``: NAME READY STATUS RESTARTS NODE."""
        pods = self.cluster.list("pods", namespace or self._ns)
        if not pods:
            return f"No resources found in {namespace or self._ns} namespace."
        rows = [["NAME", "READY", "STATUS", "RESTARTS", "NODE"]]
        for p in pods:
            ready, status, restarts = _pod_status(p)
            rows.append([p["metadata"]["name"], ready, status, str(restarts), (p.get("spec") or {}).get("nodeName") or "<none>"])
        return _table(rows)

    def describe_pod(self, name: str, namespace: str | None = None) -> str:
        """``kubectl describe pod``: node, status, requests and limits, conditions, events."""
        ns = namespace or self._ns
        try:
            pod = self.cluster.get("pods", ns, name)
        except ApiError as err:
            return f"Error from server ({err.reason}): {err.message}"
        _, status, _ = _pod_status(pod)
        lines = [f"Name:         {name}", f"Namespace:    {ns}",
                 f"Node:         {(pod.get('spec') or {}).get('nodeName') or '<none>'}", f"Status:       {status}",
                 "Containers:"]
        for c in (pod.get("spec") or {}).get("containers") or ():
            res = c.get("resources") or {}
            lines.append(f"  {c.get('name')}:")
            for part in ("limits", "requests"):
                if res.get(part):
                    lines.append(f"    {part.capitalize()}:")
                    lines.extend(f"      {k}:  {v}" for k, v in sorted(res[part].items()))
        for c in (pod.get("status") or {}).get("containerStatuses") or ():
            last = ((c.get("lastState") or {}).get("terminated") or {}).get("reason")
            if last:
                lines.append(f"  {c.get('name')} last state: Terminated, reason {last}")
        lines.append("Conditions:")
        lines.extend(f"  {c['type']}  {c['status']}" for c in (pod.get("status") or {}).get("conditions") or ())
        lines.append("Events:")
        events = [e for e in self.cluster.list("events", ns) if (e.get("involvedObject") or {}).get("name") == name]
        lines.extend(f"  {e['type']}  {e['reason']}  {e['source']['component']}  {e['message']}" for e in events)
        if not events:
            lines.append("  <none>")
        return "\n".join(lines)

    def get_deployments(self, namespace: str | None = None) -> str:
        """``kubectl get deployments``: NAME READY UP-TO-DATE AVAILABLE."""
        deps = self.cluster.list("deployments", namespace or self._ns)
        rows = [["NAME", "READY", "UP-TO-DATE", "AVAILABLE"]]
        for d in deps:
            st = d.get("status") or {}
            rows.append([d["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{(d.get('spec') or {}).get('replicas', 1)}",
                         str(st.get("updatedReplicas", 0)), str(st.get("availableReplicas", 0))])
        return _table(rows) if deps else f"No resources found in {namespace or self._ns} namespace."

    def describe_deployment(self, name: str, namespace: str | None = None) -> str:
        """``kubectl describe deployment``: replicas, each container's requests and limits, conditions."""
        ns = namespace or self._ns
        try:
            d = self.cluster.get("deployments", ns, name)
        except ApiError as err:
            return f"Error from server ({err.reason}): {err.message}"
        st = d.get("status") or {}
        spec = d.get("spec") or {}
        lines = [f"Name:        {name}", f"Namespace:   {ns}",
                 f"Replicas:    {spec.get('replicas', 1)} desired | {st.get('updatedReplicas', 0)} updated | "
                 f"{st.get('replicas', 0)} total | {st.get('availableReplicas', 0)} available | "
                 f"{st.get('unavailableReplicas', 0)} unavailable", "Containers:"]
        for c in ((spec.get("template") or {}).get("spec") or {}).get("containers") or ():
            res = c.get("resources") or {}
            lines.append(f"  {c.get('name')}:  image {c.get('image', '')}")
            for part in ("limits", "requests"):
                shown = ", ".join(f"{k}={v}" for k, v in sorted((res.get(part) or {}).items())) or "<none>"
                lines.append(f"    {part.capitalize()}:  {shown}")
        lines.append("Conditions:")
        lines.extend(f"  {c['type']}  {c['status']}  {c.get('reason', '')}" for c in st.get("conditions") or ())
        return "\n".join(lines)

    def get_nodes(self) -> str:
        """``kubectl get nodes`` with each node's allocatable CPU / memory / pods and what the pods bound
        to it request (``kubectl describe node``'s "Allocated resources"; millicores ``m``, memory ``Mi``)."""
        requested: dict[str, list[int]] = {}
        for pod in self.cluster.list("pods"):
            node = (pod.get("spec") or {}).get("nodeName")
            if node and (pod.get("status") or {}).get("phase") in ("Pending", "Running"):
                cpu, mem = pod_request_of(pod.get("spec") or {})
                totals = requested.setdefault(node, [0, 0, 0])
                totals[0] += cpu
                totals[1] += mem
                totals[2] += 1
        rows = [["NAME", "STATUS", "CPU", "MEMORY", "PODS", "CPU-REQUESTED", "MEMORY-REQUESTED", "PODS-BOUND", "TAINTS"]]
        for n in self.cluster.list("nodes"):
            name = n["metadata"]["name"]
            alloc = (n.get("status") or {}).get("allocatable") or {}
            taints = ",".join(f"{t['key']}={t.get('value', '')}:{t['effect']}" for t in (n.get("spec") or {}).get("taints") or ())
            cpu, mem, count = requested.get(name, [0, 0, 0])
            rows.append([name, "Ready", str(alloc.get("cpu")), str(alloc.get("memory")), str(alloc.get("pods")),
                         f"{cpu}m", f"{-(-mem // 2**20)}Mi", str(count), taints or "<none>"])
        return _table(rows)

    def describe_node(self, name: str) -> str:
        """``kubectl describe node``: labels, taints, allocatable, the pods bound to it and what they request."""
        try:
            node = self.cluster.get("nodes", None, name)
        except ApiError as err:
            return f"Error from server ({err.reason}): {err.message}"
        alloc = (node.get("status") or {}).get("allocatable") or {}
        lines = [f"Name:        {name}", "Labels:"]
        lines.extend(f"  {k}={v}" for k, v in sorted(((node.get("metadata") or {}).get("labels") or {}).items()))
        taints = (node.get("spec") or {}).get("taints") or ()
        lines.append("Taints:      " + (", ".join(f"{t['key']}={t.get('value', '')}:{t['effect']}" for t in taints) or "<none>"))
        lines.append("Allocatable:")
        lines.extend(f"  {k}:  {v}" for k, v in sorted(alloc.items()))
        lines.append("Non-terminated Pods:  (namespace/name  cpu-request  memory-request)")
        cpu_total = mem_total = 0
        for pod in self.cluster.list("pods"):
            if (pod.get("spec") or {}).get("nodeName") != name or (pod.get("status") or {}).get("phase") not in ("Pending", "Running"):
                continue
            cpu, mem = pod_request_of(pod.get("spec") or {})
            cpu_total, mem_total = cpu_total + cpu, mem_total + mem
            lines.append(f"  {pod['metadata']['namespace']}/{pod['metadata']['name']}  {cpu}m  {-(-mem // 2**20)}Mi")
        lines.append(f"Allocated resources:  cpu {cpu_total}m, memory {-(-mem_total // 2**20)}Mi")
        return "\n".join(lines)

    def get_events(self, namespace: str | None = None) -> str:
        """``kubectl get events``: TYPE REASON OBJECT MESSAGE."""
        rows = [["TYPE", "REASON", "OBJECT", "MESSAGE"]]
        for e in self.cluster.list("events", namespace or self._ns):
            rows.append([e["type"], e["reason"], f"pod/{e['involvedObject']['name']}", e["message"]])
        return _table(rows) if len(rows) > 1 else f"No events found in {namespace or self._ns} namespace."

    def scheduling_message(self, namespace: str | None = None) -> str:
        """The distinct ``FailedScheduling`` messages of the Pending pods (``none`` if every pod is placed)."""
        messages = sorted({e["message"] for e in self.cluster.list("events", namespace or self._ns)
                           if e["reason"] == "FailedScheduling"})
        return "\n".join(messages) if messages else "none: no pod is Pending for lack of a node"

    def episode_status(self) -> str:
        """The episode in the env's terms (JSON): scenario, target, step / max_steps, success, reward."""
        return json.dumps(self.cluster.episode_status(), sort_keys=True)

    def list_scenarios(self) -> str:
        """The scenario ids of this server's set, the current one marked ``*``."""
        current = self.cluster.env.context.scenario.id
        return "\n".join(f"{'*' if s.id == current else ' '} {s.id}" for s in self.cluster.scenarios)

    # -- writes --------------------------------------------------------------------------------

    def _write(self, req: WriteRequest, ok: str) -> str:
        try:
            self.cluster.write(req)
        except ApiError as err:
            return f"Error from server ({err.reason}): {err.message}"
        return ok

    def set_resources(self, deployment: str, container: str, requests: dict[str, str] | None = None,
                      limits: dict[str, str] | None = None, namespace: str | None = None) -> str:
        """``kubectl set resources deployment/NAME -c CONTAINER --requests=cpu=..,memory=.. --limits=..``."""
        resources: dict[str, Any] = {}
        if requests:
            resources["requests"] = dict(requests)
        if limits:
            resources["limits"] = dict(limits)
        patch = {"spec": {"template": {"spec": {"containers": [{"name": container, "resources": resources}]}}}}
        req = WriteRequest("patch", RESOURCE_TYPES["deployments"], namespace or self._ns, deployment, None, {}, patch,
                           "application/strategic-merge-patch+json")
        return self._write(req, f"deployment.apps/{deployment} resource requirements updated")

    def scale(self, deployment: str, replicas: int, namespace: str | None = None) -> str:
        """``kubectl scale deployment/NAME --replicas=N``."""
        req = WriteRequest("patch", RESOURCE_TYPES["deployments"], namespace or self._ns, deployment, "scale", {},
                           {"spec": {"replicas": replicas}}, "application/merge-patch+json")
        return self._write(req, f"deployment.apps/{deployment} scaled")

    def reset(self, scenario: str | None = None) -> str:
        """Start the next task: ``scenario``, or the one after the current in the set (wrapping)."""
        ids = [s.id for s in self.cluster.scenarios]
        if scenario is None:
            scenario = ids[(ids.index(self.cluster.env.context.scenario.id) + 1) % len(ids)]
        elif scenario not in ids:
            return f"error: unknown scenario {scenario!r}; known: {', '.join(ids)}"
        status = self.cluster.reset(scenario)
        return f"reset to {scenario}: repair {status['workload']} so that {status['target']} pods are Ready"



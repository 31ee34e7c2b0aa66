"""Server-side printing: the ``meta.k8s.io/v1`` ``Table`` kubectl asks for on ``kubectl get``.

kubectl sends ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints the columns the
server returns (priority 0 by default, priority 1 too with ``-o wide``); without a Table it shows only
NAME and AGE. :func:`table` builds one for the resources the live cluster serves, with the columns
and cell texts of the real API server's printers (``kubectl get pods``: NAME READY STATUS RESTARTS AGE,
``-o wide`` adds IP NODE NOMINATED NODE READINESS GATES). Other resources get NAME and AGE.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Callable

from sim_arena_gym.testing.fake_cluster.store import ResourceType

__all__ = ["table"]

Column = tuple[str, int, Callable[[dict[str, Any]], Any]]


def _age(stamp: str | None, now: _dt.datetime) -> str:
    """kubectl's short human duration (``45s``, ``3m12s``, ``5h``, ``2d``) since ``stamp``."""
    if not stamp:
        return "<unknown>"
    try:
        then = _dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_dt.timezone.utc)
    except ValueError:
        return "<unknown>"
    s = max(0, int((now - then).total_seconds()))
    if s < 120:
        return f"{s}s"
    if s < 600:
        return f"{s // 60}m{s % 60}s" if s % 60 else f"{s // 60}m"
    if s < 3 * 3600:
        return f"{s // 60}m"
    if s < 8 * 3600:
        return f"{s // 3600}h{(s % 3600) // 60}m" if (s % 3600) // 60 else f"{s // 3600}h"
    if s < 48 * 3600:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def _pod_cells(pod: dict[str, Any]) -> tuple[str, str, str]:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    shown = status.get("reason") or status.get("phase", "Unknown")
    for c in statuses:
        waiting = (c.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            shown = waiting["reason"]
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    return f"{ready}/{total}", shown, str(restarts)


def _columns(plural: str, now: _dt.datetime) -> list[Column]:
    age: Column = ("Age", 0, lambda o: _age((o.get("metadata") or {}).get("creationTimestamp"), now))
    name: Column = ("Name", 0, lambda o: o["metadata"]["name"])
    if plural == "pods":
        return [name, ("Ready", 0, lambda o: _pod_cells(o)[0]), ("Status", 0, lambda o: _pod_cells(o)[1]),
                ("Restarts", 0, lambda o: _pod_cells(o)[2]), age,
                ("IP", 1, lambda o: (o.get("status") or {}).get("podIP") or "<none>"),
                ("Node", 1, lambda o: (o.get("spec") or {}).get("nodeName") or "<none>"),
                ("Nominated Node", 1, lambda o: "<none>"), ("Readiness Gates", 1, lambda o: "<none>")]
    if plural == "deployments":
        return [name, ("Ready", 0, lambda o: f"{(o.get('status') or {}).get('readyReplicas', 0)}/{(o.get('spec') or {}).get('replicas', 1)}"),
                ("Up-to-date", 0, lambda o: (o.get("status") or {}).get("updatedReplicas", 0)),
                ("Available", 0, lambda o: (o.get("status") or {}).get("availableReplicas", 0)), age,
                ("Containers", 1, lambda o: ",".join(c.get("name", "") for c in _containers(o))),
                ("Images", 1, lambda o: ",".join(c.get("image", "") for c in _containers(o))),
                ("Selector", 1, _selector)]
    if plural in ("replicasets", "statefulsets"):
        return [name, ("Desired", 0, lambda o: (o.get("spec") or {}).get("replicas", 1)),
                ("Current", 0, lambda o: (o.get("status") or {}).get("replicas", 0)),
                ("Ready", 0, lambda o: (o.get("status") or {}).get("readyReplicas", 0)), age]
    if plural == "nodes":
        return [name, ("Status", 0, lambda o: "Ready" if any(c.get("type") == "Ready" and c.get("status") == "True"
                                                              for c in (o.get("status") or {}).get("conditions") or ()) else "NotReady"),
                ("Roles", 0, lambda o: "<none>"), age,
                ("Version", 0, lambda o: ((o.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", ""))]
    if plural == "events":
        return [("Last Seen", 0, lambda o: _age(o.get("lastTimestamp"), now)), ("Type", 0, lambda o: o.get("type", "")),
                ("Reason", 0, lambda o: o.get("reason", "")),
                ("Object", 0, lambda o: f"{(o.get('involvedObject') or {}).get('kind', '').lower()}/"
                                        f"{(o.get('involvedObject') or {}).get('name', '')}"),
                ("Message", 0, lambda o: o.get("message", ""))]
    if plural == "namespaces":
        return [name, ("Status", 0, lambda o: (o.get("status") or {}).get("phase", "Active")), age]
    return [name, age]


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list((((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [])


def _selector(obj: dict[str, Any]) -> str:
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


def table(rtype: ResourceType, items: list[dict[str, Any]], resource_version: int | str) -> dict[str, Any]:
    """A ``Table`` of ``items`` (objects of ``rtype``), as the API server prints them for kubectl."""
    now = _dt.datetime.now(_dt.timezone.utc)
    columns = _columns(rtype.plural, now)
    rows = []
    for obj in items:
        meta = obj.get("metadata") or {}
        partial = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "labels")
                   if k in meta}
        rows.append({"cells": [get(obj) for _, _, get in columns],
                     "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": partial}})
    return {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": str(resource_version)},
        "columnDefinitions": [{"name": title, "type": "integer" if title in ("Up-to-date", "Available", "Desired", "Current")
                               else "string", "format": "name" if title == "Name" else "", "description": title,
                               "priority": priority} for title, priority, _ in columns],
        "rows": rows,
    }

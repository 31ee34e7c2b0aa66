"""Build Kubernetes objects and whole traces in memory, shaped as SimKube's tracer records them.

The scenario generator, the tests and the examples build their traces with these functions, so every
trace the project writes looks like one SimKube exported: objects keyed ``apiVersion``, ``kind``,
``metadata`` and then the rest in sorted order, keys sorted at every level, no ``status``, sanitised
metadata (``annotations: {}``), pod templates with ``creationTimestamp: None``.

Quantities are given as Kubernetes strings (``"500m"``, ``"1Gi"``) and stored as given.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from sim_arena_gym.trace.config import BUILTIN_POD_SPEC_TEMPLATE_PATHS
from sim_arena_gym.trace.model import SUPPORTED_VERSION, Trace, TraceEvent
from sim_arena_gym.trace.refs import KIND_TO_GVK, gvk_of

#: Pod spec fields the API server defaults, present in every traced pod template.
_POD_SPEC_DEFAULTS: Mapping[str, Any] = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "schedulerName": "default-scheduler",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
}
_CONTAINER_DEFAULTS: Mapping[str, Any] = {
    "imagePullPolicy": "IfNotPresent",
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
}

#: Image used when none is given (the smallest real image).
DEFAULT_IMAGE = "registry.k8s.io/pause:3.9"


def sort_object(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Key order SimKube writes for a Kubernetes object: ``apiVersion``, ``kind``, ``metadata``, then
    the other keys sorted; every nested map sorted by key."""
    head = [k for k in ("apiVersion", "kind", "metadata") if k in obj]
    rest = sorted(k for k in obj if k not in head)
    return {k: _sorted_deep(obj[k]) for k in head + rest}


def _sorted_deep(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _sorted_deep(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_sorted_deep(v) for v in value]
    return value


def resources(
    *,
    cpu: str | None = None,
    memory: str | None = None,
    limit_cpu: str | None = None,
    limit_memory: str | None = None,
) -> dict[str, dict[str, str]]:
    """A container ``resources`` map; keys with ``None`` are left out (``{}`` when nothing is set)."""
    out: dict[str, dict[str, str]] = {}
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    limits = {k: v for k, v in (("cpu", limit_cpu), ("memory", limit_memory)) if v is not None}
    if limits:
        out["limits"] = limits
    if requests:
        out["requests"] = requests
    return out


def container(
    name: str,
    *,
    cpu: str | None = None,
    memory: str | None = None,
    limit_cpu: str | None = None,
    limit_memory: str | None = None,
    image: str = DEFAULT_IMAGE,
    restart_policy: str | None = None,
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A container map. ``restart_policy="Always"`` on an init container makes it a sidecar."""
    out: dict[str, Any] = {"name": name, "image": image, **_CONTAINER_DEFAULTS}
    out["resources"] = resources(cpu=cpu, memory=memory, limit_cpu=limit_cpu, limit_memory=limit_memory)
    if restart_policy is not None:
        out["restartPolicy"] = restart_policy
    if command is not None:
        out["command"] = list(command)
    return out


def pod_spec(
    containers: Sequence[Mapping[str, Any]],
    *,
    init_containers: Sequence[Mapping[str, Any]] = (),
    node_selector: Mapping[str, str] | None = None,
    tolerations: Sequence[Mapping[str, Any]] | None = None,
    priority_class_name: str | None = None,
    priority: int | None = None,
    overhead: Mapping[str, str] | None = None,
    restart_policy: str = "Always",
) -> dict[str, Any]:
    """A pod ``spec`` map with the API server's defaults filled in."""
    if not containers:
        raise ValueError("a pod spec needs at least one container")
    spec: dict[str, Any] = {**_POD_SPEC_DEFAULTS, "containers": [dict(c) for c in containers]}
    spec["restartPolicy"] = restart_policy
    if init_containers:
        spec["initContainers"] = [dict(c) for c in init_containers]
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if tolerations:
        spec["tolerations"] = [dict(t) for t in tolerations]
    if priority_class_name is not None:
        spec["priorityClassName"] = priority_class_name
    if priority is not None:
        spec["priority"] = priority
    if overhead:
        spec["overhead"] = dict(overhead)
    return spec


def _metadata(name: str, namespace: str, labels: Mapping[str, str] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"annotations": {}, "name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    return meta


def _template(app: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {"metadata": {"creationTimestamp": None, "labels": {"app": app}}, "spec": dict(spec)}


def deployment(
    name: str,
    spec: Mapping[str, Any],
    *,
    namespace: str = "default",
    replicas: int = 1,
    strategy: Mapping[str, Any] | None = None,
    progress_deadline_seconds: int = 600,
    min_ready_seconds: int | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An ``apps/v1`` Deployment with pod ``spec`` (see :func:`pod_spec`).

    ``strategy`` defaults to RollingUpdate 25%/25%, as the API server defaults it."""
    body: dict[str, Any] = {
        "progressDeadlineSeconds": progress_deadline_seconds,
        "replicas": replicas,
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": {"app": name}},
        "strategy": dict(
            strategy
            or {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"}
        ),
        "template": _template(name, spec),
    }
    if min_ready_seconds is not None:
        body["minReadySeconds"] = min_ready_seconds
    return sort_object(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _metadata(name, namespace, labels), "spec": body}
    )


def statefulset(
    name: str,
    spec: Mapping[str, Any],
    *,
    namespace: str = "default",
    replicas: int = 1,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An ``apps/v1`` StatefulSet (OrderedReady pod management, RollingUpdate)."""
    body = {
        "podManagementPolicy": "OrderedReady",
        "replicas": replicas,
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": {"app": name}},
        "serviceName": name,
        "template": _template(name, spec),
        "updateStrategy": {"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"},
    }
    return sort_object(
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _metadata(name, namespace, labels), "spec": body}
    )


def replicaset(
    name: str,
    spec: Mapping[str, Any],
    *,
    namespace: str = "default",
    replicas: int = 1,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A standalone ``apps/v1`` ReplicaSet."""
    body = {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": _template(name, spec)}
    return sort_object(
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": _metadata(name, namespace, labels), "spec": body}
    )


def job(
    name: str,
    spec: Mapping[str, Any],
    *,
    namespace: str = "default",
    completions: int = 1,
    parallelism: int = 1,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ``batch/v1`` Job; its pods' run time comes from the trace's ``pod_lifecycles``."""
    pod = {**dict(spec), "restartPolicy": "Never"}
    body = {
        "backoffLimit": 6,
        "completions": completions,
        "parallelism": parallelism,
        "template": _template(name, pod),
    }
    return sort_object(
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": _metadata(name, namespace, labels), "spec": body}
    )


def bare_pod(
    name: str,
    spec: Mapping[str, Any],
    *,
    namespace: str = "default",
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ``v1`` Pod that no controller owns."""
    return sort_object(
        {"apiVersion": "v1", "kind": "Pod", "metadata": _metadata(name, namespace, labels), "spec": dict(spec)}
    )


def deleted_stub(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The stub the current tracer records for a deletion: identity only."""
    meta = obj.get("metadata") or {}
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")},
    }


def tracer_config(kinds: Iterable[str]) -> dict[str, Any]:
    """A ``TracerConfig`` tracking ``kinds`` (``"Deployment"``, ...) with their built-in template paths.

    Paths are written explicitly (``podSpecTemplatePaths``), as the current SimKube writer does."""
    tracked: dict[str, Any] = {}
    for kind in kinds:
        gvk = KIND_TO_GVK[kind]
        entry: dict[str, Any] = {"podSpecTemplatePaths": [BUILTIN_POD_SPEC_TEMPLATE_PATHS[gvk]]}
        if kind in ("Job", "CronJob"):
            entry["trackLifecycle"] = True
        tracked[gvk] = entry
    return {"trackedObjects": tracked}


def build_trace(
    events: Sequence[tuple[int, Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]]],
    *,
    pod_lifecycles: Mapping[tuple[str, str], Mapping[int, list]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Trace:
    """A version-2 trace from ``(ts, applied_objs, deleted_objs)`` triples.

    The config tracks every kind that appears; the index lists every applied object. Index hashes are
    left stale (0) and computed by the writer, so building stays cheap."""
    kinds: list[str] = []
    index: dict[str, dict[str, int]] = {}
    stale: set[tuple[str, str]] = set()
    trace_events: list[TraceEvent] = []
    for ts, applied, deleted in events:
        for obj in list(applied) + list(deleted):
            if obj.get("kind") not in kinds:
                kinds.append(obj["kind"])
        for obj in applied:
            meta = obj["metadata"]
            key = (gvk_of(obj), f"{meta.get('namespace', 'default')}/{meta['name']}")
            index.setdefault(key[0], {})[key[1]] = 0
            stale.add(key)
        trace_events.append(TraceEvent(int(ts), tuple(dict(o) for o in applied), tuple(dict(o) for o in deleted)))
    return Trace(
        version=SUPPORTED_VERSION,
        config=tracer_config(k for k in kinds if k in KIND_TO_GVK),
        events=tuple(trace_events),
        index=index,
        pod_lifecycles={k: {h: list(v) for h, v in by_hash.items()} for k, by_hash in (pod_lifecycles or {}).items()},
        extra=dict(extra or {}),
        source=None,
        stale_index=frozenset(stale),
    )

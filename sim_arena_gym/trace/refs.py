"""Names for Kubernetes objects in a trace: GVK strings and workload references."""

from __future__ import annotations

from dataclasses import dataclass

#: Kind -> SimKube GVK string (``group/version.Kind``, core group written ``v1.Kind``).
KIND_TO_GVK: dict[str, str] = {
    "Deployment": "apps/v1.Deployment",
    "StatefulSet": "apps/v1.StatefulSet",
    "ReplicaSet": "apps/v1.ReplicaSet",
    "DaemonSet": "apps/v1.DaemonSet",
    "Job": "batch/v1.Job",
    "CronJob": "batch/v1.CronJob",
    "Pod": "v1.Pod",
}

#: Kinds whose pods the agent can repair by editing the object (requests, limits, replicas).
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "ReplicaSet", "Pod")


def gvk_of(obj: dict) -> str:
    """SimKube GVK string of a Kubernetes object dict, from its ``apiVersion`` and ``kind``.

    ``{"apiVersion": "apps/v1", "kind": "Deployment"}`` -> ``"apps/v1.Deployment"``;
    ``{"apiVersion": "v1", "kind": "Pod"}`` -> ``"v1.Pod"``."""
    return f"{obj.get('apiVersion', '')}.{obj.get('kind', '')}"


@dataclass(frozen=True, slots=True, order=True)
class WorkloadRef:
    """A workload in a trace, by kind, namespace and name.

    Written ``Kind/namespace/name`` (``Deployment/default/web``); :meth:`parse` also accepts the short
    form ``namespace/name``, which means a Deployment.
    """

    kind: str
    namespace: str
    name: str

    @classmethod
    def parse(cls, text: "str | WorkloadRef") -> "WorkloadRef":
        """Parse ``"ns/name"`` (a Deployment) or ``"Kind/ns/name"``; raise ``ValueError`` otherwise."""
        if isinstance(text, WorkloadRef):
            return text
        parts = text.split("/") if isinstance(text, str) else []
        if len(parts) == 2 and all(parts):
            return cls("Deployment", parts[0], parts[1])
        if len(parts) == 3 and all(parts):
            kind = parts[0]
            if kind not in WORKLOAD_KINDS:
                raise ValueError(
                    f"workload {text!r}: kind {kind!r} is not one of {', '.join(WORKLOAD_KINDS)}"
                )
            return cls(kind, parts[1], parts[2])
        raise ValueError(
            f"workload {text!r}: expected 'namespace/name' (a Deployment) or 'Kind/namespace/name'"
        )

    @property
    def gvk(self) -> str:
        """SimKube GVK string, e.g. ``apps/v1.Deployment``."""
        return KIND_TO_GVK[self.kind]

    @property
    def namespaced_name(self) -> str:
        """``"namespace/name"``, the key used in a trace's ``index``."""
        return f"{self.namespace}/{self.name}"

    def matches(self, obj: dict) -> bool:
        """True when the Kubernetes object dict ``obj`` is this workload."""
        meta = obj.get("metadata") or {}
        return (
            obj.get("kind") == self.kind
            and meta.get("name") == self.name
            and (meta.get("namespace") or "default") == self.namespace
        )

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

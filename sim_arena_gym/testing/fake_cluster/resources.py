"""The resources the fake cluster serves, and the discovery documents that describe them."""

from __future__ import annotations

from typing import Any, Iterable

from sim_arena_gym.testing.fake_cluster.store import ResourceType

__all__ = [
    "CORE", "GROUPS", "SIMKUBE_GROUP", "api_resource_list", "api_group_list", "find_type", "all_types", "simkube_crds",
]

SIMKUBE_GROUP = "simkube.io"

CORE: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Namespace", "namespaces", False, subresources=("status",), short_names=("ns",)),
    ResourceType("", "v1", "Node", "nodes", False, subresources=("status",), short_names=("no",)),
    ResourceType("", "v1", "Pod", "pods", True, subresources=("status",), short_names=("po",)),
    ResourceType("", "v1", "Event", "events", True, short_names=("ev",)),
)

#: group -> (preferred version, types)
GROUPS: dict[str, tuple[str, tuple[ResourceType, ...]]] = {
    "apps": ("v1", (
        ResourceType("apps", "v1", "Deployment", "deployments", True, subresources=("status", "scale"), short_names=("deploy",)),
        ResourceType("apps", "v1", "ReplicaSet", "replicasets", True, subresources=("status", "scale"), short_names=("rs",)),
        ResourceType("apps", "v1", "StatefulSet", "statefulsets", True, subresources=("status", "scale"), short_names=("sts",)),
        ResourceType("apps", "v1", "DaemonSet", "daemonsets", True, subresources=("status",), short_names=("ds",)),
    )),
    "batch": ("v1", (
        ResourceType("batch", "v1", "Job", "jobs", True, subresources=("status",)),
        ResourceType("batch", "v1", "CronJob", "cronjobs", True, subresources=("status",), short_names=("cj",)),
    )),
    "coordination.k8s.io": ("v1", (
        ResourceType("coordination.k8s.io", "v1", "Lease", "leases", True),
    )),
    "apiextensions.k8s.io": ("v1", (
        ResourceType("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
                     subresources=("status",), short_names=("crd", "crds")),
    )),
    "authorization.k8s.io": ("v1", (
        ResourceType("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False,
                     verbs=("create",)),
    )),
    "cert-manager.io": ("v1", (
        ResourceType("cert-manager.io", "v1", "ClusterIssuer", "clusterissuers", False, subresources=("status",)),
    )),
    SIMKUBE_GROUP: ("v1", (
        ResourceType(SIMKUBE_GROUP, "v1", "Simulation", "simulations", False, subresources=("status",),
                     short_names=("sim", "sims")),
        ResourceType(SIMKUBE_GROUP, "v1", "SimulationRoot", "simulationroots", False,
                     short_names=("simroot", "simroots")),
    )),
}


def all_types(with_simkube: bool = True) -> Iterable[ResourceType]:
    """Every resource type the fake API serves (SimKube's unless ``with_simkube=False``)."""
    yield from CORE
    for group, (_, types) in GROUPS.items():
        if group == SIMKUBE_GROUP and not with_simkube:
            continue
        yield from types


def find_type(group: str, version: str, plural: str, with_simkube: bool = True) -> ResourceType | None:
    """The resource type served at ``group/version/plural``, or ``None``."""
    for t in all_types(with_simkube):
        if t.group == group and t.version == version and t.plural == plural:
            return t
    return None


def api_resource_list(group: str, version: str, with_simkube: bool = True) -> dict[str, Any] | None:
    """``/api/v1`` or ``/apis/<group>/<version>``; ``None`` when not served."""
    types = [t for t in all_types(with_simkube) if t.group == group and t.version == version]
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for t in types:
        entry: dict[str, Any] = {"name": t.plural, "singularName": t.kind.lower(), "namespaced": t.namespaced,
                                 "kind": t.kind, "verbs": list(t.verbs)}
        if t.short_names:
            entry["shortNames"] = list(t.short_names)
        resources.append(entry)
        for sub in t.subresources:
            entry = {"name": f"{t.plural}/{sub}", "singularName": "", "namespaced": t.namespaced,
                     "kind": t.kind, "verbs": ["get", "patch", "update"]}
            if sub == "scale":
                entry.update(kind="Scale", group="autoscaling", version="v1")
            resources.append(entry)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": resources}


def api_group_list(with_simkube: bool = True) -> dict[str, Any]:
    """The ``/apis`` discovery document (an ``APIGroupList``)."""
    groups = []
    for group, (version, _) in GROUPS.items():
        if group == SIMKUBE_GROUP and not with_simkube:
            continue
        gv = {"groupVersion": f"{group}/{version}", "version": version}
        groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def simkube_crds() -> list[dict[str, Any]]:
    """The ``CustomResourceDefinition`` objects SimKube installs (``skctl crd``), schema left open."""
    out = []
    for t in GROUPS[SIMKUBE_GROUP][1]:
        version: dict[str, Any] = {"name": t.version, "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
        if "status" in t.subresources:
            version["subresources"] = {"status": {}}
        out.append({
            "metadata": {"name": f"{t.plural}.{t.group}"},
            "spec": {"group": t.group, "scope": "Cluster", "versions": [version],
                     "names": {"kind": t.kind, "plural": t.plural, "singular": t.kind.lower(),
                               "shortNames": list(t.short_names)}},
            "status": {"conditions": [{"type": "Established", "status": "True"}]},
        })
    return out

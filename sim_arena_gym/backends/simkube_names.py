"""The naming contract of the simkube backend: every label, annotation and name it writes.

One backend instance is one *run*, with a run id of 8 lowercase hex digits (``new_run_id()``), unique
per env instance. Everything the run creates can be found from the id alone:

=========================  ==========================================  ==============================
object                     name                                        labels
=========================  ==========================================  ==============================
``v1/Node`` (KWOK)         ``sa-<run>-<pool>-<i>``                      ``sim-arena.io/run=<run>``,
                                                                        ``app.kubernetes.io/managed-by=sim-arena-gym``,
                                                                        ``sim-arena.io/pool=<pool>``
``simkube.io/Simulation``  ``sa-<run>-<seq>`` (seq 6 digits from 1)     run + managed-by +
                                                                        ``sim-arena.io/scenario=<id>``
virtual namespace          ``<prefix>-<trace namespace>``, prefix       made by SimKube's driver
                           ``sa-<run>`` unless ``virtual_ns_prefix``    (``simkube.io/virtual=true``);
                           is given                                     the backend adds run + managed-by
trace file (store)         ``<store>/sa-<run>-<seq>.sktrace``           the run id is in the name
=========================  ==========================================  ==============================

Sharing a cluster: SimKube runs one Simulation at a time (its lease). Every pod template of the uploaded
trace gets the nodeSelector ``sim-arena.io/run=<run>``, so a run's simulated pods land only on the run's
own nodes; several envs (runs) on one cluster never share a Simulation, a virtual namespace or a node.
An env instance id (``backend_options["instance"]``, e.g. ``"w1-e0"`` from
:class:`~sim_arena_gym.env.assignment.EnvInstance`) is the label ``sim-arena.io/instance`` on everything
the run makes. Virtual nodes that no sim-arena-gym run made still stop a run (``foreign_nodes="error"``):
they change the scheduler's messages.

So ``kubectl get nodes,simulations -l sim-arena.io/run=<run>`` lists a run's cluster objects,
``-l app.kubernetes.io/managed-by=sim-arena-gym`` every run's, and ``sa-<run>-*`` its files. Names
are DNS-1123 labels (lowercase alphanumerics and ``-``, at most 63 characters); label values at most
63 characters (:func:`label_value`).
"""

from __future__ import annotations

import re
import secrets
from typing import Any, Iterable

__all__ = [
    "ANNOTATION_KWOK_NODE",
    "ANNOTATION_ORIGINAL_NAMESPACE",
    "ANNOTATION_USAGE_FLOORS",
    "LABEL_HOSTNAME",
    "LABEL_INSTANCE",
    "LABEL_MANAGED_BY",
    "LABEL_NODE_TYPE",
    "LABEL_POOL",
    "LABEL_RUN",
    "LABEL_SCENARIO",
    "LABEL_SIMKUBE_SIMULATION",
    "LABEL_SIMKUBE_VIRTUAL",
    "LEASE_NAME",
    "MANAGED_BY",
    "NAME_PREFIX",
    "NODE_TYPE_VIRTUAL",
    "TAINT_KWOK_PROVIDER",
    "label_value",
    "new_run_id",
    "node_name",
    "run_labels",
    "run_prefix",
    "run_selector",
    "simulation_name",
    "trace_file_name",
    "virtual_namespace",
    "virtual_namespaces",
]

#: Label naming the run that created an object.
LABEL_RUN = "sim-arena.io/run"
#: Standard "managed by" label; its value is :data:`MANAGED_BY`.
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "sim-arena-gym"
#: Env instance id (``EnvInstance.id``, e.g. ``w1-e0``) of the run, when the env was given one.
LABEL_INSTANCE = "sim-arena.io/instance"
#: Scenario id of a Simulation (sanitised by :func:`label_value`).
LABEL_SCENARIO = "sim-arena.io/scenario"
#: Node pool name of a node.
LABEL_POOL = "sim-arena.io/pool"
#: Annotation on the target workload in the uploaded trace: the usage floors, JSON.
ANNOTATION_USAGE_FLOORS = "sim-arena.io/usage-floors"

#: KWOK / SimKube virtual nodes: the annotation KWOK manages nodes by, the label SimKube's driver
#: selects (``type=virtual``), the taint every simulated pod tolerates, and the hostname label.
ANNOTATION_KWOK_NODE = "kwok.x-k8s.io/node"
LABEL_NODE_TYPE = "type"
NODE_TYPE_VIRTUAL = "virtual"
TAINT_KWOK_PROVIDER = "kwok-provider"
LABEL_HOSTNAME = "kubernetes.io/hostname"

#: SimKube's own labels and names (sk-driver / sk-ctrl).
LABEL_SIMKUBE_SIMULATION = "simkube.io/simulation"
LABEL_SIMKUBE_VIRTUAL = "simkube.io/virtual"
ANNOTATION_ORIGINAL_NAMESPACE = "static.simkube.io/original-namespace"
LEASE_NAME = "sk-lease"

#: Every name the backend makes starts with this.
NAME_PREFIX = "sa"
_RUN_ID = re.compile(r"^[0-9a-f]{8}$")
_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")


def new_run_id() -> str:
    """A fresh run id: 8 random lowercase hex digits."""
    return secrets.token_hex(4)


def _check(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise ValueError(f"run id {run_id!r}: expected 8 lowercase hex digits")
    return run_id


def run_prefix(run_id: str) -> str:
    """``sa-<run>``: the start of every name of the run."""
    return f"{NAME_PREFIX}-{_check(run_id)}"


def _dns(text: str) -> str:
    return _NOT_DNS.sub("-", text.lower()).strip("-") or "x"


def node_name(run_id: str, pool: str, index: int) -> str:
    """``sa-<run>-<pool>-<i>`` (the pool name made DNS-safe; ``ValueError`` past 63 characters)."""
    name = f"{run_prefix(run_id)}-{_dns(pool)}-{index}"
    if len(name) > 63:
        raise ValueError(f"node name {name!r} is longer than 63 characters; use a shorter pool name")
    return name


def simulation_name(run_id: str, seq: int) -> str:
    """``sa-<run>-<seq>``, seq written with 6 digits."""
    return f"{run_prefix(run_id)}-{seq:06d}"


def trace_file_name(simulation: str) -> str:
    """The trace file of a Simulation in the store: ``<simulation>.sktrace``."""
    return f"{simulation}.sktrace"


def virtual_namespace(prefix: str, namespace: str) -> str:
    """SimKube's simulated namespace: ``<prefix>-<namespace>``."""
    return f"{prefix}-{namespace}"


#: Kinds without a namespace: the driver makes no virtual namespace for them.
CLUSTER_SCOPED_KINDS = frozenset({
    "PriorityClass", "Namespace", "Node", "ClusterRole", "ClusterRoleBinding", "StorageClass",
    "PersistentVolume", "CustomResourceDefinition", "RuntimeClass",
})


def virtual_namespaces(applied_objects: Iterable[dict[str, Any]], prefix: str) -> list[str]:
    """The virtual namespaces the driver makes for these applied objects, sorted: ``<prefix>-<ns>``
    for each namespace (``default`` when unset) of a namespaced object."""
    namespaces = {(o.get("metadata") or {}).get("namespace") or "default"
                  for o in applied_objects if o.get("kind") not in CLUSTER_SCOPED_KINDS}
    return sorted(virtual_namespace(prefix, ns) for ns in namespaces)


def label_value(text: str) -> str:
    """``text`` as a valid label value: other characters become ``-``, cut to 63, alphanumeric ends."""
    value = _NOT_LABEL.sub("-", text)[:63]
    return value.strip("-_.")


def run_labels(run_id: str, instance: str | None = None) -> dict[str, str]:
    """The labels every object of the run carries (``sim-arena.io/instance`` when ``instance`` is given)."""
    labels = {LABEL_RUN: _check(run_id), LABEL_MANAGED_BY: MANAGED_BY}
    if instance:
        labels[LABEL_INSTANCE] = instance
    return labels


def run_selector(run_id: str) -> str:
    """Label selector of the run's objects."""
    return f"{LABEL_RUN}={_check(run_id)}"

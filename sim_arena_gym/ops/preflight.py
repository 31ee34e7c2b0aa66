"""Preflight: is this cluster ready for the simkube backend? Each check says what it found and, when
it fails, the command that fixes it.

:func:`preflight` runs, in order: the kubeconfig and context, the API server reachable, its version
(>= 1.30), the ``simulations.simkube.io`` CRD (serving ``v1`` with the fields the backend sends), the
SimKube controller (``sk-ctrl-depl`` available), the namespaces sk-ctrl needs (``monitoring``, the
driver's), cert-manager with its ``selfsigned`` ClusterIssuer Ready, KWOK's controller available, one
SelfSubjectAccessReview per verb and resource the backend uses (a line per resource), and the trace
store (a folder that exists and takes a file), and, when all of those pass, the trace store mounted
(a probe step: one Simulation of a one-pod trace through the simkube backend on one small KWOK node,
which works only if the driver reads the file the backend wrote). When the cluster cannot be reached
the cluster checks are reported as skipped. Nothing is left behind (the probe's files and objects
are deleted, as after any step).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from sim_arena_gym.backends.base import BackendError
from sim_arena_gym.backends.simkube_client import KubeCalls, kubeconfig_path, open_api_client
from sim_arena_gym.backends.simkube_options import SimKubeOptions

__all__ = ["Check", "PreflightReport", "REQUIRED_PERMISSIONS", "preflight"]

#: Lowest Kubernetes minor version (1.x) the backend is tested against.
MIN_MINOR = 30
CRD_NAME = "simulations.simkube.io"
CONTROLLER_DEPLOYMENT = "sk-ctrl-depl"
KWOK_NAMESPACE, KWOK_DEPLOYMENT = "kube-system", "kwok-controller"
MONITORING_NAMESPACE = "monitoring"
CLUSTER_ISSUER = "selfsigned"

#: (API group, resource, verbs) the backend uses; ``nodes/status`` is a subresource.
REQUIRED_PERMISSIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("", "nodes", ("create", "delete", "list")),
    ("", "nodes/status", ("patch",)),
    ("", "namespaces", ("get", "list", "watch", "patch", "delete")),
    ("", "pods", ("list",)),
    ("", "events", ("list",)),
    ("coordination.k8s.io", "leases", ("get",)),
    ("simkube.io", "simulations", ("create", "get", "list", "watch", "delete")),
    ("apps", "deployments", ("list",)),
    ("apps", "statefulsets", ("list",)),
    ("apps", "daemonsets", ("list",)),
    ("batch", "jobs", ("list",)),
    ("batch", "cronjobs", ("list",)),
)

#: Fields of ``spec`` (dotted) the backend sends in every Simulation.
SENT_FIELDS = ("driver.image", "driver.namespace", "driver.port", "driver.tracePath", "driver.virtualNsPrefix",
               "lifecycleParams", "speed", "duration")

SIMKUBE_INSTALL = "kubectl apply -k k8s/kustomize/sim   # in a SimKube checkout (docs/SIMKUBE.md step 5)"


@dataclass(frozen=True)
class Check:
    """One preflight check: ``status`` is ``"pass"``, ``"fail"`` or ``"skip"``; ``fix`` a command ("" when it passed)."""

    name: str
    status: str
    found: str
    fix: str = ""


@dataclass
class PreflightReport:
    """Every check, in order."""

    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every check passed."""
        return all(c.status == "pass" for c in self.checks)

    def failed(self) -> list[Check]:
        """The checks whose status is not ``pass`` (failed and skipped ones)."""
        return [c for c in self.checks if c.status != "pass"]

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data: ``{"ok": bool, "checks": [each check's fields]}``."""
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks]}

    def text(self) -> str:
        """One line per check (``PASS``/``FAIL``/``SKIP``, name, what was found), the fix indented below."""
        width = max((len(c.name) for c in self.checks), default=0)
        lines = []
        for c in self.checks:
            lines.append(f"{c.status.upper():<4}  {c.name:<{width}}  {c.found}")
            if c.fix:
                lines.append(f"{'':<4}  {'':<{width}}  fix: {c.fix}")
        bad = len(self.failed())
        lines.append("preflight: all checks passed" if self.ok else
                     f"preflight: {bad} of {len(self.checks)} check{'s' if len(self.checks) != 1 else ''} did not pass")
        return "\n".join(lines) + "\n"


def _options(values: Mapping[str, Any] | SimKubeOptions) -> SimKubeOptions:
    if isinstance(values, SimKubeOptions):
        return values
    return SimKubeOptions.from_mapping(values, require_trace_store=False)


def preflight(options: Mapping[str, Any] | SimKubeOptions, *, probe: bool = True) -> PreflightReport:
    """Run every check against the cluster ``options`` (simkube backend options) point at. With
    ``probe`` (and every other check passed) the last check runs one tiny Simulation through the
    backend, which proves the driver reads the trace store."""
    opts = _options(options)
    report = PreflightReport()
    add = report.checks.append
    cluster_names = ("server version", "Simulation CRD", "SimKube controller", f"namespace {MONITORING_NAMESPACE}",
                     f"namespace {opts.driver_namespace}", "cert-manager", "KWOK", "permissions")
    path = kubeconfig_path(opts)
    api = None
    try:
        api = open_api_client(opts)
    except BackendError as exc:
        fix = (f"kind get kubeconfig > {path}" if not Path(path).is_file()
               else f"kubectl --kubeconfig {path} config get-contexts")
        add(Check("kubeconfig", "fail", str(exc).split(":", 1)[0] if "not found" in str(exc) else str(exc), fix))
    if api is not None:
        server = api.configuration.host
        context = opts.context or _current_context(path)
        add(Check("kubeconfig", "pass", f"{path}, context {context}, server {server}"))
        try:
            _cluster_checks(api, server, opts, add)
        finally:
            api.close()
    else:
        add(Check("cluster reachable", "skip", "no kubeconfig to connect with"))
    if not any(c.name == "server version" for c in report.checks):
        for name in cluster_names:
            add(Check(name, "skip", "the cluster could not be reached"))
    store = _trace_store_check(opts)
    add(store)
    if not probe:
        add(Check("trace store mounted", "skip", "not probed (--no-probe)"))
    elif not report.ok:
        add(Check("trace store mounted", "skip", "probed only when every other check passes"))
    else:
        add(_mount_probe(opts))
    return report


def _current_context(path: str) -> str:
    try:
        from kubernetes import config

        _, active = config.list_kube_config_contexts(config_file=path)
        return str(active["name"])
    except Exception:  # noqa: BLE001 - only for the message
        return "(current)"


def _cluster_checks(api: Any, server: str, opts: SimKubeOptions, add: Callable[[Check], None]) -> None:
    from kubernetes import client

    calls = KubeCalls(server, opts.request_timeout)
    try:
        version = calls.call("read /version", client.VersionApi(api).get_code, _preload_content=False)
    except BackendError as exc:
        add(Check("cluster reachable", "fail", f"{server}: {str(exc).split(' (', 1)[-1].split(')', 1)[0]}",
                  f"kind get clusters && kubectl --kubeconfig {kubeconfig_path(opts)} cluster-info"))
        return
    info = json.loads(version.data)
    add(Check("cluster reachable", "pass", f"{server} answers"))
    git_version = str(info.get("gitVersion", "?"))
    minor = int(re.sub(r"\D.*$", "", str(info.get("minor", "0"))) or 0)
    if str(info.get("major")) == "1" and minor >= MIN_MINOR:
        add(Check("server version", "pass", git_version))
    else:
        add(Check("server version", "fail", f"{git_version} (need 1.{MIN_MINOR} or later)",
                  f"kind create cluster --image kindest/node:v1.{MIN_MINOR}.0"))
    core, custom, apps = client.CoreV1Api(api), client.CustomObjectsApi(api), client.AppsV1Api(api)
    ext = client.ApiextensionsV1Api(api)

    def get(what: str, fn: Callable[..., Any], *args: Any) -> dict[str, Any] | None:
        resp = calls.call(what, fn, *args, ok404=True, _preload_content=False)
        return None if resp is None else json.loads(resp.data)

    def guarded(name: str, body: Callable[[], Check]) -> None:
        try:
            add(body())
        except BackendError as exc:
            add(Check(name, "fail", str(exc), "see the message"))

    guarded("Simulation CRD", lambda: _crd_check(get("read the CRD " + CRD_NAME, ext.read_custom_resource_definition, CRD_NAME)))
    guarded("SimKube controller", lambda: _deployment_check(
        "SimKube controller", get(f"read deployment {CONTROLLER_DEPLOYMENT}", apps.read_namespaced_deployment,
                                  CONTROLLER_DEPLOYMENT, opts.controller_namespace),
        f"{opts.controller_namespace}/{CONTROLLER_DEPLOYMENT}", SIMKUBE_INSTALL,
        f"kubectl -n {opts.controller_namespace} describe deploy/{CONTROLLER_DEPLOYMENT}; "
        f"kubectl -n {opts.controller_namespace} logs deploy/{CONTROLLER_DEPLOYMENT}"))
    for ns in dict.fromkeys((MONITORING_NAMESPACE, opts.driver_namespace)):
        guarded(f"namespace {ns}", lambda ns=ns: Check(f"namespace {ns}", "pass", "exists")
                if get(f"read namespace {ns}", core.read_namespace, ns) is not None
                else Check(f"namespace {ns}", "fail", "missing", f"kubectl create namespace {ns}"))
    guarded("cert-manager", lambda: _issuer_check(get(f"read ClusterIssuer {CLUSTER_ISSUER}", custom.get_cluster_custom_object,
                                                      "cert-manager.io", "v1", "clusterissuers", CLUSTER_ISSUER)))
    guarded("KWOK", lambda: _deployment_check(
        "KWOK", get(f"read deployment {KWOK_DEPLOYMENT}", apps.read_namespaced_deployment, KWOK_DEPLOYMENT, KWOK_NAMESPACE),
        f"{KWOK_NAMESPACE}/{KWOK_DEPLOYMENT}",
        "kubectl apply -f https://github.com/kubernetes-sigs/kwok/releases/download/v0.7.0/kwok.yaml "
        "-f https://github.com/kubernetes-sigs/kwok/releases/download/v0.7.0/stage-fast.yaml",
        f"kubectl -n {KWOK_NAMESPACE} logs deploy/{KWOK_DEPLOYMENT}"))
    auth = client.AuthorizationV1Api(api)
    for group, resource, verbs in REQUIRED_PERMISSIONS:
        guarded(f"permissions {resource}", lambda group=group, resource=resource, verbs=verbs:
                _permission_check(calls, auth, opts, group, resource, verbs))


def _schema_has(schema: dict[str, Any], dotted: str) -> bool:
    node = schema
    for part in dotted.split("."):
        if node.get("x-kubernetes-preserve-unknown-fields"):
            return True
        props = node.get("properties") or {}
        if part not in props:
            return False
        node = props[part]
    return True


def _crd_check(crd: dict[str, Any] | None) -> Check:
    name = "Simulation CRD"
    if crd is None:
        return Check(name, "fail", f"{CRD_NAME} is not installed", SIMKUBE_INSTALL)
    versions = {v.get("name"): v for v in (crd.get("spec") or {}).get("versions") or ()}
    v1 = versions.get("v1")
    if v1 is None or not v1.get("served"):
        return Check(name, "fail", f"{CRD_NAME} does not serve v1 (versions: {', '.join(map(str, versions)) or 'none'})",
                     SIMKUBE_INSTALL + " (SimKube >= 2.7)")
    spec_schema = (((v1.get("schema") or {}).get("openAPIV3Schema") or {}).get("properties") or {}).get("spec")
    root = (v1.get("schema") or {}).get("openAPIV3Schema") or {}
    if spec_schema is None and root.get("x-kubernetes-preserve-unknown-fields"):
        spec_schema = {"x-kubernetes-preserve-unknown-fields": True}
    missing = [f for f in SENT_FIELDS if spec_schema is None or not _schema_has(spec_schema, f)]
    if missing:
        return Check(name, "fail", f"{CRD_NAME} v1 lacks spec.{', spec.'.join(missing)} (an older SimKube)",
                     SIMKUBE_INSTALL + " (SimKube >= 2.7)")
    return Check(name, "pass", f"{CRD_NAME} serves v1 with every field the backend sends")


def _deployment_check(name: str, dep: dict[str, Any] | None, where: str, install: str, inspect: str) -> Check:
    if dep is None:
        return Check(name, "fail", f"deployment {where} not found", install)
    available = int((dep.get("status") or {}).get("availableReplicas") or 0)
    wanted = int((dep.get("spec") or {}).get("replicas", 1) or 0)
    if available < 1:
        return Check(name, "fail", f"deployment {where}: {available} of {wanted} replicas available",
                     f"kubectl -n {where.split('/')[0]} scale deploy/{where.split('/')[1]} --replicas 1; {inspect}")
    return Check(name, "pass", f"deployment {where}: {available} replica{'s' if available != 1 else ''} available")


def _issuer_check(issuer: dict[str, Any] | None) -> Check:
    name = "cert-manager"
    if issuer is None:
        return Check(name, "fail", f"no ClusterIssuer {CLUSTER_ISSUER} (or cert-manager is not installed)",
                     "kubectl apply -f https://github.com/cert-manager/cert-manager/releases/download/v1.14.3/cert-manager.yaml; "
                     "echo '{\"apiVersion\":\"cert-manager.io/v1\",\"kind\":\"ClusterIssuer\",\"metadata\":{\"name\":\"selfsigned\"},"
                     "\"spec\":{\"selfSigned\":{}}}' | kubectl apply -f -")
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in (issuer.get("status") or {}).get("conditions") or ())
    if not ready:
        return Check(name, "fail", f"ClusterIssuer {CLUSTER_ISSUER} is not Ready",
                     f"kubectl describe clusterissuer {CLUSTER_ISSUER}; kubectl -n cert-manager logs deploy/cert-manager")
    return Check(name, "pass", f"ClusterIssuer {CLUSTER_ISSUER} Ready")


def _permission_check(calls: KubeCalls, auth: Any, opts: SimKubeOptions, group: str, resource: str,
                      verbs: tuple[str, ...]) -> Check:
    plural, _, sub = resource.partition("/")
    namespace = opts.controller_namespace if plural == "leases" else None
    denied = []
    for verb in verbs:
        attrs: dict[str, Any] = {"verb": verb, "group": group, "resource": plural}
        if sub:
            attrs["subresource"] = sub
        if namespace:
            attrs["namespace"] = namespace
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attrs}}
        resp = calls.call(f"review access to {verb} {resource}", auth.create_self_subject_access_review, body,
                          _preload_content=False)
        if not (json.loads(resp.data).get("status") or {}).get("allowed"):
            denied.append(verb)
    full = f"{resource}.{group}" if group else resource
    if denied:
        return Check(f"permissions {resource}", "fail", f"may not {', '.join(denied)} {full}",
                     f"kubectl create clusterrolebinding sim-arena-{plural} --clusterrole cluster-admin --user $(kubectl auth whoami -o jsonpath='{{.status.userInfo.username}}')")
    return Check(f"permissions {resource}", "pass", f"may {', '.join(verbs)} {full}")


def _trace_store_check(opts: SimKubeOptions) -> Check:
    name = "trace store"
    store = opts.trace_store
    if not store:
        return Check(name, "fail", "no trace store given", "pass --trace-store DIR (the host folder a kind node mounts at /data)")
    path = Path(os.path.expanduser(store))
    if not path.is_dir():
        return Check(name, "fail", f"{path} is not a folder", f"mkdir -p {path}  # and mount it on the kind node at /data")
    probe = path / f".sa-preflight-{secrets.token_hex(4)}.probe"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"sim-arena preflight\n")
            fh.flush()
            os.fsync(fh.fileno())
        ok = probe.read_bytes() == b"sim-arena preflight\n"
    except OSError as exc:
        return Check(name, "fail", f"{path} is not writable ({exc.strerror})", f"chmod u+w {path}")
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    if not ok:
        return Check(name, "fail", f"{path}: a file written there read back differently", f"check the file system of {path}")
    return Check(name, "pass", f"{path} writable; the driver reads it as {opts.trace_store_url}")


def _mount_probe(opts: SimKubeOptions) -> Check:
    """One backend step on a one-pod trace: the driver must read it from the trace store."""
    from dataclasses import replace

    from sim_arena_gym.backends.simkube import SimKubeBackend
    from sim_arena_gym.scenarios.model import NodePool, Scenario
    from sim_arena_gym.trace.builders import build_trace, container, deployment, pod_spec
    from sim_arena_gym.trace.refs import WorkloadRef

    name = "trace store mounted"
    trace = build_trace([(0, [deployment("sa-probe", pod_spec([container("probe", cpu="10m", memory="16Mi")]),
                                         replicas=1)], [])])
    scenario = Scenario(id="preflight-probe", trace_path=None, workload=WorkloadRef("Deployment", "default", "sa-probe"),
                        node_pools=(NodePool(count=1, cpu="1", memory="1Gi"),), trace=trace)
    probe_opts = replace(opts, settle_seconds=min(opts.settle_seconds, 1.0), lease_timeout=min(opts.lease_timeout, 60.0),
                         keep_simulations=False, instance="preflight")
    backend = SimKubeBackend(**{f: getattr(probe_opts, f) for f in probe_opts.__dataclass_fields__})
    try:
        outcome = backend.run(trace, scenario)
    except BackendError as exc:
        return Check(name, "fail", f"a probe Simulation did not run: {exc}",
                     f"mount {opts.trace_store} on the kind worker at /data (extraMounts hostPath) or set "
                     "--trace-store-url to where the driver sees it")
    finally:
        backend.close()
    pods = len(outcome.pods)
    return Check(name, "pass", f"the driver read a probe trace from {opts.trace_store_url} ({pods} pod replayed)")

"""A fake Kubernetes cluster with SimKube: an API server over HTTP on 127.0.0.1 whose Simulations
replay on the embedded simulator.

Use it as a context manager::

    with FakeCluster() as cluster:
        env = gym.make("SimArena-InsufficientResources-v0", backend="simkube",
                       backend_options=cluster.backend_options(speed=10000))

``cluster.kubeconfig`` is a kubeconfig file for any Kubernetes client, ``cluster.trace_store`` the
folder the driver reads ``file:///data/NAME`` from, ``cluster.url`` the server. ``cluster.faults``
injects failures (:mod:`~sim_arena_gym.testing.fake_cluster.faults`); ``cluster.store`` holds every
object. Modules: ``store`` (objects, resourceVersion, history), ``selectors``, ``resources``
(served types and discovery), ``server`` (HTTP, verbs, watch streams), ``simkube`` (sk-ctrl +
sk-driver + KWOK on the embedded simulator), ``faults``.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sim_arena_gym.testing.fake_cluster.faults import Faults, RequestFault
from sim_arena_gym.testing.fake_cluster.resources import CORE, GROUPS, simkube_crds
from sim_arena_gym.testing.fake_cluster.server import ApiServer
from sim_arena_gym.testing.fake_cluster.simkube import SimKubeEmulator
from sim_arena_gym.testing.fake_cluster.store import ApiError, Store

__all__ = ["ApiError", "FakeCluster", "Faults", "RequestFault"]

#: Namespaces a fresh fake cluster has.
BASE_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "simkube", "monitoring", "cert-manager")
#: Deployments a fresh fake cluster has (namespace, name): sk-ctrl, KWOK's controller and cert-manager, all available.
BASE_DEPLOYMENTS = (("simkube", "sk-ctrl-depl"), ("kube-system", "kwok-controller"), ("cert-manager", "cert-manager"))


class FakeCluster:
    """The fake cluster (see the module docstring).

    Args:
        port: TCP port on 127.0.0.1 (0: any free port).
        trace_store: folder the driver reads traces from (default: a temporary folder, removed on close).
        kubeconfig_path: where to write the kubeconfig (default: inside a temporary folder).
        data_mount: the path under which the driver sees ``trace_store`` (``/data``, as a kind node's
            ``extraMounts`` entry).
        history_limit: changes kept for watches; older resourceVersions are expired (410).
    """

    def __init__(self, port: int = 0, trace_store: str | Path | None = None, kubeconfig_path: str | Path | None = None,
                 *, data_mount: str = "/data", history_limit: int = 10_000) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="sim-arena-fake-cluster-"))
        self.trace_store = Path(trace_store) if trace_store is not None else self._tmp / "traces"
        self.trace_store.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = Path(kubeconfig_path) if kubeconfig_path is not None else self._tmp / "kubeconfig"
        self.data_mount = data_mount
        self.token = secrets.token_hex(16)
        self.store = Store(history_limit=history_limit)
        self.faults = Faults()
        self.emulator = SimKubeEmulator(self.store, self.faults, self.trace_store, data_mount=data_mount)
        try:
            self.server = ApiServer(self.store, self.faults, self.token, port)
        except OSError:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        self.server.before_request.append(self.emulator.catch_up)
        ns_type = CORE[0]
        for ns in BASE_NAMESPACES:
            self.store.create(ns_type, None, {"metadata": {"name": ns}, "status": {"phase": "Active"}})
        self._crd_type = GROUPS["apiextensions.k8s.io"][1][0]
        for crd in simkube_crds():
            self.store.create(self._crd_type, None, crd)
        self._deployment_type = GROUPS["apps"][1][0]
        for namespace, name in BASE_DEPLOYMENTS:
            self.store.create(self._deployment_type, namespace, {
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"replicas": 1},
                "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1},
            })
        self.store.create(GROUPS["cert-manager.io"][1][0], None, {
            "metadata": {"name": "selfsigned"}, "spec": {"selfSigned": {}},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "IsReady"}]},
        })
        self._started = False
        self._closed = False

    @property
    def url(self) -> str:
        """The API server's base URL (``http://127.0.0.1:<port>``)."""
        return self.server.url

    @property
    def context(self) -> str:
        """The kubeconfig context name the cluster writes (``fake-cluster``)."""
        return "fake-cluster"

    def start(self) -> "FakeCluster":
        """Write the kubeconfig and start the API server (once); returns ``self``."""
        if not self._started:
            self._write_kubeconfig()
            self.server.start()
            self._started = True
        return self

    def _write_kubeconfig(self) -> None:
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake-cluster", "cluster": {"server": self.url}}],
            "users": [{"name": "fake-user", "user": {"token": self.token}}],
            "contexts": [{"name": self.context, "context": {"cluster": "fake-cluster", "user": "fake-user"}}],
            "current-context": self.context,
        }
        from sim_arena_gym.trace.files import atomic_write  # the write policy: no devices, no symlinks

        self.kubeconfig.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.kubeconfig, (json.dumps(doc, indent=2) + "\n").encode(), overwrite=True)

    def backend_options(self, **overrides: Any) -> dict[str, Any]:
        """``backend_options`` for the simkube backend pointed at this cluster (fast timing by
        default: ``speed`` 10000, so that gaps under 10000 s cost no sleep, and settling 0.02 s); ``overrides`` win."""
        options: dict[str, Any] = {
            "kubeconfig": str(self.kubeconfig),
            "context": self.context,
            "trace_store": str(self.trace_store),
            "trace_store_url": f"file://{self.data_mount}",
            "speed": 10000.0,
            "settle_seconds": 0.02,
        }
        options.update(overrides)
        return options

    def uninstall_simkube(self) -> None:
        """Remove SimKube's CRDs: ``simkube.io`` is no longer served (as before ``kubectl apply -k
        k8s/kustomize/sim``)."""
        self.faults.missing_crd = True
        for crd in simkube_crds():
            try:
                self.store.delete(self._crd_type, None, crd["metadata"]["name"])
            except ApiError:
                pass

    def stop_controller(self) -> None:
        """Scale sk-ctrl to zero (as ``kubectl -n simkube scale deploy/sk-ctrl-depl --replicas 0``): new
        Simulations are stored but nothing reconciles them."""
        self.faults.controller_stopped = True
        self.store.patch(self._deployment_type, "simkube", "sk-ctrl-depl", {"spec": {"replicas": 0}})
        self.store.patch(self._deployment_type, "simkube", "sk-ctrl-depl",
                         {"status": {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0}}, subresource="status")

    def remove_namespace(self, name: str) -> None:
        """Delete namespace ``name`` and everything in it (``kubectl delete namespace NAME``)."""
        self.store.delete(CORE[0], None, name)

    def snapshot(self) -> set[tuple[str, str, str]]:
        """Keys (resource, namespace, name) of every object now stored."""
        return self.store.snapshot()

    def close(self) -> None:
        """Stop the emulator and the API server and remove the temporary files it made (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.emulator.close()
        self.server.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "FakeCluster":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

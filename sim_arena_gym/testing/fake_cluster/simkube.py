"""sk-ctrl + sk-driver + KWOK + the scheduler, emulated on the embedded simulator.

When a ``simkube.io/v1`` Simulation is created, a thread plays its life:

1. ``Initializing`` (for :attr:`Faults.initializing_s`), then ``Retrying`` for
   :attr:`Faults.retrying_s` if set; a Simulation the fault plan fails goes ``Failed`` here.
2. ``Blocked`` while another simulation holds the Lease ``sk-lease`` in the controller namespace
   (one Simulation at a time, as sk-ctrl has it), then takes the lease; ``Paused`` while
   ``spec.pausedTime`` is set; then ``Running``.
3. The driver reads ``spec.driver.tracePath`` (``file://<mount>/NAME`` is ``<trace store>/NAME``), waits
   :attr:`Faults.driver_startup_s`, creates the SimulationRoot ``sk-<sim>-driver-root`` and, at the first
   event, the virtual namespaces ``<virtualNsPrefix>-<namespace>`` (label ``simkube.io/virtual=true``,
   owned by the root).
4. After the driver's sleeps (``int((next_ts - ts) / speed)`` whole seconds after each event, so
   nothing at all when every gap is shorter than ``speed`` seconds) it materialises the replay's end
   state in one step: the workloads (with status), ReplicaSets / Jobs, pods (phase, conditions, container
   states) and ``FailedScheduling`` events. The replay is the embedded simulator's, on the nodes that
   exist in the fake cluster at that moment (each node a one-node pool).
5. At ``duration / speed`` seconds after the first event (``spec.duration``, ``+5m`` style; the trace
   span when absent) the driver deletes its root: the garbage collector removes every simulated
   object and virtual namespace. The lease is released and the state is ``Finished``.

Timed steps (the end state, the root deletion) run when the simulation's thread wakes, or earlier
when a request arrives after their time (:meth:`SimKubeEmulator.catch_up`): what a client reads
never lags the clock, however the threads are scheduled on a busy machine.

Deleting the Simulation stops the thread at once and removes what it made (the root is owned by the
Simulation, so the garbage collector takes everything with it).

Simplifications, none of which the backend can observe through the objects it reads: no driver Job,
Service, webhook or certificate objects are made; events are replayed at once into the end state
(intermediate states of a trace with long gaps are not shown); pod names and template hashes are the
embedded simulator's; each fake node is replayed as a one-node pool (its hostname label in the replay is
``<name>-0``, which matters only to affinity on exact hostnames). Usage floors are not a
SimKube concept: a workload annotated ``sim-arena.io/usage-floors`` (JSON, per container) gets the
embedded simulator's OOMKilled / throttled verdicts, as a custom KWOK stage would give them.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from sim_arena_gym.backends.embedded import EmbeddedBackend
from sim_arena_gym.backends.simkube_names import (
    ANNOTATION_KWOK_NODE,
    LABEL_HOSTNAME,
    LABEL_NODE_TYPE,
    NODE_TYPE_VIRTUAL,
    TAINT_KWOK_PROVIDER,
    ANNOTATION_ORIGINAL_NAMESPACE,
    ANNOTATION_USAGE_FLOORS,
    LABEL_SIMKUBE_SIMULATION,
    LABEL_SIMKUBE_VIRTUAL,
    LEASE_NAME,
    virtual_namespaces,
)
from sim_arena_gym.backends.simkube_pods import pod_request_of
from sim_arena_gym.backends.simkube_timing import parse_duration, replay_seconds
from sim_arena_gym.scenarios.model import NodePool, Scenario, Taint
from sim_arena_gym.sim.outcome import PENDING, RUNNING, ClusterOutcome, PodOutcome
from sim_arena_gym.testing.fake_cluster.faults import Faults
from sim_arena_gym.testing.fake_cluster.resources import CORE, GROUPS, SIMKUBE_GROUP
from sim_arena_gym.testing.fake_cluster.store import ApiError, Change, Store, now_rfc3339
from sim_arena_gym.trace.codec import load_trace
from sim_arena_gym.trace.model import Trace
from sim_arena_gym.trace.refs import WorkloadRef

__all__ = ["SimKubeEmulator", "applied_objects", "pod_template", "template_that_made", "validate_simulation"]

_T = {t.plural: t for t in CORE}
for _g, (_v, _types) in GROUPS.items():
    for _t in _types:
        _T[_t.plural] = _t
SIM, ROOT, NS, NODE, POD, EVENT, LEASE = (
    _T["simulations"], _T["simulationroots"], _T["namespaces"], _T["nodes"], _T["pods"], _T["events"], _T["leases"]
)
_KIND_TYPES = {"Deployment": _T["deployments"], "StatefulSet": _T["statefulsets"], "DaemonSet": _T["daemonsets"],
               "Job": _T["jobs"], "CronJob": _T["cronjobs"], "ReplicaSet": _T["replicasets"]}


class _Stopped(Exception):
    """The Simulation was deleted (or the cluster is shutting down)."""


class _Due:
    """An action due at a monotonic time, run at most once, by whichever thread comes first."""

    __slots__ = ("at", "action", "done", "lock")

    def __init__(self, at: float, action: Callable[[], None]) -> None:
        self.at = at
        self.action = action
        self.done = False
        self.lock = threading.Lock()

    def run(self) -> None:
        with self.lock:
            if self.done:
                return
            self.done = True
            self.action()


def validate_simulation(body: dict[str, Any]) -> None:
    """The CRD's schema checks that matter (422 Invalid, as the API server answers)."""
    spec = body.get("spec")
    problems = []
    if not isinstance(spec, dict):
        problems.append("spec: Required value")
    else:
        driver = spec.get("driver")
        if not isinstance(driver, dict):
            problems.append("spec.driver: Required value")
        else:
            for field in ("image", "namespace", "port", "tracePath"):
                if field not in driver:
                    problems.append(f"spec.driver.{field}: Required value")
        if "lifecycleParams" not in spec:
            problems.append("spec.lifecycleParams: Required value")
    if problems:
        name = (body.get("metadata") or {}).get("name", "")
        raise ApiError(422, "Invalid", f'Simulation.simkube.io "{name}" is invalid: ' + ", ".join(problems))


def _node_pool(node: dict[str, Any]) -> NodePool:
    """A fake-cluster node as a one-node pool (its node is named ``<name>-0`` by the simulator)."""
    meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
    alloc = status.get("allocatable") or status.get("capacity") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != LABEL_HOSTNAME}
    taints = tuple(Taint(t["key"], str(t.get("value", "")), t.get("effect", "NoSchedule")) for t in spec.get("taints") or ())
    return NodePool(
        count=1, cpu=str(alloc.get("cpu", "")), memory=str(alloc.get("memory", "")),
        pods=int(alloc.get("pods", 110)), labels=labels, taints=taints, name=meta["name"],
        ephemeral_storage=alloc.get("ephemeral-storage"),
    )


class SimKubeEmulator:
    """The Simulation lifecycle over ``store`` (see the module docstring)."""

    def __init__(self, store: Store, faults: Faults, trace_store: Path, *, data_mount: str = "/data",
                 controller_namespace: str = "simkube") -> None:
        self.store = store
        self.faults = faults
        self.trace_store = Path(trace_store)
        self.data_mount = data_mount.rstrip("/")
        self.controller_namespace = controller_namespace
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._stops: dict[str, threading.Event] = {}
        self._lease: str | None = None
        self._due: dict[str, _Due] = {}
        self._backend = EmbeddedBackend()
        self._pools: tuple[tuple[tuple[str, str], ...], tuple[NodePool, ...]] | None = None
        self.closed = False
        store.hooks.append(self._on_change)

    # -- lifecycle -----------------------------------------------------------------------------

    def _on_change(self, change: Change) -> None:
        if change.rtype is NODE:
            self._kwok_node(change)
            return
        if change.rtype is not SIM:
            return
        name = change.obj["metadata"]["name"]
        if change.type == "ADDED" and not self.closed and not self.faults.controller_stopped:
            stop = threading.Event()
            thread = threading.Thread(target=self._life, args=(name, change.obj, stop),
                                      name=f"fake-simkube-{name}", daemon=True)
            with self._lock:
                self._stops[name] = stop
                self._threads[name] = thread
            thread.start()
        elif change.type == "DELETED":
            with self._lock:
                stop = self._stops.get(name)
            if stop is not None:
                stop.set()
            self._release_lease(name)  # at once, as the garbage collector removes the root

    def _kwok_node(self, change: Change) -> None:
        """KWOK's node stages: a node annotated ``kwok.x-k8s.io/node: fake`` becomes Ready."""
        obj = change.obj
        if change.type == "DELETED" or ((obj.get("metadata") or {}).get("annotations") or {}).get(
                ANNOTATION_KWOK_NODE) != "fake":
            return
        status = obj.get("status") or {}
        if any(c.get("type") == "Ready" for c in status.get("conditions") or ()):
            return
        now = now_rfc3339()
        patch: dict[str, Any] = {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                                 "message": "kwok node is ready", "lastTransitionTime": now}]}
        if not status.get("allocatable") and status.get("capacity"):
            patch["allocatable"] = status["capacity"]
        self.store.patch(NODE, None, obj["metadata"]["name"], {"status": patch}, subresource="status")

    def close(self) -> None:
        self.closed = True
        with self._lock:
            stops = list(self._stops.values())
            threads = list(self._threads.values())
        for s in stops:
            s.set()
        for t in threads:
            t.join(timeout=10)

    def _run_when_due(self, name: str, stop: threading.Event, at: float, action: Callable[[], None]) -> None:
        """Run ``action`` at monotonic time ``at``: here, when this thread wakes, or earlier in
        :meth:`catch_up` by a request that arrives after ``at``."""
        due = _Due(at, action)
        with self._lock:
            self._due[name] = due
        self._wait(stop, at - time.monotonic())
        due.run()

    def catch_up(self) -> None:
        """Run every action that is due (called before each API request is answered), so that a
        reader never sees the cluster behind the clock, however late the threads are scheduled."""
        now = time.monotonic()
        with self._lock:
            due = [d for d in self._due.values() if d.at <= now and not d.done]
        for d in due:
            d.run()

    def _wait(self, stop: threading.Event, seconds: float) -> None:
        if seconds > 0 and stop.wait(seconds):
            raise _Stopped
        if stop.is_set():
            raise _Stopped

    def _set_status(self, name: str, **status: Any) -> None:
        try:
            self.store.patch(SIM, None, name, {"status": status}, subresource="status")
        except ApiError:
            raise _Stopped from None

    def _life(self, name: str, sim: dict[str, Any], stop: threading.Event) -> None:
        root_uid: list[str] = []
        try:
            self._set_status(name, observedGeneration=1, state="Initializing")
            self._wait(stop, self.faults.initializing_s)
            if self.faults.retrying_s > 0:
                self._set_status(name, state="Retrying")
                self._wait(stop, self.faults.retrying_s)
            if self.faults.take_failure():
                self._set_status(name, state="Failed", endTime=now_rfc3339(), message=self.faults.failure_message)
                return
            self._acquire_lease(name, stop)
            self._wait_while_paused(name, stop)
            sim = self.store.get(SIM, None, name)
            spec = sim.get("spec") or {}
            driver = spec.get("driver") or {}
            self._set_status(name, state="Running", startTime=now_rfc3339())
            try:
                trace = self._load(driver.get("tracePath", ""))
            except (OSError, ValueError) as exc:
                self._set_status(name, state="Failed", endTime=now_rfc3339(), message=f"driver: {exc}")
                return
            speed = float(spec.get("speed") or 1.0)
            if speed <= 0:
                self._set_status(name, state="Failed", endTime=now_rfc3339(), message=f"driver: speed {speed} must be positive")
                return
            self._wait(stop, self.faults.driver_startup_s)
            prefix = driver.get("virtualNsPrefix") or "virtual"
            # Owned by the Simulation (as sk-ctrl's metaroot is): deleting the Simulation collects it all.
            sim_owner = {"apiVersion": f"{SIMKUBE_GROUP}/v1", "kind": "Simulation", "name": name,
                         "uid": sim["metadata"]["uid"], "blockOwnerDeletion": True}
            with self.store.cond:
                if stop.is_set():
                    raise _Stopped
                root = self.store.create(ROOT, None, {"metadata": {"name": f"sk-{name}-driver-root",
                                                                   "labels": {LABEL_SIMKUBE_SIMULATION: name},
                                                                   "ownerReferences": [sim_owner]}, "spec": {}})
            root_uid.append(root["metadata"]["uid"])
            owner = {"apiVersion": f"{SIMKUBE_GROUP}/v1", "kind": "SimulationRoot", "name": root["metadata"]["name"],
                     "uid": root["metadata"]["uid"], "blockOwnerDeletion": True}
            # The replay is computed before the first event, so that the end state appears on time.
            outcome, objects = self._replay(name, trace)
            first = trace.events[0].ts if trace.events else 0
            last = trace.events[-1].ts if trace.events else 0
            namespaces = virtual_namespaces((o for e in trace.events for o in e.applied_objs), prefix)
            replay_s = replay_seconds(trace, speed)
            with self.store.cond:  # the first event: the virtual namespaces (and, without sleeps, the rest)
                t0 = time.monotonic()
                for vns in namespaces:
                    if not self.store.exists(NS, None, vns):
                        self.store.create(NS, None, {"metadata": {"name": vns, "labels": {LABEL_SIMKUBE_VIRTUAL: "true"},
                                                                  "ownerReferences": [owner]}})
                if replay_s == 0:
                    self._materialise(name, prefix, owner, outcome, objects, trace)
            if replay_s > 0:
                def end_state() -> None:
                    with self.store.cond:  # all at once: a reader sees the whole end state or none of it
                        if not stop.is_set():
                            self._materialise(name, prefix, owner, outcome, objects, trace)

                self._run_when_due(name, stop, t0 + replay_s, end_state)
            duration = parse_duration(spec["duration"]) if spec.get("duration") else float(last - first)

            def finish() -> None:
                if stop.is_set():
                    return
                self._delete_root(root)
                root_uid.clear()
                self._release_lease(name)
                try:
                    self._set_status(name, state="Finished", endTime=now_rfc3339(), completedRuns=1)
                except _Stopped:
                    pass

            self._run_when_due(name, stop, t0 + duration / speed, finish)
        except _Stopped:
            pass
        except Exception as exc:  # noqa: BLE001 - the driver Job fails; the reason goes to status
            try:
                self._set_status(name, state="Failed", endTime=now_rfc3339(), message=f"driver: {type(exc).__name__}: {exc}")
            except _Stopped:
                pass
        finally:
            if root_uid:
                try:
                    self.store.delete(ROOT, None, f"sk-{name}-driver-root")
                except ApiError:
                    pass
            self._release_lease(name)
            with self._lock:
                self._stops.pop(name, None)
                self._threads.pop(name, None)
                self._due.pop(name, None)

    def _wait_while_paused(self, name: str, stop: threading.Event) -> None:
        """``Paused`` while ``spec.pausedTime`` is set (skctl pause / resume write and clear it)."""
        paused = False
        while True:
            try:
                current = self.store.get(SIM, None, name)
            except ApiError:
                raise _Stopped from None
            if not (current.get("spec") or {}).get("pausedTime"):
                return
            if not paused:
                self._set_status(name, state="Paused")
                paused = True
            self._wait(stop, 0.01)

    # -- lease ---------------------------------------------------------------------------------

    def _acquire_lease(self, name: str, stop: threading.Event) -> None:
        blocked = False
        while True:
            holder = self.faults.lease_holder()
            with self._lock:
                if holder is None and self._lease in (None, name):
                    self._lease = name
                    break
                holder = holder or self._lease
            if not blocked:
                self._write_lease(holder)
                self._set_status(name, state="Blocked")
                blocked = True
            self._wait(stop, 0.01)
        self._write_lease(name)

    def _write_lease(self, holder: str | None) -> None:
        body = {"metadata": {"name": LEASE_NAME, "namespace": self.controller_namespace},
                "spec": {"holderIdentity": holder, "leaseDurationSeconds": 3600}}
        try:
            current = self.store.get(LEASE, self.controller_namespace, LEASE_NAME)
            current["spec"] = body["spec"]
            self.store.update(LEASE, self.controller_namespace, LEASE_NAME, current)
        except ApiError:
            try:
                self.store.create(LEASE, self.controller_namespace, body)
            except ApiError:
                pass

    def _release_lease(self, name: str) -> None:
        with self._lock:
            if self._lease != name:
                return
            self._lease = None
        try:
            self.store.delete(LEASE, self.controller_namespace, LEASE_NAME)
        except ApiError:
            pass

    # -- the replay ----------------------------------------------------------------------------

    def _load(self, trace_path: str) -> Trace:
        url = urlsplit(trace_path)
        if url.scheme != "file":
            raise ValueError(f"tracePath {trace_path!r}: the fake cluster reads file:// paths only")
        path = url.path
        if not (path == self.data_mount or path.startswith(self.data_mount + "/")):
            raise ValueError(f"tracePath {trace_path!r}: not under the node mount {self.data_mount}")
        local = self.trace_store / path[len(self.data_mount):].lstrip("/")
        if not local.is_file():
            raise ValueError(f"trace file {trace_path} not found (looked for {local})")
        return load_trace(local)

    def _node_pools(self) -> tuple[NodePool, ...]:
        nodes, _ = self.store.list(NODE)
        key = tuple((n["metadata"]["name"], n["metadata"]["resourceVersion"]) for n in nodes)
        if self._pools is not None and self._pools[0] == key:
            return self._pools[1]
        pools = tuple(_node_pool(n) for n in nodes)
        self._pools = (key, pools)
        return pools

    def _replay(self, name: str, trace: Trace) -> tuple[ClusterOutcome, dict[str, dict[str, Any]]]:
        """The embedded outcome and the last applied state of each workload (by ``Kind/ns/name``)."""
        objects, versions = applied_objects(trace)
        floors: dict[str, Any] = {}
        target = None
        for key, obj in objects.items():
            text = ((obj.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_USAGE_FLOORS)
            if text:
                floors = json.loads(text)
                target = WorkloadRef(*key.split("/", 2))
                break
        if target is None:
            first = next(iter(objects), "Deployment/default/none")
            target = WorkloadRef(*first.split("/", 2))
        scenario = Scenario(id=name, trace_path=None, workload=target, node_pools=self._node_pools(),
                            usage_floors=floors, simkube_mode=True)
        self._versions = versions
        return self._backend.run(trace, scenario), objects

    # -- materialising -------------------------------------------------------------------------

    def _virtual(self, obj: dict[str, Any], name: str, prefix: str, owner: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        out.pop("status", None)
        meta = out.setdefault("metadata", {})
        ns = meta.get("namespace") or "default"
        for k in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
            meta.pop(k, None)
        meta["namespace"] = f"{prefix}-{ns}"
        labels = meta.setdefault("labels", {})
        labels[LABEL_SIMKUBE_SIMULATION] = name
        labels["app.kubernetes.io/name"] = meta.get("name", "")[:63]
        labels[LABEL_SIMKUBE_VIRTUAL] = "true"
        meta["ownerReferences"] = [owner]
        return out

    @staticmethod
    def _owner_ref(obj: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
                "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}

    def _template(self, key: str, pod: PodOutcome) -> dict[str, Any]:
        """The pod template of ``key`` that made ``pod`` (:func:`template_that_made`)."""
        return template_that_made(self._versions.get(key, []), pod)

    def _materialise(self, name: str, prefix: str, owner: dict[str, Any], outcome: ClusterOutcome,
                     objects: dict[str, dict[str, Any]], trace: Trace) -> None:
        store = self.store
        made: dict[str, dict[str, Any]] = {}
        for key, obj in objects.items():
            rtype = _KIND_TYPES.get(str(obj.get("kind")))
            if rtype is None:
                continue
            body = self._virtual(obj, name, prefix, owner)
            wl = outcome.workloads.get(key)
            if wl is not None:
                body["status"] = {
                    "observedGeneration": 1, "replicas": wl.total, "readyReplicas": wl.ready,
                    "availableReplicas": wl.ready, "updatedReplicas": wl.updated,
                    "conditions": [{"type": c.type, "status": c.status, "reason": c.reason, "message": c.message}
                                   for c in wl.conditions],
                }
            made[key] = store.create(rtype, None, body)
        owners: dict[str, dict[str, Any]] = {}
        for pod in outcome.pods:
            kind, ns, wname = pod.workload.split("/", 2)
            vns = f"{prefix}-{ns}"
            parent = made.get(pod.workload)
            tpl = self._template(pod.workload, pod) if kind != "Pod" else pod_template(objects.get(pod.workload, {}))
            labels = dict((tpl.get("metadata") or {}).get("labels") or {})
            labels[LABEL_SIMKUBE_SIMULATION] = name
            refs: list[dict[str, Any]] = []
            if kind == "Deployment" and parent is not None:
                labels["pod-template-hash"] = pod.template_hash
                rs_name = f"{wname}-{pod.template_hash}"
                rs = owners.get(f"rs/{vns}/{rs_name}")
                if rs is None:
                    rs = owners[f"rs/{vns}/{rs_name}"] = store.create(_T["replicasets"], vns, {
                        "metadata": {"name": rs_name, "namespace": vns, "labels": labels,
                                     "ownerReferences": [self._owner_ref(parent)]},
                        "spec": {"template": tpl}})
                refs = [self._owner_ref(rs)]
            elif kind == "CronJob" and parent is not None:
                job_name = pod.name.rsplit("-", 1)[0]
                job = owners.get(f"job/{vns}/{job_name}")
                if job is None:
                    job = owners[f"job/{vns}/{job_name}"] = store.create(_T["jobs"], vns, {
                        "metadata": {"name": job_name, "namespace": vns, "ownerReferences": [self._owner_ref(parent)]},
                        "spec": {"template": tpl}})
                refs = [self._owner_ref(job)]
            elif parent is not None:
                refs = [self._owner_ref(parent)]
            else:
                refs = [owner]
            spec = copy.deepcopy(tpl.get("spec") or {})
            spec.setdefault("nodeSelector", {})[LABEL_NODE_TYPE] = NODE_TYPE_VIRTUAL
            tolerations = spec.setdefault("tolerations", [])
            if not any(t.get("key") == TAINT_KWOK_PROVIDER for t in tolerations):
                tolerations.append({"key": TAINT_KWOK_PROVIDER, "operator": "Exists", "effect": "NoSchedule"})
            node = pod.node[:-2] if pod.node and pod.node.endswith("-0") else pod.node
            if node:
                spec["nodeName"] = node
            annotations = dict((tpl.get("metadata") or {}).get("annotations") or {})
            annotations[ANNOTATION_ORIGINAL_NAMESPACE] = ns
            created = store.create(POD, vns, {
                "metadata": {"name": pod.name, "namespace": vns, "labels": labels, "annotations": annotations,
                             "ownerReferences": refs},
                "spec": spec,
                "status": _pod_status(pod),
            })
            if pod.phase == PENDING and pod.message:
                now = now_rfc3339()
                store.create(EVENT, vns, {
                    "metadata": {"name": f"{pod.name}.{uuid.uuid4().hex[:16]}", "namespace": vns},
                    "involvedObject": {"kind": "Pod", "namespace": vns, "name": pod.name,
                                       "uid": created["metadata"]["uid"], "apiVersion": "v1"},
                    "reason": "FailedScheduling", "message": pod.message, "type": "Warning", "count": 1,
                    "firstTimestamp": now, "lastTimestamp": now, "source": {"component": "default-scheduler"},
                    "reportingComponent": "default-scheduler",
                })

    def _delete_root(self, root: dict[str, Any]) -> None:
        try:
            self.store.delete(ROOT, None, root["metadata"]["name"])
        except ApiError:
            pass


def applied_objects(trace: Trace) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The last applied state of each object still present at the trace's end, and every applied
    version of each object, both by ``Kind/namespace/name``, in trace order."""
    objects: dict[str, dict[str, Any]] = {}
    versions: dict[str, list[dict[str, Any]]] = {}
    for event in trace.events:
        for obj in event.applied_objs:
            meta = obj.get("metadata") or {}
            key = f"{obj.get('kind')}/{meta.get('namespace') or 'default'}/{meta.get('name')}"
            objects[key] = obj
            versions.setdefault(key, []).append(obj)
        for obj in event.deleted_objs:
            meta = obj.get("metadata") or {}
            objects.pop(f"{obj.get('kind')}/{meta.get('namespace') or 'default'}/{meta.get('name')}", None)
    return objects, versions


def template_that_made(versions: list[dict[str, Any]], pod: PodOutcome) -> dict[str, Any]:
    """Of a workload's applied ``versions``, the pod template that made ``pod``: the latest whose
    request matches the pod's (else the latest)."""
    found: dict[str, Any] = {}
    for obj in reversed(versions):
        tpl = pod_template(obj)
        if not found:
            found = tpl
        try:
            if pod_request_of(tpl.get("spec") or {}) == (pod.cpu_request_millis, pod.memory_request_bytes):
                return tpl
        except ValueError:
            continue
    return found


def pod_template(obj: dict[str, Any]) -> dict[str, Any]:
    """The pod template of a workload object (a bare Pod's own metadata and spec)."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return {"metadata": obj.get("metadata") or {}, "spec": spec}
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    return spec.get("template") or {}


def _pod_status(pod: PodOutcome) -> dict[str, Any]:
    now = now_rfc3339()
    if pod.phase == PENDING:
        cond: dict[str, Any] = {"type": "PodScheduled", "status": "False", "lastTransitionTime": now}
        if pod.reason:
            cond["reason"] = pod.reason
        if pod.message:
            cond["message"] = pod.message
        return {"phase": "Pending", "conditions": [cond], "qosClass": "Burstable"}
    ready = "True" if pod.ready else "False"
    status: dict[str, Any] = {
        "phase": pod.phase,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": ready, "lastTransitionTime": now},
            {"type": "Ready", "status": ready, "lastTransitionTime": now},
        ],
        "startTime": now,
    }
    if pod.phase == RUNNING:
        if pod.last_state == "OOMKilled":
            status["containerStatuses"] = [{
                "name": "main", "ready": False, "restartCount": 1, "image": "fake", "imageID": "",
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
            }]
        else:
            status["containerStatuses"] = [{"name": "main", "ready": pod.ready, "restartCount": 0, "image": "fake",
                                            "imageID": "", "state": {"running": {"startedAt": now}}}]
    return status

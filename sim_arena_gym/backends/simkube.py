"""The simkube backend: run each step as a SimKube ``Simulation`` on a Kubernetes cluster.

``make_backend("simkube", **options)`` (options: :class:`~sim_arena_gym.backends.simkube_options.SimKubeOptions`)
talks to the cluster with the official ``kubernetes`` client only. One instance is one *run*
(:mod:`~sim_arena_gym.backends.simkube_names`: every object it makes carries the run id).

A step (:meth:`SimKubeBackend.run`):

1. the scenario's node pools become KWOK nodes (``v1/Node`` with ``kwok.x-k8s.io/node: fake``,
   ``type: virtual``, the run's taint ``sim-arena.io/run=<run>:NoSchedule``, the ``kwok-provider``
   taint, the pool's labels, taints and allocatable), made once per scenario and reused, removed on
   :meth:`close` or when the scenario changes;
2. the trace goes to ``<trace_store>/sa-<run>-<seq>.sktrace`` (atomically): its pod templates select
   and tolerate only the run's nodes, so runs can share a cluster, and the usage floors are an
   annotation on the target workload;
3. a Simulation ``sa-<run>-<seq>`` is created and watched through Initializing / Blocked / Retrying /
   Paused to Running (Failed is an error);
4. the virtual namespaces appear when the driver replays the first event; the backend waits the
   driver's sleeps (``int(gap / speed)`` whole seconds per gap) plus ``settle_seconds`` from then, reads pods, events and workloads, and checks the
   Simulation is still running (a read after the driver deleted its root would see nothing);
5. the Simulation and the virtual namespaces are deleted, and the backend waits until they are gone.

Every wait is bounded and its error says what it waited for and what it saw last. Every failure is
one :class:`~sim_arena_gym.backends.base.BackendError` naming the cause and the fix; on any failure
or Ctrl-C the run's objects and files are deleted first (Ctrl-C raises :class:`BackendInterrupted`,
both a ``BackendError`` and a ``KeyboardInterrupt``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from sim_arena_gym.backends.base import BackendError
from sim_arena_gym.backends.simkube_messages import without_other_runs
from sim_arena_gym.backends.simkube_names import (
    ANNOTATION_KWOK_NODE,
    LABEL_HOSTNAME,
    LABEL_NODE_TYPE,
    LABEL_MANAGED_BY,
    LABEL_RUN,
    MANAGED_BY,
    NODE_TYPE_VIRTUAL,
    TAINT_KWOK_PROVIDER,
    ANNOTATION_USAGE_FLOORS,
    LABEL_POOL,
    LABEL_SCENARIO,
    LABEL_SIMKUBE_SIMULATION,
    LEASE_NAME,
    label_value,
    new_run_id,
    node_name,
    run_labels,
    run_prefix,
    run_selector,
    simulation_name,
    trace_file_name,
    virtual_namespaces,
)
from sim_arena_gym.backends.simkube_client import KubeCalls, api_error, open_api_client, reason_of
from sim_arena_gym.backends.simkube_options import SimKubeOptionError, SimKubeOptions
from sim_arena_gym.backends.simkube_outcome import ScenarioNode, build_cluster_outcome
from sim_arena_gym.backends.simkube_timing import parse_duration, replay_seconds, simulation_duration
from sim_arena_gym.quantity import format_cpu
from sim_arena_gym.sim.outcome import ClusterOutcome
from sim_arena_gym.trace.model import Trace, TraceEvent

if TYPE_CHECKING:  # pragma: no cover  (annotations only: scenarios sit above the backends)
    from sim_arena_gym.scenarios.model import Scenario

__all__ = ["BackendInterrupted", "SimKubeBackend", "SimKubeOptionError", "SimKubeOptions"]

GROUP, VERSION, PLURAL = "simkube.io", "v1", "simulations"
_WORKLOAD_PLURALS = {"Deployment": ("apps", "deployments"), "StatefulSet": ("apps", "statefulsets"),
                     "DaemonSet": ("apps", "daemonsets"), "Job": ("batch", "jobs"), "CronJob": ("batch", "cronjobs")}


class BackendInterrupted(BackendError, KeyboardInterrupt):
    """Ctrl-C during a step: the run's objects were deleted; caught by ``except KeyboardInterrupt`` too."""


class SimKubeBackend:
    """SimKube on a cluster (see the module docstring); ``options`` as in :class:`SimKubeOptions`."""

    name = "simkube"

    def __init__(self, **options: Any) -> None:
        self.options = SimKubeOptions.from_mapping(options)
        self.run_id = new_run_id()
        self.prefix = self.options.virtual_ns_prefix or run_prefix(self.run_id)
        self._seq = 0
        self._api: Any = None
        self._nodes_key: str | None = None
        self._nodes: list[ScenarioNode] = []
        self._node_objs: dict[str, dict[str, Any]] = {}
        self._created_nodes: list[str] = []
        self._floors_cache: dict[int, tuple[Any, Mapping[str, tuple[int | None, int | None]]]] = {}
        self.server = ""
        #: seconds in plain HTTP requests, in watch streams (waiting for the cluster to change) and in
        #: deliberate sleeps (settling, polling), summed over steps (benchmarks)
        self.timing = {"http_s": 0.0, "watch_s": 0.0, "wait_s": 0.0, "steps": 0}

    # -- connection ----------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._api is not None:
            return self._api
        from kubernetes import client

        api = open_api_client(self.options)
        self.server = api.configuration.host
        self._calls = KubeCalls(self.server, self.options.request_timeout, self.timing)
        self._api = api
        self._core = client.CoreV1Api(api)
        self._custom = client.CustomObjectsApi(api)
        self._coord = client.CoordinationV1Api(api)
        self._check_cluster()
        return api

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, ok404: bool = False, **kwargs: Any) -> Any:
        """One API request; failures become a ``BackendError`` naming the cause and the fix."""
        return self._calls.call(what, fn, *args, ok404=ok404, **kwargs)

    def _api_error(self, what: str, exc: Any) -> BackendError:
        return api_error(self.server, what, exc)

    def _check_cluster(self) -> None:
        from kubernetes import client

        self._call("read /version", client.VersionApi(self._api).get_code)
        try:
            self._call(f"list {PLURAL}.{GROUP}", self._custom.list_cluster_custom_object, GROUP, VERSION, PLURAL,
                       limit=1, _preload_content=False)
        except BackendError as exc:
            if "HTTP 404" in str(exc):
                raise BackendError(
                    f"the cluster at {self.server} does not serve {GROUP}/{VERSION} {PLURAL} (SimKube's CRDs are missing); "
                    "install SimKube: `kubectl apply -k k8s/kustomize/sim` from the SimKube repository (docs/SIMKUBE.md)"
                ) from None
            raise

    # -- the protocol --------------------------------------------------------------------------

    def run(self, trace: Trace, scenario: Scenario) -> ClusterOutcome:
        """Run ``trace`` as one Simulation on ``scenario``'s nodes and read the outcome."""
        if not scenario.simkube_mode:
            raise BackendError(f"scenario {scenario.id!r} has simkube_mode off (plain nodes); SimKube's driver always "
                               "adds nodeSelector type=virtual, so run it with the embedded backend")
        try:
            self._connect()
            self._ensure_nodes(scenario)
            return self._step(trace, scenario)
        except KeyboardInterrupt:
            self._cleanup_all()
            raise BackendInterrupted(f"interrupted (Ctrl-C) during a simkube step of run {self.run_id}; "
                                     "its Simulation, virtual namespaces, nodes and trace file were deleted") from None
        except BackendError:
            self._cleanup_all()
            raise

    def close(self) -> None:
        """Delete the run's nodes and close the API client."""
        try:
            if self._api is not None:
                self._delete_nodes()
        finally:
            if self._api is not None:
                self._api.close()
                self._api = None

    # -- nodes ---------------------------------------------------------------------------------

    def _node_manifests(self, scenario: Scenario) -> list[tuple[ScenarioNode, dict[str, Any]]]:
        from sim_arena_gym.sim.nodes import build_nodes

        try:
            nodes = build_nodes(scenario.node_pools)
        except ValueError as exc:
            raise BackendError(f"scenario {scenario.id!r}: {exc}") from None
        pools = [p for p in scenario.node_pools for _ in range(p.count)]
        out = []
        for pool, node in zip(pools, nodes):
            index = int(node.name.rsplit("-", 1)[1])
            name = node_name(self.run_id, pool.name, index)
            labels = {**dict(pool.labels), LABEL_HOSTNAME: name, LABEL_NODE_TYPE: NODE_TYPE_VIRTUAL,
                      **run_labels(self.run_id, self.options.instance), LABEL_POOL: label_value(pool.name)}
            alloc = {"cpu": format_cpu(node.cpu_millis) if node.cpu_millis % 1000 else str(node.cpu_millis // 1000),
                     "memory": str(node.memory_bytes), "pods": str(node.pods)}
            if node.ephemeral_bytes:
                alloc["ephemeral-storage"] = str(node.ephemeral_bytes)
            # the run's own taint first: another run's pods fail on it before any other filter
            taints = [{"key": LABEL_RUN, "value": self.run_id, "effect": "NoSchedule"}]
            taints += [{"key": t.key, "value": t.value, "effect": t.effect} for t in node.taints]
            if not any(t["key"] == TAINT_KWOK_PROVIDER for t in taints):
                taints.append({"key": TAINT_KWOK_PROVIDER, "value": "true", "effect": "NoSchedule"})
            manifest = {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": labels, "annotations": {ANNOTATION_KWOK_NODE: "fake"}},
                "spec": {"taints": taints},
                "status": {"capacity": dict(alloc), "allocatable": dict(alloc)},
            }
            out.append((ScenarioNode(node.name, name, node.labels), manifest))
        return out

    def _ensure_nodes(self, scenario: Scenario) -> None:
        key = json.dumps([p.to_dict() for p in scenario.node_pools], sort_keys=True)
        if key == self._nodes_key:
            return
        self._delete_nodes()
        wanted = self._node_manifests(scenario)
        self._check_foreign_nodes()
        for sn, manifest in wanted:
            self._call(f"create node {sn.cluster_name}", self._core.create_node, manifest)
            self._created_nodes.append(sn.cluster_name)
            self._call(f"set the status of node {sn.cluster_name}", self._core.patch_node_status,
                       sn.cluster_name, {"status": manifest["status"]})
        self._nodes = [sn for sn, _ in wanted]
        self._node_objs = self._wait_nodes_ready([sn.cluster_name for sn in self._nodes])
        self._nodes_key = key

    def _check_foreign_nodes(self) -> None:
        if self.options.foreign_nodes == "allow":
            return
        resp = self._call("list virtual nodes", self._core.list_node, label_selector=f"{LABEL_NODE_TYPE}={NODE_TYPE_VIRTUAL}",
                          _preload_content=False)
        items = json.loads(resp.data).get("items", [])
        # Nodes of other sim-arena-gym runs are harmless: every run's pods select their own run's nodes.
        foreign = [n["metadata"]["name"] for n in items
                   if (n["metadata"].get("labels") or {}).get(LABEL_MANAGED_BY) != MANAGED_BY]
        if foreign:
            shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
            raise BackendError(
                f"the cluster already has {len(foreign)} virtual node(s) this run did not make ({shown}); simulated pods "
                "could land there and change every observation. Delete them (`kubectl delete node -l type=virtual`, or "
                "`sim-arena clean` for leftovers of earlier runs) or pass backend option foreign_nodes='allow'"
            )

    def _wait_nodes_ready(self, names: list[str]) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + self.options.node_ready_timeout
        last = "no node listed yet"
        while True:
            resp = self._call("list the run's nodes", self._core.list_node, label_selector=run_selector(self.run_id),
                              _preload_content=False)
            items = {n["metadata"]["name"]: n for n in json.loads(resp.data).get("items", [])}
            not_ready = [n for n in names if not any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in ((items.get(n) or {}).get("status") or {}).get("conditions") or ())]
            if not not_ready:
                return items
            last = f"{len(not_ready)} of {len(names)} not Ready (first: {not_ready[0]})"
            if time.monotonic() >= deadline:
                raise BackendError(
                    f"timed out after {self.options.node_ready_timeout:g}s waiting for the run's KWOK nodes to be Ready; "
                    f"last seen: {last}. Is KWOK installed (`kubectl get pods -n kube-system -l app=kwok-controller`)?"
                )
            self._sleep(0.02)

    def _delete_nodes(self) -> None:
        for name in list(self._created_nodes):
            self._call(f"delete node {name}", self._core.delete_node, name, ok404=True)
            self._created_nodes.remove(name)
        self._nodes_key = None
        self._nodes = []

    # -- a step --------------------------------------------------------------------------------

    def _floors(self, scenario: Scenario) -> Mapping[str, tuple[int | None, int | None]]:
        from sim_arena_gym.quantity import QuantityError, cpu_millis, memory_bytes

        raw = scenario.usage_floors
        hit = self._floors_cache.get(id(raw))
        if hit is not None and hit[0] is raw:
            return hit[1]
        out = {}
        for container, values in (raw or {}).items():
            try:
                out[container] = (cpu_millis(values["cpu"]) if values.get("cpu") is not None else None,
                                  memory_bytes(values["memory"]) if values.get("memory") is not None else None)
            except (QuantityError, AttributeError) as exc:
                raise BackendError(f"scenario {scenario.id!r}: usage_floors[{container!r}]: {exc}") from None
        self._floors_cache[id(raw)] = (raw, out)
        return out

    def _for_upload(self, trace: Trace, scenario: Scenario) -> Trace:
        """The trace the driver replays: every pod template selects the run's nodes (nodeSelector
        ``sim-arena.io/run=<run>``), and the target workload carries its usage floors as an annotation."""
        floors = None
        if scenario.usage_floors and scenario.workload is not None:
            floors = json.dumps({k: dict(v) for k, v in scenario.usage_floors.items()}, sort_keys=True)
        ref = scenario.workload
        events = []
        for e in trace.events:
            objs = []
            for o in e.applied_objs:
                if floors is not None and ref is not None and ref.matches(o):
                    meta = dict(o.get("metadata") or {})
                    meta["annotations"] = {**(meta.get("annotations") or {}), ANNOTATION_USAGE_FLOORS: floors}
                    o = {**o, "metadata": meta}
                objs.append(_select_run_nodes(o, self.run_id))
            events.append(TraceEvent(e.ts, tuple(objs), e.deleted_objs, e.extra))
        return dataclasses.replace(trace, events=tuple(events))

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            started = time.perf_counter()
            time.sleep(seconds)
            self.timing["wait_s"] += time.perf_counter() - started

    def _step(self, trace: Trace, scenario: Scenario) -> ClusterOutcome:
        from sim_arena_gym.trace.codec import save_trace

        opts = self.options
        self._seq += 1
        sim = simulation_name(self.run_id, self._seq)
        path = Path(opts.trace_store) / trace_file_name(sim)
        vns = virtual_namespaces((o for e in trace.events for o in e.applied_objs), self.prefix)
        self._current = (sim, path, vns)
        self._kept_ok = False
        done = False
        try:
            try:
                save_trace(self._for_upload(trace, scenario), path, format="msgpack")
            except Exception as exc:  # noqa: BLE001 - a folder problem, named with the fix
                raise BackendError(f"cannot write the trace to the trace store {opts.trace_store!r}: {exc}; "
                                   "check backend option 'trace_store' (--trace-store)") from None
            duration = opts.duration or simulation_duration(trace, opts.speed, opts.settle_seconds, opts.read_window_seconds)
            body = {
                "apiVersion": f"{GROUP}/{VERSION}", "kind": "Simulation",
                "metadata": {"name": sim, "labels": {**run_labels(self.run_id, self.options.instance), LABEL_SCENARIO: label_value(scenario.id)}},
                "spec": {
                    "driver": {"image": opts.driver_image, "namespace": opts.driver_namespace, "port": opts.driver_port,
                               "tracePath": f"{opts.trace_store_url.rstrip('/')}/{path.name}",
                               "virtualNsPrefix": self.prefix},
                    "lifecycleParams": {},
                    "speed": opts.speed,
                    "duration": duration,
                },
            }
            created = self._call(f"create Simulation {sim}", self._custom.create_cluster_custom_object,
                                 GROUP, VERSION, PLURAL, body)
            rv = created["metadata"]["resourceVersion"]
            rv = self._wait_running(sim, rv)
            t0 = self._wait_namespaces(sim, vns, rv)
            for name in vns:
                self._call(f"label namespace {name}", self._core.patch_namespace, name,
                           {"metadata": {"labels": run_labels(self.run_id, self.options.instance)}}, ok404=True)
            self._sleep(t0 + replay_seconds(trace, opts.speed) + opts.settle_seconds - time.monotonic())
            outcome = self._read(sim, trace, scenario, vns)
            state = self._sim_state(sim)
            if state != "Running":
                window = parse_duration(duration) / opts.speed
                raise BackendError(
                    f"Simulation {sim} was {state or 'gone'} before its pods were read, so they had been garbage-collected; "
                    f"its duration {duration} at speed {opts.speed:g} lasts {window:.3g}s. Raise backend option "
                    "'read_window_seconds' (or 'duration'), or lower 'speed'"
                )
            self.timing["steps"] += 1
            self._kept_ok = True
            done = True
            return outcome
        finally:
            if done:
                self._cleanup_step()
            else:  # keep the error that got us here; run() cleans up the rest
                try:
                    self._cleanup_step()
                except BackendError:
                    pass

    def _sim_state(self, sim: str) -> str | None:
        obj = self._call(f"read Simulation {sim}", self._custom.get_cluster_custom_object_status,
                         GROUP, VERSION, PLURAL, sim, ok404=True)
        return ((obj or {}).get("status") or {}).get("state")

    def _events(self, list_fn: Callable[..., Any], what: str, rv: str, deadline: Callable[[], float],
                last_seen: Callable[[], str], check: Callable[[], None] | None = None,
                **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Watch events after ``rv``: resumes after early closes (up to ``watch_retries``) and after
        410 Gone (from a fresh list); ends with a ``BackendError`` at the deadline. ``check`` runs
        between stream windows (about once a second) and may raise to end the wait early."""
        from kubernetes import watch
        from kubernetes.client.rest import ApiException
        from urllib3.exceptions import HTTPError

        drops = 0
        first = True
        while True:
            if check is not None and not first:
                check()
            first = False
            left = deadline() - time.monotonic()
            if left <= 0:
                raise BackendError(f"timed out waiting for {what}; last seen: {last_seen()}")
            w = watch.Watch()
            opened = time.perf_counter()
            # Short streams (resumed from the last resourceVersion) so that deadlines that move, such as
            # the lease wait, are checked at least once a second.
            seconds = 1 if left > 1 else max(1, math.ceil(left))
            started = time.monotonic()
            got_any = False
            try:
                for event in w.stream(list_fn, resource_version=rv, timeout_seconds=seconds,
                                      _request_timeout=(self.options.request_timeout, seconds + self.options.request_timeout),
                                      **kwargs):
                    got_any = True
                    obj = event.get("raw_object") or {}
                    rv = (obj.get("metadata") or {}).get("resourceVersion", rv)
                    yield event
                    if time.monotonic() >= deadline():
                        break
            except ApiException as exc:
                if exc.status == 410:
                    resp = self._call(f"list for {what}", list_fn, _preload_content=False, **kwargs)
                    rv = json.loads(resp.data)["metadata"]["resourceVersion"]
                    continue
                raise self._api_error(f"watch for {what}", exc) from None
            except (HTTPError, OSError) as exc:
                raise BackendError(f"lost the connection to the Kubernetes API at {self.server} while watching for "
                                   f"{what} ({reason_of(exc)}); last seen: {last_seen()}") from None
            finally:
                w.stop()
                self.timing["watch_s"] += time.perf_counter() - opened
            if time.monotonic() - started < seconds - 0.5 and not got_any:
                drops += 1
                if drops > self.options.watch_retries:
                    raise BackendError(
                        f"the API server at {self.server} closed the watch for {what} {drops} times before anything "
                        f"happened; last seen: {last_seen()}. Check the API server (`kubectl get --raw /readyz`) and "
                        "any proxy between (idle timeouts)"
                    )

    def _wait_running(self, sim: str, rv: str) -> str:
        """Watch ``sim`` until Running; returns the resourceVersion seen then."""
        opts = self.options
        state = {"state": "created (no status yet)", "blocked_since": None}
        start = time.monotonic()

        def deadline() -> float:
            if state["blocked_since"] is not None:
                return state["blocked_since"] + opts.lease_timeout
            return start + opts.start_timeout

        def last_seen() -> str:
            return f"state {state['state']}"

        for event in self._events(self._custom.list_cluster_custom_object, f"Simulation {sim} to start running",
                                  rv, deadline, last_seen, group=GROUP, version=VERSION, plural=PLURAL,
                                  field_selector=f"metadata.name={sim}"):
            obj = event["raw_object"]
            if event["type"] == "DELETED":
                raise BackendError(f"Simulation {sim} was deleted by someone else while starting; last seen: {last_seen()}")
            status = obj.get("status") or {}
            current = status.get("state")
            if current:
                state["state"] = current
            if current == "Running":
                return obj["metadata"]["resourceVersion"]
            if current == "Failed":
                detail = status.get("message") or "no message"
                raise BackendError(
                    f"Simulation {sim} failed ({detail}); see `kubectl logs -n {opts.driver_namespace} job/sk-{sim}-driver` "
                    f"and `kubectl logs -n {opts.controller_namespace} deploy/sk-ctrl-depl`"
                )
            if current == "Finished":
                raise BackendError(f"Simulation {sim} finished before it was seen running; raise 'read_window_seconds' "
                                   "or lower 'speed'")
            if current == "Blocked":
                if state["blocked_since"] is None:
                    state["blocked_since"] = time.monotonic()
                holder = self._lease_holder()
                state["state"] = f"Blocked (lease {LEASE_NAME} in {opts.controller_namespace} held by {holder})"
        raise BackendError(f"the watch for Simulation {sim} ended; last seen: {last_seen()}")

    def _lease_holder(self) -> str:
        lease = self._call("read the SimKube lease", self._coord.read_namespaced_lease, LEASE_NAME,
                           self.options.controller_namespace, ok404=True, _preload_content=False)
        if lease is None:
            return "nobody (no lease)"
        return (json.loads(lease.data).get("spec") or {}).get("holderIdentity") or "nobody"

    def _wait_namespaces(self, sim: str, names: list[str], rv: str) -> float:
        """Watch namespaces until every virtual namespace exists; returns the monotonic time then."""
        missing = set(names)
        start = time.monotonic()
        for name in list(missing):
            if self._call(f"read namespace {name}", self._core.read_namespace, name, ok404=True,
                          _preload_content=False) is not None:
                missing.discard(name)
        if not missing:
            return time.monotonic()

        def last_seen() -> str:
            return f"virtual namespaces missing: {', '.join(sorted(missing))}; Simulation state {self._sim_state(sim)}"

        def failed() -> None:
            obj = self._call(f"read Simulation {sim}", self._custom.get_cluster_custom_object_status,
                             GROUP, VERSION, PLURAL, sim, ok404=True)
            status = (obj or {}).get("status") or {}
            if status.get("state") == "Failed":
                raise BackendError(
                    f"Simulation {sim} failed ({status.get('message') or 'no message'}) before its driver made the "
                    f"virtual namespaces; see `kubectl logs -n {self.options.driver_namespace} job/sk-{sim}-driver`"
                )

        for event in self._events(self._core.list_namespace, f"the driver of {sim} to create its virtual namespaces",
                                  rv, lambda: start + self.options.start_timeout, last_seen, check=failed):
            if event["type"] in ("ADDED", "MODIFIED"):
                missing.discard(event["raw_object"]["metadata"]["name"])
                if not missing:
                    return time.monotonic()
        raise BackendError(f"the namespace watch for {sim} ended; last seen: {last_seen()}")

    def _list(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        resp = self._call(what, fn, *args, _preload_content=False, **kwargs)
        return json.loads(resp.data).get("items", [])

    def _read(self, sim: str, trace: Trace, scenario: Scenario, vns: list[str]) -> ClusterOutcome:
        selector = f"{LABEL_SIMKUBE_SIMULATION}={sim}"
        pods = self._list(f"list the pods of {sim}", self._core.list_pod_for_all_namespaces, label_selector=selector)
        events: list[dict[str, Any]] = []
        if any((p.get("status") or {}).get("phase") == "Pending" for p in pods):
            for ns in vns:
                events += self._list(f"list the events of {ns}", self._core.list_namespaced_event, ns,
                                     field_selector="reason=FailedScheduling")
        kinds: dict[str, int] = {}
        for e in trace.events:
            for o in e.applied_objs:
                kind = o.get("kind")
                if kind in _WORKLOAD_PLURALS or kind == "Pod":
                    meta = o.get("metadata") or {}
                    key = f"{kind}/{meta.get('namespace') or 'default'}/{meta.get('name')}"
                    kinds[key] = int((o.get("spec") or {}).get("replicas", 1)) if kind != "Pod" else 1
            for o in e.deleted_objs:
                meta = o.get("metadata") or {}
                kinds.pop(f"{o.get('kind')}/{meta.get('namespace') or 'default'}/{meta.get('name')}", None)
        workloads: list[dict[str, Any]] = []
        jobs: list[dict[str, Any]] = []
        for kind in sorted({k.split("/", 1)[0] for k in kinds} - {"Pod"}):
            group, plural = _WORKLOAD_PLURALS[kind]
            items = self._list(f"list the {plural} of {sim}", self._custom.list_cluster_custom_object, group, "v1",
                               plural, label_selector=selector)
            for item in items:
                item.setdefault("kind", kind)
            workloads += items
        if any(r.get("kind") == "Job" for p in pods for r in (p.get("metadata") or {}).get("ownerReferences") or ()):
            jobs = self._list(f"list the jobs of {sim}", self._custom.list_cluster_custom_object, "batch", "v1", "jobs")
        own = len(self._nodes)
        for pod in pods:
            for cond in (pod.get("status") or {}).get("conditions") or ():
                if cond.get("type") == "PodScheduled" and cond.get("message"):
                    cond["message"] = without_other_runs(cond["message"], own)
        for ev in events:
            if ev.get("message"):
                ev["message"] = without_other_runs(ev["message"], own)
        end_ts = trace.events[-1].ts if trace.events else 0
        return build_cluster_outcome(
            pods, events, workloads, jobs, [(sn, self._node_objs.get(sn.cluster_name, {})) for sn in self._nodes],
            prefix=self.prefix, target=str(scenario.workload) if scenario.workload else None,
            floors=self._floors(scenario), trace_workloads=kinds, end_ts=end_ts,
        )

    # -- cleanup -------------------------------------------------------------------------------

    def _cleanup_step(self) -> None:
        current = getattr(self, "_current", None)
        if current is None:
            return
        sim, path, vns = current
        self._current = None
        if self.options.keep_simulations and getattr(self, "_kept_ok", False):
            return  # kept for inspection (`sim-arena clean` removes it)
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
        if self._api is None:
            return
        self._call(f"delete Simulation {sim}", self._custom.delete_cluster_custom_object, GROUP, VERSION, PLURAL, sim,
                   ok404=True)
        for name in vns:
            self._call(f"delete namespace {name}", self._core.delete_namespace, name, ok404=True)
        deadline = time.monotonic() + self.options.cleanup_timeout
        left = [("Simulation", sim)] + [("namespace", n) for n in vns]
        while left:
            kind, name = left[0]
            if kind == "Simulation":
                found = self._call(f"read Simulation {name}", self._custom.get_cluster_custom_object, GROUP, VERSION,
                                   PLURAL, name, ok404=True)
            else:
                found = self._call(f"read namespace {name}", self._core.read_namespace, name, ok404=True,
                                   _preload_content=False)
            if found is None:
                left.pop(0)
                continue
            if time.monotonic() >= deadline:
                raise BackendError(f"timed out after {self.options.cleanup_timeout:g}s waiting for {kind} {name} to be "
                                   f"deleted; it still exists. Delete it by hand (`kubectl delete {kind.lower()} {name}`)")
            self._sleep(0.01)

    def _cleanup_all(self) -> None:
        """After a failure: the step's objects and file, then the nodes (best effort, errors dropped)."""
        for part in (self._cleanup_step, self._delete_nodes):
            try:
                part()
            except BackendError:
                pass
            except KeyboardInterrupt:
                break


def _select_run_nodes(obj: dict[str, Any], run_id: str) -> dict[str, Any]:
    """``obj`` with nodeSelector ``sim-arena.io/run=<run_id>`` and the toleration of the run's node taint in
    its pod template (a copy; other kinds as they are)."""
    kind = obj.get("kind")
    if kind not in _WORKLOAD_PLURALS and kind != "Pod":
        return obj
    out = copy.deepcopy(obj)
    spec = out.setdefault("spec", {})
    if kind == "Pod":
        pod_spec = spec
    elif kind == "CronJob":
        pod_spec = spec.setdefault("jobTemplate", {}).setdefault("spec", {}).setdefault("template", {}).setdefault("spec", {})
    else:
        pod_spec = spec.setdefault("template", {}).setdefault("spec", {})
    pod_spec["nodeSelector"] = {**(pod_spec.get("nodeSelector") or {}), LABEL_RUN: run_id}
    pod_spec["tolerations"] = [*(pod_spec.get("tolerations") or ()),
                               {"key": LABEL_RUN, "operator": "Equal", "value": run_id, "effect": "NoSchedule"}]
    return out

"""The live cluster: one scenario (or a set, one at a time) served as a running Kubernetes cluster.

:class:`LiveCluster` holds a :class:`~sim_arena_gym.env.simkube_env.SimKubeEnv` and serves what its
current state simulates to (:mod:`~sim_arena_gym.live.objects`) through the fake cluster's API server
(HTTP, ``Status`` errors, watches; bound to 127.0.0.1). Every write goes through :meth:`LiveCluster.write`:

* a repair of the target workload (PATCH of any patch type kubectl sends, PUT, or the ``scale``
  subresource) is validated as the apiserver validates it (:mod:`~sim_arena_gym.live.edits`: 422
  ``Invalid`` naming the field), checked against the env's safeguards (403 ``Forbidden`` naming the
  field and the cap, as a LimitRange refuses) and then taken as one env step
  (:meth:`SimKubeEnv.step_edit`): the env re-simulates, scores and counts it, and the served objects
  are replaced by the new state's (new ReplicaSet, new pods, new events);
* every other write (another object, a create or delete, a ``status`` write) is 403 ``Forbidden``;
* once the episode is over (repaired, or the step budget spent) every write is 403.

A refused write changes nothing and takes no step. A write that leaves the workload as it is
(the same values again) is answered with the object and takes no step either. ``dryRun`` writes are
validated and answered without a step. ``GET /sim-arena/v1/episode`` answers :meth:`LiveCluster.episode_status`
(the episode in the env's terms), ``GET /sim-arena/v1/trace`` the edited trace (SimKube JSON).
"""

from __future__ import annotations

import copy
import json
import secrets
import threading
from pathlib import Path
from typing import Any, Mapping

from sim_arena_gym.env.simkube_env import SimKubeEnv
from sim_arena_gym.live.edits import EDITABLE, changed_fields, edit_state_of
from sim_arena_gym.live.objects import PUBLISH_TIME, WORKLOAD_KINDS, ClusterObjects, cluster_objects
from sim_arena_gym.live.patches import PATCH_TYPES, PatchError, apply_patch
from sim_arena_gym.live.tables import table
from sim_arena_gym.scenarios.model import Scenario
from sim_arena_gym.testing.fake_cluster.faults import Faults
from sim_arena_gym.testing.fake_cluster.resources import all_types
from sim_arena_gym.testing.fake_cluster.server import ApiServer, WriteRequest, scale_of
from sim_arena_gym.testing.fake_cluster.store import ApiError, ResourceType, Store, now_rfc3339

__all__ = ["EPISODE_PATH", "LiveCluster", "RESOURCE_TYPES", "TRACE_PATH", "write_kubeconfig"]

#: Where the episode status is served.
EPISODE_PATH = "/sim-arena/v1/episode"
#: Where the edited trace is served.
TRACE_PATH = "/sim-arena/v1/trace"

#: The resource types served, by plural.
RESOURCE_TYPES: dict[str, ResourceType] = {t.plural: t for t in all_types(with_simkube=False)}
#: Publishing order: owners before what they own.
_ORDER = ("namespaces", "nodes", *WORKLOAD_KINDS.values(), "pods", "events")
_KIND_PLURAL = {**{k: v for k, v in WORKLOAD_KINDS.items()}, "Pod": "pods"}


class LiveCluster:
    """A live cluster over a :class:`SimKubeEnv` (see the module docstring).

    Args:
        scenarios: as the env's ``scenarios`` config key (a set name, an index path, Scenarios).
        config: other env config keys (``max_steps``, ``caps``, ``reward_mode`` ...).
        port: TCP port on 127.0.0.1 (0: any free port).
        kubeconfig_path: where :meth:`start` writes a kubeconfig (``None``: none is written).
        scenario: the scenario to start with (default: the set's first).
        env: serve this env's episodes instead of making one (its owner resets it and then calls
            :meth:`adopt`; ``scenarios`` and ``config`` are then ignored, and :meth:`close` leaves it open).
        serve: listen on HTTP (``False``: in-process use only, as the MCP server and the text wrapper do).
    """

    def __init__(self, scenarios: Any = "canonical", config: Mapping[str, Any] | None = None, *, port: int = 0,
                 kubeconfig_path: str | Path | None = None, scenario: str | None = None,
                 env: Any = None, serve: bool = True) -> None:
        self._owns_env = env is None
        if env is None:
            cfg = dict(config or {})
            cfg["scenarios"] = scenarios
            self.env: SimKubeEnv = SimKubeEnv(cfg)
        else:
            self.env = env.unwrapped
        self.kubeconfig = Path(kubeconfig_path) if kubeconfig_path is not None else None
        self.token = secrets.token_hex(16)
        self.store = Store()
        self.server: ApiServer | None = None
        if serve:
            faults = Faults()
            faults.missing_crd = True  # a plain cluster: SimKube's simkube.io group is not served
            self.server = ApiServer(self.store, faults, self.token, port)
            self.server.write_gate = self.write
            self.server.extra_paths[EPISODE_PATH] = self.episode_status
            self.server.extra_paths[TRACE_PATH] = self.trace_document
            self.server.table_printer = table  # kubectl get's columns
        self._lock = threading.RLock()
        #: what was last served per (plural, namespace, name): the built object as JSON text
        self._served: dict[tuple[str, str, str], str] = {}
        self._started = False
        self._closed = False
        #: the env's answer to the last accepted edit: ``(obs, reward, terminated, truncated, info)``
        self.last_step: tuple[Any, float, bool, bool, dict[str, Any]] | None = None
        if env is None:
            self.reset(scenario)

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("this live cluster was made with serve=False: it has no URL")
        return self.server.url

    @property
    def scenarios(self) -> tuple[Scenario, ...]:
        return self.env.scenarios

    def start(self) -> "LiveCluster":
        if not self._started and self.server is not None:
            if self.kubeconfig is not None:
                write_kubeconfig(self.kubeconfig, self.url, self.token)
            self.server.start()
            self._started = True
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.server is not None:
            self.server.stop()
        if self._owns_env:
            self.env.close()

    def __enter__(self) -> "LiveCluster":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def reset(self, scenario: str | None = None) -> dict[str, Any]:
        """Start an episode on ``scenario`` (default: the set's first) and serve its initial state."""
        with self._lock:
            sid = scenario if scenario is not None else self.env.scenarios[0].id
            self.env.reset(options={"scenario": sid})
            return self.adopt()

    def adopt(self) -> dict[str, Any]:
        """Take the env's episode as it was just reset: clear the bookkeeping and serve its state."""
        with self._lock:
            self._rewards: list[float] = []
            self._edits: list[dict[str, Any]] = []
            self._terminated = bool(self.env.view.success)
            self._truncated = False
            self.last_step = None
            self._publish()
            return self.episode_status()

    # -- reads ---------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self._terminated or self._truncated

    def episode_status(self) -> dict[str, Any]:
        """The episode in the env's terms: scenario, step (edits taken) and budget, success, reward
        (the sum of the env's step rewards) and each edit's, the workload's requests / limits /
        replicas and pod counts now."""
        with self._lock:
            env = self.env
            view = env.view
            scenario = env.context.scenario
            return {
                "scenario": scenario.id,
                "description": scenario.description,
                "workload": str(scenario.workload),
                "target": env.constants.target,
                "step": env.steps_taken,
                "max_steps": env.max_steps,
                "success": view.success,
                "terminated": self._terminated,
                "truncated": self._truncated,
                "done": self.done,
                "reward": float(sum(self._rewards)),
                "rewards": list(self._rewards),
                "reward_mode": env.config["reward_mode"],
                "ready": view.ready,
                "pending": view.pending,
                "total": view.total,
                "scheduling_message": view.scheduling_message,
                "requests": view.requests_dict(),
                "limits": view.limits_dict(),
                "replicas": view.state.replicas,
                "edits": copy.deepcopy(self._edits),
                "oracle_steps": scenario.oracle_steps,
            }

    def trace_document(self) -> dict[str, Any]:
        """The edited trace (the workload as repaired so far) as a SimKube JSON document."""
        from sim_arena_gym.trace.codec import dumps_trace

        with self._lock:
            return json.loads(dumps_trace(self.env.current_trace(), format="json"))

    def get(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        return self.store.get(RESOURCE_TYPES[plural], namespace, name)

    def list(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.store.list(RESOURCE_TYPES[plural], namespace)[0]

    # -- writes --------------------------------------------------------------------------------

    def write(self, req: WriteRequest) -> tuple[int, Any] | None:
        """Answer one write (the API server's write gate; see the module docstring)."""
        if req.rtype.plural == "selfsubjectaccessreviews":
            return None  # kubectl auth can-i: the server's own answer
        with self._lock:
            return self._write(req)

    def _forbidden(self, req: WriteRequest, name: str, why: str) -> ApiError:
        what = f"{req.rtype.plural}.{req.rtype.group}" if req.rtype.group else req.rtype.plural
        return ApiError(403, "Forbidden", f'{what} "{name}" is forbidden: {why}',
                        {"name": name, "group": req.rtype.group, "kind": req.rtype.plural})

    def _write(self, req: WriteRequest) -> tuple[int, Any]:
        env = self.env
        target = env.context.scenario.workload
        name = req.name or str(((req.body if isinstance(req.body, dict) else {}).get("metadata") or {}).get("name", ""))
        is_target = (req.rtype.plural == _KIND_PLURAL.get(target.kind) and req.namespace == target.namespace
                     and name == target.name)
        if req.verb in ("create", "delete") or not is_target or req.subresource == "status":
            raise self._forbidden(req, name, f"the live cluster accepts only repairs of {target}: {EDITABLE} "
                                             "(PATCH or PUT of the workload, or its scale subresource)")
        if self.done:
            why = "repaired" if self._terminated else f"the step budget of {env.max_steps} edits is spent"
            raise self._forbidden(req, name, f"the episode is over ({why}); reset to start another")
        current = self.store.get(req.rtype, req.namespace, name)
        new = self._written_object(req, current)
        kind_label = f"{target.kind}.{req.rtype.group}" if req.rtype.group else target.kind
        state = edit_state_of(new, current, env.context.target.container_names, kind_label)
        prev = env.edit_state
        for field, single in changed_fields(prev, state, env.context.target.container_names, target.kind):
            reason = env.check_edit(single)
            if reason is not None:
                raise self._safeguard(req, name, field, reason)
        reason = env.check_edit(state)
        if reason is not None:
            raise self._safeguard(req, name, "spec.template.spec.containers", reason)
        if req.query.get("dryRun") or state == prev:
            answer = current if state == prev else new
        else:
            fields = [f for f, _ in changed_fields(prev, state, env.context.target.container_names, target.kind)]
            self.last_step = env.step_edit(state)
            _, reward, terminated, truncated, info = self.last_step
            self._rewards.append(float(reward))
            self._terminated, self._truncated = bool(terminated), bool(truncated)
            self._edits.append({"step": env.steps_taken, "fields": fields, "reward": float(reward),
                                "requests": info["requests"], "limits": info["limits"], "replicas": info["replicas"],
                                "ready": info["ready"], "pending": info["pending"], "success": info["success"]})
            self._publish()
            answer = self.store.get(req.rtype, req.namespace, name)
        return 200, scale_of(req.rtype, answer) if req.subresource == "scale" else answer

    def _safeguard(self, req: WriteRequest, name: str, field: str, reason: str) -> ApiError:
        err = self._forbidden(req, name, f"{field}: {reason} (a safeguard of the scenario)")
        assert err.details is not None
        err.details["causes"] = [{"reason": "FieldValueForbidden", "message": reason, "field": field}]
        return err

    def _written_object(self, req: WriteRequest, current: dict[str, Any]) -> dict[str, Any]:
        """The object as the write would leave it (before validation)."""
        if req.subresource == "scale":
            scale = scale_of(req.rtype, current)
            written = self._apply(req, scale)
            replicas = (written.get("spec") or {}).get("replicas") if isinstance(written, dict) else None
            new = copy.deepcopy(current)
            new.setdefault("spec", {})["replicas"] = replicas
            return new
        return self._apply(req, current)

    def _apply(self, req: WriteRequest, current: dict[str, Any]) -> dict[str, Any]:
        if req.verb == "patch":
            if req.content_type not in PATCH_TYPES.values():
                raise ApiError(415, "UnsupportedMediaType",
                               f"the body of the request was in an unknown format - accepted media types include: "
                               f"{', '.join(sorted(PATCH_TYPES.values()))}")
            try:
                return apply_patch(current, req.body, req.content_type)
            except PatchError as exc:
                raise ApiError(422, "Invalid", str(exc)) from None
        body = req.body
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body must be an object")
        given = (body.get("metadata") or {}).get("resourceVersion")
        if given and given != (current.get("metadata") or {}).get("resourceVersion"):
            what = f"{req.rtype.plural}.{req.rtype.group}" if req.rtype.group else req.rtype.plural
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {what} "{req.name}": the object has been '
                                            "modified; please apply your changes to the latest version and try again")
        new = copy.deepcopy(body)
        new.setdefault("metadata", {})
        for k in ("uid", "creationTimestamp", "generation", "resourceVersion"):
            if k in current.get("metadata", {}):
                new["metadata"].setdefault(k, current["metadata"][k])
        new.setdefault("apiVersion", current.get("apiVersion"))
        new.setdefault("kind", current.get("kind"))
        if "status" in current:
            new["status"] = current["status"]
        return new

    # -- publishing ----------------------------------------------------------------------------

    def _publish(self) -> None:
        """Replace the served objects by those of the env's current state. An object whose content is
        unchanged since it was last served is left alone (same uid, resourceVersion and timestamps);
        a new or changed one gets the current time for its timestamps."""
        env = self.env
        objs = cluster_objects(env.current_trace(), env.view.outcome, env.context.scenario)
        now = json.dumps(now_rfc3339())
        with self.store.cond:
            for plural in reversed(_ORDER):  # what goes away: owned objects first
                rtype = RESOURCE_TYPES[plural]
                wanted = objs.by_resource.get(plural, {})
                for key, ns, name in sorted(self.store.snapshot()):
                    if key == rtype.key and (ns, name) not in wanted and self.store.exists(rtype, ns or None, name):
                        self.store.delete(rtype, ns or None, name)
            self._served = {k: v for k, v in self._served.items() if self.store.exists(RESOURCE_TYPES[k[0]], k[1] or None, k[2])}
            for plural in _ORDER:
                self._publish_type(RESOURCE_TYPES[plural], objs, now)

    def _publish_type(self, rtype: ResourceType, objs: ClusterObjects, now: str) -> None:
        for (ns, name), body in objs.by_resource.get(rtype.plural, {}).items():
            body = copy.deepcopy(body)
            self._fill_uids(body)
            namespace = ns or None
            signature = json.dumps(body, sort_keys=True)
            if self._served.get((rtype.plural, ns, name)) == signature:
                continue
            self._served[(rtype.plural, ns, name)] = signature
            body = json.loads(signature.replace(json.dumps(PUBLISH_TIME), now))
            if not self.store.exists(rtype, namespace, name):
                self.store.create(rtype, namespace, body)
                continue
            current = self.store.get(rtype, namespace, name)
            status = body.pop("status", None)
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            current = self.store.update(rtype, namespace, name, body)
            if status is not None and "observedGeneration" in status:  # the controller has seen this spec
                status["observedGeneration"] = current["metadata"].get("generation", 1)
            if status is not None and current.get("status") != status:
                if "status" in rtype.subresources:
                    self.store.update(rtype, namespace, name, {**current, "status": status}, subresource="status")
                else:
                    self.store.update(rtype, namespace, name, {**current, "status": status})

    def _fill_uids(self, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        for ref in meta.get("ownerReferences") or ():
            plural = _KIND_PLURAL.get(ref.get("kind", ""))
            if plural is not None:
                try:
                    ref["uid"] = self.store.get(RESOURCE_TYPES[plural], meta.get("namespace"), ref["name"])["metadata"]["uid"]
                except ApiError:
                    pass
        involved = body.get("involvedObject")
        if isinstance(involved, dict) and involved.get("kind") == "Pod":
            try:
                involved["uid"] = self.store.get(RESOURCE_TYPES["pods"], involved.get("namespace"), involved["name"])["metadata"]["uid"]
            except ApiError:
                pass


def write_kubeconfig(path: Path, url: str, token: str, context: str = "sim-arena-live") -> None:
    """Write a kubeconfig for ``url`` (bearer ``token``) atomically at ``path``."""
    doc = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": url}}],
        "users": [{"name": f"{context}-user", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-user"}}],
        "current-context": context,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)

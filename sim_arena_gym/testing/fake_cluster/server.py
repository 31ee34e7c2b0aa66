"""The fake cluster's HTTP front: Kubernetes API paths, verbs, ``Status`` errors and watch streams.

Built on the standard library's :class:`http.server.ThreadingHTTPServer` (one thread per connection,
HTTP/1.1 keep-alive), bound to 127.0.0.1 only. A request with a bearer token other than the
kubeconfig's is 401; one without credentials is served as anonymous (kubectl sends no token over plain
HTTP) unless ``allow_anonymous`` is off. Watches answer ``200`` with ``Transfer-Encoding: chunked`` and one JSON event per
line (``{"type": "ADDED", "object": {...}}``); an expired ``resourceVersion`` is an ``ERROR`` event
carrying a 410 ``Status``, as the real server sends it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from sim_arena_gym.testing.fake_cluster.faults import REASONS, Faults
from sim_arena_gym.testing.fake_cluster.resources import (
    SIMKUBE_GROUP,
    api_group_list,
    api_resource_list,
    find_type,
)
from sim_arena_gym.testing.fake_cluster.selectors import matches_fields, matches_labels
from sim_arena_gym.testing.fake_cluster.store import ApiError, ResourceType, Store

__all__ = ["ApiServer", "VERSION_INFO", "WriteRequest", "scale_of"]

#: What ``/version`` answers.
VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-sim-arena-fake",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

#: Longest a watch stays open without ``timeoutSeconds`` (the real default is 30-60 min).
MAX_WATCH_S = 300.0


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, api: "ApiServer", port: int) -> None:
        self.api = api
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that goes away mid-request is not an error worth printing."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)


class ApiServer:
    """The API server over ``store``; :meth:`start` serves in a thread, :meth:`stop` ends every
    connection and joins every thread."""

    def __init__(self, store: Store, faults: Faults, token: str, port: int = 0, *, allow_anonymous: bool = True) -> None:
        self.store = store
        self.faults = faults
        self.token = token
        #: requests without credentials are allowed (kubectl sends none over plain HTTP); a wrong token is 401
        self.allow_anonymous = allow_anonymous
        #: called before each request is answered: ``hook(verb, resource, name)``
        self.request_hooks: list[Callable[[str, str, str | None], None]] = []
        #: called before any request is routed (the emulator's clock catch-up)
        self.before_request: list[Callable[[], None]] = []
        #: when set, every write (create, update, patch, delete) is offered to it first:
        #: ``gate(WriteRequest) -> (code, body)`` answers it, ``None`` leaves it to the store; an
        #: ``ApiError`` it raises is answered as a ``Status`` (the live cluster's safeguards)
        self.write_gate: Callable[["WriteRequest"], tuple[int, Any] | None] | None = None
        #: server-side printing: when set, a list or get whose ``Accept`` asks for ``as=Table`` (kubectl get)
        #: is answered ``table_printer(rtype, items, resourceVersion)`` (a ``meta.k8s.io/v1`` Table)
        self.table_printer: Callable[[ResourceType, list[dict[str, Any]], int], dict[str, Any]] | None = None
        #: extra GET paths answered as JSON: ``{"/sim-arena/v1/episode": callable returning a dict}``
        self.extra_paths: dict[str, Callable[[], Any]] = {}
        #: number of requests answered, by verb
        self.request_counts: dict[str, int] = {}
        self._count_lock = threading.Lock()
        self._httpd = _Server(self, port)
        self._thread: threading.Thread | None = None
        self._serving = False
        self.stopping = False

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-cluster-{self.port}", daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` (or KeyboardInterrupt)."""
        self._serving = True
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._serving = False

    def stop(self) -> None:
        self.stopping = True
        self.store.close()
        if self._thread is not None or self._serving:
            self._httpd.shutdown()  # returns once serve_forever has stopped (it must have started)
        with self._httpd.conn_lock:
            conns = list(self._httpd.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()  # joins the connection threads
        if self._thread is not None:
            self._thread.join(timeout=10)

    def count(self, verb: str) -> None:
        with self._count_lock:
            self.request_counts[verb] = self.request_counts.get(verb, 0) + 1


@dataclass(frozen=True)
class WriteRequest:
    """One write as the server routed it (what :attr:`ApiServer.write_gate` receives).

    ``verb`` is ``create``, ``update``, ``patch`` or ``delete``; ``subresource`` ``None``, ``"status"`` or
    ``"scale"``; ``content_type`` the request's media type (``application/strategic-merge-patch+json``)."""

    verb: str
    rtype: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    query: dict[str, str]
    body: Any
    content_type: str


def scale_of(rtype: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """The ``autoscaling/v1`` ``Scale`` of a workload object (what ``GET .../scale`` answers)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    selector = ",".join(f"{k}={v}" for k, v in sorted(((spec.get("selector") or {}).get("matchLabels") or {}).items()))
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta},
        "spec": {"replicas": int(spec.get("replicas", 1))},
        "status": {"replicas": int(status.get("replicas", 0)), "selector": selector},
    }


def _status(code: int, message: str, reason: str | None = None) -> ApiError:
    return ApiError(code, reason or REASONS.get(code, "Unknown"), message)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    disable_nagle_algorithm = True  # small answers go out at once (no 40 ms delayed-ACK stalls)
    timeout = 60  # an idle keep-alive connection is closed after this
    _interrupt_before_answer = False  # set by an interrupt fault for the request being handled

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        return

    # -- plumbing ------------------------------------------------------------------------------

    def _send_json(self, code: int, body: Any) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        if self._interrupt_before_answer:  # an interrupt fault: the request is done, Ctrl-C before its answer
            self._interrupt_before_answer = False
            os.kill(os.getpid(), signal.SIGINT)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, err: ApiError) -> None:
        self._send_json(err.code, err.status())

    def _raw_body(self) -> bytes:
        """The request body, by ``Content-Length`` or chunked (``kubectl create --raw`` sends chunks)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _body(self, method: str) -> Any:
        raw = self._raw_body()  # always read, so that the connection stays usable
        if method not in ("POST", "PUT", "PATCH") or not raw:
            return {}  # a DELETE's DeleteOptions are accepted and ignored
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if not ctype.endswith("json"):
            raise _status(415, f"the fake cluster reads JSON bodies only, not {ctype!r}")
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _status(400, f"the request body is not valid JSON: {exc.msg}") from None

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    # -- routing -------------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        api = self.server.api
        try:
            # Read the body first, so that an error answer leaves the connection usable.
            body = self._body(method)
            auth = self.headers.get("Authorization")
            if auth is None and not api.allow_anonymous or auth is not None and auth != f"Bearer {api.token}":
                raise _status(401, "Unauthorized")
            for before in list(api.before_request):
                before()
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            parts = [p for p in url.path.split("/") if p]
            if self._discovery(method, parts):
                api.count("discovery")
                return
            rtype, namespace, name, sub = self._route(parts)
            verb = self._verb(method, name, query)
            fault = api.faults.take(verb, rtype.plural, name)
            for hook in list(api.request_hooks):
                hook(verb, rtype.plural, name)
            if fault is not None:
                if fault.interrupt and verb == "watch":
                    os.kill(os.getpid(), signal.SIGINT)
                elif fault.interrupt:
                    self._interrupt_before_answer = True  # see _send_json
                if fault.delay_s:
                    time.sleep(fault.delay_s)
                if fault.status is not None:
                    raise _status(fault.status, fault.message or f"injected fault: {REASONS.get(fault.status, '')}")
            if api.faults.forbidden(verb, rtype.plural):
                scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
                raise _status(403, f'{rtype.plural}{"." + rtype.group if rtype.group else ""} is forbidden: User '
                                   f'"fake-user" cannot {verb} resource "{rtype.plural}" in API group "{rtype.group}" {scope}')
            api.count(verb)
            if verb == "watch":
                self._watch(rtype, namespace, name, query, drop=bool(fault and fault.drop_watch))
                return
            if api.write_gate is not None and verb in ("create", "update", "patch", "delete"):
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                answer = api.write_gate(WriteRequest(verb, rtype, namespace, name, sub, query, body, ctype))
                if answer is not None:
                    self._send_json(*answer)
                    return
            self._handle(verb, rtype, namespace, name, sub, query, body)
        except ApiError as err:
            self._send_error(err)
        except ValueError as exc:
            self._send_error(_status(400, str(exc)))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _discovery(self, method: str, parts: list[str]) -> bool:
        api = self.server.api
        crd = not api.faults.missing_crd
        if method != "GET":
            return False
        extra = api.extra_paths.get("/" + "/".join(parts))
        if extra is not None:
            self._send_json(200, extra())
        elif parts == ["version"]:
            self._send_json(200, VERSION_INFO)
        elif parts == ["api"]:
            self._send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{api.port}"}]})
        elif parts == ["api", "v1"]:
            self._send_json(200, api_resource_list("", "v1"))
        elif parts == ["apis"]:
            self._send_json(200, api_group_list(crd))
        elif len(parts) == 3 and parts[0] == "apis":
            doc = api_resource_list(parts[1], parts[2], crd)
            if doc is None:
                raise _status(404, "the server could not find the requested resource", "NotFound")
            self._send_json(200, doc)
        else:
            return False
        return True

    def _route(self, parts: list[str]) -> tuple[ResourceType, str | None, str | None, str | None]:
        """(type, namespace, name, subresource) of a resource path."""
        crd = not self.server.api.faults.missing_crd
        if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise _status(404, "the server could not find the requested resource", "NotFound")
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        if not rest:
            raise _status(404, "the server could not find the requested resource", "NotFound")
        rtype = find_type(group, version, rest[0], crd)
        if rtype is None or (group == SIMKUBE_GROUP and not crd):
            raise _status(404, "the server could not find the requested resource", "NotFound")
        if namespace is not None and not rtype.namespaced:
            raise _status(404, "the server could not find the requested resource", "NotFound")
        name = rest[1] if len(rest) >= 2 else None
        sub = rest[2] if len(rest) >= 3 else None
        if sub is not None and sub not in rtype.subresources:
            raise _status(404, "the server could not find the requested resource", "NotFound")
        return rtype, namespace, name, sub

    @staticmethod
    def _verb(method: str, name: str | None, query: dict[str, str]) -> str:
        if method == "GET":
            if name is None:
                return "watch" if query.get("watch") in ("true", "1") else "list"
            return "get"
        if method == "POST":
            if name is not None:
                raise _status(405, "POST goes to a collection", "MethodNotAllowed")
            return "create"
        if name is None:
            raise _status(405, f"{method} needs an object name", "MethodNotAllowed")
        return {"PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]

    # -- verbs ---------------------------------------------------------------------------------

    def _handle(self, verb: str, rtype: ResourceType, namespace: str | None, name: str | None,
                sub: str | None, query: dict[str, str], body: Any) -> None:
        store = self.server.api.store
        if verb not in rtype.verbs:
            raise _status(405, f"{rtype.plural} does not support {verb}", "MethodNotAllowed")
        printer = self.server.api.table_printer
        if printer is not None and verb in ("list", "get") and sub is None and "as=Table" in (self.headers.get("Accept") or ""):
            if verb == "list":
                items, rv = store.list(rtype, namespace, query.get("labelSelector"), query.get("fieldSelector"))
            else:
                items, rv = [store.get(rtype, namespace, name)], store.resource_version  # type: ignore[arg-type]
            self._send_json(200, printer(rtype, items, rv))
            return
        if verb == "list":
            items, rv = store.list(rtype, namespace, query.get("labelSelector"), query.get("fieldSelector"))
            self._send_json(200, {"kind": f"{rtype.kind}List", "apiVersion": rtype.api_version,
                                  "metadata": {"resourceVersion": str(rv)}, "items": items})
        elif verb == "get" and sub == "scale":
            self._send_json(200, scale_of(rtype, store.get(rtype, namespace, name)))  # type: ignore[arg-type]
        elif sub == "scale":
            raise _status(405, f"{rtype.plural}/scale: only get is served here", "MethodNotAllowed")
        elif verb == "get":
            self._send_json(200, store.get(rtype, namespace, name))  # type: ignore[arg-type]
        elif verb == "create":
            if not isinstance(body, dict):
                raise _status(400, "the request body must be an object")
            if rtype.plural == "selfsubjectaccessreviews":
                review = dict(body)
                attrs = (body.get("spec") or {}).get("resourceAttributes") or {}
                if self.server.api.faults.forbidden(str(attrs.get("verb")), str(attrs.get("resource"))):
                    review["status"] = {"allowed": False, "reason": "denied by the fake cluster's fault plan"}
                else:
                    review["status"] = {"allowed": True, "reason": "the fake cluster allows everything"}
                self._send_json(201, review)
                return
            body_ns = (body.get("metadata") or {}).get("namespace")
            if rtype.namespaced and body_ns and namespace and body_ns != namespace:
                raise _status(400, "the namespace of the provided object does not match the namespace sent on the request")
            if rtype.plural == "simulations":
                from sim_arena_gym.testing.fake_cluster.simkube import validate_simulation

                validate_simulation(body)
            if query.get("dryRun"):
                self._send_json(201, body)
                return
            self._send_json(201, store.create(rtype, namespace, body))
        elif verb == "update":
            self._send_json(200, store.update(rtype, namespace, name, body, subresource=sub))  # type: ignore[arg-type]
        elif verb == "patch":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                raise _status(415, f"the fake cluster accepts merge patches only, not {ctype!r}")
            if not isinstance(body, dict):
                raise _status(400, "a merge patch must be an object")
            self._send_json(200, store.patch(rtype, namespace, name, body, subresource=sub))  # type: ignore[arg-type]
        elif verb == "delete":
            self._send_json(200, store.delete(rtype, namespace, name))  # type: ignore[arg-type]

    def _watch(self, rtype: ResourceType, namespace: str | None, name: str | None, query: dict[str, str],
               *, drop: bool) -> None:
        api = self.server.api
        store = api.store
        label_sel, field_sel = query.get("labelSelector"), query.get("fieldSelector")
        timeout = min(float(query.get("timeoutSeconds") or MAX_WATCH_S), MAX_WATCH_S)
        rv_text = query.get("resourceVersion") or ""
        initial: list[dict[str, Any]] = []
        try:
            if rv_text in ("", "0"):
                items, rv = store.list(rtype, namespace, label_sel, field_sel)
                initial = [{"type": "ADDED", "object": o} for o in items]
            else:
                try:
                    rv = int(rv_text)
                except ValueError:
                    raise _status(400, f"invalid resourceVersion {rv_text!r}") from None
                store.changes_since(rv)  # 410 now, before the stream starts
            expired = None
        except ApiError as err:
            if err.code != 410:
                raise
            expired, rv = err, 0
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        # The stream's end closes the connection: say so, so that a client does not put it back in its
        # pool and send its next request on a socket about to close (RemoteDisconnected).
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if drop:
            self._chunk(b"")
            return
        if expired is not None:
            self._event({"type": "ERROR", "object": expired.status()})
            self._chunk(b"")
            return
        for event in initial:
            self._event(event)
        deadline = time.monotonic() + timeout
        stop = lambda: api.stopping or time.monotonic() >= deadline  # noqa: E731
        try:
            for change in store.follow(rv, stop):
                if change.rtype.key != rtype.key:
                    continue
                obj = change.obj
                meta = obj.get("metadata") or {}
                if namespace is not None and meta.get("namespace") != namespace:
                    continue
                if not (matches_labels(obj, label_sel) and matches_fields(obj, field_sel)):
                    continue
                self._event({"type": change.type, "object": obj})
        except ApiError as err:  # the history moved past us while we were writing
            self._event({"type": "ERROR", "object": err.status()})
        self._chunk(b"")

    def _event(self, event: dict[str, Any]) -> None:
        self._chunk(json.dumps(event, separators=(",", ":")).encode() + b"\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

"""The Kubernetes API connection of the simkube backend and of the cluster tools (preflight, clean).

:func:`open_api_client` turns the ``kubeconfig`` / ``context`` options into a ``kubernetes``
``ApiClient``; :class:`KubeCalls` makes single requests whose failures become one
:class:`~sim_arena_gym.backends.base.BackendError` naming the cause and the fix.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

from sim_arena_gym.backends.base import BackendError
from sim_arena_gym.backends.simkube_options import SimKubeOptions

__all__ = ["KubeCalls", "api_error", "kubeconfig_path", "open_api_client", "reason_of"]


def reason_of(exc: Exception) -> str:
    """``HTTP <code> <reason>: <message>`` of an ``ApiException``, else ``<Type>: <text>``."""
    status = getattr(exc, "status", None)
    body = getattr(exc, "body", None)
    if status:
        msg = ""
        if body:
            try:
                msg = json.loads(body).get("message", "")
            except (ValueError, AttributeError):
                msg = str(body)[:200]
        return f"HTTP {status} {getattr(exc, 'reason', '')}".strip() + (f": {msg}" if msg else "")
    return f"{type(exc).__name__}: {exc}"


def api_error(server: str, what: str, exc: Any) -> BackendError:
    """The ``BackendError`` for an ``ApiException`` raised while trying to ``what``."""
    status = exc.status
    reason = reason_of(exc)
    if status == 401:
        fix = "the credentials in the kubeconfig were rejected; refresh them (`kind export kubeconfig`)"
    elif status == 403:
        fix = ("the kubeconfig's user may not do this; bind it a role that allows nodes, namespaces, pods, "
               "events, leases and simulations.simkube.io (cluster-admin on a kind cluster)")
    elif status == 404:
        fix = "the object or API is missing; are the SimKube CRDs installed (`kubectl get crd simulations.simkube.io`)?"
    elif status == 409:
        fix = "an object of that name already exists or changed meanwhile; run `sim-arena clean` or delete it"
    elif status == 422:
        fix = "the cluster rejected the object; check the driver options and the SimKube version (>= 2.7)"
    elif status and status >= 500:
        fix = "the API server failed; check its health (`kubectl get --raw /readyz`) and retry"
    else:
        fix = "see the message"
    return BackendError(f"Kubernetes API at {server}: could not {what}: {reason}; {fix}")


def kubeconfig_path(options: SimKubeOptions) -> str:
    """The kubeconfig file: option ``kubeconfig``, else the first of ``$KUBECONFIG``, else ``~/.kube/config``."""
    return os.path.expanduser(options.kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
                              or str(Path.home() / ".kube" / "config"))


def open_api_client(options: SimKubeOptions) -> Any:
    """A ``kubernetes.client.ApiClient`` for the options' kubeconfig and context (no request made);
    ``BackendError`` for a missing file or context."""
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    path = kubeconfig_path(options)
    if not Path(path).is_file():
        raise BackendError(f"kubeconfig {path!r} not found: pass backend option 'kubeconfig' (--kubeconfig) "
                           "with the file `kind get kubeconfig` writes")
    try:
        return config.new_client_from_config(config_file=path, context=options.context)
    except ConfigException as exc:
        raise BackendError(f"kubeconfig {path!r}: {exc}; check option 'context' (--context) against "
                           "`kubectl config get-contexts`") from None


class KubeCalls:
    """Single API requests against one server, timed into ``timing["http_s"]`` (seconds)."""

    def __init__(self, server: str, request_timeout: float, timing: dict[str, Any] | None = None) -> None:
        self.server = server
        self.request_timeout = request_timeout
        self.timing = timing if timing is not None else {"http_s": 0.0}

    def call(self, what: str, fn: Callable[..., Any], *args: Any, ok404: bool = False, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``; ``None`` for a 404 with ``ok404``; other failures a ``BackendError``."""
        from kubernetes.client.rest import ApiException
        from urllib3.exceptions import HTTPError

        kwargs.setdefault("_request_timeout", self.request_timeout)
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            if ok404 and exc.status == 404:
                return None
            raise api_error(self.server, what, exc) from None
        except (HTTPError, OSError) as exc:
            raise BackendError(
                f"cannot reach the Kubernetes API at {self.server} while trying to {what} ({reason_of(exc)}); "
                "is the cluster running (`kind get clusters`) and is the kubeconfig's server address right?"
            ) from None
        finally:
            self.timing["http_s"] += time.perf_counter() - started

    def items(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        """The ``items`` of a list request, as plain JSON."""
        resp = self.call(what, fn, *args, _preload_content=False, **kwargs)
        return json.loads(resp.data).get("items", [])

"""Fault injection for the fake cluster.

Request faults match on verb (``get``, ``list``, ``watch``, ``create``, ``update``, ``patch``,
``delete``), resource plural and object name (each ``None`` = any) and fire ``times`` times
(``None`` = always). A matching fault can delay the answer, answer an error status, close a watch
stream at once, or send SIGINT to this process (Ctrl-C arriving mid-request): once the request has been
carried out, just before its answer is written, so the client is waiting on the answer when Ctrl-C comes and
what the request did is settled (as on an apiserver that committed a create the client then gave up on);
on a watch, before the stream starts.

Cluster faults (see :class:`Faults`): Simulations that go ``Failed``, a SimKube lease held by
another simulation, a slow controller start, reconcile errors (``Retrying``), a slow driver start, and
the SimKube CRDs missing, the controller stopped (Simulations get no status), and RBAC denials
(:meth:`Faults.forbid`: the verb on the resource answers 403 and SelfSubjectAccessReviews say no).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

__all__ = ["Faults", "RequestFault", "REASONS"]

#: The ``Status.reason`` the API server gives each code.
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    500: "InternalError",
    503: "ServiceUnavailable",
}


@dataclass
class RequestFault:
    """One request fault (see the module docstring)."""

    verb: str | None = None
    resource: str | None = None
    name: str | None = None
    status: int | None = None
    message: str = ""
    delay_s: float = 0.0
    drop_watch: bool = False
    interrupt: bool = False
    times: int | None = 1
    hits: int = 0

    def matches(self, verb: str, resource: str, name: str | None) -> bool:
        return (
            (self.verb is None or self.verb == verb)
            and (self.resource is None or self.resource == resource)
            and (self.name is None or self.name == name)
            and (self.times is None or self.hits < self.times)
        )


class Faults:
    """The fault plan of one fake cluster (thread-safe; change it at any time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RequestFault] = []
        #: the next this many Simulations go Failed (driver Job failed) right after Initializing
        self.fail_simulations = 0
        #: message written to a failed Simulation's status
        self.failure_message = "driver Job failed: BackoffLimitExceeded"
        #: seconds a new Simulation stays Initializing (sk-ctrl setting up namespaces, webhook, cert)
        self.initializing_s = 0.0
        #: seconds a new Simulation spends Retrying after Initializing (a reconcile error sk-ctrl retries)
        self.retrying_s = 0.0
        #: seconds the driver waits after Running before it replays the first event
        self.driver_startup_s = 0.0
        #: the SimKube CRDs are not installed (``simkube.io`` is not served)
        self.missing_crd = False
        #: sk-ctrl is not running: new Simulations are stored but never get a status
        self.controller_stopped = False
        self._forbidden: set[tuple[str, str]] = set()
        self._lease_holder: tuple[str, float] | None = None

    def forbid(self, verb: str, resource: str) -> None:
        """RBAC denies ``verb`` on ``resource`` (a plural such as ``nodes``): such requests answer 403
        and a SelfSubjectAccessReview for them answers ``allowed: false``."""
        with self._lock:
            self._forbidden.add((verb, resource))

    def forbidden(self, verb: str, resource: str) -> bool:
        with self._lock:
            return (verb, resource) in self._forbidden

    def add(self, fault: RequestFault | None = None, **fields: object) -> RequestFault:
        """Add a request fault (``add(status=403, verb="create", resource="simulations")``)."""
        f = fault if fault is not None else RequestFault(**fields)  # type: ignore[arg-type]
        with self._lock:
            self._requests.append(f)
        return f

    def take(self, verb: str, resource: str, name: str | None) -> RequestFault | None:
        """The first fault matching this request (counted as fired), or ``None``."""
        with self._lock:
            for f in self._requests:
                if f.matches(verb, resource, name):
                    f.hits += 1
                    return f
        return None

    def hold_lease(self, holder: str, seconds: float) -> None:
        """Another simulation (``holder``) holds SimKube's lease for ``seconds`` from now."""
        with self._lock:
            self._lease_holder = (holder, time.monotonic() + seconds)

    def lease_holder(self) -> str | None:
        """The injected holder while its time lasts."""
        with self._lock:
            if self._lease_holder is None:
                return None
            holder, until = self._lease_holder
            if time.monotonic() >= until:
                self._lease_holder = None
                return None
            return holder

    def take_failure(self) -> bool:
        with self._lock:
            if self.fail_simulations > 0:
                self.fail_simulations -= 1
                return True
            return False

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._forbidden.clear()
            self._lease_holder = None
        self.fail_simulations = 0
        self.initializing_s = 0.0
        self.retrying_s = 0.0
        self.driver_startup_s = 0.0
        self.missing_crd = False
        self.controller_stopped = False

"""The fake cluster's object store: every object, a global ``resourceVersion`` and a bounded
history of changes that watches read from.

Semantics follow the real API server where a client can see them:

* one counter for every object (like etcd's revision); each create, update, patch and delete takes
  the next value and writes it into the object's ``metadata.resourceVersion``;
* a list answers with the counter's value as the list's ``resourceVersion``;
* a watch from version ``N`` replays every change after ``N`` that is still in the history, then
  follows live changes; a version older than the oldest kept change is *expired* (410 Gone);
* ``metadata.uid`` / ``creationTimestamp`` are set on create, ``generation`` is 1 on create and
  bumped when ``spec`` changes.

All methods take the store's lock; objects handed out are deep copies.
"""

from __future__ import annotations

import copy
import datetime as _dt
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from sim_arena_gym.testing.fake_cluster.selectors import matches_fields, matches_labels

__all__ = ["ApiError", "Change", "ResourceType", "Store", "now_rfc3339"]


def now_rfc3339() -> str:
    """The current UTC time as the API server writes it (``2026-12-01T16:00:00Z``)."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    """An API failure, answered as a ``Status`` object with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


@dataclass(frozen=True)
class ResourceType:
    """One served resource: ``plural`` in ``group/version`` (``group`` ``""`` for the core group)."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update", "watch")
    subresources: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        return f"{self.group}/{self.plural}"

    def not_found(self, name: str) -> ApiError:
        what = f"{self.plural}.{self.group}" if self.group else self.plural
        return ApiError(404, "NotFound", f'{what} "{name}" not found',
                        {"name": name, "group": self.group, "kind": self.plural})


@dataclass(frozen=True)
class Change:
    """One entry of the history: ``type`` ``ADDED``, ``MODIFIED`` or ``DELETED`` of ``obj`` at ``rv``."""

    rv: int
    rtype: ResourceType
    type: str
    obj: dict[str, Any]


class Store:
    """Objects keyed by (resource, namespace, name), with a history of ``history_limit`` changes."""

    def __init__(self, history_limit: int = 10_000) -> None:
        self.cond = threading.Condition()
        self._rv = 1
        self._objects: dict[tuple[str, str, str], tuple[ResourceType, dict[str, Any]]] = {}
        self._history: deque[Change] = deque(maxlen=history_limit)
        #: called (under the lock) after every change: ``hook(change)``
        self.hooks: list[Callable[[Change], None]] = []
        self.closed = False

    # -- helpers -------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def _record(self, rtype: ResourceType, kind: str, obj: dict[str, Any]) -> None:
        self._history.append(Change(self._rv, rtype, kind, copy.deepcopy(obj)))
        for hook in list(self.hooks):
            hook(self._history[-1])
        self.cond.notify_all()

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    @staticmethod
    def _key(rtype: ResourceType, namespace: str | None, name: str) -> tuple[str, str, str]:
        return (rtype.key, namespace or "" if rtype.namespaced else "", name)

    # -- reads ---------------------------------------------------------------------------------

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        with self.cond:
            hit = self._objects.get(self._key(rtype, namespace, name))
            if hit is None:
                raise rtype.not_found(name)
            return copy.deepcopy(hit[1])

    def exists(self, rtype: ResourceType, namespace: str | None, name: str) -> bool:
        with self.cond:
            return self._key(rtype, namespace, name) in self._objects

    def list(
        self,
        rtype: ResourceType,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Matching objects in creation order (by uid sequence), and the store's version."""
        with self.cond:
            out = [
                copy.deepcopy(obj)
                for (key, ns, _), (_, obj) in self._objects.items()
                if key == rtype.key
                and (namespace is None or ns == namespace)
                and matches_labels(obj, label_selector)
                and matches_fields(obj, field_selector)
            ]
            return out, self._rv

    def count(self) -> int:
        with self.cond:
            return len(self._objects)

    def snapshot(self) -> set[tuple[str, str, str]]:
        """The keys of every object (to compare the store before and after a run)."""
        with self.cond:
            return set(self._objects)

    # -- writes --------------------------------------------------------------------------------

    def create(self, rtype: ResourceType, namespace: str | None, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        name = meta.get("name")
        if not name and meta.get("generateName"):
            name = meta["generateName"] + uuid.uuid4().hex[:5]
            meta["name"] = name
        if not name:
            raise ApiError(422, "Invalid", f"{rtype.kind} is invalid: metadata.name: Required value: name or generateName is required")
        with self.cond:
            if rtype.namespaced:
                ns = namespace or meta.get("namespace") or "default"
                if rtype.plural != "namespaces" and ("/namespaces", "", ns) not in self._objects:
                    raise ApiError(404, "NotFound", f'namespaces "{ns}" not found',
                                   {"name": ns, "kind": "namespaces"})
                meta["namespace"] = ns
            else:
                ns = ""
                meta.pop("namespace", None)
            key = self._key(rtype, ns, name)
            if key in self._objects:
                what = f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural
                raise ApiError(409, "AlreadyExists", f'{what} "{name}" already exists',
                               {"name": name, "group": rtype.group, "kind": rtype.plural})
            obj["apiVersion"] = rtype.api_version
            obj["kind"] = rtype.kind
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            meta["resourceVersion"] = self._next_rv()
            self._objects[key] = (rtype, obj)
            self._record(rtype, "ADDED", obj)
            return copy.deepcopy(obj)

    def _current(self, rtype: ResourceType, namespace: str | None, name: str) -> tuple[tuple[str, str, str], dict[str, Any]]:
        key = self._key(rtype, namespace, name)
        hit = self._objects.get(key)
        if hit is None:
            raise rtype.not_found(name)
        return key, hit[1]

    @staticmethod
    def _carry_over(rtype: ResourceType, old: dict[str, Any], new: dict[str, Any], subresource: str | None) -> None:
        """What a write cannot change: identity, and (for types with a status subresource) ``status``
        through the main resource or anything but ``status`` through ``/status``; bumps
        ``generation`` when ``spec`` changes."""
        if subresource == "status":
            status = new.get("status", {})
            new.clear()
            new.update(copy.deepcopy(old))
            new["status"] = status
        elif "status" in rtype.subresources:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        meta = new.setdefault("metadata", {})
        for k in ("uid", "creationTimestamp", "generation", "namespace", "name"):
            if k in old["metadata"]:
                meta[k] = old["metadata"][k]
        if new.get("spec") != old.get("spec"):
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        new["apiVersion"] = rtype.api_version
        new["kind"] = rtype.kind

    def update(self, rtype: ResourceType, namespace: str | None, name: str, obj: dict[str, Any],
               *, subresource: str | None = None) -> dict[str, Any]:
        """Replace (PUT); a stale ``metadata.resourceVersion`` is a 409 Conflict."""
        with self.cond:
            key, old = self._current(rtype, namespace, name)
            given = (obj.get("metadata") or {}).get("resourceVersion")
            if given and given != old["metadata"]["resourceVersion"]:
                what = f"{rtype.plural}.{rtype.group}" if rtype.group else rtype.plural
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {what} "{name}": the object has '
                                                "been modified; please apply your changes to the latest version and try again")
            new = copy.deepcopy(obj)
            self._carry_over(rtype, old, new, subresource)
            return self._commit(rtype, key, new)

    def patch(self, rtype: ResourceType, namespace: str | None, name: str, patch: dict[str, Any],
              *, subresource: str | None = None) -> dict[str, Any]:
        """A JSON merge patch (RFC 7386); strategic merge patches are applied the same way."""
        with self.cond:
            key, old = self._current(rtype, namespace, name)
            new = merge_patch(old, patch)
            self._carry_over(rtype, old, new, subresource)
            return self._commit(rtype, key, new)

    def _commit(self, rtype: ResourceType, key: tuple[str, str, str], new: dict[str, Any]) -> dict[str, Any]:
        new["metadata"]["resourceVersion"] = self._next_rv()
        self._objects[key] = (rtype, new)
        self._record(rtype, "MODIFIED", new)
        return copy.deepcopy(new)

    def delete(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        """Delete one object; its dependents go too (the garbage collector, run at once): the objects
        of a deleted namespace, and every object whose ``ownerReferences`` name a deleted uid."""
        with self.cond:
            key = self._key(rtype, namespace, name)
            if key not in self._objects:
                raise rtype.not_found(name)
            first = self._remove(key)
            pending = [first]
            while pending:
                gone = pending.pop()
                gone_meta = gone["metadata"]
                uid = gone_meta.get("uid")
                is_ns = gone.get("kind") == "Namespace"
                for other, (_, oobj) in list(self._objects.items()):
                    refs = (oobj.get("metadata") or {}).get("ownerReferences") or ()
                    if (is_ns and other[1] == gone_meta["name"] and other[0] != "/namespaces") or any(
                        r.get("uid") == uid for r in refs
                    ):
                        if other in self._objects:
                            pending.append(self._remove(other))
            return copy.deepcopy(first)

    def _remove(self, key: tuple[str, str, str]) -> dict[str, Any]:
        rtype, obj = self._objects.pop(key)
        obj["metadata"]["resourceVersion"] = self._next_rv()
        self._record(rtype, "DELETED", obj)
        return obj

    # -- watches -------------------------------------------------------------------------------

    def changes_since(self, rv: int) -> list[Change]:
        """Kept changes after ``rv``; ``ApiError(410)`` when ``rv`` is older than the history."""
        with self.cond:
            return self._since(rv)

    def _since(self, rv: int) -> list[Change]:
        history = self._history
        if history and rv < history[0].rv - 1:
            raise ApiError(410, "Expired", f"too old resource version: {rv} ({history[0].rv - 1})")
        if rv > self._rv:
            return []
        return [c for c in history if c.rv > rv]

    def follow(self, rv: int, stop: Callable[[], bool], poll_s: float = 0.05) -> Iterator[Change]:
        """Changes after ``rv`` as they happen, until ``stop()`` is true or the store closes."""
        last = rv
        while True:
            with self.cond:
                batch = self._since(last)
                while not batch:
                    if stop() or self.closed:
                        return
                    self.cond.wait(poll_s)
                    batch = self._since(last)
            for change in batch:
                last = change.rv
                yield change
            if stop() or self.closed:
                return

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch of ``target`` by ``patch`` (a new value; inputs unchanged)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out

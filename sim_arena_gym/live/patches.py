"""The three patch types kubectl and the client libraries send, applied to one object.

* ``application/merge-patch+json``: RFC 7386 (``kubectl patch --type merge``), the fake cluster's
  :func:`~sim_arena_gym.testing.fake_cluster.store.merge_patch`;
* ``application/json-patch+json``: RFC 6902 (``kubectl patch --type json``), applied by the
  ``jsonpatch`` library;
* ``application/strategic-merge-patch+json``: Kubernetes' strategic merge patch (``kubectl set
  resources``, ``kubectl edit``, ``kubectl patch``'s default, the Python client's default for a dict
  body): like a merge patch, except that the lists of the pod spec that carry a merge key (containers
  by ``name``, ports by ``containerPort`` ...) are merged element by element, and the ``$patch``,
  ``$setElementOrder/`` , ``$retainKeys`` and ``$deleteFromPrimitiveList/`` directives are honoured.

Every function returns a new object and leaves its inputs alone. A patch that cannot be applied
raises :class:`PatchError` (answered 422 by the live cluster, as the apiserver does).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from sim_arena_gym.testing.fake_cluster.store import merge_patch

__all__ = ["MERGE_KEYS", "PATCH_TYPES", "PatchError", "apply_patch", "strategic_merge_patch"]

#: Merge keys of the lists a strategic merge patch merges element by element (by field name, as in
#: the Kubernetes API's ``patchMergeKey`` tags); other lists are replaced whole.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "conditions": "type",
    "ownerReferences": "uid",
}

#: Media types of the patches served, by kubectl's ``--type`` name.
PATCH_TYPES = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}


class PatchError(ValueError):
    """A patch that cannot be applied (bad shape, failed ``test`` operation, unknown directive)."""


def apply_patch(obj: dict[str, Any], patch: Any, content_type: str) -> dict[str, Any]:
    """``obj`` with ``patch`` of media type ``content_type`` applied (a new object)."""
    if content_type == PATCH_TYPES["json"]:
        if not isinstance(patch, list):
            raise PatchError("a JSON patch must be a list of operations")
        try:
            out = jsonpatch.JsonPatch(patch).apply(copy.deepcopy(obj))
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as exc:
            raise PatchError(f"the JSON patch cannot be applied: {exc}") from None
        if not isinstance(out, dict):
            raise PatchError("the JSON patch must leave an object")
        return out
    if not isinstance(patch, dict):
        raise PatchError("a merge patch must be an object")
    if content_type == PATCH_TYPES["merge"]:
        return merge_patch(obj, patch)
    if content_type == PATCH_TYPES["strategic"]:
        return strategic_merge_patch(obj, patch)
    raise PatchError(f"unsupported patch type {content_type!r}: expected one of {sorted(PATCH_TYPES.values())}")


def strategic_merge_patch(original: Any, patch: Any) -> Any:
    """A strategic merge patch of ``original`` by ``patch`` (a new value; see the module docstring)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = copy.deepcopy(original) if isinstance(original, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(out.get(field), list) and isinstance(value, list):
                out[field] = [v for v in out[field] if v not in value]
            continue
        if key.startswith("$"):
            raise PatchError(f"unknown strategic merge patch directive {key!r}")
        if value is None:
            out.pop(key, None)
        elif isinstance(value, list) and key in MERGE_KEYS and isinstance(out.get(key), list):
            out[key] = _merge_list(out[key], value, MERGE_KEYS[key], patch.get(f"$setElementOrder/{key}"))
        elif isinstance(value, dict):
            out[key] = strategic_merge_patch(out.get(key), value)
        else:
            out[key] = copy.deepcopy(value)
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(items: list[Any], patch: list[Any], key: str, order: Any) -> list[Any]:
    """Merge list ``patch`` into ``items`` element by element on ``key``."""
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if not (isinstance(p, dict) and p.get("$patch") == "replace")]
    out = [copy.deepcopy(i) for i in items]
    for p in patch:
        if not isinstance(p, dict) or key not in p:
            raise PatchError(f"a strategic merge patch of a list merged on {key!r} needs {key!r} in every element")
        at = next((n for n, i in enumerate(out) if isinstance(i, dict) and i.get(key) == p[key]), None)
        if p.get("$patch") == "delete":
            if at is not None:
                del out[at]
        elif at is None:
            out.append(strategic_merge_patch({}, p))
        else:
            out[at] = strategic_merge_patch(out[at], p)
    if isinstance(order, list):
        rank = {o.get(key): n for n, o in enumerate(order) if isinstance(o, dict)}
        out.sort(key=lambda i: rank.get(i.get(key) if isinstance(i, dict) else None, len(rank)))
    return out

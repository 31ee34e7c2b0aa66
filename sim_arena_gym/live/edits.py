"""From a written workload object to an :class:`~sim_arena_gym.env.actions.EditState`, validated as
the apiserver would validate it.

A write to the target workload may change only what the env's actions change: ``spec.replicas`` and
the ``cpu`` / ``memory`` entries of ``resources.requests`` / ``resources.limits`` of the pod template's
containers (a change to ``metadata.annotations``, which ``kubectl apply`` writes, is accepted and
not kept). Anything else is refused
with a field error naming the first field that differs. Quantities are parsed as the apiserver parses
them; a missing request takes its limit (the apiserver's defaulting); ``request <= limit``.
Every failure is an :class:`~sim_arena_gym.testing.fake_cluster.store.ApiError` 422 ``Invalid``
whose message and ``details.causes`` name the field, as the apiserver answers.
"""

from __future__ import annotations

import copy
from typing import Any

from sim_arena_gym.env.actions import EditState
from sim_arena_gym.quantity import QuantityError, cpu_millis, memory_bytes
from sim_arena_gym.testing.fake_cluster.store import ApiError

__all__ = ["EDITABLE", "FieldChange", "changed_fields", "edit_state_of", "invalid", "template_path"]

#: What a write to the target workload may change (in words, for refusals).
EDITABLE = "spec.replicas and the cpu/memory requests and limits of the pod template's containers"

#: A field a write changes: ``(path, new state)``; see :func:`changed_fields`.
FieldChange = tuple[str, EditState]

_QUANTITY_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"


def invalid(kind: str, name: str, field: str, message: str, reason: str = "FieldValueInvalid") -> ApiError:
    """A 422 ``Invalid`` Status for one field, shaped as the apiserver's (``kind`` as it names it in
    messages: ``Deployment.apps``)."""
    short, _, group = kind.partition(".")
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {field}: {message}',
                    {"name": name, "group": group, "kind": short,
                     "causes": [{"reason": reason, "message": message, "field": field}]})


def template_path(kind: str) -> str:
    """Where a workload kind keeps its pod template (``spec.template``; ``spec`` for a bare Pod)."""
    if kind == "Pod":
        return "spec"
    if kind == "CronJob":
        return "spec.jobTemplate.spec.template.spec"
    return "spec.template.spec"


def _strip(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """``obj`` without what a write may change or what the server owns."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for k in ("resourceVersion", "managedFields", "annotations", "generation", "uid", "creationTimestamp", "selfLink"):
        meta.pop(k, None)
    spec = out.get("spec") or {}
    if kind != "Pod":
        spec.pop("replicas", None)
    for c in _containers(out, kind) or ():
        if isinstance(c, dict):
            res = c.get("resources")
            if isinstance(res, dict):
                for part in ("requests", "limits"):
                    if isinstance(res.get(part), dict):
                        for r in ("cpu", "memory"):
                            res[part].pop(r, None)
                        if not res[part]:
                            res.pop(part)
                if not res:
                    c.pop("resources")
    return out


def _containers(obj: dict[str, Any], kind: str) -> Any:
    node: Any = obj
    for part in template_path(kind).split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node.get("containers") if isinstance(node, dict) else None


def _first_difference(a: Any, b: Any, path: str) -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k) or (k in a) != (k in b):
                return _first_difference(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
        return None
    return None if a == b else path


def _quantity(value: Any, resource: str, field: str, kind: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise invalid(kind, name, field, f"Invalid value: {value!r}: quantities must match the regular expression '{_QUANTITY_RE}'")
    try:
        parsed = cpu_millis(value) if resource == "cpu" else memory_bytes(value)
    except (QuantityError, ValueError):
        raise invalid(kind, name, field, f'Invalid value: "{value}": quantities must match the regular expression '
                                         f"'{_QUANTITY_RE}'") from None
    if parsed < 0:
        raise invalid(kind, name, field, f'Invalid value: "{value}": must be greater than or equal to 0')
    return parsed


def edit_state_of(new: dict[str, Any], current: dict[str, Any], container_names: tuple[str, ...],
                  kind_label: str) -> EditState:
    """The edit state ``new`` asks for (see the module docstring); ``current`` is the object as
    stored, ``container_names`` the template's containers in order, ``kind_label`` the resource
    as the apiserver names it in messages (``Deployment.apps``)."""
    kind = str(current.get("kind"))
    name = str((current.get("metadata") or {}).get("name"))
    if not isinstance(new, dict) or not isinstance(new.get("metadata", {}), dict):
        raise ApiError(400, "BadRequest", "the object must be a JSON object with an object metadata")
    diff = _first_difference(_strip(current, kind), _strip(new, kind), "")
    if diff is not None:
        raise invalid(kind_label, name, diff, f"Forbidden: the live cluster lets a repair change only {EDITABLE}",
                      "FieldValueForbidden")
    tpl = template_path(kind)
    containers = _containers(new, kind) or []
    values: dict[str, list[int | None]] = {"cpu": [], "memory": [], "cpu_limit": [], "memory_limit": []}
    for i, c in enumerate(containers):
        res = c.get("resources") or {}
        if not isinstance(res, dict):
            raise invalid(kind_label, name, f"{tpl}.containers[{i}].resources", "Invalid value: must be an object")
        parsed: dict[str, dict[str, int | None]] = {}
        for part in ("requests", "limits"):
            given = res.get(part) or {}
            if not isinstance(given, dict):
                raise invalid(kind_label, name, f"{tpl}.containers[{i}].resources.{part}", "Invalid value: must be an object")
            parsed[part] = {r: None if given.get(r) is None else
                            _quantity(given[r], r, f"{tpl}.containers[{i}].resources.{part}[{r}]", kind_label, name)
                            for r in ("cpu", "memory")}
        for r in ("cpu", "memory"):
            req, lim = parsed["requests"][r], parsed["limits"][r]
            if req is None:
                req = lim  # the apiserver defaults a missing request to the limit
            if req is not None and lim is not None and req > lim:
                raise invalid(kind_label, name, f"{tpl}.containers[{i}].resources.requests",
                              f'Invalid value: "{res["requests"][r]}": must be less than or equal to {r} limit of {res["limits"][r]}')
            values[r].append(req)
            values[f"{r}_limit"].append(lim)
    if tuple(c.get("name") for c in containers) != container_names:  # the diff above forbids this already
        raise invalid(kind_label, name, f"{tpl}.containers", "Forbidden: containers may not be added, removed or renamed",
                      "FieldValueForbidden")
    replicas: Any = 1
    if kind != "Pod":
        replicas = (new.get("spec") or {}).get("replicas", 1)
        if isinstance(replicas, bool) or not isinstance(replicas, int):
            raise invalid(kind_label, name, "spec.replicas", f"Invalid value: {replicas!r}: must be an integer")
        if replicas < 0:
            raise invalid(kind_label, name, "spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")
    return EditState(tuple(values["cpu"]), tuple(values["memory"]), tuple(values["cpu_limit"]),
                     tuple(values["memory_limit"]), int(replicas))


def changed_fields(prev: EditState, new: EditState, container_names: tuple[str, ...], kind: str) -> list[FieldChange]:
    """Each field ``new`` changes from ``prev``, with the state that changes that field alone (so a
    safeguard's refusal can name the field it is about)."""
    out: list[FieldChange] = []
    tpl = template_path(kind)
    for attr, part, r in (("cpu", "requests", "cpu"), ("memory", "requests", "memory"),
                          ("cpu_limit", "limits", "cpu"), ("memory_limit", "limits", "memory")):
        old_values, new_values = getattr(prev, attr), getattr(new, attr)
        for i in range(len(container_names)):
            if old_values[i] != new_values[i]:
                single = list(old_values)
                single[i] = new_values[i]
                state = prev._replace(**{attr: tuple(single)})
                if attr in ("cpu", "memory"):  # a raised request carries its limit, as the edit did
                    lim_attr = f"{attr}_limit"
                    lims = list(getattr(prev, lim_attr))
                    lims[i] = getattr(new, lim_attr)[i]
                    state = state._replace(**{lim_attr: tuple(lims)})
                out.append((f"{tpl}.containers[{i}].resources.{part}[{r}]", state))
    if new.replicas != prev.replicas:
        out.append(("spec.replicas", prev._replace(replicas=new.replicas)))
    return out

"""Workloads inside a trace: list them, look one up, and edit requests, limits and replicas.

A *workload* is a Deployment, StatefulSet or ReplicaSet (pod template at ``spec.template``) or a bare
Pod (``spec`` itself), identified by a :class:`WorkloadRef`. Its *occurrences* are the events that apply
it; its current state is the last applied occurrence (what SimKube replays last).

Editing follows the sharing rule of :mod:`sim_arena_gym.trace.model`: :func:`edit_workload` never
mutates its input. It copies only the dicts and lists on the path from an edited object down to the
edited fields; every other event, object and sub-map is shared with the input trace, so a backend can
cache parsed objects by identity. The index entry of the workload is added to
:attr:`Trace.stale_index` instead of being re-hashed (the writer recomputes it).

Requests and limits follow the API server's validation rules (``shared/docs/k8s-scheduling-rules.md``
1.4): a quantity must not be negative (``must be greater than or equal to 0``) and a request must not
exceed its limit (``must be less than or equal to cpu limit of 500m``). To keep ``request <= limit``
an edit that raises a request above the container's current limit raises that limit to the same
value, and an edit that lowers a limit below the current request lowers the request to match; only
when both are given explicitly in one call and conflict is it an error.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from sim_arena_gym.quantity import QuantityError, parse_quantity, read_quantity
from sim_arena_gym.trace.errors import QuantityFieldError, WorkloadError
from sim_arena_gym.trace.model import Trace, TraceEvent
from sim_arena_gym.trace.refs import KIND_TO_GVK, WorkloadRef
from sim_arena_gym.trace.derived import note_resource_edit

__all__ = [
    "ContainerResources",
    "WorkloadInfo",
    "edit_workload",
    "find_workload",
    "list_workloads",
    "pod_spec_keys",
]

#: Keys from a workload object to its pod spec, per kind.
_POD_SPEC_KEYS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Pod": ("spec",),
}

#: Resource-change maps: container selector -> resource name -> quantity text (``None`` removes it).
ResourceChanges = Mapping[str, Mapping[str, "str | int | float | None"]]

_Key = tuple[str, str, str]  # (kind, namespace, name)
_Occurrences = dict[_Key, list[tuple[int, int]]]  # -> [(event index, position in applied_objs)]


@dataclass(frozen=True)
class ContainerResources:
    """Requests and limits of one container, as the quantity texts stored in the trace.

    Attributes:
        name: the container name.
        requests: resource name -> quantity text, e.g. ``{"cpu": "500m", "memory": "256Mi"}``.
        limits: resource name -> quantity text.
        role: ``"container"`` (main), ``"init"`` (init container) or ``"sidecar"`` (an init container
            with ``restartPolicy: Always``, which keeps running beside the main containers).
    """

    name: str
    requests: Mapping[str, str]
    limits: Mapping[str, str]
    role: str = "container"


@dataclass(frozen=True)
class WorkloadInfo:
    """The last applied state of a workload in a trace.

    Attributes:
        ref: which workload.
        replicas: ``spec.replicas`` (the Kubernetes default 1 when unset; always 1 for a bare Pod).
        containers: the main containers, in pod spec order.
        init_containers: init and sidecar containers, in pod spec order.
        occurrences: how many times the trace applies the workload.
        last_event: index (in ``trace.events``) of the event with the last applied occurrence.
    """

    ref: WorkloadRef
    replicas: int
    containers: tuple[ContainerResources, ...]
    init_containers: tuple[ContainerResources, ...]
    occurrences: int
    last_event: int


def pod_spec_keys(kind: str) -> tuple[str, ...]:
    """Keys leading from a workload object of ``kind`` to its pod spec (``("spec",)`` for a Pod)."""
    return _POD_SPEC_KEYS[kind]


# ---------------------------------------------------------------------------------------------------
# occurrence index, cached per events tuple


#: id(events tuple) -> (that tuple, its occurrence map), least recently used first. Holding the tuple
#: keeps the id from being reused; the size bound keeps at most a few traces alive (edited versions
#: share almost everything). A hit moves the entry to the end, so a base trace that is edited over and
#: over stays cached while the entries of its edited versions age out.
_OCCURRENCE_CACHE: dict[int, tuple[tuple[TraceEvent, ...], _Occurrences]] = {}
_CACHE_SIZE = 32


def _is_map(value: Any) -> bool:
    """``isinstance(value, Mapping)``, with fast paths for ``dict`` (what decoded traces hold) and
    ``None`` (an absent field): ``type(x) is dict`` and ``x is None`` cost a tenth of the ABC check,
    and a dict is a Mapping while ``None`` is not, so the answer is the same for every value."""
    return type(value) is dict or (value is not None and isinstance(value, Mapping))


def _workload_key(obj: Mapping[str, Any]) -> _Key | None:
    kind = obj.get("kind")
    if kind not in _POD_SPEC_KEYS or KIND_TO_GVK[kind] != f"{obj.get('apiVersion')}.{kind}":
        return None
    meta = obj.get("metadata")
    if not _is_map(meta) or not isinstance(meta.get("name"), str):
        return None
    return kind, meta.get("namespace") or "default", meta["name"]


def _remember(events: tuple[TraceEvent, ...], occurrences: _Occurrences) -> None:
    while len(_OCCURRENCE_CACHE) >= _CACHE_SIZE:
        try:  # oldest first; tolerate another thread evicting at the same time
            del _OCCURRENCE_CACHE[next(iter(_OCCURRENCE_CACHE))]
        except (KeyError, RuntimeError, StopIteration):
            break
    _OCCURRENCE_CACHE[id(events)] = (events, occurrences)


def _occurrences(trace: Trace) -> _Occurrences:
    """Where each workload is applied, in file order. Cached (LRU) on the identity of ``trace.events``
    (the cache holds a reference, so the id cannot be reused while cached)."""
    events = trace.events
    slot = id(events)
    hit = _OCCURRENCE_CACHE.get(slot)
    if hit is not None and hit[0] is events:
        try:  # most recently used last; tolerate another thread moving or evicting it meanwhile
            del _OCCURRENCE_CACHE[slot]
        except KeyError:
            pass
        _OCCURRENCE_CACHE[slot] = hit
        return hit[1]
    found: _Occurrences = {}
    for i, event in enumerate(events):
        for j, obj in enumerate(event.applied_objs):
            key = _workload_key(obj)
            if key is not None:
                found.setdefault(key, []).append((i, j))
    _remember(events, found)
    return found


# ---------------------------------------------------------------------------------------------------
# reading


def _source(trace: Trace) -> str:
    return trace.source or "the trace"


def _describe(key: _Key) -> str:
    return f"{key[0]} {key[1]}/{key[2]}"


def _as_ref(ref: WorkloadRef | str) -> WorkloadRef:
    try:
        return WorkloadRef.parse(ref)
    except ValueError as exc:
        raise WorkloadError(str(exc)) from None


def _pod_spec(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    node: Any = obj
    for key in _POD_SPEC_KEYS[kind]:
        node = node.get(key) if _is_map(node) else None
    return node if _is_map(node) else {}


def _texts(values: Any) -> dict[str, str]:
    if not _is_map(values):
        return {}
    return {str(k): v if isinstance(v, str) else repr(v) if isinstance(v, float) else str(v) for k, v in values.items()}


def _container_resources(container: Mapping[str, Any], role: str) -> ContainerResources:
    resources = container.get("resources")
    resources = resources if _is_map(resources) else {}
    return ContainerResources(
        name=str(container.get("name")),
        requests=_texts(resources.get("requests")),
        limits=_texts(resources.get("limits")),
        role=role,
    )


def _info(trace: Trace, key: _Key, places: Sequence[tuple[int, int]]) -> WorkloadInfo:
    last_event, position = places[-1]
    obj = trace.events[last_event].applied_objs[position]
    kind = key[0]
    spec = _pod_spec(obj, kind)
    replicas = 1
    if kind != "Pod":
        value = (obj.get("spec") or {}).get("replicas")
        replicas = value if type(value) is int else 1
    containers = tuple(
        _container_resources(c, "container") for c in spec.get("containers") or () if _is_map(c)
    )
    inits = tuple(
        _container_resources(c, "sidecar" if c.get("restartPolicy") == "Always" else "init")
        for c in spec.get("initContainers") or ()
        if _is_map(c)
    )
    return WorkloadInfo(WorkloadRef(*key), replicas, containers, inits, len(places), last_event)


def list_workloads(trace: Trace) -> list[WorkloadInfo]:
    """Every workload the trace applies (Deployment, StatefulSet, ReplicaSet, bare Pod), in order of
    first appearance, each in its last applied state."""
    return [_info(trace, key, places) for key, places in _occurrences(trace).items()]


def _not_found(trace: Trace, ref: WorkloadRef) -> WorkloadError:
    names = [_describe(key) for key in _occurrences(trace)]
    shown = ", ".join(names[:30]) + (f", ... ({len(names) - 30} more)" if len(names) > 30 else "")
    listing = f"workloads in the trace: {shown}" if names else "the trace has no workloads"
    return WorkloadError(f"{ref.kind} {ref.namespace}/{ref.name} not found in {_source(trace)}; {listing}")


def find_workload(trace: Trace, ref: WorkloadRef | str) -> WorkloadInfo:
    """The last applied state of one workload (``ref``: a :class:`WorkloadRef`, ``"Kind/ns/name"`` or
    ``"ns/name"`` for a Deployment). Raises :class:`WorkloadError` listing the trace's workloads when
    it is absent."""
    ref = _as_ref(ref)
    key = (ref.kind, ref.namespace, ref.name)
    places = _occurrences(trace).get(key)
    if not places:
        raise _not_found(trace, ref)
    return _info(trace, key, places)


# ---------------------------------------------------------------------------------------------------
# editing


class _Change(NamedTuple):
    """One resource change: the stored text (``None`` removes the key) and its exact value."""

    text: Any
    value: Any  # Fraction | None


def _plan(changes: ResourceChanges | None, part: str, label: str) -> dict[str, dict[str, _Change]]:
    """Check a requests/limits argument once: parse each quantity, reject negative ones."""
    plan: dict[str, dict[str, _Change]] = {}
    for selector, resources in (changes or {}).items():
        if not isinstance(selector, str) or not _is_map(resources):
            raise WorkloadError(f"{part} must map a container name or '*' to {{resource: quantity}}", where=label)
        entry: dict[str, _Change] = {}
        for name, text in resources.items():
            if text is None:
                entry[name] = _Change(None, None)
                continue
            try:
                value = parse_quantity(text).value
            except QuantityError as exc:
                raise QuantityFieldError(
                    f"invalid quantity {text!r}: {exc.reason}", where=f"{label} {part}.{name}"
                ) from None
            if value < 0:
                raise WorkloadError(
                    f'Invalid value: "{text}": must be greater than or equal to 0', where=f"{label} {part}.{name}"
                )
            entry[name] = _Change(text, value)
        plan[selector] = entry
    return plan


def _with_key(mapping: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """Set ``key`` in a fresh copy ``mapping``; a new key goes in sorted position when the map's keys
    are sorted (as in every SimKube-exported object), else at the end. Returns the map to use."""
    if key in mapping or not mapping:
        mapping[key] = value
        return mapping
    keys = list(mapping)
    if key < keys[-1] and all(a < b for a, b in zip(keys, keys[1:])):
        mapping[key] = value
        return {k: mapping[k] for k in sorted(mapping)}
    mapping[key] = value
    return mapping


def _changes_for(name: str, main: bool, plan: Mapping[str, Mapping[str, _Change]]) -> dict[str, _Change]:
    merged: dict[str, _Change] = {}
    if main:
        merged.update(plan.get("*", {}))
    merged.update(plan.get(name, {}))
    return merged


def _apply_part(current: Any, changes: Mapping[str, _Change]) -> dict[str, Any]:
    values = dict(current) if _is_map(current) else {}
    for name, change in changes.items():
        if change.text is None:
            values.pop(name, None)
        else:
            values = _with_key(values, name, change.text)
    return values


def _exact(text: Any, field: str, where: str) -> Any:
    try:
        return read_quantity(text).value
    except QuantityError as exc:
        raise QuantityFieldError(f"invalid quantity {text!r}: {exc.reason}", where=f"{where} {field}") from None


def _reconcile(
    requests: dict[str, Any],
    limits: dict[str, Any],
    req_changes: Mapping[str, _Change],
    lim_changes: Mapping[str, _Change],
    field: str,
    where: str,
) -> None:
    """Keep request <= limit for every resource touched (in place on the fresh copies)."""
    if not requests or not limits:
        return
    for name in {*req_changes, *lim_changes}:
        request, limit = requests.get(name), limits.get(name)
        if request is None or limit is None:
            continue
        req_change, lim_change = req_changes.get(name), lim_changes.get(name)
        req_value = req_change.value if req_change is not None else _exact(request, f"{field}.requests.{name}", where)
        lim_value = lim_change.value if lim_change is not None else _exact(limit, f"{field}.limits.{name}", where)
        if req_value <= lim_value:
            continue
        if req_change is not None and lim_change is not None and req_change.text is not None:
            raise WorkloadError(
                f'Invalid value: "{request}": must be less than or equal to {name} limit of {limit}',
                where=f"{where} {field}.requests.{name}",
            )
        if req_change is not None and req_change.text is not None:
            limits[name] = request  # a raised request lifts the limit with it
        else:
            requests[name] = limit  # a lowered limit pulls the request down with it


def _edit_container(
    container: Mapping[str, Any],
    req_changes: Mapping[str, _Change],
    lim_changes: Mapping[str, _Change],
    field: str,
    where: str,
) -> dict[str, Any]:
    """A copy of ``container`` with its ``resources`` (and its requests and limits maps) edited."""
    resources = container.get("resources")
    resources = dict(resources) if _is_map(resources) else {}
    requests = _apply_part(resources.get("requests"), req_changes)
    limits = _apply_part(resources.get("limits"), lim_changes)
    _reconcile(requests, limits, req_changes, lim_changes, field, where)
    for part, values in (("limits", limits), ("requests", requests)):
        if values:
            resources = _with_key(resources, part, values)
        elif resources.get(part):  # every key removed: drop the map (an empty map stays as found)
            del resources[part]
    return _with_key(dict(container), "resources", resources)


def _edit_containers(
    items: Any,
    main: bool,
    req_plan: Mapping[str, Mapping[str, _Change]],
    lim_plan: Mapping[str, Mapping[str, _Change]],
    prefix: str,
    where: str,
) -> list[Any] | None:
    """The edited container list, or ``None`` when no container in it is touched."""
    if not isinstance(items, list):
        return None
    result: list[Any] | None = None
    for i, container in enumerate(items):
        if not _is_map(container):
            continue
        name = container.get("name")
        req = _changes_for(name, main, req_plan)
        lim = _changes_for(name, main, lim_plan)
        if not req and not lim:
            continue
        if result is None:
            result = list(items)
        result[i] = _edit_container(container, req, lim, f"{prefix}[{i}].resources", where)
    return result


def _copy_path(obj: Mapping[str, Any], keys: Sequence[str]) -> list[dict[str, Any]]:
    """Fresh copies of ``obj`` and of each map along ``keys`` (linked together); returns them all."""
    chain = [dict(obj)]
    for key in keys:
        child = chain[-1].get(key)
        if not _is_map(child):
            raise KeyError(key)
        copy = dict(child)
        chain[-1][key] = copy
        chain.append(copy)
    return chain


def _edit_object(
    obj: Mapping[str, Any],
    kind: str,
    req_plan: Mapping[str, Mapping[str, _Change]],
    lim_plan: Mapping[str, Mapping[str, _Change]],
    replicas: int | None,
    where: str,
) -> dict[str, Any]:
    keys = _POD_SPEC_KEYS[kind]
    touches_pods = bool(req_plan or lim_plan)
    try:
        chain = _copy_path(obj, keys if touches_pods else keys[:1])
    except KeyError as exc:
        raise WorkloadError(f"has no {'.'.join(keys)} map (missing {exc.args[0]!r})", where=where) from None
    if replicas is not None:
        chain[0]["spec"] = _with_key(chain[1], "replicas", replicas)
        chain[1] = chain[0]["spec"]
        if touches_pods and len(chain) > 2:
            chain[2] = chain[1][keys[1]]
    if touches_pods:
        spec = chain[-1]
        prefix = ".".join(keys)
        for list_key, main in (("containers", True), ("initContainers", False)):
            edited = _edit_containers(spec.get(list_key), main, req_plan, lim_plan, f"{prefix}.{list_key}", where)
            if edited is not None:
                spec[list_key] = edited
    return chain[0]


def _container_names(obj: Mapping[str, Any], kind: str) -> tuple[list[str], list[str]]:
    spec = _pod_spec(obj, kind)
    names = [c.get("name") for c in spec.get("containers") or () if _is_map(c)]
    inits = [c.get("name") for c in spec.get("initContainers") or () if _is_map(c)]
    return names, inits


def _check_selectors(
    trace: Trace, ref: WorkloadRef, objs: Iterable[Mapping[str, Any]], selectors: Iterable[str]
) -> None:
    """Every named selector must name a container in at least one of the occurrences being edited."""
    known: list[str] = []
    for obj in objs:
        names, inits = _container_names(obj, ref.kind)
        known.extend(n for n in names + inits if n not in known)
    for selector in selectors:
        if selector not in known:
            listing = ", ".join(str(n) for n in known) or "none"
            raise WorkloadError(
                f"{ref.kind} {ref.namespace}/{ref.name} in {_source(trace)} has no container {selector!r}; "
                f"its containers: {listing}"
            )


def edit_workload(
    trace: Trace,
    ref: WorkloadRef | str,
    *,
    requests: ResourceChanges | None = None,
    limits: ResourceChanges | None = None,
    replicas: int | None = None,
    occurrences: str = "all",
) -> Trace:
    """A new trace with one workload's container requests/limits and/or replicas changed.

    Args:
        trace: the trace to edit (not modified).
        ref: the workload (:class:`WorkloadRef`, ``"Kind/ns/name"`` or ``"ns/name"`` = Deployment).
        requests: ``{container name or "*": {resource: quantity text or None}}``; ``"*"`` selects every
            main container, a name selects that container (main or init); ``None`` removes the key.
        limits: same shape as ``requests``, for limits.
        replicas: new ``spec.replicas`` (not for a bare Pod).
        occurrences: ``"all"`` edits every applied occurrence of the workload, ``"last"`` only the last
            (the state SimKube ends with). A named container must exist in at least one edited
            occurrence; occurrences without it are left as they are.

    Request <= limit is kept as described in the module docstring. The new trace shares every
    untouched event, object and map with ``trace`` and lists the workload's index entry in
    ``stale_index``. Raises :class:`WorkloadError` (unknown workload or container, negative quantity,
    request above limit, replicas on a Pod) or :class:`QuantityFieldError` (unparseable quantity)."""
    ref = _as_ref(ref)
    key = (ref.kind, ref.namespace, ref.name)
    occurrence_map = _occurrences(trace)
    places = occurrence_map.get(key)
    if not places:
        raise _not_found(trace, ref)
    if occurrences == "last":
        places = places[-1:]
    elif occurrences != "all":
        raise WorkloadError(f"occurrences must be 'all' or 'last', got {occurrences!r}")
    label = f"{ref.kind} {ref.namespace}/{ref.name}"
    if replicas is not None:
        if ref.kind == "Pod":
            raise WorkloadError(f"{label} is a bare Pod: it has no replicas to change", file=trace.source)
        if type(replicas) is not int or replicas < 0:
            raise WorkloadError(
                f'spec.replicas: Invalid value: "{replicas}": must be greater than or equal to 0',
                file=trace.source,
                where=label,
            )
    try:
        req_plan = _plan(requests, "requests", label)
        lim_plan = _plan(limits, "limits", label)
    except WorkloadError as exc:
        raise exc.located(file=trace.source) from None
    named = {*req_plan, *lim_plan} - {"*"}
    if named:
        _check_selectors(trace, ref, (trace.events[i].applied_objs[j] for i, j in places), named)
    stale_key = (ref.gvk, ref.namespaced_name)
    stale = trace.stale_index if stale_key in trace.stale_index else trace.stale_index | {stale_key}
    edited = _write(trace, ref.kind, label, places, req_plan, lim_plan, replicas, stale)
    _remember(edited.events, occurrence_map)  # same objects in the same places: reuse the index
    return edited


def _write(
    trace: Trace,
    kind: str,
    label: str,
    places: Sequence[tuple[int, int]],
    req_plan: Mapping[str, Mapping[str, _Change]],
    lim_plan: Mapping[str, Mapping[str, _Change]],
    replicas: int | None,
    stale: frozenset[tuple[str, str]],
) -> Trace:
    """The edited trace, once the edit has been checked: each occurrence in ``places`` edited by
    :func:`_edit_object`, every other event shared (the end of :func:`edit_workload`)."""
    events = list(trace.events)
    for event_index, position in places:
        event = events[event_index]
        where = f"events[{event_index}].applied_objs[{position}] ({label})"
        edited = _edit_located(trace, event.applied_objs[position], kind, req_plan, lim_plan, replicas, where)
        events[event_index] = _with_object(event, position, edited)
    return _retraced(trace, tuple(events), stale)


def _edit_located(
    trace: Trace,
    obj: Mapping[str, Any],
    kind: str,
    req_plan: Mapping[str, Mapping[str, _Change]],
    lim_plan: Mapping[str, Mapping[str, _Change]],
    replicas: int | None,
    where: str,
) -> dict[str, Any]:
    """:func:`_edit_object` on ``obj`` of ``trace``, its errors located at ``where`` (``"events[i].
    applied_objs[j] (Kind ns/name)"``) and in ``trace``'s file."""
    try:
        return _edit_object(obj, kind, req_plan, lim_plan, replicas, where)
    except WorkloadError as exc:
        raise exc.located(file=trace.source) from None


def _with_object(event: TraceEvent, position: int, obj: dict[str, Any]) -> TraceEvent:
    """A copy of ``event`` with ``applied_objs[position]`` replaced by ``obj``."""
    applied = list(event.applied_objs)
    applied[position] = obj
    return TraceEvent(event.ts, tuple(applied), event.deleted_objs, event.extra)


def _retraced(trace: Trace, events: tuple[TraceEvent, ...], stale: frozenset[tuple[str, str]]) -> Trace:
    """``trace`` with new ``events`` and ``stale_index``; every other field shared."""
    return Trace(
        version=trace.version,
        config=trace.config,
        events=events,
        index=trace.index,
        pod_lifecycles=trace.pod_lifecycles,
        extra=trace.extra,
        source=trace.source,
        stale_index=stale,
    )


# ---------------------------------------------------------------------------------------------------
# repeated edits of one workload (the env's fast path)


@functools.lru_cache(maxsize=4096)
def _checked_change(text: str) -> _Change | None:
    """The :class:`_Change` that :func:`_plan` makes of the quantity string ``text``, or ``None`` when
    :func:`_plan` would reject it (unparseable or negative). Memoised: the env writes the same few
    canonical texts (``"8500m"``, ``"2Gi"``) over and over."""
    try:
        value = parse_quantity(text).value
    except QuantityError:
        return None
    return None if value < 0 else _Change(text, value)


_REMOVE = _Change(None, None)
_NO_PLAN: dict[str, dict[str, _Change]] = {}  # no requests or limits to change (never mutated)


class _LastOccurrenceEditor:
    """``edit_workload(trace, ref, ..., occurrences="last")`` prepared for many calls (private: used by
    :class:`~sim_arena_gym.env.state.ScenarioContext` to materialise edit states).

    The env writes each simulated edit state into the same workload of the same base trace, tens of
    thousands of times per second. The work that depends only on ``(trace, ref)`` -- resolving the
    reference, finding the last occurrence, its container names (the selector check), the error
    location and the new ``stale_index`` -- is done once here; :meth:`edit` then checks its arguments
    with memoised quantity parsing (:func:`_checked_change`) and runs the same editing code as
    :func:`edit_workload` (:func:`_edit_object`, :func:`_with_object`, :func:`_retraced`).

    The rule it keeps: **the result equals** ``edit_workload(trace, ref, requests=..., limits=...,
    replicas=..., occurrences="last")`` -- the same maps in the same key order (so the same bytes
    once written), sharing the same untouched objects with ``trace`` -- and any argument
    :func:`edit_workload` would reject (an unknown container, a bad or negative quantity, bad
    replicas, replicas on a Pod, a malformed selector map), or that the fast checks do not cover (a
    quantity that is not a string, maps that are not dicts), is handed to :func:`edit_workload`
    itself, which raises its usual error or gives its usual result.

    One difference, in caching only: the edited trace's occurrence index is not remembered (the env
    never edits an edited trace; :func:`edit_workload` on it computes the index again).

    Raises :class:`WorkloadError` like :func:`find_workload` when ``ref`` is not in ``trace``.
    """

    __slots__ = ("trace", "ref", "_kind", "_places", "_where", "_names", "_pod", "_stale")

    def __init__(self, trace: Trace, ref: WorkloadRef | str) -> None:
        ref = _as_ref(ref)
        places = _occurrences(trace).get((ref.kind, ref.namespace, ref.name))
        if not places:
            raise _not_found(trace, ref)
        self.trace = trace
        self.ref = ref
        self._kind = ref.kind
        self._places = places[-1:]
        event_index, position = places[-1]
        self._where = f"events[{event_index}].applied_objs[{position}] ({ref.kind} {ref.namespace}/{ref.name})"
        names, inits = _container_names(trace.events[event_index].applied_objs[position], ref.kind)
        self._names = tuple(names + inits)  # what _check_selectors accepts (compared with ==)
        self._pod = ref.kind == "Pod"
        stale_key = (ref.gvk, ref.namespaced_name)
        stale = trace.stale_index
        self._stale = stale if stale_key in stale else stale | {stale_key}

    def _plan(self, changes: ResourceChanges | None) -> dict[str, dict[str, _Change]] | None:
        """:func:`_plan` for arguments it accepts and whose selectors name known containers (with
        quantities given as strings); ``None`` for anything else."""
        plan: dict[str, dict[str, _Change]] = {}
        if not changes:
            return plan
        if type(changes) is not dict:
            return None
        names = self._names
        for selector, resources in changes.items():
            if type(selector) is not str or type(resources) is not dict:
                return None
            if selector != "*" and selector not in names:
                return None
            entry: dict[str, _Change] = {}
            for name, text in resources.items():
                if text is None:
                    entry[name] = _REMOVE
                elif type(text) is str:
                    change = _checked_change(text)
                    if change is None:
                        return None
                    entry[name] = change
                else:
                    return None
            plan[selector] = entry
        return plan

    def _bad_replicas(self, replicas: int | None) -> bool:
        """Whether :func:`edit_workload` rejects ``replicas``."""
        return replicas is not None and (self._pod or type(replicas) is not int or replicas < 0)

    def check_replicas(self, replicas: int | None) -> None:
        """Raise the error :func:`edit_workload` raises for ``replicas`` (bad value, or any value on a
        bare Pod), if any. It checks replicas before the requests and limits, so a caller that writes
        them in two steps (:meth:`with_replicas`) calls this first to report the same error."""
        if self._bad_replicas(replicas):
            edit_workload(self.trace, self.ref, replicas=replicas, occurrences="last")
            raise AssertionError(f"edit_workload accepted replicas {replicas!r}")  # pragma: no cover

    def edit(
        self,
        *,
        requests: ResourceChanges | None = None,
        limits: ResourceChanges | None = None,
        replicas: int | None = None,
    ) -> Trace:
        """``edit_workload(self.trace, self.ref, requests=requests, limits=limits, replicas=replicas,
        occurrences="last")``; see the class docstring."""
        req_plan = self._plan(requests)
        lim_plan = self._plan(limits)
        if req_plan is None or lim_plan is None or self._bad_replicas(replicas):
            return edit_workload(
                self.trace, self.ref, requests=requests, limits=limits, replicas=replicas, occurrences="last"
            )
        trace = self.trace
        event_index, position = self._places[0]
        event = trace.events[event_index]
        obj = event.applied_objs[position]
        edited = _edit_located(trace, obj, self._kind, req_plan, lim_plan, replicas, self._where)
        note_resource_edit(obj, edited)  # a validator re-checks only the edited fields
        events = list(trace.events)
        events[event_index] = _with_object(event, position, edited)
        return _retraced(trace, tuple(events), self._stale)

    def without_replicas(self, edited: Trace) -> Trace:
        """``self.edit(requests=R, limits=L)``, given ``edited = self.edit(requests=R, limits=L,
        replicas=N)`` of a workload with a pod template: the trace's own object with ``edited``'s pod
        template written in. The edit copies ``spec`` and the template and replaces ``template`` in
        place, so the copied ``spec`` here has the same keys in the same order, next to an equal
        template (the one ``edited`` has, shared)."""
        trace = self.trace
        event_index, position = self._places[0]
        obj = trace.events[event_index].applied_objs[position]
        new_obj = dict(obj)
        spec = new_obj["spec"] = dict(obj["spec"])
        spec["template"] = edited.events[event_index].applied_objs[position]["spec"]["template"]
        note_resource_edit(obj, new_obj)
        events = list(trace.events)
        events[event_index] = _with_object(events[event_index], position, new_obj)
        return _retraced(trace, tuple(events), self._stale)

    def with_replicas(self, edited: Trace, replicas: int) -> Trace:
        """``self.edit(requests=R, limits=L, replicas=replicas)``, given ``edited =
        self.edit(requests=R, limits=L)`` (no replicas): ``replicas`` is written into a copy of
        ``edited``'s object, whose pod template (and its parse in a backend) is shared.

        This equals the one-call edit because :func:`_edit_object` writes ``spec.replicas`` and the
        pod spec independently: the copied ``spec`` has the same keys either way (the edit replaces
        ``template`` in place), so ``replicas`` lands in the same position, next to an equal template.
        Bad replicas raise as :func:`edit_workload` would (:meth:`check_replicas`)."""
        self.check_replicas(replicas)
        trace = self.trace
        event_index, position = self._places[0]
        obj = edited.events[event_index].applied_objs[position]
        new_obj = _edit_located(trace, obj, self._kind, _NO_PLAN, _NO_PLAN, replicas, self._where)
        # Made from the trace's own object too (its requests, limits and replicas changed): noted so,
        # a reader then needs to know nothing about ``edited``'s object, however long ago it was made.
        note_resource_edit(trace.events[event_index].applied_objs[position], new_obj)
        events = list(trace.events)
        events[event_index] = _with_object(events[event_index], position, new_obj)
        return _retraced(trace, tuple(events), self._stale)

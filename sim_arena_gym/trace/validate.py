"""Check what the simulator reads from a trace the way the API server would, before it is simulated.

:mod:`sim_arena_gym.trace.codec` checks a trace's structure when it is read (maps, arrays, identities,
containers, quantity syntax). This module checks, for every applied object of a kind the simulator
replays (Deployment, ReplicaSet, StatefulSet, Job, CronJob, Pod, PriorityClass), every field the
simulator reads: its type, its range (``spec.replicas >= 0``, quantities non-negative and within int64
in the unit the scheduler reads them: millicores for CPU, whole units otherwise), the allowed values
(``strategy.type``, toleration operators and effects, node-selector operators) and the rules between
fields (``request <= limit``, ``maxSurge`` and ``maxUnavailable`` not both 0, node-selector values per
operator). Fields it does not read are left alone, as are kinds it does not replay.

It also bounds the work a trace may ask for (:data:`sim_arena_gym.limits.MAX_PODS`): the pods each
workload asks for at once (replicas; a Job's ``min(parallelism, completions)``; one per bare Pod), at its
largest occurrence, summed over the workloads.

Errors are :class:`~sim_arena_gym.trace.errors.TraceFieldError` (types, ranges, allowed values),
:class:`~sim_arena_gym.trace.errors.QuantityFieldError` (quantities) and
:class:`~sim_arena_gym.trace.errors.TraceLimitError` (work bounds); each names the file, the event, the
object and the field path: ``web.sktrace: events[1].applied_objs[0] (Deployment shop/web)
spec.strategy: must be a map, got a string``.

Checks are memoised by object identity (:class:`ObjectValidator`, holding a reference so that ``id()``
stays valid), so re-checking an edited trace costs only its new objects. Quantities go through
:func:`sim_arena_gym.quantity.read_quantity`, the code path env options and CLI flags use too.
"""

from __future__ import annotations

from collections.abc import Mapping as _AbcMapping
from fractions import Fraction
from typing import Any, Mapping

from sim_arena_gym.limits import MAX_PODS
from sim_arena_gym.quantity import INT64_MAX, QuantityError, read_cpu_millis, read_memory_bytes, read_quantity
from sim_arena_gym.trace.config import describe_type
from sim_arena_gym.trace.derived import derived_record, is_lasting, note_resource_edit
from sim_arena_gym.trace.errors import QuantityFieldError, TraceError, TraceFieldError, TraceLimitError
from sim_arena_gym.trace.model import Trace
from sim_arena_gym.trace.recent import RecentMemo

__all__ = ["ObjectValidator", "REPLAYED_KINDS", "check_object", "note_resource_edit", "validate_trace"]

#: Kinds whose fields are checked (the kinds the simulator replays).
REPLAYED_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "Job", "CronJob", "Pod", "PriorityClass"})

_INT32_MAX = 2**31 - 1
_INT32_MIN = -(2**31)
_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
_TAINT_EFFECTS = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")


def _fail(path: str, problem: str) -> TraceFieldError:
    return TraceFieldError(problem, where=path)


def _map(value: Any, path: str) -> Mapping[str, Any]:
    if type(value) is not dict and not isinstance(value, _AbcMapping):  # dict first: the fast, common case
        raise _fail(path, f"must be a map, got {describe_type(value)}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if type(value) is not list and not isinstance(value, list):
        raise _fail(path, f"must be an array, got {describe_type(value)}")
    return value


def _opt_map(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
    value = obj.get(key)
    if value is None or type(value) is dict:
        return value
    return _map(value, f"{path}.{key}")


def _opt_list(obj: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if type(value) is list:
        return value
    return _list(value, f"{path}.{key}")


def _int(obj: Mapping[str, Any], key: str, path: str, *, low: int = 0, high: int = _INT32_MAX) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(f"{path}.{key}", f"must be an integer, got {describe_type(value)}")
    if value < low:
        raise _fail(f"{path}.{key}", f"must be greater than or equal to {low}, got {value}")
    if value > high:
        raise _fail(f"{path}.{key}", f"must be at most {high}, got {value}")
    return value


def _bool(obj: Mapping[str, Any], key: str, path: str) -> None:
    value = obj.get(key)
    if value is not None and not isinstance(value, bool):
        raise _fail(f"{path}.{key}", f"must be a boolean, got {describe_type(value)}")


def _str(obj: Mapping[str, Any], key: str, path: str, allowed: tuple[str, ...] | None = None) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(f"{path}.{key}", f"must be a string, got {describe_type(value)}")
    if allowed is not None and value not in allowed:
        shown = ", ".join(repr(a) for a in allowed if a)
        raise _fail(f"{path}.{key}", f"must be one of {shown}, got {value!r}")
    return value


def _str_map(obj: Mapping[str, Any], key: str, path: str) -> None:
    """A map of strings to strings (labels, annotations, nodeSelector)."""
    value = _opt_map(obj, key, path)
    for k, v in (value or {}).items():
        if type(v) is not str:
            raise _fail(f"{path}.{key}.{k}", f"must be a string, got {describe_type(v)}")


def _int_or_percent(obj: Mapping[str, Any], key: str, path: str) -> int | str | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise _fail(f"{path}.{key}", f"must be greater than or equal to 0, got {value}")
        return value
    if isinstance(value, str):
        text = value.strip()
        digits = text[:-1] if text.endswith("%") else text
        if digits.isdigit() and digits.isascii() and len(digits) <= 10:
            return text
    raise _fail(f"{path}.{key}", f"must be an integer or a percentage such as '25%', got {value!r}"[:300])


def _is_zero(value: int | str | None) -> bool:
    return value is not None and (value == 0 or (isinstance(value, str) and int(value.rstrip("%")) == 0))


# ---------------------------------------------------------------------------------------------------
# quantities


#: Checked quantity texts: ``(text, "cpu" or other) -> exact value`` (bounded, cleared when full).
_QUANTITIES: dict[tuple[str, bool], Fraction] = {}


def _quantity(value: Any, path: str, resource: str) -> Fraction:
    if type(value) is str:
        hit = _QUANTITIES.get((value, resource == "cpu"))
        if hit is not None:
            return hit
    try:
        exact = read_quantity(value).value  # cached, as are the two scaled readers below
        (read_cpu_millis if resource == "cpu" else read_memory_bytes)(value)
    except QuantityError as exc:
        if exc.reason.startswith("quantity is out of the int64 range"):
            unit = "millicores" if resource == "cpu" else "units"
            raise QuantityFieldError(f"quantity {value!r} is out of the int64 range in {unit}"[:300], where=path) from None
        raise QuantityFieldError(f"invalid quantity {value!r}: {exc.reason}"[:300], where=path) from None
    if exact < 0:
        raise QuantityFieldError(f"must be greater than or equal to 0, got {value!r}", where=path)
    if type(value) is str:
        if len(_QUANTITIES) >= 65536:
            _QUANTITIES.clear()
        _QUANTITIES[(value, resource == "cpu")] = exact
    return exact


def _quantities(obj: Mapping[str, Any], key: str, path: str) -> dict[str, Fraction]:
    values = _opt_map(obj, key, path)
    return {str(name): _quantity(text, f"{path}.{key}.{name}", str(name)) for name, text in (values or {}).items()}


def _resources(obj: Mapping[str, Any], path: str) -> None:
    resources = _opt_map(obj, "resources", path)
    if resources is None:
        return
    path = f"{path}.resources"
    requests = _quantities(resources, "requests", path)
    limits = _quantities(resources, "limits", path)
    for name, request in requests.items():
        limit = limits.get(name)
        if limit is not None and request > limit:
            raise QuantityFieldError(
                f"must be less than or equal to {name} limit of {resources['limits'][name]}",
                where=f"{path}.requests.{name}",
            )


# ---------------------------------------------------------------------------------------------------
# pod specs


def _requirements(term: Mapping[str, Any], key: str, path: str) -> None:
    for i, item in enumerate(_opt_list(term, key, path)):
        where = f"{path}.{key}[{i}]"
        item = _map(item, where)
        _str(item, "key", where)
        operator = _str(item, "operator", where, _SELECTOR_OPERATORS)
        values = _opt_list(item, "values", where)
        for k, v in enumerate(values):
            if not isinstance(v, str):
                raise _fail(f"{where}.values[{k}]", f"must be a string, got {describe_type(v)}")
        if operator in ("In", "NotIn") and not values:
            raise _fail(f"{where}.values", f"must be specified when `operator` is '{operator}'")
        if operator in ("Exists", "DoesNotExist") and values:
            raise _fail(f"{where}.values", f"may not be specified when `operator` is '{operator}'")
        if operator in ("Gt", "Lt"):
            if len(values) != 1 or not values[0].lstrip("-").isdigit() or not values[0].isascii():
                raise _fail(f"{where}.values", f"must be a single integer when `operator` is '{operator}'")


def _affinity(spec: Mapping[str, Any], path: str) -> None:
    affinity = _opt_map(spec, "affinity", path)
    if affinity is None:
        return
    path = f"{path}.affinity"
    node = _opt_map(affinity, "nodeAffinity", path)
    if node is None:
        return
    path = f"{path}.nodeAffinity"
    required = _opt_map(node, "requiredDuringSchedulingIgnoredDuringExecution", path)
    if required is None:
        return
    path = f"{path}.requiredDuringSchedulingIgnoredDuringExecution"
    for i, term in enumerate(_opt_list(required, "nodeSelectorTerms", path)):
        where = f"{path}.nodeSelectorTerms[{i}]"
        term = _map(term, where)
        _requirements(term, "matchExpressions", where)
        _requirements(term, "matchFields", where)


def _tolerations(spec: Mapping[str, Any], path: str) -> None:
    for i, item in enumerate(_opt_list(spec, "tolerations", path)):
        where = f"{path}.tolerations[{i}]"
        item = _map(item, where)
        key = _str(item, "key", where)
        operator = _str(item, "operator", where, ("Exists", "Equal"))
        value = _str(item, "value", where)
        _str(item, "effect", where, _TAINT_EFFECTS)
        _int(item, "tolerationSeconds", where, low=-(2**63), high=INT64_MAX)
        if operator == "Exists" and value:
            raise _fail(f"{where}.operator", "value must be empty when `operator` is 'Exists'")
        if not key and (operator or "Equal") != "Exists":
            raise _fail(f"{where}.operator", "must be 'Exists' when `key` is empty")


def _container(container: Any, path: str) -> None:
    container = _map(container, path)
    name = container.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(f"{path}.name", f"must be a non-empty string, got {describe_type(name)}")
    _resources(container, path)
    _str(container, "restartPolicy", path, ("Always",))


def _pod_spec(spec: Any, path: str) -> None:
    spec = _map(spec, path)
    containers = spec.get("containers")
    if not containers:
        raise _fail(f"{path}.containers", "a pod needs at least one container")
    for i, container in enumerate(_list(containers, f"{path}.containers")):
        _container(container, f"{path}.containers[{i}]")
    for i, container in enumerate(_opt_list(spec, "initContainers", path)):
        _container(container, f"{path}.initContainers[{i}]")
    _quantities(spec, "overhead", path)
    _resources(spec, path)
    _int(spec, "priority", path, low=_INT32_MIN)
    _str(spec, "priorityClassName", path)
    _str(spec, "preemptionPolicy", path, ("PreemptLowerPriority", "Never"))
    _str_map(spec, "nodeSelector", path)
    _affinity(spec, path)
    _tolerations(spec, path)
    _str(spec, "nodeName", path)
    _str(spec, "schedulerName", path)
    for i, gate in enumerate(_opt_list(spec, "schedulingGates", path)):
        _map(gate, f"{path}.schedulingGates[{i}]")
    _str(spec, "restartPolicy", path, ("Always", "OnFailure", "Never"))


def _metadata(meta: Any, path: str) -> None:
    meta = _map(meta, path)
    _str_map(meta, "labels", path)
    for i, ref in enumerate(_opt_list(meta, "ownerReferences", path)):
        where = f"{path}.ownerReferences[{i}]"
        ref = _map(ref, where)
        _str(ref, "kind", where)
        _str(ref, "name", where)


def _template(spec: Mapping[str, Any], path: str) -> None:
    template = spec.get("template")
    if template is None:
        raise _fail(f"{path}.template", "is required")
    template = _map(template, f"{path}.template")
    if template.get("metadata") is not None:
        _metadata(template["metadata"], f"{path}.template.metadata")
    if template.get("spec") is None:
        raise _fail(f"{path}.template.spec", "is required")
    _pod_spec(template["spec"], f"{path}.template.spec")


# ---------------------------------------------------------------------------------------------------
# workloads: each returns the pods the object asks for at once


def _replicas(spec: Mapping[str, Any], path: str, max_pods: int) -> int:
    replicas = _int(spec, "replicas", path)
    replicas = 1 if replicas is None else replicas
    if replicas > max_pods:
        raise TraceLimitError(MAX_PODS.exceeded(replicas, max_pods), where=f"{path}.replicas", limit=MAX_PODS.name)
    return replicas


def _deployment(spec: Mapping[str, Any], path: str, max_pods: int) -> int:
    replicas = _replicas(spec, path, max_pods)
    _int(spec, "minReadySeconds", path)
    _int(spec, "progressDeadlineSeconds", path)
    _int(spec, "revisionHistoryLimit", path)
    _bool(spec, "paused", path)
    strategy = _opt_map(spec, "strategy", path)
    if strategy is not None:
        where = f"{path}.strategy"
        _str(strategy, "type", where, ("RollingUpdate", "Recreate"))
        rolling = _opt_map(strategy, "rollingUpdate", where)
        if rolling is not None:
            where = f"{where}.rollingUpdate"
            surge = _int_or_percent(rolling, "maxSurge", where)
            unavailable = _int_or_percent(rolling, "maxUnavailable", where)
            if _is_zero(surge) and _is_zero(unavailable):
                raise _fail(f"{where}.maxUnavailable", "may not be 0 when `maxSurge` is 0")
    _template(spec, path)
    return replicas


def _replicaset(spec: Mapping[str, Any], path: str, max_pods: int) -> int:
    replicas = _replicas(spec, path, max_pods)
    _int(spec, "minReadySeconds", path)
    _template(spec, path)
    return replicas


def _statefulset(spec: Mapping[str, Any], path: str, max_pods: int) -> int:
    replicas = _replicas(spec, path, max_pods)
    _int(spec, "minReadySeconds", path)
    _str(spec, "podManagementPolicy", path, ("OrderedReady", "Parallel"))
    update = _opt_map(spec, "updateStrategy", path)
    if update is not None:
        where = f"{path}.updateStrategy"
        _str(update, "type", where, ("RollingUpdate", "OnDelete"))
        rolling = _opt_map(update, "rollingUpdate", where)
        if rolling is not None:
            _int(rolling, "partition", f"{where}.rollingUpdate")
            _int_or_percent(rolling, "maxUnavailable", f"{where}.rollingUpdate")
    _template(spec, path)
    return replicas


def _job(spec: Mapping[str, Any], path: str, max_pods: int) -> int:
    parallelism = _int(spec, "parallelism", path)
    completions = _int(spec, "completions", path)
    _int(spec, "backoffLimit", path)
    _int(spec, "activeDeadlineSeconds", path, low=1, high=INT64_MAX)
    _int(spec, "ttlSecondsAfterFinished", path)
    _bool(spec, "suspend", path)
    _template(spec, path)
    if parallelism is None and completions is None:
        at_once, field = 1, "parallelism"
    elif completions is None:
        at_once, field = parallelism or 0, "parallelism"
    elif parallelism is None:
        at_once, field = min(1, completions), "completions"
    else:
        at_once, field = min(parallelism, completions), "parallelism"
    if at_once > max_pods:
        raise TraceLimitError(MAX_PODS.exceeded(at_once, max_pods), where=f"{path}.{field}", limit=MAX_PODS.name)
    return at_once


def _cronjob(spec: Mapping[str, Any], path: str, max_pods: int) -> int:
    schedule = spec.get("schedule")
    if not isinstance(schedule, str) or not schedule.strip():
        raise _fail(f"{path}.schedule", f"must be a non-empty string, got {describe_type(schedule)}")
    _str(spec, "timeZone", path)
    _bool(spec, "suspend", path)
    _str(spec, "concurrencyPolicy", path, ("Allow", "Forbid", "Replace"))
    _int(spec, "startingDeadlineSeconds", path, high=INT64_MAX)
    _int(spec, "successfulJobsHistoryLimit", path)
    _int(spec, "failedJobsHistoryLimit", path)
    job_template = spec.get("jobTemplate")
    if job_template is None:
        raise _fail(f"{path}.jobTemplate", "is required")
    job_template = _map(job_template, f"{path}.jobTemplate")
    if job_template.get("metadata") is not None:
        _metadata(job_template["metadata"], f"{path}.jobTemplate.metadata")
    if job_template.get("spec") is None:
        raise _fail(f"{path}.jobTemplate.spec", "is required")
    return _job(_map(job_template["spec"], f"{path}.jobTemplate.spec"), f"{path}.jobTemplate.spec", max_pods)


def _pod(spec: Mapping[str, Any], path: str, max_pods: int) -> int:
    _pod_spec(spec, path)
    return 1


_SPEC_CHECKS = {
    "Deployment": _deployment,
    "ReplicaSet": _replicaset,
    "StatefulSet": _statefulset,
    "Job": _job,
    "CronJob": _cronjob,
    "Pod": _pod,
}


def _label(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    namespace = meta.get("namespace") or "default"
    return f"({obj.get('kind')} {namespace}/{meta.get('name')})"


def check_object(obj: Mapping[str, Any], max_pods: int) -> int:
    """Check one applied object; return the pods it asks for at once (0 for kinds not replayed and
    DaemonSet-owned objects). Raises a :class:`TraceError` whose ``where`` is ``(Kind ns/name) field``."""
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in REPLAYED_KINDS:
        return 0
    try:
        meta = obj.get("metadata")
        if meta is not None:
            _metadata(meta, "metadata")
            refs = meta.get("ownerReferences") or ()
            if any(ref.get("kind") == "DaemonSet" for ref in refs):
                return 0  # SimKube never replays DaemonSet pods
        if kind == "PriorityClass":
            name = (meta or {}).get("name")
            system = isinstance(name, str) and name.startswith("system-")  # the apiserver's reserved range
            _int(obj, "value", "", low=_INT32_MIN, high=2_000_000_000 if system else 1_000_000_000)
            _bool(obj, "globalDefault", "")
            _str(obj, "preemptionPolicy", "", ("PreemptLowerPriority", "Never"))
            return 0
        spec = obj.get("spec")
        if spec is None:
            raise _fail("spec", "is required")
        return _SPEC_CHECKS[kind](_map(spec, "spec"), "spec", max_pods)
    except TraceError as exc:
        if exc.where and exc.where.startswith("."):  # a top-level field (PriorityClass value)
            exc.where = exc.where[1:]
        raise exc.located(where=_label(obj)) from None


def _pod_spec_of(obj: Mapping[str, Any]) -> Any:
    spec = obj.get("spec")
    if type(spec) is not dict or obj["kind"] == "Pod":
        return spec
    template = spec.get("template")
    return template.get("spec") if type(template) is dict else None


def _check_resource_edit(obj: Mapping[str, Any], old: Mapping[str, Any], max_pods: int) -> int:
    """The checks an edit of requests, limits and replicas can break, on an object made from ``old``
    (checked before); returns the pods it asks for at once. A pod spec shared with ``old`` (a
    replicas-only edit) is not looked at again."""
    kind = obj["kind"]
    try:
        spec = _map(obj.get("spec"), "spec")
        pods = _replicas(spec, "spec", max_pods) if kind in ("Deployment", "ReplicaSet", "StatefulSet") else 1
        pod_spec = _pod_spec_of(obj)
        if pod_spec is not _pod_spec_of(old):
            path = "spec" if kind == "Pod" else "spec.template.spec"
            pod_spec = _map(pod_spec, path)
            for field in ("containers", "initContainers"):
                for i, container in enumerate(_opt_list(pod_spec, field, path)):
                    key = _resources_key(container)
                    if key is not None and key in _CHECKED_RESOURCES:
                        continue  # these requests and limits passed before
                    _resources(_map(container, f"{path}.{field}[{i}]"), f"{path}.{field}[{i}]")
                    if key is not None:
                        if len(_CHECKED_RESOURCES) >= 4096:
                            _CHECKED_RESOURCES.clear()
                        _CHECKED_RESOURCES[key] = None
    except TraceError as exc:
        raise exc.located(where=_label(obj)) from None
    return pods


#: ``(requests items, limits items)`` of container resources that passed :func:`_resources` (maps of
#: strings only; bounded, cleared when full). Whether they pass depends on nothing else, so an edited
#: container whose requests and limits were seen before is not checked again. The keys are tuples of
#: strings, which the garbage collector stops tracking.
_CHECKED_RESOURCES: dict[tuple[tuple, tuple], None] = {}


def _resources_key(container: Any) -> tuple[tuple, tuple] | None:
    """The :data:`_CHECKED_RESOURCES` key of ``container``'s resources, or ``None`` when they are not
    plain maps of strings (those are always checked)."""
    if type(container) is not dict:
        return None
    resources = container.get("resources")
    if resources is None:
        return ((), ())
    if type(resources) is not dict:
        return None
    requests = resources.get("requests")
    limits = resources.get("limits")
    if requests is None:
        requests = {}
    if limits is None:
        limits = {}
    if type(requests) is not dict or type(limits) is not dict:
        return None
    for name, text in (*requests.items(), *limits.items()):
        if type(name) is not str or type(text) is not str:
            return None
    return (tuple(requests.items()), tuple(limits.items()))


class ObjectValidator:
    """:func:`check_object` memoised by object identity (bounded; holds a reference to each object).

    One validator is meant to live as long as the traces it checks (the embedded backend keeps one), so
    that re-checking an edited trace checks only the objects the edit replaced -- and of an object made
    by the env's editor from a checked one (:func:`note_resource_edit`), only the fields it changed
    (and of one noted with :class:`~sim_arena_gym.trace.derived.EditFacts`, only its pods against the
    bound).
    Such edited objects are remembered in a short-lived memo (:class:`~sim_arena_gym.trace.recent.
    RecentMemo`): each is one simulated state's copy, checked for one run and then dropped, and keeping
    it in the long-lived table would only give the garbage collector more to walk. An edited object its
    maker keeps to be read again (:func:`~sim_arena_gym.trace.derived.keep_derived`) goes into the
    long-lived table."""

    #: Entries per generation of the memo of edited objects.
    RECENT_SIZE = 8

    def __init__(self, max_entries: int = 50_000) -> None:
        self._max_entries = max_entries
        self._seen: dict[int, tuple[Any, int, int, Any]] = {}  # id -> (object, max_pods, pods, workload key)
        self._recent = RecentMemo(self.RECENT_SIZE)  # the same entries, for edited objects
        self._last: tuple[Any, int] | None = None  # (trace, max_pods) of the last trace found valid

    def clear(self) -> None:
        self._seen.clear()
        self._recent.clear()
        self._last = None

    def _entry(self, obj: Mapping[str, Any], max_pods: int) -> tuple[Any, int, int, Any]:
        hit = self._seen.get(id(obj))
        if hit is not None and hit[0] is obj and hit[1] == max_pods:
            return hit
        recent = self._recent
        hit = recent.get(id(obj))
        if hit is not None and hit[0] is obj and hit[1] == max_pods:
            return hit
        record = derived_record(obj)  # (obj, the object it was made from, its maker's facts)
        edited = record is not None and obj.get("kind") in _SPEC_CHECKS
        if edited:
            _, old, facts = record  # type: ignore[misc]
            base = self._entry(old, max_pods)  # the object it was made from: checked (or raises)
            if facts is not None and facts.pods <= max_pods:
                pods = facts.pods  # its maker wrote it from checked integers (EditFacts)
            else:
                pods = _check_resource_edit(obj, old, max_pods)
            key = base[3]  # the same kind, namespace and name
        else:
            pods = check_object(obj, max_pods)
            key = None
        if pods and key is None:
            meta = obj.get("metadata") or {}
            key = (str(obj.get("kind")), str(meta.get("namespace") or "default"), str(meta.get("name")))
        entry = (obj, max_pods, pods, key)
        if edited and not is_lasting(obj):
            recent.put(id(obj), entry)
            return entry
        if len(self._seen) >= self._max_entries:
            self._seen.clear()
        self._seen[id(obj)] = entry
        return entry

    def pods_of(self, obj: Mapping[str, Any], max_pods: int) -> int:
        """The pods ``obj`` asks for at once, checking it first (unless already checked)."""
        return self._entry(obj, max_pods)[2]

    def validate(self, trace: Trace, *, max_pods: int | None = None) -> None:
        """Check every applied object of ``trace`` and the total pods it asks for at once.

        ``max_pods`` defaults to :data:`~sim_arena_gym.limits.MAX_PODS` in force. Raises a
        :class:`TraceError` located with the file, the event and the object."""
        limit = MAX_PODS.value() if max_pods is None else max_pods
        last = self._last
        if last is not None and last[0] is trace and last[1] == limit:
            return
        demand: dict[Any, int] = {}
        places: dict[Any, tuple[int, int]] = {}
        entry_of = self._entry
        for i, event in enumerate(trace.events):
            for j, obj in enumerate(event.applied_objs):
                try:
                    _, _, pods, key = entry_of(obj, limit)
                except TraceError as exc:
                    raise exc.located(file=trace.source, where=f"events[{i}].applied_objs[{j}]") from None
                if pods and pods > demand.get(key, 0):
                    demand[key] = pods
                    places[key] = (i, j)
        total = sum(demand.values())
        if total > limit:
            largest = max(demand, key=lambda k: demand[k])
            i, j = places[largest]
            where = f"events[{i}].applied_objs[{j}] {_label(trace.events[i].applied_objs[j])}"
            raise TraceLimitError(
                f"the workloads ask for {total} pods at once (the largest, at {where}, for "
                f"{demand[largest]}): " + MAX_PODS.exceeded(total, limit),
                file=trace.source,
                limit=MAX_PODS.name,
            )
        self._last = (trace, limit)


def validate_trace(trace: Trace, *, max_pods: int | None = None) -> None:
    """Check ``trace`` for simulation (see the module docstring); no memo across calls."""
    ObjectValidator().validate(trace, max_pods=max_pods)

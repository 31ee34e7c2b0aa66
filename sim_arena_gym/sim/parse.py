"""Kubernetes object dicts -> domain objects, parsed once per object (identity cache).

The environment edits traces by path-copying: after an edit only the dicts on the edited path are new,
every other object and sub-object is shared with the previous trace. :class:`ObjectParser` therefore
memoises each parse step by the ``id()`` of the dict or list it read, keeping a reference to it so that
the id stays valid. Re-running a trace after a single Deployment edit re-parses only that Deployment's
changed dicts (the edited container, its ``resources``), and reuses its unchanged siblings
(tolerations, nodeSelector, other containers) and every other object.

Scheduling constraints are also interned by value, so that equal nodeSelector/tolerations give the
very same :class:`~sim_arena_gym.sim.objects.SchedulingConstraints` object (the scheduler caches its
per-node static filter results by that object).

Objects this simulator does not model (Services, ConfigMaps, ...) parse to ``None``; so do objects
owned by a DaemonSet (SimKube never exports them). Malformed fields raise
:class:`~sim_arena_gym.trace.errors.TraceError` subclasses naming the object and field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from sim_arena_gym.quantity import QuantityError
from sim_arena_gym.scenarios.model import KWOK_PROVIDER_TAINT_KEY, VIRTUAL_NODE_LABELS
from sim_arena_gym.sim.objects import (
    ContainerSpec,
    CronJobSpec,
    DeploymentSpec,
    JobSpec,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodSpec,
    PodTemplate,
    ReplicaSetSpec,
    SchedulingConstraints,
    StatefulSetSpec,
    Toleration,
)
from sim_arena_gym.sim.requests import nano_units, pod_request
from sim_arena_gym.trace.errors import QuantityFieldError, WorkloadError

__all__ = [
    "KWOK_TOLERATION",
    "MODELLED_KINDS",
    "ObjectParser",
    "ParsedObject",
    "PriorityClassSpec",
    "identity_of",
]

#: Kinds the simulator replays.
MODELLED_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "Job", "CronJob", "Pod", "PriorityClass")

#: The toleration SimKube's driver adds to every simulated pod (checklist 35).
KWOK_TOLERATION = Toleration(key=KWOK_PROVIDER_TAINT_KEY, operator="Exists", effect="NoSchedule")
_VIRTUAL_TYPE = VIRTUAL_NODE_LABELS["type"]

#: ``progressDeadlineSeconds`` of MaxInt32 means "no deadline" (``HasProgressDeadline``).
_NO_DEADLINE = 2**31 - 1
_EMPTY: Mapping[str, int] = {}
_EMPTY_LABELS: Mapping[str, str] = {}


@dataclass(frozen=True, slots=True)
class PriorityClassSpec:
    """A ``scheduling.k8s.io/v1`` PriorityClass."""

    value: int
    global_default: bool = False
    preemption_policy: str = "PreemptLowerPriority"


@dataclass(slots=True)
class ParsedObject:
    """One applied object: identity plus its parsed spec.

    Attributes:
        kind: ``Deployment``, ``ReplicaSet``, ``StatefulSet``, ``Job``, ``CronJob``, ``Pod`` or
            ``PriorityClass``.
        namespace: ``metadata.namespace`` (``default`` when absent; ``""`` for PriorityClass).
        name: ``metadata.name``.
        spec: :class:`DeploymentSpec`, :class:`ReplicaSetSpec`, :class:`StatefulSetSpec`,
            :class:`JobSpec`, :class:`CronJobSpec`, :class:`PodTemplate` (bare Pod) or
            :class:`PriorityClassSpec`.
        raw: the dict it was parsed from.
    """

    kind: str
    namespace: str
    name: str
    spec: Any
    raw: Mapping[str, Any]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)


def _is_map(value: Any) -> bool:
    """A JSON object (``dict`` fast path; any ``Mapping`` accepted)."""
    return type(value) is dict or isinstance(value, Mapping)


def identity_of(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(kind, namespace, name)`` of an object dict (deleted stubs carry only this)."""
    meta = obj.get("metadata") or {}
    kind = str(obj.get("kind") or "")
    namespace = "" if kind == "PriorityClass" else str(meta.get("namespace") or "default")
    return (kind, namespace, str(meta.get("name") or ""))


def _label(obj: Mapping[str, Any]) -> str:
    kind, namespace, name = identity_of(obj)
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _int_field(container: Mapping[str, Any], key: str, default: int | None, where: str) -> int | None:
    value = container.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise WorkloadError(f"{key} must be an integer, got {value!r}", where=where)
    return value


def _int_or_percent(value: Any, default: int | str, where: str, key: str) -> int | str:
    if value is None:
        return default
    if isinstance(value, bool):
        raise WorkloadError(f"{key} must be an integer or a percentage, got {value!r}", where=where)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%") and text[:-1].isdigit():
            return text
        if text.isdigit():
            return int(text)
    raise WorkloadError(f"{key} must be an integer or a percentage such as '25%', got {value!r}", where=where)


class ObjectParser:
    """Parses trace objects into domain objects, memoised by object identity.

    One parser is meant to live as long as the traces it reads (the embedded backend keeps one). The
    memo holds references to the dicts it parsed; it is cleared when it grows past ``max_entries``.
    """

    def __init__(self, max_entries: int = 50_000) -> None:
        self._max_entries = max_entries
        self.clear()

    # -- memo -----------------------------------------------------------------------------------

    # Each table maps ``id(raw)`` to ``(raw, parsed)``; keeping ``raw`` keeps its id valid. The hot
    # lookups are written out inline; :meth:`_cached` serves the others.

    def _cached(self, memo: dict[int, tuple[Any, Any]], raw: Any, build: Callable[[Any], Any]) -> Any:
        hit = memo.get(id(raw))
        if hit is not None and hit[0] is raw:
            return hit[1]
        value = build(raw)
        self._store(memo, raw, value)
        return value

    def clear(self) -> None:
        """Forget every parsed object."""
        self._templates: dict[int, tuple[Any, Any]] = {}
        self._jobs: dict[int, tuple[Any, Any]] = {}
        self._objects: dict[int, tuple[Any, Any]] = {}
        self._podspecs: dict[int, tuple[Any, Any]] = {}
        self._container_lists: dict[int, tuple[Any, Any]] = {}
        self._container_memo: dict[int, tuple[Any, Any]] = {}
        self._quantity_memo: dict[int, tuple[Any, Any]] = {}
        self._constraint_memo: dict[tuple[int, int, int], tuple[Any, Any, Any, SchedulingConstraints]] = {}
        self._interned: dict[SchedulingConstraints, SchedulingConstraints] = {}
        self._simkube: dict[int, tuple[SchedulingConstraints, SchedulingConstraints]] = {}
        self._size = 0

    def _store(self, memo: dict[int, tuple[Any, Any]], raw: Any, value: Any) -> None:
        if self._size >= self._max_entries:
            self.clear()
            return
        memo[id(raw)] = (raw, value)
        self._size += 1

    @property
    def size(self) -> int:
        """Number of memoised parse results."""
        return self._size

    # -- objects --------------------------------------------------------------------------------

    def parse_object(self, obj: Mapping[str, Any]) -> ParsedObject | None:
        """Parse one applied object; ``None`` for kinds not modelled and DaemonSet-owned objects."""
        memo = self._objects
        hit = memo.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        value = self._parse_object(obj)
        self._store(memo, obj, value)
        return value

    def _parse_object(self, obj: Mapping[str, Any]) -> ParsedObject | None:
        if not _is_map(obj):
            raise WorkloadError(f"expected a Kubernetes object (a map), got {type(obj).__name__}")
        kind = obj.get("kind")
        if kind not in MODELLED_KINDS:
            return None
        meta = obj.get("metadata") or {}
        for ref in meta.get("ownerReferences") or ():
            if _is_map(ref) and ref.get("kind") == "DaemonSet":
                return None
        kind, namespace, name = identity_of(obj)
        where = _label(obj)
        if not name:
            raise WorkloadError("metadata.name is missing", where=where)
        spec = obj.get("spec")
        if kind == "PriorityClass":
            return ParsedObject(kind, namespace, name, self._priority_class(obj, where), obj)
        if not _is_map(spec):
            raise WorkloadError("spec is missing", where=where)
        if kind == "Deployment":
            parsed: Any = self._deployment(spec, where)
        elif kind == "ReplicaSet":
            parsed = ReplicaSetSpec(
                replicas=_int_field(spec, "replicas", 1, where) or 0,
                template=self.parse_template(spec.get("template"), where),
                min_ready_seconds=_int_field(spec, "minReadySeconds", 0, where) or 0,
            )
        elif kind == "StatefulSet":
            parsed = self._statefulset(spec, where)
        elif kind == "Job":
            parsed = self._job(spec, where)
        elif kind == "CronJob":
            parsed = self._cronjob(spec, where)
        else:  # Pod
            labels = meta.get("labels") or {}
            parsed = PodTemplate(labels=labels, spec=self.parse_pod_spec(spec, where), raw=obj)
        return ParsedObject(kind, namespace, name, parsed, obj)

    def _priority_class(self, obj: Mapping[str, Any], where: str) -> PriorityClassSpec:
        value = obj.get("value", 0)
        if isinstance(value, bool) or not isinstance(value, int):
            raise WorkloadError(f"value must be an integer, got {value!r}", where=where)
        return PriorityClassSpec(
            value=value,
            global_default=bool(obj.get("globalDefault", False)),
            preemption_policy=str(obj.get("preemptionPolicy") or "PreemptLowerPriority"),
        )

    def _deployment(self, spec: Mapping[str, Any], where: str) -> DeploymentSpec:
        strategy = spec.get("strategy") or {}
        kind = strategy.get("type") or "RollingUpdate"
        if kind not in ("RollingUpdate", "Recreate"):
            raise WorkloadError(f"strategy.type must be RollingUpdate or Recreate, got {kind!r}", where=where)
        rolling = strategy.get("rollingUpdate") or {}
        deadline = _int_field(spec, "progressDeadlineSeconds", 600, where)
        return DeploymentSpec(
            replicas=_int_field(spec, "replicas", 1, where) or 0,
            template=self.parse_template(spec.get("template"), where),
            strategy=kind,
            max_surge=_int_or_percent(rolling.get("maxSurge"), "25%", where, "maxSurge"),
            max_unavailable=_int_or_percent(rolling.get("maxUnavailable"), "25%", where, "maxUnavailable"),
            min_ready_seconds=_int_field(spec, "minReadySeconds", 0, where) or 0,
            progress_deadline_seconds=None if deadline == _NO_DEADLINE else deadline,
            paused=bool(spec.get("paused", False)),
            revision_history_limit=_int_field(spec, "revisionHistoryLimit", 10, where) or 0,
        )

    def _statefulset(self, spec: Mapping[str, Any], where: str) -> StatefulSetSpec:
        update = spec.get("updateStrategy") or {}
        rolling = update.get("rollingUpdate") or {}
        return StatefulSetSpec(
            replicas=_int_field(spec, "replicas", 1, where) or 0,
            template=self.parse_template(spec.get("template"), where),
            pod_management_policy=str(spec.get("podManagementPolicy") or "OrderedReady"),
            update_strategy=str(update.get("type") or "RollingUpdate"),
            partition=_int_field(rolling, "partition", 0, where) or 0,
            min_ready_seconds=_int_field(spec, "minReadySeconds", 0, where) or 0,
        )

    def _job(self, spec: Mapping[str, Any], where: str) -> JobSpec:
        parallelism = _int_field(spec, "parallelism", None, where)
        completions = _int_field(spec, "completions", None, where)
        if parallelism is None and completions is None:
            parallelism, completions = 1, 1
        elif parallelism is None:
            parallelism = 1
        return JobSpec(
            template=self.parse_template(spec.get("template"), where),
            parallelism=parallelism,
            completions=completions,
            ttl_seconds_after_finished=_int_field(spec, "ttlSecondsAfterFinished", None, where),
            suspend=bool(spec.get("suspend", False)),
        )

    def _cronjob(self, spec: Mapping[str, Any], where: str) -> CronJobSpec:
        schedule = spec.get("schedule")
        if not isinstance(schedule, str) or not schedule.strip():
            raise WorkloadError("schedule is missing", where=where)
        job_template = spec.get("jobTemplate") or {}
        job_spec = job_template.get("spec")
        if not _is_map(job_spec):
            raise WorkloadError("jobTemplate.spec is missing", where=where)
        return CronJobSpec(
            schedule=schedule,
            job=self._cached(self._jobs, job_spec, lambda s: self._job(s, where)),
            time_zone=spec.get("timeZone"),
            suspend=bool(spec.get("suspend", False)),
            concurrency_policy=str(spec.get("concurrencyPolicy") or "Allow"),
            starting_deadline_seconds=_int_field(spec, "startingDeadlineSeconds", None, where),
            successful_jobs_history_limit=_int_field(spec, "successfulJobsHistoryLimit", 3, where) or 0,
            failed_jobs_history_limit=_int_field(spec, "failedJobsHistoryLimit", 1, where) or 0,
        )

    # -- pod templates and specs ----------------------------------------------------------------

    def parse_template(self, template: Any, where: str = "") -> PodTemplate:
        """A pod template ``{metadata: {labels}, spec}``; memoised by identity."""
        if not _is_map(template):
            raise WorkloadError("spec.template is missing", where=where)
        memo = self._templates
        hit = memo.get(id(template))
        if hit is not None and hit[0] is template:
            return hit[1]
        value = self._template(template, where)
        self._store(memo, template, value)
        return value

    def _template(self, template: Mapping[str, Any], where: str) -> PodTemplate:
        meta = template.get("metadata") or {}
        spec = template.get("spec")
        if not _is_map(spec):
            raise WorkloadError("spec.template.spec is missing", where=where)
        return PodTemplate(meta.get("labels") or _EMPTY_LABELS, self.parse_pod_spec(spec, where), template)

    def parse_pod_spec(self, spec: Mapping[str, Any], where: str = "") -> PodSpec:
        """A pod spec, with its scheduler request precomputed; memoised by identity."""
        memo = self._podspecs
        hit = memo.get(id(spec))
        if hit is not None and hit[0] is spec:
            return hit[1]
        value = self._pod_spec(spec, where)
        self._store(memo, spec, value)
        return value

    def _pod_spec(self, spec: Mapping[str, Any], where: str) -> PodSpec:
        raw_containers = spec.get("containers")
        if not isinstance(raw_containers, list) or not raw_containers:
            raise WorkloadError("a pod spec needs at least one container", where=where)
        containers = self._containers(raw_containers, where)
        raw_init = spec.get("initContainers")
        init = self._containers(raw_init, where) if isinstance(raw_init, list) and raw_init else ()
        overhead = self._quantities(spec.get("overhead"), where, "overhead")
        resources = spec.get("resources")
        pod_resources = self._quantities(resources.get("requests"), where, "resources.requests") if resources else {}
        priority = spec.get("priority")
        if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
            raise WorkloadError(f"priority must be an integer, got {priority!r}", where=where)
        get = spec.get
        return PodSpec(
            containers,
            init,
            overhead,
            pod_resources,
            priority,
            str(get("priorityClassName") or ""),
            get("preemptionPolicy"),
            self._constraints(spec),
            get("nodeName") or None,
            str(get("schedulerName") or "default-scheduler"),
            bool(get("schedulingGates")),
            str(get("restartPolicy") or "Always"),
            pod_request(containers, init, overhead=overhead, pod_resources=pod_resources),
        )

    def _containers(self, raw: list[Any], where: str) -> tuple[ContainerSpec, ...]:
        memo = self._container_lists
        hit = memo.get(id(raw))
        if hit is not None and hit[0] is raw:
            return hit[1]
        value = tuple(self._container(c, where) for c in raw)
        self._store(memo, raw, value)
        return value

    def _container(self, raw: Any, where: str) -> ContainerSpec:
        memo = self._container_memo
        hit = memo.get(id(raw))
        if hit is not None and hit[0] is raw:
            return hit[1]
        if not _is_map(raw):
            raise WorkloadError(f"a container must be a map, got {type(raw).__name__}", where=where)
        value = self._build_container(raw, where)
        self._store(memo, raw, value)
        return value

    def _build_container(self, raw: Mapping[str, Any], where: str) -> ContainerSpec:
        name = str(raw.get("name") or "")
        resources = raw.get("resources") or {}
        place = f"{where} container {name!r}" if where else f"container {name!r}"
        requests = self._quantities(resources.get("requests"), place, "resources.requests")
        limits = self._quantities(resources.get("limits"), place, "resources.limits")
        for key, req in requests.items():
            limit = limits.get(key)
            if limit is not None and req > limit:
                raise QuantityFieldError(
                    f"resources.requests.{key}: must be less than or equal to {key} limit of "
                    f"{resources['limits'][key]}",
                    where=place,
                )
        return ContainerSpec(name, requests, limits, raw.get("restartPolicy") == "Always")

    def _quantities(self, raw: Any, where: str, field: str) -> Mapping[str, int]:
        if not raw:
            return _EMPTY
        memo = self._quantity_memo
        hit = memo.get(id(raw))
        if hit is not None and hit[0] is raw:
            return hit[1]
        if not _is_map(raw):
            raise QuantityFieldError(f"{field} must be a map of quantities, got {raw!r}", where=where)
        value = self._build_quantities(raw, where, field)
        self._store(memo, raw, value)
        return value

    @staticmethod
    def _build_quantities(raw: Mapping[str, Any], where: str, field: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for key, value in raw.items():
            try:
                nano = nano_units(value)
            except QuantityError as exc:
                raise QuantityFieldError(f"{field}.{key}: {exc}", where=where) from None
            if nano < 0:
                raise QuantityFieldError(f"{field}.{key}: must be greater than or equal to 0", where=where)
            out[str(key)] = nano
        return out

    # -- scheduling constraints ------------------------------------------------------------------

    def _constraints(self, spec: Mapping[str, Any]) -> SchedulingConstraints:
        """nodeSelector, required node affinity and tolerations; memoised by the identity of the three
        raw fields and interned by value."""
        selector_raw = spec.get("nodeSelector")
        affinity_raw = spec.get("affinity")
        tolerations_raw = spec.get("tolerations")
        key = (id(selector_raw), id(affinity_raw), id(tolerations_raw))
        hit = self._constraint_memo.get(key)
        if hit is not None and hit[0] is selector_raw and hit[1] is affinity_raw and hit[2] is tolerations_raw:
            return hit[3]
        selector = tuple(sorted((str(k), str(v)) for k, v in selector_raw.items())) if selector_raw else ()
        required = ((affinity_raw or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        terms = self._terms(required) if required is not None else None
        tolerations = self._tolerations(tolerations_raw) if tolerations_raw else ()
        built = SchedulingConstraints(node_selector=selector, required_terms=terms, tolerations=tolerations)
        value = self._interned.setdefault(built, built)
        if len(self._constraint_memo) > self._max_entries:
            self._constraint_memo.clear()
        self._constraint_memo[key] = (selector_raw, affinity_raw, tolerations_raw, value)
        return value

    @staticmethod
    def _requirements(raw: Any) -> tuple[NodeSelectorRequirement, ...]:
        out = []
        for item in raw or ():
            if _is_map(item):
                out.append(
                    NodeSelectorRequirement(
                        key=str(item.get("key", "")),
                        operator=str(item.get("operator", "")),
                        values=tuple(str(v) for v in item.get("values") or ()),
                    )
                )
        return tuple(out)

    def _terms(self, raw: Any) -> tuple[NodeSelectorTerm, ...]:
        terms = []
        for term in (raw or {}).get("nodeSelectorTerms") or ():
            if _is_map(term):
                terms.append(
                    NodeSelectorTerm(
                        match_expressions=self._requirements(term.get("matchExpressions")),
                        match_fields=self._requirements(term.get("matchFields")),
                    )
                )
        return tuple(terms)

    @staticmethod
    def _tolerations(raw: Any) -> tuple[Toleration, ...]:
        out = []
        for item in raw or ():
            if _is_map(item):
                out.append(
                    Toleration(
                        key=str(item.get("key") or ""),
                        operator=str(item.get("operator") or "Equal"),
                        value=str(item.get("value") or ""),
                        effect=str(item.get("effect") or ""),
                    )
                )
        return tuple(out)

    # -- SimKube driver mutation -------------------------------------------------------------------

    def simkube_constraints(self, constraints: SchedulingConstraints) -> SchedulingConstraints:
        """The constraints of a pod as SimKube's driver admits it (checklist 35, trace-format spec
        5.2): ``nodeSelector.type=virtual`` (overwriting an existing ``type``) and the toleration
        ``{key: kwok-provider, operator: Exists, effect: NoSchedule}`` added if absent. Memoised."""
        hit = self._simkube.get(id(constraints))
        if hit is not None and hit[0] is constraints:
            return hit[1]
        c = constraints
        selector = tuple(sorted({**dict(c.node_selector), "type": _VIRTUAL_TYPE}.items()))
        tolerations = c.tolerations if KWOK_TOLERATION in c.tolerations else c.tolerations + (KWOK_TOLERATION,)
        built = SchedulingConstraints(node_selector=selector, required_terms=c.required_terms, tolerations=tolerations)
        mutated = self._interned.setdefault(built, built)
        self._simkube[id(constraints)] = (constraints, mutated)
        return mutated

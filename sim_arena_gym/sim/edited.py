"""The parse of an edited Deployment, derived from the parse of the object it was made from.

The env writes each simulated state into its target Deployment (only container requests, limits
and ``spec.replicas`` change, :mod:`~sim_arena_gym.trace.derived`), and the backend then validates
and parses that copy. :func:`derive_edited_deployment` gives that parse directly from the base
object's parse: everything the edit did not touch is taken as parsed, and only the quantities of the
containers whose dicts changed are read. Its maker records the result with the edited object
(:class:`~sim_arena_gym.trace.derived.EditFacts`), so that the validator and the parser need not
walk the copy again.

Like the parser's own :meth:`~sim_arena_gym.sim.parse.ObjectParser._edited_deployment`, it relies on
the record's promise that nothing else changed (the object's and the template's ``metadata`` are
checked to be shared; container names and every other field are taken from the base parse). It
declines (``None``) whatever it cannot vouch for, and the readers then check and parse the copy as
usual, raising their usual errors: a container list of another length, a quantity that is not a string or not valid, a negative one, a request over
its limit (or equal to it in nano-units with a different text, which only an exact comparison
decides), replicas that are not a non-negative 32-bit integer. What it gives equals
:meth:`ObjectParser.parse_object <sim_arena_gym.sim.parse.ObjectParser.parse_object>` of the copy
(``tests/test_env_fused_edit.py``), except that the parsed parts are not shared by content with
other parses (the fast path keys nothing on their identity).

Units: quantities in nano-units (value x 10^9), as the parser gives them.
"""

from __future__ import annotations

from typing import Any, Mapping

from sim_arena_gym.sim.objects import ContainerSpec, DeploymentSpec, PodSpec, PodTemplate
from sim_arena_gym.sim.parse import ParsedObject, build_quantities
from sim_arena_gym.sim.requests import pod_request
from sim_arena_gym.trace.errors import TraceError

__all__ = ["derive_edited_deployment", "derive_template"]

_INT32_MAX = 2**31 - 1
_EMPTY: Mapping[str, int] = {}


def derive_edited_deployment(
    base: ParsedObject, old: Mapping[str, Any], obj: Mapping[str, Any], template: PodTemplate | None = None
) -> ParsedObject | None:
    """The parse of ``obj``, a copy of the Deployment ``old`` (parsed: ``base``) with only container
    requests/limits and ``spec.replicas`` changed, or ``None`` (see the module docstring).

    ``template``: the already derived parse of ``obj``'s pod template (a copy sharing it with an
    earlier one), if known; else it is derived (or taken from ``base`` when shared with ``old``)."""
    if base.kind != "Deployment" or type(obj) is not dict or obj.get("kind") != "Deployment":
        return None
    spec, old_spec = obj.get("spec"), old.get("spec")
    if type(spec) is not dict or type(old_spec) is not dict or obj.get("metadata") is not old.get("metadata"):
        return None
    replicas = spec.get("replicas", 1)
    if type(replicas) is not int or replicas < 0 or replicas > _INT32_MAX:
        return None
    parsed: DeploymentSpec = base.spec
    raw = spec.get("template")
    if raw is old_spec.get("template"):
        template = parsed.template
    elif template is None or template.raw is not raw:
        template = derive_template(parsed.template, old_spec.get("template"), raw)
        if template is None:
            return None
    return ParsedObject(
        base.kind,
        base.namespace,
        base.name,
        DeploymentSpec(
            replicas, template, parsed.strategy, parsed.max_surge, parsed.max_unavailable,
            parsed.min_ready_seconds, parsed.progress_deadline_seconds, parsed.paused,
            parsed.revision_history_limit,
        ),  # fmt: skip
        obj,
    )


def derive_template(parsed: PodTemplate, old: Any, raw: Any) -> PodTemplate | None:
    """The parse of the pod template ``raw``, a copy of ``old`` (parsed: ``parsed``) with only
    container resources changed, or ``None`` (see the module docstring)."""
    if type(raw) is not dict or type(old) is not dict or raw.get("metadata") is not old.get("metadata"):
        return None
    spec, old_spec = raw.get("spec"), old.get("spec")
    if type(spec) is not dict or type(old_spec) is not dict:
        return None
    before = parsed.spec
    content: list[Any] = []  # per container: None (shared with old) or its resource texts (no memo:
    # nearly every derived template has new content, measured on the default env)
    raw_containers, raw_init = spec.get("containers"), spec.get("initContainers")
    if not _content(raw_containers, old_spec.get("containers"), len(before.containers), content):
        return None
    if not _content(raw_init, old_spec.get("initContainers"), len(before.init_containers), content):
        return None
    n = len(before.containers)
    containers = _containers(before.containers, content[:n]) if raw_containers is not old_spec.get("containers") else before.containers
    if containers is None or not containers:
        return None
    init = _containers(before.init_containers, content[n:]) if raw_init is not old_spec.get("initContainers") else before.init_containers
    if init is None:
        return None
    b = before
    pod_spec = PodSpec(
        containers, init, b.overhead, b.pod_resources, b.priority, b.priority_class, b.preemption_policy,
        b.constraints, b.node_name, b.scheduler_name, b.gated, b.restart_policy,
        pod_request(containers, init, overhead=b.overhead, pod_resources=b.pod_resources),
    )  # fmt: skip
    return PodTemplate(parsed.labels, pod_spec, raw)


def _content(raw: Any, old: Any, count: int, out: list[Any]) -> bool:
    """Append to ``out``, per container of ``raw`` (a copy of the list ``old`` of ``count`` parsed
    containers), ``None`` when it is ``old``'s own dict, else ``(requests items, limits items)`` of
    its resources; ``False`` when it is not such a copy."""
    if raw is old:
        out.extend([None] * count)
        return True
    if type(raw) is not list or type(old) is not list or len(raw) != len(old) or count != len(old):
        return False
    for item, old_item in zip(raw, old):
        if item is old_item:
            out.append(None)
            continue
        if type(item) is not dict:
            return False
        resources = item.get("resources")
        if resources is None:
            resources = {}
        elif type(resources) is not dict:
            return False
        requests, limits = resources.get("requests"), resources.get("limits")
        if (requests is not None and type(requests) is not dict) or (limits is not None and type(limits) is not dict):
            return False
        out.append((tuple(requests.items()) if requests else (), tuple(limits.items()) if limits else ()))
    return True


def _containers(parsed: tuple[ContainerSpec, ...], content: list[Any]) -> tuple[ContainerSpec, ...] | None:
    """The parsed containers: ``parsed``'s where ``content`` is ``None``, else read from the texts;
    ``None`` when a text is not a valid quantity or a request is over its limit."""
    out = []
    for spec, texts in zip(parsed, content):
        if texts is None:
            out.append(spec)
            continue
        requests, limits = _quantities(texts[0]), _quantities(texts[1])
        if requests is None or limits is None:
            return None
        if limits:
            raw_limits = dict(texts[1])
            for name, text in texts[0]:
                limit = limits.get(name)
                request = requests[name]
                if limit is not None and (request > limit or (request == limit and text != raw_limits[name])):
                    return None
        out.append(ContainerSpec(spec.name, requests, limits, spec.sidecar))
    return tuple(out)


def _quantities(items: tuple) -> Mapping[str, int] | None:
    """``{name: nano-units}`` of ``(name, text)`` pairs (``{}`` for none), read as the parser reads
    them (:func:`~sim_arena_gym.sim.parse.build_quantities`), or ``None`` when one is not a string
    or not a valid, non-negative quantity."""
    if not items:
        return _EMPTY
    for name, text in items:
        if type(name) is not str or type(text) is not str:
            return None
    try:
        return build_quantities(dict(items), "", "")
    except TraceError:
        return None

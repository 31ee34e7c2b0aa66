"""The env's fast paths give exactly what the plain code gives.

* ``ScenarioContext.materialize`` (a prepared ``_LastOccurrenceEditor`` plus a memo of pod-template
  edits) against the public ``edit_workload`` it replaces, byte for byte via ``dumps_trace``, on every
  committed scenario and on hand-made traces (limits, removed fields, init containers, missing or
  unsorted ``replicas``, bare Pods, errors);
* ``_LastOccurrenceEditor`` against ``edit_workload(..., occurrences="last")``, results and errors;
* ``apply_action`` / ``ActionSet.transitions`` against the original ``_replace``-based rules;
* ``DefaultObservation.encode_state`` and ``build_view`` against the plain formulas;
* the occurrence cache keeps a base trace that is edited over and over (LRU).
"""

from __future__ import annotations

import random
from types import MappingProxyType
from typing import Any, Iterator, Mapping

import numpy as np
import pytest

from sim_arena_gym.env.actions import (
    ACTION_SETS,
    ActionSet,
    ActionSpec,
    EditState,
    EditTarget,
    Safeguards,
    Transition,
    make_action_set,
    mask_of,
)
from sim_arena_gym.env.observations import KNOWN_REASONS, RATIO_MAX, DefaultObservation
from sim_arena_gym.env.simkube_env import scenario_from_trace
from sim_arena_gym.env import state as state_module
from sim_arena_gym.env.state import ScenarioConstants, ScenarioContext, StateView, build_context, build_view
from sim_arena_gym.quantity import format_cpu, format_memory
from sim_arena_gym.scenarios.index import load_scenario_set
from sim_arena_gym.trace import QuantityFieldError, Trace, WorkloadError, WorkloadRef, edit_workload
from sim_arena_gym.trace import workloads
from sim_arena_gym.trace.builders import bare_pod, build_trace, container, deployment, pod_spec, statefulset
from sim_arena_gym.trace.codec import dumps_trace
from sim_arena_gym.trace.workloads import _LastOccurrenceEditor

GUARDS = Safeguards.from_config(cpu_step="500m", memory_step="256Mi", replica_step=1, caps={})
DEFAULT = make_action_set("default", GUARDS)


# ---------------------------------------------------------------------------------------------------
# references: the plain code the fast paths replace


def reference_trace(ctx: ScenarioContext, state: EditState) -> Trace:
    """What ``materialize`` computed before its fast path: one public ``edit_workload`` call."""
    if state == ctx.initial:
        return ctx.trace
    init = ctx.initial
    requests: dict[str, dict[str, str | None]] = {}
    limits: dict[str, dict[str, str | None]] = {}

    def diff(out: dict, name: str, key: str, old: int | None, new: int | None, fmt: Any) -> None:
        if new != old:
            out.setdefault(name, {})[key] = None if new is None else fmt(new)

    for i, name in enumerate(ctx.target.container_names):
        diff(requests, name, "cpu", init.cpu[i], state.cpu[i], format_cpu)
        diff(requests, name, "memory", init.memory[i], state.memory[i], format_memory)
        diff(limits, name, "cpu", init.cpu_limit[i], state.cpu_limit[i], format_cpu)
        diff(limits, name, "memory", init.memory_limit[i], state.memory_limit[i], format_memory)
    return edit_workload(
        ctx.trace,
        ctx.scenario.workload,
        requests=requests or None,
        limits=limits or None,
        replicas=state.replicas if state.replicas != init.replicas else None,
        occurrences="last",
    )


def reference_apply(spec: ActionSpec, state: EditState, target: EditTarget, guards: Safeguards) -> Transition:
    """``apply_action`` as first written (``_replace``, reasons formatted eagerly)."""
    if spec.sign == 0 or spec.resource == "none":
        return state, None
    if spec.resource == "replicas":
        if not target.scalable:
            return state, "the workload is a bare Pod: it has no replicas to change"
        new = state.replicas + spec.sign * guards.replica_step
        if spec.sign > 0 and new > guards.replicas_max:
            return state, f"replicas {new} would exceed the cap of {guards.replicas_max}"
        if spec.sign < 0 and new < guards.replicas_min:
            return state, f"replicas {new} would go below the minimum of {guards.replicas_min}"
        return state._replace(replicas=new), None
    if spec.resource == "cpu":
        step, low, high = guards.cpu_step_millis, guards.cpu_min_millis, guards.cpu_max_millis
        requests, limits, fmt, cap_text = state.cpu, state.cpu_limit, format_cpu, f"{format_cpu(high)} CPU"
    else:
        step, low, high = guards.memory_step_bytes, guards.memory_min_bytes, guards.memory_max_bytes
        requests, limits, fmt = state.memory, state.memory_limit, format_memory
        cap_text = f"{format_memory(high)} memory"
    new_requests = list(requests)
    new_limits = list(limits)
    several = len(target.edit_indices) > 1
    delta = spec.sign * step
    for i in target.edit_indices:
        new = (requests[i] or 0) + delta
        where = f" (container {target.container_names[i]})" if several else ""
        if delta > 0 and new > high:
            return state, f"{spec.resource} request {fmt(new)} would exceed the {cap_text} cap per container{where}"
        if delta < 0 and new < low:
            shown = fmt(new) if new >= 0 else f"-{fmt(-new)}"
            return state, f"{spec.resource} request {shown} would go below the minimum of {fmt(low)}{where}"
        new_requests[i] = new
        limit = limits[i]
        if limit is not None and limit < new:
            new_limits[i] = new
    if spec.resource == "cpu":
        return state._replace(cpu=tuple(new_requests), cpu_limit=tuple(new_limits)), None
    return state._replace(memory=tuple(new_requests), memory_limit=tuple(new_limits)), None


def reference_encode(view: StateView, ctx: Any) -> np.ndarray:
    """``DefaultObservation.encode_state`` as first written (``min`` calls, ``any`` always)."""
    c = ctx.constants
    target = c.target if c.target > 0 else 1
    reasons = view.pending_reasons
    total = view.total
    r = RATIO_MAX
    values = (
        min(view.ready / target, r),
        min(view.pending / target, r),
        min(total / target, r),
        min(view.pod_cpu_millis / c.node_cpu_millis, r) if c.node_cpu_millis > 0 else r,
        min(view.pod_memory_bytes / c.node_memory_bytes, r) if c.node_memory_bytes > 0 else r,
        min(view.state.replicas / c.replicas_cap, 1.0) if c.replicas_cap > 0 else 1.0,
        1.0 if "Insufficient cpu" in reasons else 0.0,
        1.0 if "Insufficient memory" in reasons else 0.0,
        1.0 if "Too many pods" in reasons else 0.0,
        1.0 if any(x not in KNOWN_REASONS for x in reasons) else 0.0,
        view.free_cpu_fraction,
        view.free_memory_fraction,
        0.0,
        view.oom_killed / total if total else 0.0,
        view.throttled / total if total else 0.0,
    )
    return np.array(values, dtype=np.float32)


def outcome_of(callable_: Any) -> tuple[str, Any]:
    """``("ok", bytes of the trace)`` or ``("error", (type, message))``."""
    try:
        result = callable_()
    except (WorkloadError, QuantityFieldError) as exc:
        return "error", (type(exc), str(exc))
    return "ok", dumps_trace(result)


# ---------------------------------------------------------------------------------------------------
# states to try


def random_walk(ctx: ScenarioContext, actions: ActionSet, rng: random.Random, steps: int) -> Iterator[EditState]:
    """States a random agent visits (with resets to the initial state)."""
    state = ctx.initial
    for _ in range(steps):
        if rng.random() < 0.08:
            state = ctx.initial
        state, _ = actions.apply(state, rng.randrange(len(actions)), ctx.target)
        yield state


def odd_states(ctx: ScenarioContext, rng: random.Random, count: int) -> Iterator[EditState]:
    """States no action reaches but ``materialize`` accepts: removed requests or limits, limits below
    requests, fresh limits, other replicas."""
    init = ctx.initial
    n = len(init.cpu)

    def pick(values: tuple[int | None, ...], choices: list[int | None]) -> tuple[int | None, ...]:
        return tuple(rng.choice(choices + [v]) for v in values)

    for _ in range(count):
        yield EditState(
            pick(init.cpu, [None, 250, 1000, 7500]),
            pick(init.memory, [None, 2**28, 3 * 2**30, 1500]),
            pick(init.cpu_limit if n else (), [None, 100, 2000, 16000]),
            pick(init.memory_limit, [None, 2**27, 2**31]),
            rng.choice([init.replicas, init.replicas, 0, 1, 7]),
        )


def check_materialize(ctx: ScenarioContext, states: list[EditState]) -> None:
    for state in states:
        expected = outcome_of(lambda: reference_trace(ctx, state))
        assert outcome_of(lambda: ctx.materialize(state)) == expected, state
        assert outcome_of(lambda: ctx.materialize(state)) == expected, state  # memo hit


# ---------------------------------------------------------------------------------------------------
# materialize


@pytest.fixture(scope="module")
def all_contexts() -> list[ScenarioContext]:
    return [
        build_context(i, s, edit_containers="all", replicas_cap=GUARDS.replicas_max)
        for i, s in enumerate(load_scenario_set("all"))
    ]


def test_materialize_equals_edit_workload_on_every_scenario(all_contexts: list[ScenarioContext]) -> None:
    rng = random.Random(7)
    assert len(all_contexts) == 124
    for ctx in all_contexts:
        states = list(random_walk(ctx, DEFAULT, rng, 20)) + list(odd_states(ctx, rng, 3))
        check_materialize(ctx, states)


def test_materialize_with_first_container_edits_and_requests_action_set() -> None:
    rng = random.Random(11)
    requests_only = make_action_set("requests", GUARDS)
    for i, scenario in enumerate(load_scenario_set("all")):
        if scenario.family not in ("multi-container", "limits-only", "init-and-sidecars"):
            continue
        ctx = build_context(i, scenario, edit_containers="first", replicas_cap=100)
        check_materialize(ctx, list(random_walk(ctx, requests_only, rng, 25)))


def test_materialize_memo_shares_templates_and_survives_eviction(all_contexts: list[ScenarioContext]) -> None:
    ctx = next(c for c in all_contexts if c.scenario.id == "canonical-slightly-bad-cpu")
    ctx = build_context(ctx.index, ctx.scenario, edit_containers="all", replicas_cap=100)  # empty memo
    init = ctx.initial
    a = init._replace(cpu=(9000,))
    b = init._replace(cpu=(9000,), replicas=init.replicas + 1)
    ta, tb = ctx.materialize(a), ctx.materialize(b)
    obj_a, obj_b = ta.events[-1].applied_objs[-1], tb.events[-1].applied_objs[-1]
    assert obj_b["spec"]["replicas"] == init.replicas + 1 and obj_a["spec"]["replicas"] == init.replicas
    assert obj_b["spec"]["template"] is obj_a["spec"]["template"]  # one pod template for both
    assert ctx.materialize(a) is ta  # the memoised trace itself
    base = ctx.trace.events[-1].applied_objs[-1]
    assert obj_a["metadata"] is base["metadata"] and obj_b["spec"]["strategy"] is base["spec"]["strategy"]
    assert all(new is old for new, old in zip(tb.events[:-1], ctx.trace.events[:-1]))
    # More pod-template states than the memo holds, then the first ones again (evicted, rebuilt).
    many = [init._replace(cpu=(c,), memory=(m * 2**28,), replicas=r) for c in range(500, 16_001, 500)
            for m in range(1, 35) for r in (init.replicas, 2)]  # fmt: skip
    assert len({s[:4] for s in many}) > state_module._POD_EDITS_SIZE
    check_materialize(ctx, many[:10] + many[-10:] + many[:10])
    for state in many:
        ctx.materialize(state)
    assert len(state_module._POD_EDITS) == state_module._POD_EDITS_SIZE
    assert (ctx, many[0][:4]) not in state_module._POD_EDITS and (ctx, many[-1][:4]) in state_module._POD_EDITS
    check_materialize(ctx, many[:6])


def test_materialize_kept_traces_same_bytes_same_object_bounded(all_contexts: list[ScenarioContext]) -> None:
    """With ``keep_traces`` (an env without an outcome cache) a state seen again gives the very trace
    made for it the first time, equal byte for byte to edit_workload's; the kept table stays bounded."""
    rng = random.Random(5)
    for ctx in all_contexts[:40]:
        ctx = build_context(ctx.index, ctx.scenario, edit_containers="all", replicas_cap=GUARDS.replicas_max)
        ctx.keep_traces = True
        states = list(random_walk(ctx, DEFAULT, rng, 30)) + list(odd_states(ctx, rng, 3))
        check_materialize(ctx, states)
        for state in states:
            if outcome_of(lambda: ctx.materialize(state))[0] == "ok":
                assert ctx.materialize(state) is ctx.materialize(state)
                assert state == ctx.initial or (ctx, state) in state_module._KEPT_TRACES
    ctx = build_context(0, all_contexts[0].scenario, edit_containers="all", replicas_cap=GUARDS.replicas_max)
    assert ctx.keep_traces is False  # only an env without an outcome cache sets it
    ctx.keep_traces = True
    init = ctx.initial
    many = [init._replace(replicas=r) for r in range(0, 41)] + [
        init._replace(cpu=(c,) * len(init.cpu), replicas=r) for c in range(101, 20_001, 100) for r in range(1, 30)
    ]
    assert len(many) > state_module._KEPT_TRACES_SIZE
    for state in many:
        ctx.materialize(state)
    assert len(state_module._KEPT_TRACES) == state_module._KEPT_TRACES_SIZE
    assert (ctx, many[1]) not in state_module._KEPT_TRACES and (ctx, many[-1]) in state_module._KEPT_TRACES
    check_materialize(ctx, many[:5] + many[-5:])


def test_env_without_outcome_cache_keeps_traces() -> None:
    import gymnasium as gym

    for size, kept in ((0, True), (16, False)):
        env = gym.make("SimArena-InsufficientResources-v0", outcome_cache_size=size)
        env.reset(seed=3)
        ctxs = list(env.unwrapped._contexts.values())
        assert ctxs and all(c.keep_traces is kept for c in ctxs)
        env.close()


def _custom_context(trace: Trace, workload: str) -> ScenarioContext:
    scenario = scenario_from_trace(trace, workload=workload)
    return build_context(0, scenario, edit_containers="all", replicas_cap=100)


def _two_container_web() -> dict:
    """A Deployment with a limit-carrying app container, a request-only helper, an init container and a
    sidecar: every kind of container the materialiser must handle."""
    return deployment(
        "web",
        pod_spec(
            [
                container("app", cpu="500m", memory="256Mi", limit_cpu="1", limit_memory="512Mi"),
                container("log", cpu="100m"),
            ],
            init_containers=[container("setup", cpu="200m"), container("proxy", cpu="50m", restart_policy="Always")],
        ),
        replicas=3,
    )


def test_materialize_on_hand_made_traces() -> None:
    rng = random.Random(3)
    web = _two_container_web()
    no_replicas = deployment("lean", pod_spec([container("c", cpu="1", memory="1Gi")]), replicas=2)
    del no_replicas["spec"]["replicas"]  # the default 1; an edit adds the key in sorted position
    unsorted = deployment("odd", pod_spec([container("c", cpu="1", memory="1Gi")]), replicas=2)
    spec = unsorted["spec"]
    unsorted["spec"] = {k: spec[k] for k in reversed(list(spec)) if k != "replicas"}  # appended at the end
    db = statefulset("db", pod_spec([container("db", cpu="2", memory="4Gi", limit_memory="4Gi")]), replicas=2)
    web2 = deployment("web", pod_spec([container("app", cpu="750m", memory="256Mi", limit_cpu="1")]), replicas=4)
    trace = build_trace([(100, [web, db], []), (200, [no_replicas, unsorted], []), (300, [web2], [])])
    for workload in ("default/web", "default/lean", "default/odd", "StatefulSet/default/db"):
        ctx = _custom_context(trace, workload)
        states = list(random_walk(ctx, DEFAULT, rng, 40)) + list(odd_states(ctx, rng, 20))
        more_cpu = (3000,) * len(ctx.initial.cpu)
        states += [ctx.initial._replace(replicas=5), ctx.initial._replace(replicas=5, cpu=more_cpu)]
        check_materialize(ctx, states)


def test_materialize_errors_are_edit_workload_errors() -> None:
    trace = build_trace([(1, [deployment("web", pod_spec([container("app", cpu="1", memory="1Gi")]), replicas=2)], [])])
    ctx = _custom_context(trace, "default/web")
    init = ctx.initial
    bad = [
        init._replace(cpu=(-500,)),  # negative request (a negative min_cpu cap lets an agent get there)
        init._replace(replicas=-1),
        init._replace(cpu=(-500,), replicas=-1),  # both: edit_workload reports replicas first
        init._replace(memory=(-1,), replicas=3),
    ]
    for state in bad:
        expected = outcome_of(lambda: reference_trace(ctx, state))
        assert expected[0] == "error"
        assert outcome_of(lambda: ctx.materialize(state)) == expected
    # A bad replicas value after the pod template state was memoised.
    ok = init._replace(cpu=(2000,))
    ctx.materialize(ok)
    state = ok._replace(replicas=-3)
    assert outcome_of(lambda: ctx.materialize(state)) == outcome_of(lambda: reference_trace(ctx, state))

    pod_trace = build_trace([(1, [bare_pod("solo", pod_spec([container("c", cpu="1", memory="64Mi")]))], [])])
    pod = _custom_context(pod_trace, "Pod/default/solo")
    assert pod.target.scalable is False
    init = pod.initial
    for state in (init._replace(replicas=2), init._replace(cpu=(1500,), replicas=2), init._replace(cpu=(1500,))):
        expected = outcome_of(lambda: reference_trace(pod, state))
        assert outcome_of(lambda: pod.materialize(state)) == expected
    assert "is a bare Pod" in outcome_of(lambda: pod.materialize(pod.initial._replace(replicas=2)))[1][1]


# ---------------------------------------------------------------------------------------------------
# the editor


def _mixed() -> Trace:
    web = _two_container_web()
    pod = bare_pod("solo", pod_spec([container("c", memory="64Mi")]))
    web2 = deployment(
        "web",
        pod_spec([container("app", cpu="750m", memory="256Mi", limit_cpu="1"), container("log", cpu="100m")],
                 init_containers=[container("proxy", cpu="50m", restart_policy="Always")]),
        replicas=4,
    )  # fmt: skip
    return build_trace([(100, [web], []), (200, [pod], []), (300, [web2], [])])


EDITS: list[dict[str, Any]] = [
    {},
    {"replicas": 7},
    {"replicas": 0},
    {"requests": {"app": {"cpu": "2"}}},
    {"requests": {"app": {"cpu": "1500m"}}, "replicas": 2},  # raises the cpu limit with it
    {"limits": {"app": {"memory": "128Mi"}}},  # pulls the memory request down with it
    {"requests": {"*": {"cpu": "300m"}, "proxy": {"cpu": "75m"}}},
    {"requests": {"*": {"memory": None}}, "limits": {"*": {"cpu": None}}},
    {"requests": {"log": {"cpu": None}}},
    {"limits": {"log": {"ephemeral-storage": "1Gi", "cpu": "1"}}},  # new keys, sorted in
    {"requests": {"app": {"cpu": 2}}},  # a number: accepted by edit_workload, not by the fast plan
    {"requests": {"app": {"cpu": "0.5"}}, "limits": {"app": {"cpu": "500m"}}},
    {"requests": MappingProxyType({"app": {"cpu": "1"}})},  # not a dict
    {"requests": {"app": MappingProxyType({"cpu": "1"})}},
    # errors
    {"requests": {"app": {"cpu": "2"}}, "limits": {"app": {"cpu": "500m"}}},
    {"requests": {"nope": {"cpu": "1"}}},
    {"requests": {"setup": {"cpu": "1"}}},  # only in an earlier occurrence
    {"requests": {"*": {"cpu": "-1"}}},
    {"limits": {"*": {"memory": "1GB"}}},
    {"requests": {"app": {"cpu": ["1"]}}},
    {"requests": {3: {"cpu": "1"}}},
    {"requests": {"app": "1"}},
    {"replicas": -2},
    {"replicas": 2.0},
    {"replicas": True},
    {"requests": {"*": {"cpu": "-1"}}, "replicas": -2},
]


@pytest.mark.parametrize("edit", EDITS, ids=range(len(EDITS)))
def test_editor_equals_edit_workload(edit: Mapping[str, Any]) -> None:
    trace = _mixed()
    editor = _LastOccurrenceEditor(trace, "default/web")
    expected = outcome_of(lambda: edit_workload(trace, "default/web", occurrences="last", **edit))
    assert outcome_of(lambda: editor.edit(**edit)) == expected
    assert outcome_of(lambda: editor.edit(**edit)) == expected  # memoised quantity checks
    pods = {k: v for k, v in edit.items() if k != "replicas"}
    for replicas in (1, 9, -1):
        full = outcome_of(lambda: edit_workload(trace, "default/web", occurrences="last", replicas=replicas, **pods))
        if full[0] == "ok":
            assert outcome_of(lambda: editor.with_replicas(editor.edit(**pods), replicas)) == full
        elif outcome_of(lambda: editor.edit(**pods))[0] == "ok":  # a replicas error
            assert outcome_of(lambda: editor.with_replicas(editor.edit(**pods), replicas)) == full


def test_editor_on_a_pod_and_an_unknown_workload() -> None:
    trace = _mixed()
    editor = _LastOccurrenceEditor(trace, "Pod/default/solo")
    for edit in ({"replicas": 2}, {"requests": {"c": {"cpu": "1"}}}, {"limits": {"*": {"memory": "128Mi"}}}):
        expected = outcome_of(lambda: edit_workload(trace, "Pod/default/solo", occurrences="last", **edit))
        assert outcome_of(lambda: editor.edit(**edit)) == expected
    with pytest.raises(WorkloadError, match="is a bare Pod"):
        editor.with_replicas(editor.edit(requests={"c": {"cpu": "1"}}), 2)
    with pytest.raises(WorkloadError) as info:
        _LastOccurrenceEditor(trace, "default/nope")
    with pytest.raises(WorkloadError) as public:
        edit_workload(trace, "default/nope")
    assert str(info.value) == str(public.value)


def test_editor_shares_untouched_objects() -> None:
    trace = _mixed()
    editor = _LastOccurrenceEditor(trace, WorkloadRef.parse("default/web"))
    edited = editor.edit(requests={"app": {"memory": "1Gi"}})
    assert edited.events[:2] == trace.events[:2] and all(a is b for a, b in zip(edited.events[:2], trace.events))
    old, new = trace.events[2].applied_objs[0], edited.events[2].applied_objs[0]
    assert new["metadata"] is old["metadata"] and new["spec"]["selector"] is old["spec"]["selector"]
    assert new["spec"]["template"]["spec"]["containers"][1] is old["spec"]["template"]["spec"]["containers"][1]
    assert edited.stale_index == edit_workload(trace, "default/web", replicas=1).stale_index
    assert edited.config is trace.config and edited.index is trace.index


# ---------------------------------------------------------------------------------------------------
# occurrence cache and mapping checks


def test_occurrence_cache_keeps_the_base_trace() -> None:
    trace = _mixed()
    workloads.find_workload(trace, "default/web")
    for cpu in range(1, 3 * workloads._CACHE_SIZE):
        edit_workload(trace, "default/web", requests={"app": {"cpu": f"{cpu}m"}})
    assert id(trace.events) in workloads._OCCURRENCE_CACHE
    assert len(workloads._OCCURRENCE_CACHE) <= workloads._CACHE_SIZE
    assert workloads._occurrences(trace) is workloads._OCCURRENCE_CACHE[id(trace.events)][1]


class _Map(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@pytest.mark.parametrize("value", [{}, {"a": 1}, None, MappingProxyType({}), _Map(), [], (), "x", 0, set()])
def test_is_map_is_isinstance_mapping(value: Any) -> None:
    assert workloads._is_map(value) is isinstance(value, Mapping)


# ---------------------------------------------------------------------------------------------------
# actions


def _targets() -> list[EditTarget]:
    return [
        EditTarget(("app",), (0,)),
        EditTarget(("app",), (0,), scalable=False),
        EditTarget(("a", "b", "c"), (0, 1, 2)),
        EditTarget(("a", "b", "c"), (0,)),
        EditTarget(("a", "b", "c"), (1,)),
    ]


def _guards() -> list[Safeguards]:
    return [
        GUARDS,
        Safeguards(),
        Safeguards.from_config(cpu_step="250m", memory_step="100Mi", replica_step=3,
                               caps={"cpu": "2", "memory": "1Gi", "replicas": 10, "min_cpu": "0", "min_memory": "1Mi"}),
        Safeguards(cpu_step_millis=0, memory_step_bytes=0, replica_step=0),  # no movement: nothing is blocked
        Safeguards(cpu_min_millis=-1000, memory_min_bytes=-(2**30), replicas_min=-2),
    ]  # fmt: skip


def test_apply_action_equals_the_original_rules() -> None:
    rng = random.Random(5)
    values = [None, 0, 250, 500, 1000, 2000, 15_750, 16_000, 17_000, -500]
    mem_values = [None, 0, 2**20, 2**28, 2**30, 32 * 2**30, 33 * 2**30, 1500]
    specs = ACTION_SETS["default"]
    for guards in _guards():
        for target in _targets():
            n = len(target.container_names)
            actions = ActionSet("default", specs, guards)
            for _ in range(150):
                state = EditState(
                    tuple(rng.choice(values) for _ in range(n)),
                    tuple(rng.choice(mem_values) for _ in range(n)),
                    tuple(rng.choice(values) for _ in range(n)),
                    tuple(rng.choice(mem_values) for _ in range(n)),
                    rng.choice([0, 1, 2, 50, 99, 100, 101]),
                )
                expected = tuple(reference_apply(spec, state, target, guards) for spec in specs)
                got = actions.transitions(state, target)
                assert got == expected
                for (new, reason), (ref_new, _) in zip(got, expected):
                    assert type(new) is EditState and type(ref_new) is EditState
                    if reason is not None:
                        assert new is state
                assert mask_of(got) == tuple(0 if r else 1 for _, r in expected)


def test_transitions_keep_the_fields_an_action_leaves_alone() -> None:
    """``ActionSet.transitions`` goes through per-action appliers (actions._applier): the same
    transitions as ``apply_action`` (the test above), with the tuples an action does not change
    being the state's own objects, for one edited container (written out) and for several."""
    guards = Safeguards()
    for target in _targets():
        n = len(target.container_names)
        state = EditState((1000,) * n, (2**30,) * n, (4000,) * n, (None,) * n, 3)
        for actions in (make_action_set("default", guards), make_action_set("requests", guards)):
            got = actions.transitions(state, target)
            assert got == tuple(reference_apply(spec, state, target, guards) for spec in actions.actions)
            assert got[0][0] is state
            cpu_up, memory_up = got[1][0], got[2][0]
            assert cpu_up.memory is state.memory and cpu_up.memory_limit is state.memory_limit
            assert memory_up.cpu is state.cpu and memory_up.cpu_limit is state.cpu_limit
            if len(target.edit_indices) == 1:
                assert cpu_up.cpu_limit is state.cpu_limit  # 1500m stays under the 4 CPU limit
            if len(actions) > 5:
                replicas_up = got[5][0]
                if target.scalable:
                    assert replicas_up.replicas == 4
                    assert all(replicas_up[k] is state[k] for k in range(4))
                else:
                    assert replicas_up is state


# ---------------------------------------------------------------------------------------------------
# observations and views


class _Ctx:
    def __init__(self, constants: ScenarioConstants) -> None:
        self.constants = constants


def test_encode_state_equals_the_original_formulas() -> None:
    rng = random.Random(9)
    encoder = DefaultObservation()
    reason_sets = [
        (),
        ("Insufficient cpu",),
        ("Insufficient memory", "Too many pods"),
        ("node(s) had untolerated taint",),
        ("Insufficient cpu", "Insufficient memory", "Too many pods", "other"),
    ]
    for _ in range(3000):
        constants = ScenarioConstants(
            target=rng.choice([0, 1, 3, 4, 10]),
            node_cpu_millis=rng.choice([0, 1000, 16_000]),
            node_memory_bytes=rng.choice([0, 2**30, 32 * 2**30]),
            cluster_cpu_millis=48_000,
            cluster_memory_bytes=96 * 2**30,
            node_count=3,
            replicas_cap=rng.choice([0, 1, 10, 100]),
        )
        view = StateView()
        view.state = EditState((1,), (1,), (None,), (None,), rng.choice([0, 1, 4, 50, 150]))
        view.ready, view.pending = rng.randrange(0, 50), rng.randrange(0, 50)
        view.total = view.ready + view.pending
        view.oom_killed, view.throttled = rng.randrange(0, view.total + 1), rng.randrange(0, view.total + 1)
        view.pod_cpu_millis = rng.choice([0, 500, 8500, 100_000])
        view.pod_memory_bytes = rng.choice([0, 2**28, 2**31, 2**40])
        view.pending_reasons = rng.choice(reason_sets)
        view.free_cpu_fraction, view.free_memory_fraction = rng.random(), rng.random()
        got = encoder.encode_state(view, _Ctx(constants))  # type: ignore[arg-type]
        want = reference_encode(view, _Ctx(constants))
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


def test_build_view_fields(all_contexts: list[ScenarioContext]) -> None:
    from sim_arena_gym.backends import make_backend

    backend = make_backend("embedded")
    encoder = DefaultObservation()
    rng = random.Random(2)
    for ctx in all_contexts[::9]:
        for state in list(random_walk(ctx, DEFAULT, rng, 6)):
            outcome = backend.run(ctx.materialize(state), ctx.scenario)
            view = build_view(ctx, state, outcome, DEFAULT, encoder)
            names = ctx.target.container_names
            nodes = outcome.nodes
            alloc = sum(n.allocatable_cpu_millis for n in nodes)
            used = sum(n.requested_cpu_millis for n in nodes)
            assert view.free_cpu_fraction == (min(max(1.0 - used / alloc, 0.0), 1.0) if alloc > 0 else 0.0)
            assert view.pod_cpu_millis == sum(v or 0 for v in state.cpu)
            assert view.pod_memory_bytes == sum(v or 0 for v in state.memory)
            expected_requests = []
            for i, name in enumerate(names):
                items = []
                if state.cpu[i] is not None:
                    items.append(("cpu", format_cpu(state.cpu[i])))
                if state.memory[i] is not None:
                    items.append(("memory", format_memory(state.memory[i])))
                expected_requests.append((name, tuple(items)))
            assert view.requests == tuple(expected_requests)
            assert view.transitions == tuple(reference_apply(a, state, ctx.target, GUARDS) for a in DEFAULT.actions)
            assert view.mask == mask_of(view.transitions)
            assert view.mask_array.dtype == np.int8 and view.mask_array.flags.writeable is False
            assert view.mask_array.tolist() == list(view.mask)
            assert view.obs.tobytes() == reference_encode(view, ctx).tobytes() and not view.obs.flags.writeable

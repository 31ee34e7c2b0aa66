"""The env's derived parse of its edits (``sim/edited.py`` + ``EditFacts``) gives exactly what the
readers give on the edited object in full.

For random and odd states of every committed scenario: the parse and pods that ``materialize``
records with the edited object equal a fresh parser's parse and ``check_object``'s pods of an
unrecorded deep copy; the backend's outcome of the materialised trace equals a fresh backend's
outcome of that copy; and the errors a bad state gives (the pod bound) are the same typed error with
the same text. Hand-made copies the derivation must decline (a request over its limit, new
metadata, another container count, a bad quantity or replicas) give ``None``.
"""

from __future__ import annotations

import copy
import random

import pytest

from sim_arena_gym.backends.embedded import EmbeddedBackend
from sim_arena_gym.env.actions import EditState, Safeguards, make_action_set
from sim_arena_gym.env.state import ScenarioContext, build_context
from sim_arena_gym.scenarios.index import load_scenario_set
from sim_arena_gym.sim.edited import derive_edited_deployment
from sim_arena_gym.sim.parse import ObjectParser
from sim_arena_gym.trace.derived import derived_facts, derived_from
from sim_arena_gym.trace.errors import TraceError
from sim_arena_gym.trace.model import Trace
from sim_arena_gym.trace.validate import check_object

from tests.test_env_fastpaths import odd_states, random_walk

GUARDS = Safeguards.from_config(cpu_step="500m", memory_step="256Mi", replica_step=1, caps={})
DEFAULT = make_action_set("default", GUARDS)


@pytest.fixture(scope="module")
def contexts() -> list[ScenarioContext]:
    return [
        build_context(i, s, edit_containers="all", replicas_cap=GUARDS.replicas_max)
        for i, s in enumerate(load_scenario_set("all"))
    ]


def _target(ctx: ScenarioContext, trace: Trace) -> tuple[dict, dict]:
    editor = ctx._editor
    event_index, position = editor._places[0]
    return ctx.trace.events[event_index].applied_objs[position], trace.events[event_index].applied_objs[position]


def _copy(trace: Trace) -> Trace:
    """An equal trace none of whose objects is recorded as an edit (the readers check it in full)."""
    return copy.deepcopy(trace)


def _run(backend: EmbeddedBackend, trace: Trace, ctx: ScenarioContext) -> object:
    try:
        return backend.run(trace, ctx.scenario)
    except TraceError as exc:
        return (type(exc), str(exc))


def test_recorded_parse_and_pods_equal_a_full_parse_on_every_scenario(contexts: list[ScenarioContext]) -> None:
    rng = random.Random(13)
    recorded = declined = 0
    seen: list[dict] = []
    for ctx in contexts:
        fused = EmbeddedBackend()
        for state in list(random_walk(ctx, DEFAULT, rng, 25)) + list(odd_states(ctx, rng, 4)):
            try:
                trace = ctx.materialize(state)
            except TraceError:
                continue  # materialize's own errors are checked in test_env_fastpaths.py
            if trace is ctx.trace:
                continue
            old, obj = _target(ctx, trace)
            if obj is old:
                continue
            facts = derived_facts(obj)
            plain = copy.deepcopy(obj)
            seen.append(obj)
            if facts is None:
                # a trace met again (materialize's memo) may outlive its record: read in full then
                declined += not any(obj is o for o in seen)
            else:
                recorded += 1
                assert derived_from(obj) is old
                assert facts.parsed == ObjectParser().parse_object(plain), (ctx.scenario.id, state)
                assert facts.pods == check_object(plain, 10**9), (ctx.scenario.id, state)
            assert _run(fused, trace, ctx) == _run(EmbeddedBackend(), _copy(trace), ctx), (ctx.scenario.id, state)
    assert recorded > 2000 and declined == 0  # every new edit the env makes is derived


def test_outcomes_equal_on_repeated_and_replicas_only_states(contexts: list[ScenarioContext]) -> None:
    """States met again and states that differ only in replicas (a shared, already derived template)."""
    rng = random.Random(17)
    for ctx in contexts[::7]:
        backend = EmbeddedBackend()
        states = list(random_walk(ctx, DEFAULT, rng, 15))
        for state in states + states + [s._replace(replicas=s.replicas + 2) for s in states]:
            trace = ctx.materialize(state)
            assert _run(backend, trace, ctx) == _run(EmbeddedBackend(), _copy(trace), ctx), (ctx.scenario.id, state)


def test_pod_bound_error_is_the_full_checks_error(contexts: list[ScenarioContext], monkeypatch: pytest.MonkeyPatch) -> None:
    """Replicas one over the pod bound (set to what the base trace asks for): the same typed error
    with the same text as the full checks of an unrecorded copy."""
    checked = 0
    for ctx in contexts[:40]:
        if len(ctx.trace.events) != 2 or ctx.scenario.workload.kind != "Deployment":
            continue  # one workload: the base trace asks for its replicas alone
        monkeypatch.setenv("SIM_ARENA_MAX_PODS", str(max(ctx.initial.replicas, 1)))
        state = ctx.initial._replace(replicas=max(ctx.initial.replicas, 1) + 1)
        trace = ctx.materialize(state)
        _, obj = _target(ctx, trace)
        facts = derived_facts(obj)
        assert facts is not None and facts.pods == state.replicas
        got = _run(EmbeddedBackend(), trace, ctx)
        expected = _run(EmbeddedBackend(), _copy(trace), ctx)
        assert got == expected and got[0].__name__ == "TraceLimitError", got
        checked += 1
    assert checked > 20


def _canonical(contexts: list[ScenarioContext]) -> tuple[dict, object]:
    ctx = next(c for c in contexts if c.scenario.id == "canonical-slightly-bad-cpu")
    old = ctx.trace.events[-1].applied_objs[-1]
    return old, ObjectParser().parse_object(old)


def _edited(old: dict, **resources: dict) -> dict:
    obj = dict(old)
    spec = obj["spec"] = dict(old["spec"])
    template = spec["template"] = dict(spec["template"])
    pod = template["spec"] = dict(template["spec"])
    containers = pod["containers"] = list(pod["containers"])
    container = containers[0] = dict(containers[0])
    container["resources"] = resources
    return obj


def test_derivation_declines_what_it_cannot_vouch_for(contexts: list[ScenarioContext]) -> None:
    old, base = _canonical(contexts)
    good = _edited(old, requests={"cpu": "250m", "memory": "64Mi"}, limits={"cpu": "1"})
    assert derive_edited_deployment(base, old, good) == ObjectParser().parse_object(copy.deepcopy(good))
    for bad in (
        _edited(old, requests={"cpu": "2"}, limits={"cpu": "1"}),  # request over its limit
        _edited(old, requests={"cpu": "1000m"}, limits={"cpu": "1"}),  # equal in nano-units, other text
        _edited(old, requests={"cpu": "-1"}),
        _edited(old, requests={"cpu": "lots"}),
        _edited(old, requests={"cpu": 2}),  # not a string
        _edited(old, requests=["cpu"]),
    ):
        assert derive_edited_deployment(base, old, bad) is None, bad
    relabelled = dict(old, metadata=dict(old["metadata"]))
    assert derive_edited_deployment(base, old, relabelled) is None
    for replicas in (-1, 2**31, "3", None, True):
        obj = dict(old, spec=dict(old["spec"], replicas=replicas))
        assert derive_edited_deployment(base, old, obj) is None, replicas
    template = old["spec"]["template"]
    retemplated = dict(old, spec=dict(old["spec"], template=dict(template, metadata={})))
    assert derive_edited_deployment(base, old, retemplated) is None
    fewer = _edited(old, requests={"cpu": "1"})
    fewer["spec"]["template"]["spec"]["containers"].append({"name": "extra"})
    assert derive_edited_deployment(base, old, fewer) is None


def test_a_limit_below_the_request_is_left_to_the_readers(contexts: list[ScenarioContext]) -> None:
    """A state with a limit under its request: the editor reconciles them; whatever it writes, the
    outcome is the full readers'."""
    for ctx in contexts[:30]:
        n = len(ctx.initial.cpu)
        state = EditState((2000,) * n, ctx.initial.memory, (1000,) * n, ctx.initial.memory_limit, ctx.initial.replicas)
        try:
            trace = ctx.materialize(state)
        except TraceError:
            continue
        assert _run(EmbeddedBackend(), trace, ctx) == _run(EmbeddedBackend(), _copy(trace), ctx)

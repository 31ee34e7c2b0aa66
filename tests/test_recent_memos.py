"""Short-lived memos for the env's edited copies (``trace/recent.py``, ``trace/derived.py``).

The env writes every simulated state into a fresh copy of one workload's object. The validator, the
parser and the template digest keep what they learn about such a copy in :class:`RecentMemo` memos,
not in their long-lived tables, so that copies die young (the garbage collector's full collections
then have little to walk). These tests pin that the results are the same as with fresh, unmemoised
readers, that the long-lived tables do not grow with the copies, and that the objects left alive
after many edited states do not grow with their number.
"""

from __future__ import annotations

import gc
import random
from typing import TYPE_CHECKING

import pytest

from sim_arena_gym.sim import names
from sim_arena_gym.sim.names import content_digest
from sim_arena_gym.sim.parse import ObjectParser
from sim_arena_gym.trace import Trace
from sim_arena_gym.trace.builders import build_trace, container, deployment, pod_spec
from sim_arena_gym.trace import derived
from sim_arena_gym.trace.derived import derived_from, is_lasting, keep_derived, note_resource_edit
from sim_arena_gym.trace.errors import TraceError
from sim_arena_gym.trace.recent import RecentMemo
from sim_arena_gym.trace.validate import ObjectValidator, validate_trace
from sim_arena_gym.trace.workloads import _LastOccurrenceEditor

if TYPE_CHECKING:  # pragma: no cover
    from sim_arena_gym.sim.cluster import Cluster


def test_recent_memo_keeps_what_is_used_and_drops_the_rest() -> None:
    memo = RecentMemo(4)
    memo.put("a", 1)
    memo.put("b", 2)
    for k in range(3):  # fills the young generation: a, b move to the old one with the next put
        memo.put(f"x{k}", k)
    assert memo.get("a") == 1 and memo.get("b") == 2  # old generation: found, moved back
    for k in range(7):
        memo.put(f"y{k}", k)
        assert len(memo) <= 8
    assert memo.get("x0") is None  # not used since: gone after two generations
    memo.put("c", 3)
    for k in range(20):
        memo.put(f"z{k}", k)
        assert memo.get("c") == 3  # used after every insertion: stays
    memo.clear()
    assert len(memo) == 0 and memo.get("c") is None
    with pytest.raises(ValueError, match="at least 1"):
        RecentMemo(0)


def test_derived_record_is_bounded_and_exact() -> None:
    old, new = {"kind": "Deployment"}, {"kind": "Deployment"}
    note_resource_edit(old, new)
    assert derived_from(new) is old
    assert derived_from(dict(new)) is None  # an equal object is not the recorded one
    keep = [({}, {}) for _ in range(200)]
    for a, b in keep:
        note_resource_edit(a, b)
    assert derived_from(new) is None  # aged out
    assert derived_from(keep[-1][1]) is keep[-1][0]



def test_readers_take_an_edited_copy_s_record_in_one_look_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """``derived_record`` gives ``(new, old, facts)`` (what ``derived_from`` and ``derived_facts``
    give, short-lived or lasting); the validator and the parser read an edited copy's record through
    it alone, and check and parse the copy as before."""
    old, new = {"kind": "Deployment"}, {"kind": "Deployment"}
    facts = derived.EditFacts(3, None)
    note_resource_edit(old, new, facts)
    assert derived.derived_record(new) == (new, old, facts) and derived.derived_record(dict(new)) is None
    assert keep_derived(new)
    for _ in range(20):
        note_resource_edit({}, {})  # the short-lived record ages out; the lasting one stays
    assert derived.derived_record(new) == (new, old, facts)
    base = _base()
    editor = _LastOccurrenceEditor(base, "Deployment/default/web")
    edited = editor.edit(requests={"app": {"cpu": "700m"}}, replicas=4)

    def refuse(obj: object) -> None:
        raise AssertionError("a second look-up of the record")

    for name in ("derived_from", "derived_facts"):
        monkeypatch.setattr(f"sim_arena_gym.trace.validate.{name}", refuse, raising=False)
    monkeypatch.setattr("sim_arena_gym.sim.parse.derived_facts", refuse, raising=False)
    validator = ObjectValidator()
    validator.validate(base)
    validator.validate(edited)
    parser = ObjectParser()
    parser.parse_object(base.events[-1].applied_objs[-1])
    got = parser.parse_object(edited.events[-1].applied_objs[-1])
    monkeypatch.undo()
    assert got == ObjectParser().parse_object(edited.events[-1].applied_objs[-1])
    assert got.spec.replicas == 4

def _base() -> Trace:
    return build_trace([
        (1, [deployment("db", pod_spec([container("db", cpu="1", memory="1Gi")]), replicas=2)], []),
        (5, [deployment("web", pod_spec([container("app", cpu="500m", memory="256Mi", limit_memory="1Gi"),
                                         container("side", cpu="100m")]), replicas=3)], []),
    ])  # fmt: skip


def _states(rng: random.Random, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        req = {"app": {"cpu": f"{rng.randrange(1, 40) * 100}m", "memory": f"{rng.randrange(1, 8) * 128}Mi"}}
        out.append({"requests": req, "replicas": rng.choice([None, rng.randrange(0, 9)])})
    return out


def test_parser_gives_what_a_fresh_parser_gives_and_keeps_copies_out_of_its_tables() -> None:
    base = _base()
    editor = _LastOccurrenceEditor(base, "Deployment/default/web")
    parser = ObjectParser()
    for event in base.events:
        for obj in event.applied_objs:
            parser.parse_object(obj)
    settled = (len(parser._objects), parser._size, len(parser._container_content), len(parser._podspec_content))
    rng = random.Random(7)
    shared = editor.edit(requests={"app": {"cpu": "3"}})
    for k, kwargs in enumerate(_states(rng, 400)):
        trace = editor.edit(**kwargs) if k % 3 else editor.with_replicas(shared, k % 7)
        for obj in trace.events[-1].applied_objs:
            assert parser.parse_object(obj) == ObjectParser().parse_object(obj)
    assert (len(parser._objects), parser._size, len(parser._container_content), len(parser._podspec_content)) == settled
    assert len(parser._recent) <= 2 * ObjectParser.RECENT_SIZE
    assert len(parser._recent_content) <= 2 * ObjectParser.RECENT_SIZE
    # The trace's own objects are still parsed once: the very same results.
    db = base.events[0].applied_objs[0]
    assert parser.parse_object(db) is parser.parse_object(db)


def test_parser_moves_a_dict_shared_with_a_lasting_object_to_its_tables() -> None:
    base = _base()
    editor = _LastOccurrenceEditor(base, "Deployment/default/web")
    parser = ObjectParser()
    edited = editor.edit(requests={"app": {"cpu": "2"}})  # parsed before the base trace ever is
    copy = edited.events[-1].applied_objs[-1]
    parser.parse_object(copy)
    assert not parser._templates and not parser._objects
    lasting = dict(copy)  # not made by the editor: a lasting object that shares the pod template
    assert parser.parse_object(lasting) == parser.parse_object(copy)
    template = copy["spec"]["template"]
    assert parser._templates[id(template)][0] is template  # now kept in the long-lived table
    assert parser.parse_template(template) is parser._templates[id(template)][1]


def test_kept_copies_go_to_the_long_lived_tables_and_parse_and_check_like_fresh_ones() -> None:
    """Copies marked lasting (an env without an outcome cache keeps them): their record outlives the
    short-lived one, the parser and the validator memoise them in their long-lived tables, and the
    results equal a fresh parser's and a fresh full check's."""
    base = _base()
    editor = _LastOccurrenceEditor(base, "Deployment/default/web")
    parser, validator = ObjectParser(), ObjectValidator()
    validator.validate(base)
    for event in base.events:
        for obj in event.applied_objs:
            parser.parse_object(obj)
    rng = random.Random(3)
    kept = []
    for kwargs in _states(rng, 60):
        trace = editor.edit(**kwargs)
        copy = trace.events[-1].applied_objs[-1]
        assert keep_derived(copy) and is_lasting(copy)
        kept.append((trace, copy))
    assert not keep_derived(dict(kept[0][1])) and not is_lasting(dict(kept[0][1]))  # no record
    for trace, copy in kept:  # their short-lived records are long gone
        assert derived_from(copy) is base.events[-1].applied_objs[-1]
        validator.validate(trace)
        assert validator._seen[id(copy)][0] is copy
        parsed = parser.parse_object(copy)
        assert parsed == ObjectParser().parse_object(copy)
        assert parser._objects[id(copy)][0] is copy
        assert parser.parse_object(copy) is parsed
        assert validator.pods_of(copy, 1000) == ObjectValidator().pods_of(copy, 1000)
    derived._LASTING.clear()
    assert derived_from(kept[0][1]) is None


def test_validator_checks_copies_like_a_fresh_full_check() -> None:
    base = _base()
    editor = _LastOccurrenceEditor(base, "Deployment/default/web")
    validator = ObjectValidator()
    validator.validate(base)
    seen = len(validator._seen)
    rng = random.Random(3)
    cases = _states(rng, 150)
    cases[10]["requests"] = {"app": {"cpu": "99999999999999999"}}  # out of the int64 range in millicores
    cases[11] = {"requests": {"app": {"cpu": "99999999999999999"}}}  # refused again: refusals are not memoised
    cases[12] = dict(cases[5])  # accepted again: the same requests and limits as an earlier copy
    cases[20]["replicas"] = 10**7  # more pods than the bound
    cases[30]["requests"] = {"side": {"cpu": "-1"}}  # refused by the editor itself
    refused = 0
    for kwargs in cases:
        try:
            trace = editor.edit(**kwargs)
        except TraceError:
            refused += 1
            continue
        try:
            validate_trace(trace)
            expected = None
        except TraceError as exc:
            expected = str(exc)
        try:
            validator.validate(trace)
            got = None
        except TraceError as exc:
            got = str(exc)
        assert got == expected
        refused += expected is not None
    assert refused == 4
    assert len(validator._seen) == seen  # copies are not kept in the long-lived table
    assert len(validator._recent) <= 2 * ObjectValidator.RECENT_SIZE


def test_template_digest_memo_is_short_lived_and_exact() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app"}]}}
    digest = content_digest(template)
    for k in range(500):
        fresh = {"metadata": {"labels": {"app": f"web{k}"}}, "spec": {"containers": [{"name": "app"}]}}
        assert content_digest(fresh) == content_digest({**fresh})
        assert len(names._MEMO) <= 2 * names._MEMO.size
        if k % 50 == 0:
            assert content_digest(template) == digest


def test_edited_states_leave_no_growing_number_of_objects_alive() -> None:
    """GC-tracked objects alive after materialising, validating and parsing many edited states of one
    trace (what the env does per simulated state, before the replay) are bounded by the memos, not by
    the number of states (before the short-lived memos: about 14 more per state)."""
    base = _base()
    editor = _LastOccurrenceEditor(base, "Deployment/default/web")
    validator, parser = ObjectValidator(), ObjectParser()
    states = _states(random.Random(11), 2400)

    def run(some: list[dict]) -> int:
        for kwargs in some:
            trace = editor.edit(**kwargs)
            validator.validate(trace)
            for event in trace.events:
                for obj in event.applied_objs:
                    parser.parse_object(obj)
        gc.collect()
        return len(gc.get_objects())

    warm = run(states[:400])  # every memo filled
    after = run(states[400:])
    assert after - warm < 1500, (warm, after)


def _plain_node_outcomes(cluster: "Cluster") -> tuple:
    """What ``node_outcomes`` gives, built the obvious way (no memo)."""
    from sim_arena_gym.sim.outcome import NodeOutcome

    ns = cluster.nodeset
    return tuple(
        NodeOutcome(n.name, n.cpu_millis, n.memory_bytes, n.pods, cpu, mem, count, n.labels)
        for n, cpu, mem, count in zip(ns.nodes, cluster.req_cpu, cluster.req_mem, cluster.npods)
    )


@pytest.mark.parametrize("count", [3, 300])  # a small node set (built each time) and a large one (memoised)
def test_node_outcomes_are_those_of_their_own_node_set(count: int) -> None:
    from sim_arena_gym.sim.cluster import Cluster, NodeSet
    from sim_arena_gym.sim.nodes import build_nodes
    from sim_arena_gym.sim.observe import node_outcomes
    from sim_arena_gym.sim.pools import NodePool

    rng = random.Random(count)
    for round_ in range(40):
        # A new node set each round (the previous one freed: its id may come back), other names and sizes.
        nodeset = NodeSet(build_nodes([NodePool(count=count, cpu=f"{round_ % 3 + 2}", memory="8Gi", name=f"p{round_}")]))
        for _ in range(5):
            cluster = Cluster(nodeset, track_pods=False)
            for i in range(count):
                cluster.req_cpu[i] = rng.choice([0, 500, 1000])
                cluster.req_mem[i] = rng.choice([0, 2**30])
                cluster.npods[i] = 0 if not cluster.req_cpu[i] else 1
            assert node_outcomes(cluster) == _plain_node_outcomes(cluster)


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet"])
def test_edited_objects_parse_like_fresh_ones_through_chains_of_edits(kind: str) -> None:
    """An edited Deployment is parsed from the parse of the object it was made from (also when that
    one was itself made from another, as ``with_replicas`` does); other kinds in full. Either way the
    result equals a fresh parser's."""
    from sim_arena_gym.trace.builders import statefulset

    spec = pod_spec(
        [container("app", cpu="500m", memory="256Mi", limit_cpu="2"), container("side", cpu="100m")],
        init_containers=[container("init", cpu="50m")],
    )
    make = deployment if kind == "Deployment" else statefulset
    base = build_trace([(1, [make("web", spec, replicas=2)], []), (3, [deployment("db", pod_spec([container("db")]))], [])])
    editor = _LastOccurrenceEditor(base, f"{kind}/default/web")
    parser = ObjectParser()
    for event in base.events:
        for obj in event.applied_objs:
            parser.parse_object(obj)
    rng = random.Random(5)
    for k in range(300):
        which = rng.choice(["app", "side", "init", "*"])
        requests = {which: {"cpu": f"{rng.randrange(1, 30) * 50}m"}} if k % 4 else None
        limits = {"app": {"memory": f"{rng.randrange(1, 9)}Gi"}} if k % 5 == 0 else None
        edited = editor.edit(requests=requests, limits=limits)
        trace = editor.with_replicas(edited, rng.randrange(0, 6)) if k % 2 else edited
        obj = trace.events[0].applied_objs[0]
        assert parser.parse_object(obj) == ObjectParser().parse_object(obj)


def test_materialize_of_neighbours_in_replicas_equals_edit_workload_byte_for_byte() -> None:
    """The pod-template memo keeps the first trace made for a requests-and-limits state, with its
    replicas; its neighbours in replicas (the trace's own replicas included) are written from it.
    Each equals the one ``edit_workload`` call, byte for byte, in any order of visits."""
    from sim_arena_gym.env import state as state_module
    from sim_arena_gym.env.state import build_context
    from sim_arena_gym.env.simkube_env import scenario_from_trace
    from sim_arena_gym.quantity import format_cpu
    from sim_arena_gym.trace import edit_workload
    from sim_arena_gym.trace.codec import dumps_trace

    base = _base()
    scenario = scenario_from_trace(base, workload="Deployment/default/web")
    ctx = build_context(0, scenario, edit_containers="all", replicas_cap=50)
    init = ctx.initial
    rng = random.Random(2)
    for k in range(120):
        cpu = (rng.choice([250, 500, 1500, 4000]),) + init.cpu[1:]
        replicas = rng.choice([init.replicas, init.replicas, 0, 4, 9])
        state = init._replace(cpu=cpu, replicas=replicas)
        expected = edit_workload(
            base, "Deployment/default/web",
            requests={"app": {"cpu": format_cpu(cpu[0])}} if cpu != init.cpu else None,
            replicas=replicas if replicas != init.replicas else None, occurrences="last",
        ) if state != init else base  # fmt: skip
        got = ctx.materialize(state)
        assert dumps_trace(got) == dumps_trace(expected), state
        if replicas == init.replicas and cpu != init.cpu:
            assert ctx.materialize(state) is got  # the memoised trace itself
    assert len(state_module._POD_EDITS) <= state_module._POD_EDITS_SIZE

"""The committed scenario set under ``traces/``: loads, is broken at start, is solvable in exactly the
recorded oracle steps, and is exactly what the recorded seeds generate."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from sim_arena_gym.backends import make_backend
from sim_arena_gym.scenarios import CANONICAL_IDS, FAMILY_NAMES, load_index, load_scenario_set
from sim_arena_gym.scenarios.generate import DEFAULT_PRESET, canonical_scenarios, generate_one
from sim_arena_gym.trace.codec import dumps_trace, load_trace
from sim_arena_gym.trace.workloads import find_workload

REPO = Path(__file__).resolve().parents[1]
TRACES = REPO / "traces"
INDEX = TRACES / "index.json"
MAX_STEPS = 20


@pytest.fixture(scope="module")
def scenarios():
    return load_index(INDEX)


@pytest.fixture(scope="module")
def traces(scenarios):
    return {s.id: load_trace(s.trace_path) for s in scenarios}


def test_index_lists_every_trace_file(scenarios):
    listed = {Path(s.trace_path).resolve() for s in scenarios}
    on_disk = {p.resolve() for p in TRACES.glob("*/*") if p.suffix in (".sktrace", ".json")}
    assert listed == on_disk
    assert len(scenarios) >= 100 + len(CANONICAL_IDS)
    for s in scenarios:
        assert Path(s.trace_path).parent.name == s.split
        assert s.description and s.usage_floors and s.oracle_steps is not None
        assert (s.seed is None) == (s.split == "canonical")


def test_every_scenario_loads(scenarios, traces):
    for s in scenarios:
        info = find_workload(traces[s.id], s.workload)
        assert s.workload.kind == "Deployment"
        assert 1 <= s.target_replicas <= info.replicas <= 100
        assert set(s.usage_floors) <= {c.name for c in info.containers}
        assert traces[s.id].events[0].applied_objs == ()


FIRST_TIER = ("train", "test", "canonical")


def test_every_scenario_is_broken_at_start(scenarios, traces):
    # The hard tier is broken by the cluster success rule (tests/test_hard_tier.py).
    backend = make_backend("embedded")
    for s in [s for s in scenarios if s.split in FIRST_TIER]:
        wl = backend.run(traces[s.id], s).workload(s.workload)
        assert wl.pending > 0 or wl.crashlooping > 0, (s.id, wl)
        assert not (wl.ready == s.target_replicas and wl.pending == 0 and wl.total == s.target_replicas)


def test_oracle_repairs_every_scenario_in_the_recorded_steps(scenarios):
    from sim_arena_gym.cli.generate_command import measure_oracle_steps

    for s in [s for s in scenarios if s.split in FIRST_TIER]:  # hard tier: SimArena-Hard-v0's oracle steps
        steps = measure_oracle_steps(s)
        assert steps == s.oracle_steps, (s.id, steps, s.oracle_steps)
        assert 1 <= steps <= MAX_STEPS


def test_regenerating_from_the_seeds_reproduces_the_files(scenarios):
    canon = {s.id: s for s in canonical_scenarios()}
    for s in scenarios:
        fresh = canon[s.id] if s.split == "canonical" else generate_one(s.family, s.seed, id=s.id, split=s.split)[0]
        assert Path(s.trace_path).read_bytes() == dumps_trace(fresh.trace), s.id
        for field in ("workload", "node_pools", "target_replicas", "usage_floors", "family", "split", "description"):
            assert getattr(fresh, field) == getattr(s, field), (s.id, field)


def test_regenerate_script_check_passes(capsys):
    spec = importlib.util.spec_from_file_location("regenerate_traces", REPO / "scripts" / "regenerate_traces.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.check(TRACES, oracle=False) == 0, capsys.readouterr().out


def test_splits_are_disjoint_and_cover_every_family(scenarios):
    train = [s for s in scenarios if s.split == "train"]
    test = [s for s in scenarios if s.split == "test"]
    assert not {s.id for s in train} & {s.id for s in test}
    assert len(train) + len(test) == DEFAULT_PRESET["count"]
    assert {s.family for s in test} == set(FAMILY_NAMES)
    assert {s.family for s in train} == set(FAMILY_NAMES)
    # No trace bytes shared between the splits either.
    train_bytes = {Path(s.trace_path).read_bytes() for s in train}
    assert not any(Path(s.trace_path).read_bytes() in train_bytes for s in test)


def test_scenario_sets_from_the_default_folder(monkeypatch):
    monkeypatch.setenv("SIM_ARENA_TRACES", str(TRACES))
    assert {s.split for s in load_scenario_set()} == {"train"}
    assert {s.split for s in load_scenario_set("test")} == {"test"}
    assert [s.id for s in load_scenario_set("canonical")] == list(CANONICAL_IDS)
    assert len(load_scenario_set("all")) == DEFAULT_PRESET["count"] + len(CANONICAL_IDS)


def test_canonical_demos_behave_as_documented(scenarios, traces):
    by_id = {s.id: s for s in scenarios}
    backend = make_backend("embedded")
    expected = {  # id: (ready, pending, crashlooping, pending reason, target, oracle steps)
        "canonical-very-bad-cpu": (0, 4, 0, "Insufficient cpu", 3, 3),
        "canonical-very-bad-memory": (0, 4, 0, "Insufficient memory", 3, 5),
        "canonical-slightly-bad-cpu": (3, 1, 0, "Insufficient cpu", 4, 1),
        "canonical-mixed-errors": (0, 1, 3, "Insufficient cpu", 4, 3),
    }
    for sid, (ready, pending, crash, reason, target, steps) in expected.items():
        s = by_id[sid]
        assert Path(s.trace_path) == TRACES / "canonical" / f"{sid}.sktrace"
        (pool,) = s.node_pools
        assert (pool.count, pool.cpu, pool.memory) == (3, "16", "32Gi")
        assert find_workload(traces[sid], s.workload).replicas == 4
        wl = backend.run(traces[sid], s).workload(s.workload)
        assert (wl.ready, wl.pending, wl.crashlooping) == (ready, pending, crash), sid
        assert wl.pending_reasons == (reason,)
        assert wl.scheduling_message.startswith(f"0/3 nodes are available: 3 {reason}.")
        assert (s.target_replicas, s.oracle_steps) == (target, steps)

"""The scenario generator, the split rule, the index reader/writer and ``sim-arena trace generate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim_arena_gym.quantity import cpu_millis, memory_bytes
from sim_arena_gym.scenarios import (
    CANONICAL_IDS,
    FAMILY_NAMES,
    ScenarioIndexError,
    canonical_scenarios,
    generate_one,
    generate_scenarios,
    load_index,
    load_scenario_set,
    save_scenario_set,
    write_index,
)
from sim_arena_gym.scenarios.families import MAX_FIX_ACTIONS, Rand, pool_capacity
from sim_arena_gym.scenarios.generate import draft_scenario, scenario_seed, split_of
from sim_arena_gym.trace.codec import dumps_trace, loads_trace
from sim_arena_gym.trace.hashing import sk_hash
from sim_arena_gym.trace.workloads import find_workload

SEEDS = range(12)


def _bytes(pairs, fmt="msgpack"):
    return [dumps_trace(trace, format=fmt) for _, trace in pairs]


# --------------------------------------------------------------------------------------------------
# Determinism


def test_same_seed_gives_same_bytes():
    a = generate_scenarios(24, 7)
    b = generate_scenarios(24, 7)
    assert _bytes(a) == _bytes(b)
    assert _bytes(a, "json") == _bytes(b, "json")
    assert [s for s, _ in a] == [s for s, _ in b]


def test_generate_one_matches_the_set_member():
    pairs = generate_scenarios(13, 5)
    scenario, trace = pairs[12]
    again, trace2 = generate_one(scenario.family, scenario.seed, id=scenario.id, split=scenario.split)
    assert dumps_trace(trace) == dumps_trace(trace2)
    assert again == scenario


def test_different_seeds_differ():
    assert _bytes(generate_scenarios(12, 1)) != _bytes(generate_scenarios(12, 2))
    for family in FAMILY_NAMES:
        traces = {dumps_trace(generate_one(family, seed)[1]) for seed in SEEDS}
        assert len(traces) > len(SEEDS) // 2, family


def test_scenario_seed_is_stable():
    # SHA-256 based: fixed forever, whatever the Python version.
    assert scenario_seed(2025, 0) == scenario_seed(2025, 0)
    assert scenario_seed(2025, 0) != scenario_seed(2025, 1)
    assert 0 <= scenario_seed(2025, 0) < 2**31


def test_rand_is_built_on_random_only():
    r1, r2 = Rand(3), Rand(3)
    assert [r1.between(0, 9) for _ in range(20)] == [r2.between(0, 9) for _ in range(20)]
    assert sorted(Rand(4).sample(range(5), 5)) == list(range(5))


# --------------------------------------------------------------------------------------------------
# Families


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_every_family_generates_a_valid_scenario(family):
    for seed in SEEDS:
        draft = draft_scenario(family, seed)
        assert 1 <= draft.min_actions <= MAX_FIX_ACTIONS, (family, seed)
        scenario, trace = generate_one(family, seed)
        assert scenario.family == family and scenario.seed == seed and scenario.trace is trace
        # SimKube export shape: an empty first event, then applies at the same or a later second.
        first = trace.events[0]
        assert first.applied_objs == () and first.deleted_objs == ()
        assert [e.ts for e in trace.events] == sorted(e.ts for e in trace.events)
        assert all(e.applied_objs for e in trace.events[1:])
        info = find_workload(trace, scenario.workload)
        assert scenario.target_replicas >= 1
        assert info.replicas >= scenario.target_replicas
        names = {c.name for c in info.containers}
        assert set(scenario.usage_floors) <= names and scenario.usage_floors
        for floors in scenario.usage_floors.values():
            cpu_millis(floors["cpu"]), memory_bytes(floors["memory"])
        kinds = {o["kind"] for e in trace.events for o in e.applied_objs}
        assert set(trace.config["trackedObjects"]) == {f"apps/v1.{k}" for k in kinds}
        assert scenario.description


def test_usage_floors_sit_below_the_requests():
    for family in FAMILY_NAMES:
        for seed in SEEDS:
            scenario, trace = generate_one(family, seed)
            info = find_workload(trace, scenario.workload)
            for c in info.containers:
                floor = scenario.usage_floors.get(c.name)
                if floor is None:
                    continue
                assert cpu_millis(floor["cpu"]) <= 1000
                assert memory_bytes(floor["memory"]) <= 2 * 1024**3
                if family != "mixed-cpu-memory":  # there the memory limit may sit below usage (OOMKilled)
                    request = c.requests.get("memory") or c.limits.get("memory")
                    assert memory_bytes(floor["memory"]) < memory_bytes(request), (family, seed)


def test_pool_capacity_counts_identical_pods():
    gib = 1024**3
    pools = [(3, 16_000, 32 * gib, 110), (1, 8_000, 64 * gib, 110)]
    assert pool_capacity(pools, 8_000, 2 * gib) == 3 * 2 + 1
    assert pool_capacity(pools, 500, 30 * gib) == 3 * 1 + 2
    assert pool_capacity([(2, 16_000, 32 * gib, 3)], 100, gib) == 6


def test_generated_trace_round_trips_through_the_codec():
    for scenario, trace in generate_scenarios(len(FAMILY_NAMES), 11):
        for fmt in ("msgpack", "json"):
            data = dumps_trace(trace, format=fmt)
            loaded = loads_trace(data, format=fmt)
            assert dumps_trace(loaded, format=fmt) == data
            assert [e.applied_objs for e in loaded.events] == [e.applied_objs for e in trace.events]
            # The writer computed the index hashes SimKube-style (hash of the last applied spec).
            for obj in loaded.events[-1].applied_objs:
                key = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
                assert loaded.index[f"{obj['apiVersion']}.{obj['kind']}"][key] == sk_hash(obj["spec"])


# --------------------------------------------------------------------------------------------------
# Sets, splits, canonical


def test_split_rule():
    assert [split_of(k, 10, 0.8) for k in range(10)] == ["train"] * 8 + ["test"] * 2
    assert [split_of(k, 2, 0.8) for k in range(2)] == ["train", "test"]
    assert split_of(0, 1, 0.8) == "train"
    assert [split_of(k, 3, 1.0) for k in range(3)] == ["train"] * 3
    with pytest.raises(ValueError):
        split_of(0, 3, 1.5)


def test_generated_set_covers_every_family_in_both_splits():
    pairs = generate_scenarios(3 * len(FAMILY_NAMES), 9)
    ids = [s.id for s, _ in pairs]
    assert len(set(ids)) == len(ids)
    for family in FAMILY_NAMES:
        splits = [s.split for s, _ in pairs if s.family == family]
        assert splits == ["train", "train", "test"], family


def test_families_option_and_errors():
    pairs = generate_scenarios(4, 1, families=["node-pools", "very-bad-cpu"])
    assert [s.family for s, _ in pairs] == ["node-pools", "very-bad-cpu"] * 2
    with pytest.raises(ValueError, match="unknown scenario family 'nope'"):
        generate_scenarios(2, 1, families=["nope"])
    with pytest.raises(ValueError, match="unknown scenario family"):
        generate_one("nope", 1)


def test_canonical_scenarios():
    canon = canonical_scenarios()
    assert tuple(s.id for s in canon) == CANONICAL_IDS
    for s in canon:
        assert s.split == "canonical" and s.trace is not None
        (pool,) = s.node_pools
        assert (pool.count, pool.cpu, pool.memory) == (3, "16", "32Gi")
        info = find_workload(s.trace, s.workload)
        assert str(s.workload) == "Deployment/shop/web" and info.replicas == 4
        assert [c.name for c in info.containers] == ["web"]
    assert dumps_trace(canon[0].trace) == dumps_trace(canonical_scenarios()[0].trace)


# --------------------------------------------------------------------------------------------------
# Index: write, read, errors


def _saved_set(tmp_path: Path, fmt: str = "msgpack"):
    scenarios = canonical_scenarios()[:2] + [s for s, _ in generate_scenarios(4, 3)]
    return save_scenario_set(scenarios, tmp_path, format=fmt)


def test_save_and_load_index(tmp_path):
    saved = _saved_set(tmp_path)
    loaded = load_index(tmp_path / "index.json")
    assert [s.id for s in loaded] == [s.id for s in saved]
    for a, b in zip(saved, loaded):
        assert b.trace is None and b.trace_path == tmp_path / f"{a.split}/{a.id}.sktrace"
        for field in ("workload", "node_pools", "target_replicas", "usage_floors", "family", "split", "seed",
                      "description"):
            assert getattr(a, field) == getattr(b, field), field
    doc = json.loads((tmp_path / "index.json").read_text())
    assert doc["format"] == "sim-arena-scenarios/v1"
    assert doc["scenarios"][0]["file"] == "canonical/canonical-very-bad-cpu.sktrace"
    assert list(doc["scenarios"][0]) == ["id", "file", "family", "split", "workload", "nodes", "target",
                                         "usage_floors", "seed", "oracle_steps", "description"]


def test_json_format_set(tmp_path):
    saved = _saved_set(tmp_path, "json")
    assert all(str(s.trace_path).endswith(".json") for s in saved)
    loaded = load_index(tmp_path / "index.json")
    assert len(loaded) == len(saved)


def test_load_scenario_set_by_name_and_path(tmp_path, monkeypatch):
    _saved_set(tmp_path)
    monkeypatch.setenv("SIM_ARENA_TRACES", str(tmp_path))
    assert {s.split for s in load_scenario_set()} == {"train"}
    assert [s.id for s in load_scenario_set("canonical")] == list(CANONICAL_IDS[:2])
    assert len(load_scenario_set("all")) == 6
    assert len(load_scenario_set(str(tmp_path))) == 6
    assert len(load_scenario_set(tmp_path / "index.json")) == 6
    with pytest.raises(ScenarioIndexError, match="unknown scenario set 'bogus'"):
        load_scenario_set("bogus")
    monkeypatch.setenv("SIM_ARENA_TRACES", str(tmp_path / "nowhere"))
    with pytest.raises(ScenarioIndexError, match=r"no scenario index for set 'train'; set \$SIM_ARENA_TRACES"):
        load_scenario_set()


def _bad_index(tmp_path: Path, mutate) -> Path:
    _saved_set(tmp_path)
    path = tmp_path / "index.json"
    doc = json.loads(path.read_text())
    mutate(doc["scenarios"][1])
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda e: e.pop("workload"), "missing required key(s) workload"),
        (lambda e: e.update(family="very-bad-gpu"), "unknown family 'very-bad-gpu'"),
        (lambda e: e.update(file="canonical/missing.sktrace"), "missing.sktrace' does not exist"),
        (lambda e: e.update(nodes=[{"count": -1}]), "bad node pool"),
        (lambda e: e.update(nodes=[{"count": 2, "cpu": "lots"}]), "bad node pool"),
        (lambda e: e.update(nodes=[]), "bad node pool"),
        (lambda e: e.update(workload="a/b/c/d"), "workload 'a/b/c/d'"),
        (lambda e: e.update(split="validation"), "split must be one of"),
        (lambda e: e.update(target=0), "target must be an integer >= 1"),
        (lambda e: e.update(usage_floors={"web": {"gpu": "1"}}), "usage_floors['web']"),
        (lambda e: e.update(colour="blue"), "unknown key(s) colour"),
        (lambda e: e.update(id="canonical-very-bad-cpu"), "duplicate id (also scenarios[0])"),
    ],
)
def test_bad_index_entries_give_clear_errors(tmp_path, mutate, message):
    path = _bad_index(tmp_path, mutate)
    with pytest.raises(ScenarioIndexError) as err:
        load_index(path)
    text = str(err.value)
    assert str(path) in text and "scenarios[1]" in text, text
    assert message in text, text


def test_bad_index_files(tmp_path):
    with pytest.raises(ScenarioIndexError, match="index file not found"):
        load_index(tmp_path / "index.json")
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(ScenarioIndexError, match="cannot read the index"):
        load_index(tmp_path / "index.json")
    (tmp_path / "index.json").write_text(json.dumps({"scenarios": []}))
    with pytest.raises(ScenarioIndexError, match="not a scenario index"):
        load_index(tmp_path / "index.json")


def test_write_index_needs_files_and_unique_ids(tmp_path):
    canon = canonical_scenarios()
    with pytest.raises(ValueError, match="has no trace file"):
        write_index(tmp_path / "index.json", canon)
    saved = save_scenario_set(canon[:1], tmp_path)
    with pytest.raises(ValueError, match="duplicate scenario ids"):
        write_index(tmp_path / "index.json", saved * 2)
    assert not list(tmp_path.glob(".index.json.*"))  # no temp file left behind


# --------------------------------------------------------------------------------------------------
# CLI


def test_cli_trace_generate(tmp_path, capsys):
    from sim_arena_gym.cli import main

    out = tmp_path / "gen"
    rc = main(["trace", "generate", "--count", "14", "--seed", "3", "--out", str(out), "--no-oracle"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "very-bad-cpu" in text and "wrote 14 scenarios" in text
    scenarios = load_index(out / "index.json")
    assert len(scenarios) == 14 and {s.split for s in scenarios} == {"train", "test"}
    expected = generate_scenarios(14, 3)
    for s, (g, trace) in zip(scenarios, expected):
        assert s.trace_path.read_bytes() == dumps_trace(trace)
        assert s.id == g.id


def test_cli_trace_generate_options(tmp_path, capsys):
    from sim_arena_gym.cli import main

    out = tmp_path / "json"
    rc = main(["trace", "generate", "--count", "4", "--seed", "1", "--out", str(out), "--format", "json",
               "--families", "limits-only,node-pools", "--split-ratio", "0.5", "--canonical", "--no-oracle"])
    assert rc == 0
    scenarios = load_index(out / "index.json")
    assert [s.family for s in scenarios[4:]] == ["limits-only", "node-pools"] * 2
    assert [s.split for s in scenarios[4:]] == ["train", "train", "test", "test"]
    assert all(str(s.trace_path).endswith(".json") for s in scenarios)
    assert main(["trace", "generate", "--count", "2", "--out", str(out), "--families", "nope"]) == 2
    assert capsys.readouterr().err.startswith(
        "sim-arena: error: sim-arena trace generate: argument --families: unknown family nope; known: very-bad-cpu,"
    )
    assert main(["trace", "generate", "--count", "2"]) == 2
    assert "--out DIR is required" in capsys.readouterr().err

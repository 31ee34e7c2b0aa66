"""``sim-arena batch``: a folder mixing good and bad traces finishes, reports each bad one with its
error, aggregates the rest, and gives the same rows on the embedded and the simkube backend."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from sim_arena_gym.cli import main
from sim_arena_gym.learning.batch import BatchItem, batch_items, run_batch
from sim_arena_gym.learning.evaluate import AgentEntry
from sim_arena_gym.testing.fake_cluster import FakeCluster

ROOT = Path(__file__).resolve().parents[1]
GOOD = ("canonical-slightly-bad-cpu", "canonical-very-bad-cpu")


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "traces"
    folder.mkdir()
    for name in GOOD:
        shutil.copy(ROOT / "traces" / "canonical" / f"{name}.sktrace", folder)
    (folder / "corrupt.json").write_text("garbage{{")
    (folder / "old-v1.json").write_text(json.dumps([{}, [], {}, {}]))  # SimKube 0.7-1.1 array format
    shutil.copy(ROOT / "tests" / "data" / "simkube" / "cronjob.sktrace", folder / "no-web.sktrace")
    (folder / "notes.txt").write_text("not a trace: ignored")
    return folder


ERRORS = {
    "corrupt.json": "corrupt.json: not a JSON trace: Expecting value: line 1 column 1 (char 0)",
    "old-v1.json": "this package reads format version 2 only (SimKube >= 2.0)",
    "no-web.sktrace": "Deployment shop/web not found in",
}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _check_rows(rows: list[dict[str, str]], folder: Path) -> None:
    assert [(Path(r["source"]).name, r["policy"]) for r in rows] == [
        ("canonical-slightly-bad-cpu.sktrace", "heuristic"), ("canonical-slightly-bad-cpu.sktrace", "noop"),
        ("canonical-very-bad-cpu.sktrace", "heuristic"), ("canonical-very-bad-cpu.sktrace", "noop"),
        ("corrupt.json", "-"), ("no-web.sktrace", "-"), ("old-v1.json", "-"),
    ]
    for r in rows[4:]:
        assert ERRORS[Path(r["source"]).name] in r["error"]
        assert r["success"] == r["steps"] == r["episode_return"] == ""
    good = {(r["scenario"], r["policy"]): r for r in rows[:4]}
    assert all(r["error"] == "" for r in rows[:4])
    assert (good["canonical-very-bad-cpu", "heuristic"]["success"], good["canonical-very-bad-cpu", "heuristic"]["steps"]) == ("True", "18")
    assert good["canonical-very-bad-cpu", "heuristic"]["final_requests"] == "web: cpu 8, memory 2Gi"
    assert (good["canonical-very-bad-cpu", "noop"]["success"], good["canonical-very-bad-cpu", "noop"]["steps"]) == ("False", "20")
    assert good["canonical-very-bad-cpu", "noop"]["final_requests"] == "web: cpu 17, memory 2Gi"
    assert good["canonical-slightly-bad-cpu", "heuristic"]["final_replicas"] == "4"


def test_a_mixed_folder_finishes_and_reports_each_bad_trace(mixed_folder: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "rows.csv"
    assert main(["batch", str(mixed_folder), "--policy", "heuristic,noop", "--workload", "shop/web", "--out", str(out),
                 "--no-progress-bar"]) == 0
    text = capsys.readouterr().out
    assert "4 episodes played, 2 repaired, 3 errors\n" in text
    assert f"wrote {out}\n" in text
    _check_rows(_rows(out), mixed_folder)


def test_embedded_and_simkube_give_the_same_rows(mixed_folder: Path, tmp_path: Path, fake_cluster: FakeCluster,
                                                 capsys) -> None:
    before = fake_cluster.snapshot()
    emb, sk = tmp_path / "embedded.csv", tmp_path / "simkube.csv"
    common = ["batch", str(mixed_folder), "--policy", "heuristic,noop", "--workload", "shop/web", "--no-progress-bar"]
    assert main([*common, "--out", str(emb)]) == 0
    assert main([*common, "--out", str(sk), "--backend", "simkube", "--kubeconfig", str(fake_cluster.kubeconfig),
                 "--trace-store", str(fake_cluster.trace_store), "--speed", "10000", "--settle-seconds", "0.02"]) == 0
    assert capsys.readouterr().err == "preflight: all 23 checks passed\n"
    assert _rows(sk) == _rows(emb)
    _check_rows(_rows(sk), mixed_folder)
    assert fake_cluster.snapshot() == before
    assert list(fake_cluster.trace_store.iterdir()) == []


def test_a_simkube_batch_stops_at_a_failed_preflight(mixed_folder: Path, fake_cluster: FakeCluster, capsys) -> None:
    fake_cluster.remove_namespace("monitoring")
    assert main(["batch", str(mixed_folder), "--workload", "shop/web", "--no-progress-bar", "--backend", "simkube",
                 "--kubeconfig", str(fake_cluster.kubeconfig), "--trace-store", str(fake_cluster.trace_store)]) == 1
    captured = capsys.readouterr()
    assert "FAIL  namespace monitoring" in captured.out and "fix: kubectl create namespace monitoring" in captured.out
    assert captured.err == "sim-arena: error: preflight failed; fix the checks above before a simkube batch\n"
    assert "SOURCE" not in captured.out  # no episode ran


def test_a_backend_error_is_recorded_and_the_batch_goes_on(fake_cluster: FakeCluster) -> None:
    from sim_arena_gym.scenarios.index import load_scenario_set

    scenarios = load_scenario_set("canonical")[:2]
    fake_cluster.faults.fail_simulations = 1  # the first Simulation's driver Job fails
    rows, interrupted = run_batch([BatchItem(s.id, s) for s in scenarios], [AgentEntry("heuristic", "agent")],
                                  env_kwargs={"backend": "simkube", "backend_options": fake_cluster.backend_options()})
    assert not interrupted
    assert rows[0].error.startswith(f"Simulation sa-") and "failed (driver Job failed: BackoffLimitExceeded)" in rows[0].error
    assert rows[1].error == "" and rows[1].success is True


def test_jobs_give_the_same_rows_as_one_process(tmp_path: Path, capsys) -> None:
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert main(["batch", "canonical", "--policy", "heuristic,random", "--out", str(one), "--no-progress-bar"]) == 0
    assert main(["batch", "canonical", "--policy", "heuristic,random", "--out", str(two), "--jobs", "2",
                 "--no-progress-bar"]) == 0
    capsys.readouterr()
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert a == b and a["format"] == "sim-arena-batch/v1" and a["interrupted"] is False
    assert len(a["rows"]) == 8 and all(r["error"] == "" for r in a["rows"])


def test_ctrl_c_keeps_the_finished_rows_and_cleans_up(fake_cluster: FakeCluster, tmp_path: Path, capsys) -> None:
    """SIGINT arrives while the second scenario's Simulation is being created."""
    before = fake_cluster.snapshot()
    # never fires until armed; after the first row it fires on the next Simulation create
    fault = fake_cluster.faults.add(verb="create", resource="simulations", interrupt=True, times=0)

    def arm(row) -> None:
        fault.times = fault.hits + 1

    from sim_arena_gym.scenarios.index import load_scenario_set

    scenarios = load_scenario_set("canonical")[:3]
    rows, interrupted = run_batch([BatchItem(s.id, s) for s in scenarios], [AgentEntry("heuristic", "agent")],
                                  env_kwargs={"backend": "simkube", "backend_options": fake_cluster.backend_options()},
                                  on_row=arm)
    assert interrupted is True
    assert [r.scenario for r in rows] == [scenarios[0].id] and rows[0].success is True
    assert fake_cluster.snapshot() == before
    assert list(fake_cluster.trace_store.iterdir()) == []


def test_bad_batch_arguments_are_one_line(tmp_path: Path, capsys) -> None:
    cases = [
        (["batch", str(tmp_path)], f"sim-arena: error: batch {tmp_path}: {tmp_path}: no .sktrace or .json traces in this folder\n"),
        (["batch", "canonical", "--policy", "nobody"], "sim-arena: error: --agents: unknown agent 'nobody'"),
        (["batch", "canonical", "--jobs", "0"], "sim-arena: error: --jobs 0: must be at least 1\n"),
        (["batch", "canonical", "--workload", "shop/web"],
         "sim-arena: error: --workload, --nodes and --target go with a folder of traces, not a split\n"),
        (["batch", "canonical", "--backend", "simkube", "--trace-store", str(tmp_path), "--jobs", "2"],
         "sim-arena: error: --jobs goes with --backend embedded: SimKube runs one Simulation at a time\n"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert capsys.readouterr().err.startswith(message), argv


def test_batch_items_of_a_split() -> None:
    items = batch_items("canonical")
    assert [i.source for i in items] == [i.scenario.id for i in items]
    assert all(i.error == "" for i in items) and len(items) == 4

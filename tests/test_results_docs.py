"""The README's baseline table and docs/RESULTS.md's leaderboard are the committed result files, rendered."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sim_arena_gym.learning import leaderboard as lb
from sim_arena_gym.learning.evaluate import METRICS, OVERALL

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results"


def test_readme_table_is_the_test_results() -> None:
    by_split, _ = lb.load_results_dir(RESULTS)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert lb.between(readme, lb.README_BEGIN, lb.README_END, where="README.md") == lb.readme_table(by_split["test"])


def test_results_md_leaderboard_is_the_result_files() -> None:
    by_split, runs = lb.load_results_dir(RESULTS)
    text = (REPO / "docs" / "RESULTS.md").read_text(encoding="utf-8")
    assert lb.between(text, lb.RESULTS_BEGIN, lb.RESULTS_END, where="docs/RESULTS.md") == lb.results_block(by_split, runs)


def test_every_split_of_the_index_is_evaluated_with_every_run() -> None:
    from sim_arena_gym.scenarios.index import load_scenario_set

    by_split, runs = lb.load_results_dir(RESULTS)
    assert set(by_split) == {s.split for s in load_scenario_set("all") if s.split}
    per_algo: dict[str, list[int]] = {}
    for run in runs:
        assert run["num_timesteps"] <= 100_000 and run["split"] == "train"
        per_algo.setdefault(run["algorithm"], []).append(run["seed"])
    assert {k: sorted(v) for k, v in per_algo.items()} == {"DQN": [0, 1, 2], "MaskablePPO": [0, 1, 2], "PPO": [0, 1, 2]}
    for split, results in by_split.items():
        models = [a["name"] for a in results["agents"] if a["kind"] == "model"]
        assert sorted(models) == sorted(r["run"] for r in runs), split
        assert (RESULTS / split / "plots" / "overall.png").is_file()
        for family in results["families"]:
            assert (RESULTS / split / "plots" / f"{family}.png").is_file()


def test_csv_and_json_hold_the_same_numbers() -> None:
    by_split, runs = lb.load_results_dir(RESULTS)
    for split, results in by_split.items():
        with (RESULTS / split / "results.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == len(results["agents"]) * (len(results["families"]) + 1)
        for row in rows:
            want = results["summary"][row["agent"]][row["family"]]
            assert [row[m] for m in METRICS] == ["" if want[m] is None else repr(float(want[m])) for m in METRICS]
    # A run's own final evaluation on the held-out split is what `evaluate` measured for it.
    test = by_split["test"]["summary"]
    for run in runs:
        assert test[run["run"]][OVERALL]["success_rate"] == run["final"]["test"]["success_rate"], run["run"]
    assert json.loads((RESULTS / "splits.json").read_text())[:2] == ["train", "test"]

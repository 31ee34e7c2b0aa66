"""Rebuild the leaderboard: result files under docs/results/, then the tables in docs/RESULTS.md and README.md.

    .venv/bin/python scripts/update_results.py --runs /tmp/issue13/runs --evaluate   # collect runs, evaluate
    .venv/bin/python scripts/update_results.py                                        # tables from the files
    .venv/bin/python scripts/update_results.py --check                                # exit 1 if out of date

--runs DIR   every DIR/*/run.json (a folder written by `sim-arena train`) goes into docs/results/runs.json,
             its learning_curve.png into docs/results/curves/<folder>.png, and all of them into
             docs/results/curves/overview.png.
--evaluate   `sim-arena evaluate` on every split of the scenario index, with every hand-coded agent and
             every model of --runs, into docs/results/<split>/ (results.json, results.csv, plots/).
Without --check, the generated blocks of docs/RESULTS.md and README.md are rewritten from docs/results/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results"
#: run.json keys kept in runs.json.
RUN_KEYS = ("algorithm", "algo", "env_id", "split", "eval_split", "seed", "timesteps", "num_timesteps", "n_envs",
            "vec", "wall_time_s", "steps_per_s", "hyperparams", "final", "versions", "machine")


def splits_of_index() -> list[str]:
    """Every split named in the scenario index: train, test, canonical first, then any other, sorted."""
    from sim_arena_gym.scenarios.index import load_scenario_set

    found = {s.split for s in load_scenario_set("all") if s.split}
    first = [s for s in ("train", "test", "canonical") if s in found]
    return first + sorted(found - set(first))


def collect_runs(runs_dir: Path) -> list[Path]:
    from sim_arena_gym.learning.evaluate import atomic_write
    from sim_arena_gym.learning.plots import learning_curve, runs_overview
    from sim_arena_gym.learning.train import run_curves

    folders = sorted(p.parent for p in runs_dir.glob("*/run.json"))
    if not folders:
        sys.exit(f"update_results: no run folders (with run.json) under {runs_dir}")
    summaries, overview = [], {}
    for folder in folders:
        run = json.loads((folder / "run.json").read_text())
        summaries.append({"run": folder.name, **{k: run[k] for k in RUN_KEYS if k in run}})
        curves = run_curves(folder, split=run["split"], eval_split=run["eval_split"], final=run["final"],
                            num_timesteps=run["num_timesteps"])
        learning_curve(curves, RESULTS / "curves" / f"{folder.name}.png",
                       f"{run['algorithm']} on {run['env_id']}, seed {run['seed']}")
        train_rows, held_out_rows = curves.values()
        overview[f"{run['algorithm']} seed {run['seed']}"] = {"train": train_rows, "held-out": held_out_rows}
    atomic_write(RESULTS / "runs.json", (json.dumps(summaries, indent=2) + "\n").encode())
    runs_overview(overview, RESULTS / "curves" / "overview.png", "all training runs (each split played once per evaluation)")
    return folders


def evaluate_all(folders: list[Path]) -> None:
    from sim_arena_gym.learning.evaluate import agent_entries, atomic_write, evaluate, write_results

    import agents

    splits = splits_of_index()
    for split in splits:
        entries = agent_entries(agents.available(), [f"{f.name}={f / 'model.zip'}" for f in folders])
        result = evaluate(entries, split=split)
        if (RESULTS / split / "plots").is_dir():
            shutil.rmtree(RESULTS / split / "plots")
        for path in write_results(result, RESULTS / split):
            print(f"wrote {path.relative_to(REPO)}")
    atomic_write(RESULTS / "splits.json", (json.dumps(splits) + "\n").encode())


def render(check: bool) -> int:
    from sim_arena_gym.learning import leaderboard as lb

    by_split, runs = lb.load_results_dir(RESULTS)
    if "test" not in by_split:
        sys.exit("update_results: docs/results/test/results.json is missing; run with --runs DIR --evaluate")
    stale = []
    for path, begin, end, body in (
        (REPO / "docs" / "RESULTS.md", lb.RESULTS_BEGIN, lb.RESULTS_END, lb.results_block(by_split, runs)),
        (REPO / "README.md", lb.README_BEGIN, lb.README_END, lb.readme_table(by_split["test"])),
    ):
        text = path.read_text(encoding="utf-8")
        new = lb.replace_between(text, begin, end, body, where=str(path))
        if new != text:
            stale.append(path)
            if not check:
                path.write_text(new, encoding="utf-8")
    for path in stale:
        print(f"{'out of date' if check else 'updated'}: {path.relative_to(REPO)}")
    return 1 if check and stale else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, help="folder of run folders written by `sim-arena train`")
    parser.add_argument("--evaluate", action="store_true", help="evaluate every split into docs/results/<split>/")
    parser.add_argument("--check", action="store_true", help="only check that the documents match the files")
    args = parser.parse_args()
    if args.evaluate and args.runs is None:
        parser.error("--evaluate needs --runs DIR")
    if args.runs is not None:
        folders = collect_runs(args.runs)
        if args.evaluate:
            evaluate_all(folders)
    return render(args.check)


if __name__ == "__main__":
    sys.exit(main())

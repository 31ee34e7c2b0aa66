"""`sim-arena train` and `sim-arena evaluate`: a few hundred steps of each algorithm, saved, loaded back
through `evaluate` without naming the class, and every result file checked against what was printed."""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim_arena_gym.cli import main
from sim_arena_gym.learning.config import ALGORITHMS, DEFAULT_HYPERPARAMS, LearningConfigError, make_train_spec
from sim_arena_gym.learning.evaluate import METRICS, format_metric
from sim_arena_gym.scenarios.index import load_scenario_set

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")

PNG = b"\x89PNG\r\n\x1a\n"
#: Small settings so that every algorithm evaluates and checkpoints within 300 steps.
FAST_CONFIG = """
ppo:
  default: {eval_freq: 100, n_steps: 64, batch_size: 64, n_epochs: 1, checkpoint_freq: 200}
maskable_ppo:
  default: {eval_freq: 100, n_steps: 64, batch_size: 64, n_epochs: 1, checkpoint_freq: 200}
dqn:
  default: {eval_freq: 100, learning_starts: 50, checkpoint_freq: 200}
"""
CLASSES = {"ppo": "PPO", "dqn": "DQN", "maskable_ppo": "MaskablePPO"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("runs")
    config = root / "fast.yml"
    config.write_text(FAST_CONFIG)
    out: dict[str, Any] = {"root": root, "stdout": {}}
    import contextlib
    import io

    # PPO runs its envs in subprocesses, DQN shows the progress bar: every option is exercised once.
    extra = {"ppo": ["--vec", "subproc", "--no-progress-bar"], "dqn": [], "maskable_ppo": ["--no-progress-bar"]}
    for algo in ALGORITHMS:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = main(["train", "--algo", algo, "--timesteps", "300", "--n-envs", "2", "--seed", "3",
                       "--config", str(config), "--out", str(root / algo), *extra[algo]])  # fmt: skip
        assert rc == 0
        out["stdout"][algo] = buf.getvalue()
    return out


def _npz_rows(path: Path) -> tuple[list[int], list[float], list[float]]:
    data = np.load(path)
    return (data["timesteps"].tolist(), data["successes"].mean(axis=1).tolist(), data["results"].mean(axis=1).tolist())


def test_train_writes_the_run_folder(runs: dict[str, Any]) -> None:
    for algo in ALGORITHMS:
        run = runs["root"] / algo
        meta = json.loads((run / "run.json").read_text())
        assert meta["algorithm"] == CLASSES[algo]
        assert meta["seed"] == 3 and meta["timesteps"] == 300 and meta["n_envs"] == 2
        assert meta["vec"] == ("subproc" if algo == "ppo" else "dummy")
        assert meta["num_timesteps"] >= 300
        for name in ("model.zip", "best_model.zip", "config.yml", "curves.csv"):
            assert (run / name).is_file(), (algo, name)
        assert (run / "learning_curve.png").read_bytes()[:8] == PNG
        assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["model_200_steps.zip"]
        # The curve is SB3's evaluations (every 100 steps) plus the final model's figures.
        with (run / "curves.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        for split in ("train", "test"):
            steps, success, returns = _npz_rows(run / "eval" / split / "evaluations.npz")
            assert steps == [100, 200, 300][: len(steps)] and len(steps) >= 2
            mine = [r for r in rows if r["split"] == split]
            # An evaluation made at the last step gives way to the final model's figures.
            kept = [i for i, t in enumerate(steps) if t != meta["num_timesteps"]]
            assert [int(r["timesteps"]) for r in mine] == [steps[i] for i in kept] + [meta["num_timesteps"]]
            assert [float(r["success_rate"]) for r in mine[:-1]] == [success[i] for i in kept]
            assert [float(r["mean_return"]) for r in mine[:-1]] == pytest.approx([returns[i] for i in kept])
            assert float(mine[-1]["success_rate"]) == meta["final"][split]["success_rate"]
            assert float(mine[-1]["mean_return"]) == meta["final"][split]["mean_return"]
        # The printed summary holds the run.json figures.
        test = meta["final"]["test"]
        assert f"test       success {100 * test['success_rate']:.1f}%" in runs["stdout"][algo]
        assert f"saved {run / 'model.zip'}" in runs["stdout"][algo]


def test_tensorboard_event_files_read_back(runs: dict[str, Any]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for algo in ALGORITHMS:
        run = runs["root"] / algo
        logs = sorted((run / "tb").iterdir())
        assert [p.name for p in logs] == [f"{algo}_1"]
        acc = EventAccumulator(str(logs[0]))
        acc.Reload()
        tags = set(acc.Tags()["scalars"])
        assert {"eval/success_rate", "eval/mean_reward", "eval_train/success_rate", "rollout/ep_rew_mean"} <= tags
        for tag, split in (("eval/success_rate", "test"), ("eval_train/success_rate", "train")):
            steps, success, _ = _npz_rows(run / "eval" / split / "evaluations.npz")
            events = acc.Scalars(tag)
            assert [e.step for e in events] == steps
            assert [e.value for e in events] == pytest.approx(success, rel=1e-6)


def _overall_block(text: str) -> dict[str, list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("== overall"))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.strip() or line.startswith("wrote "):
            break
        cells = line.split()
        rows[cells[0]] = cells[1:]
    return rows


def test_evaluate_loads_each_model_and_writes_what_it_prints(
    runs: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = runs["root"]
    out = tmp_path / "results"
    args = ["evaluate", "--split", "test", "--agents", "noop,oracle", "--out", str(out)]
    for algo in ALGORITHMS:
        args += ["--model", str(root / algo)]  # a run folder: its model.zip, class read from the zip
    assert main(args) == 0
    printed = _overall_block(capsys.readouterr().out)
    results = json.loads((out / "results.json").read_text())
    names = ["noop", "oracle", *ALGORITHMS]
    assert list(printed) == names
    assert [a.get("algorithm") for a in results["agents"]] == [None, None, *(CLASSES[a] for a in ALGORITHMS)]
    summary = results["summary"]
    for name in names:
        assert printed[name] == [format_metric(m, summary[name]["overall"][m]) for m in METRICS]
    # CSV: the same numbers, one row per agent and family.
    with (out / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(names) * (len(results["families"]) + 1)
    for row in rows:
        want = summary[row["agent"]][row["family"]]
        for m in METRICS:
            assert row[m] == ("" if want[m] is None else repr(float(want[m])))
    # One bar chart per family and one overall.
    pngs = sorted(p.name for p in (out / "plots").iterdir())
    assert pngs == sorted(f"{f}.png" for f in [*results["families"], "overall"])
    assert all((out / "plots" / p).read_bytes()[:8] == PNG for p in pngs)
    # Known figures: noop never repairs; the oracle repairs everything in the index's oracle_steps.
    test = load_scenario_set("test")
    assert summary["noop"]["overall"]["success_rate"] == 0.0
    assert summary["noop"]["overall"]["mean_steps"] is None
    assert summary["oracle"]["overall"]["success_rate"] == 1.0
    assert summary["oracle"]["overall"]["mean_steps"] == statistics.fmean(s.oracle_steps for s in test)
    assert results["families"] == list(dict.fromkeys(s.family for s in test))
    # A model evaluated here scores what training reported for its final model (deterministic env).
    for algo in ALGORITHMS:
        final = json.loads((root / algo / "run.json").read_text())["final"]["test"]
        assert summary[algo]["overall"]["success_rate"] == final["success_rate"]
        assert summary[algo]["overall"]["mean_return"] == pytest.approx(final["mean_return"])


def test_the_algorithm_is_read_from_the_zip(runs: dict[str, Any]) -> None:
    from sim_arena_gym.learning.models import detect_algorithm

    for algo in ALGORITHMS:
        assert detect_algorithm(runs["root"] / algo / "model.zip") == CLASSES[algo]
        assert detect_algorithm(runs["root"] / algo / "checkpoints" / "model_200_steps.zip") == CLASSES[algo]


# ---------------------------------------------------------------------------------------------------
# Settings


def test_committed_hyperparameters_and_overrides(tmp_path: Path) -> None:
    spec = make_train_spec("dqn")
    assert spec.timesteps == 100_000 and spec.n_envs == 1 and spec.policy == "MlpPolicy"
    assert spec.hyperparams["policy_kwargs"] == {"net_arch": [64, 64]} and spec.hyperparams["gamma"] == 0.95
    override = tmp_path / "over.yml"
    override.write_text("dqn:\n  default:\n    learning_rate: 0.001\n  SimArena-Other-v0:\n    batch_size: 32\n")
    spec = make_train_spec("dqn", config_files=(override,), timesteps=500)
    assert spec.timesteps == 500
    assert spec.hyperparams["learning_rate"] == 0.001
    assert "batch_size" in spec.hyperparams and spec.hyperparams["batch_size"] == 64  # other env id: not applied
    assert make_train_spec("dqn", env_id="SimArena-Other-v0", config_files=(override,)).hyperparams["batch_size"] == 32
    assert DEFAULT_HYPERPARAMS.is_file()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ppo: [1, 2\n", "not valid YAML at line 2"),
        ("a2c:\n  default: {}\n", "unknown algorithm 'a2c'; known: ppo, dqn, maskable_ppo"),
        ("ppo:\n  default:\n    n_timesteps: many\n", "ppo.default.n_timesteps: expected a positive integer, got 'many'"),
        ("ppo:\n  default:\n    seed: 4\n", "ppo.default.seed: set by `sim-arena train` itself"),
        ("ppo:\n  default: 3\n", "ppo.default: expected a mapping of settings"),
    ],
)
def test_bad_config_files_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(LearningConfigError) as info:
        make_train_spec("ppo", config_files=(path,))
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--algo", "ppo", "--timesteps", "0"], "--timesteps 0: must be at least 1"),
        (["train", "--algo", "ppo", "--split", "nosuch"], "unknown scenario set 'nosuch'"),
        (["train", "--algo", "ppo", "--env", "SimArena-Nope-v0"], "--env 'SimArena-Nope-v0'"),
        (["train", "--algo", "ppo", "--config", "/nonexistent.yml"], "/nonexistent.yml: cannot read the hyperparameter file"),
        (["evaluate", "--agents", "noop,wizard"], "--agents: unknown agent 'wizard'"),
        (["evaluate", "--model", "/nonexistent/run"], "--model '/nonexistent/run': no such model"),
        (["evaluate", "--agents", "none"], "nothing to evaluate"),
        (["evaluate", "--agents", "noop", "--episodes-per-scenario", "0"], "--episodes-per-scenario 0: must be at least 1"),
    ],
)
def test_bad_options_are_one_line_user_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sim-arena: error: ")
    assert message in err


def test_train_refuses_to_overwrite_a_run(runs: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run = runs["root"] / "ppo"
    before = (run / "model.zip").read_bytes()
    assert main(["train", "--algo", "ppo", "--timesteps", "64", "--out", str(run), "--no-progress-bar"]) == 2
    assert "already holds a run (model.zip)" in capsys.readouterr().err
    assert (run / "model.zip").read_bytes() == before


def test_a_model_needs_the_env_it_was_trained_on(runs: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    from sim_arena_gym.learning.evaluate import agent_entries, evaluate

    with pytest.raises(LearningConfigError, match=r"trained on observations \(15,\) and actions Discrete\(7\), but this "
                       r"env has \(15,\) and Discrete\(5\)"):  # fmt: skip
        evaluate(agent_entries([], [str(runs["root"] / "ppo")]), split="canonical", env_kwargs={"action_set": "requests"})
    argv = ["evaluate", "--env", "SimArena-Trace-v0", "--split", "canonical", "--model", str(runs["root"] / "ppo")]
    assert main(argv) == 2
    assert "--env 'SimArena-Trace-v0': SimKubeTraceEnv.__init__() missing 1 required positional argument" in capsys.readouterr().err


def test_overwrite_replaces_only_the_runs_own_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    argv = ["train", "--algo", "dqn", "--timesteps", "64", "--out", str(run), "--no-progress-bar"]
    assert main(argv) == 0
    (run / "notes.txt").write_text("mine")
    assert main([*argv, "--seed", "1", "--overwrite"]) == 0
    assert [p.name for p in (run / "tb").iterdir()] == ["dqn_1"]  # the old logs are gone, not dqn_2
    assert json.loads((run / "run.json").read_text())["seed"] == 1
    assert (run / "notes.txt").read_text() == "mine"


def test_not_a_model_zip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = tmp_path / "x.zip"
    fake.write_bytes(b"not a zip")
    assert main(["evaluate", "--model", str(fake)]) == 2
    assert f"--model '{fake}': not a Stable-Baselines3 model zip" in capsys.readouterr().err


def test_random_agent_repeats_per_scenario(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["evaluate", "--split", "canonical", "--agents", "random,heuristic", "--episodes-per-scenario", "3",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["scenarios"] == 4
    assert results["summary"]["random"]["overall"]["episodes"] == 12
    assert results["summary"]["heuristic"]["overall"]["success_rate"] == 1.0


def test_importing_the_package_and_cli_help_load_no_torch() -> None:
    code = (
        "import runpy, sys\n"
        "import sim_arena_gym, sim_arena_gym.learning, sim_arena_gym.learning.evaluate, sim_arena_gym.learning.train\n"
        "sys.argv = ['sim-arena', '--help']\n"
        "try:\n    runpy.run_module('sim_arena_gym.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'stable_baselines3', 'sb3_contrib', 'matplotlib', 'tensorboard', 'yaml')\n"
        "print('LOADED', sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert "train" in done.stdout and "evaluate" in done.stdout
    assert done.stdout.splitlines()[-1] == "LOADED []"

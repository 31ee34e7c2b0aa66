"""The example scripts run as a user runs them: as separate processes, from the repository root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_example(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_rollout_oracle_repairs_every_episode() -> None:
    out = run_example("examples/rollout.py", "--policy", "oracle", "--episodes", "6")
    episodes = [line for line in out.splitlines() if line.startswith("== episode")]
    outcomes = [line.strip() for line in out.splitlines() if line.strip().startswith("->")]
    assert len(episodes) == 6
    assert len(outcomes) == 6
    assert all(line.startswith("-> repaired in") for line in outcomes), outcomes


def test_train_then_evaluate_a_model(tmp_path: Path) -> None:
    run = tmp_path / "mppo"
    out = run_example("examples/train_ppo.py", "--timesteps", "256", "--n-envs", "1", "--out", str(run))
    assert f"saved {run / 'model.zip'}" in out
    assert (run / "model.zip").is_file()
    assert (run / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    table = run_example("examples/evaluate.py", "--model", str(run), "--agents", "noop", "oracle",
                        "--overall-only", "--out", str(tmp_path / "results"))
    lines = table.splitlines()
    start = lines.index("== overall (24 episodes per agent)")
    rows = {line.split()[0]: line.split() for line in lines[start + 2 : start + 5]}
    assert rows["noop"][1:4] == ["0.0%", "-", "-"]  # never repairs: no step count, no over-allocation
    assert rows["oracle"][1] == "100.0%"  # every test scenario is solvable
    assert set(rows) == {"noop", "oracle", "mppo"}
    assert f"wrote {tmp_path / 'results' / 'results.json'}" in lines


def test_train_rllib_example_runs_on_a_local_ray_instance() -> None:
    import shutil
    import tempfile

    import pytest

    pytest.importorskip("ray.rllib", reason="Ray RLlib is not installed (pip install -e '.[rllib]')")
    ray_dir = tempfile.mkdtemp(prefix="simray-")  # short: Ray's socket paths must fit 107 bytes
    try:
        out = run_example(
            "examples/train_rllib.py", "--timesteps", "128", "--train-batch", "128", "--num-env-runners", "0",
            "--num-envs-per-runner", "2", "--eval-every", "128", "--eval-scenarios", "canonical",
            "--ray-temp-dir", ray_dir,
        )  # fmt: skip
    finally:
        shutil.rmtree(ray_dir, ignore_errors=True)
    lines = out.splitlines()
    assert lines[0] == "built in " + lines[0].split("built in ")[1]
    assert lines[0].endswith(": 0 env runners x 2 envs, 128 steps per iteration")
    assert lines[1].startswith("iter    1 steps ")
    assert "canonical success " in lines[1] and "(4 episodes, mean steps " in lines[1]
    assert lines[-1].startswith("done: ")


def test_train_hard_smoke(tmp_path: Path) -> None:
    import json

    out = run_example("examples/train_hard.py", "--timesteps", "512", "--eval-every", "512", "--n-envs", "1",
                      "--baselines", "sre", "--out", str(tmp_path / "run"))
    assert "wrote" in out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["timesteps"] == 512 and summary["test_scenarios"] == 12
    assert set(summary) >= {"maskable_ppo", "sre", "train_seconds"}
    rows = (tmp_path / "run" / "curve.csv").read_text().splitlines()
    assert rows[0] == "steps,seconds,test_success,test_return,train_success,train_return" and len(rows) == 2


def test_demo_walks_every_phase_on_the_embedded_backend() -> None:
    out = run_example("examples/demo.py")
    phases = [line.split()[0] for line in out.splitlines() if line[:1].isdigit()]
    assert phases == ["1.", "2.", "3.", "4.", "5.", "4.", "5.", "4.", "5.", "6."]
    assert "3. observe  Deployment/shop/web: 0/3 Ready, 4 Pending; replicas 4" in out
    assert "4. act      step 3: heuristic chose cpu_down      -> 3/3 Ready, 0 Pending" in out
    assert "   result   repaired in 3 steps; requests now {'web': {'cpu': '16', 'memory': '2Gi'}}" in out

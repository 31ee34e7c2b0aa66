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
    model = tmp_path / "mppo"
    out = run_example(
        "examples/train_ppo.py", "--timesteps", "256", "--n-envs", "1", "--out", str(model)
    )
    assert f"saved {model}.zip" in out
    assert (tmp_path / "mppo.zip").is_file()

    table = run_example("examples/evaluate.py", "--model", f"{model}.zip", "--agents", "noop", "oracle")
    lines = {line.split()[0]: line.split() for line in table.splitlines()[2:] if line.strip()}
    assert lines["noop"][1:3] == ["0.0%", "-"]  # never repairs: no mean step count
    assert lines["oracle"][1] == "100.0%"  # every test scenario is solvable
    assert "mppo.zip" in lines

"""``sim-arena run``, ``demo``, ``agents`` and ``scenarios``."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim_arena_gym.cli import main
from sim_arena_gym.trace.codec import load_trace
from sim_arena_gym.trace.workloads import find_workload


def test_run_save_trace_and_rerun_from_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fixed.sktrace"
    code = main(["run", "--scenario", "canonical-mixed-errors", "--policy", "heuristic", "--seed", "0",
                 "--save-trace", str(out)])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0
    lines = text.splitlines()
    assert lines[0] == "scenario  canonical-mixed-errors  (Deployment/shop/web, target 4 Ready)"
    assert "policy    heuristic, reward mode gradual, budget 20 steps, seed 0" in lines
    steps = [line for line in lines if line.startswith("step ")]
    assert [s.split()[2] for s in steps] == ["memory_up", "cpu_down", "cpu_down"]
    assert "result    REPAIRED in 3 steps, return +1.970" in lines
    assert "changes   web cpu request 9 -> 8; web memory request 256Mi -> 512Mi; web memory limit 256Mi -> 512Mi" in lines
    assert f"saved     {out}" in lines

    saved = load_trace(out)
    wl = find_workload(saved, "shop/web")
    assert dict(wl.containers[0].requests) == {"cpu": "8", "memory": "512Mi"}
    assert dict(wl.containers[0].limits) == {"memory": "512Mi"}

    rerun = next(line for line in lines if line.strip().startswith("rerun: "))
    assert rerun.strip() == (
        f"rerun: sim-arena run --trace {out} --workload shop/web --nodes '{{\"count\":3,\"cpu\":\"16\",\"memory\":\"32Gi\"}}'"
        " --target 4 --floors '{\"web\":{\"cpu\":\"500m\",\"memory\":\"512Mi\"}}'"
    )
    code = main(["run", "--trace", str(out), "--workload", "shop/web", "--target", "4", "--policy", "noop",
                 "--floors", '{"web": {"cpu": "500m", "memory": "512Mi"}}'])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0
    assert "the workload is already healthy: nothing to repair" in text
    assert "result    REPAIRED in 0 steps, return +0.000" in text


def test_run_from_a_broken_trace_with_render(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sim_arena_gym.scenarios.generate import canonical_scenarios
    from sim_arena_gym.trace.codec import save_trace

    path = save_trace(canonical_scenarios()[0].trace, tmp_path / "broken.sktrace")
    code = main(["run", "--trace", str(path), "--target", "3", "--nodes", '[{"count": 3, "cpu": "16", "memory": "32Gi"}]',
                 "--policy", "oracle", "--render", "ansi", "--reward-mode", "binary", "--steps", "5"])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0
    assert "scenario  broken  (Deployment/shop/web, target 3 Ready)" in text
    assert "result    REPAIRED in 3 steps, return +1.000" in text
    assert text.count("\nNODE ") == 4  # the table after reset and after each of the 3 steps


def test_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    text = capsys.readouterr().out
    assert "scenario  canonical-slightly-bad-cpu" in text
    assert "pending: 0/3 nodes are available: 3 Insufficient cpu." in text
    assert "result    REPAIRED in 1 step, return +1.240" in text
    assert "[REPAIRED]" in text and "NODE " in text


def test_agents_and_scenarios_listings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agents"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["noop", "random", "always_bump_cpu", "always_bump_memory", "scale_replicas", "heuristic", "oracle",
                     "sre", "oracle_return"]
    assert main(["scenarios", "--set", "canonical"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["ID", "FAMILY", "SPLIT", "TARGET", "ORACLE"]
    assert [line.split()[0] for line in lines[1:5]] == [
        "canonical-very-bad-cpu", "canonical-very-bad-memory", "canonical-slightly-bad-cpu", "canonical-mixed-errors",
    ]  # fmt: skip
    assert lines[-1] == "4 scenarios"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--scenario", "canonical-very-bad-cpux"],
         "sim-arena: error: unknown scenario 'canonical-very-bad-cpux'; did you mean canonical-very-bad-cpu"),
        (["run", "--scenario", "canonical-very-bad-cpu", "--policy", "greedy"], "sim-arena: error: unknown policy 'greedy'"),
        (["run", "--trace", "/nonexistent/x.sktrace"], "sim-arena: error: /nonexistent/x.sktrace: cannot read the trace file"),
        (["run", "--scenario", "canonical-very-bad-cpu", "--target", "3"],
         "sim-arena: error: --target goes with --trace, not --scenario"),
        (["run", "--scenario", "canonical-very-bad-cpu", "--steps", "0"], "sim-arena: error: sim-arena run: argument --steps: 0 is out of range: expected 1 to 100000"),
        (["demo", "--scenario", "web"], "sim-arena: error: demo scenario 'web': choose a canonical one"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_a_clear_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith(message)


def test_bad_nodes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sim_arena_gym.scenarios.generate import canonical_scenarios
    from sim_arena_gym.trace.codec import save_trace

    path = save_trace(canonical_scenarios()[0].trace, tmp_path / "t.sktrace")
    assert main(["run", "--trace", str(path), "--nodes", "{count: 3}"]) == 2
    assert capsys.readouterr().err.startswith("sim-arena: error: --nodes: not valid JSON")
    assert main(["run", "--trace", str(path), "--nodes", '{"cnt": 3}']) == 2
    assert "unknown keys ['cnt']" in capsys.readouterr().err
    assert main(["run", "--trace", str(path), "--workload", "shop/api"]) == 2
    assert "shop/api" in capsys.readouterr().err

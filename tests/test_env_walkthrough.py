"""Walk canonical scenarios step by step on the embedded backend, asserting exactly what the env reports."""

from __future__ import annotations

import gymnasium as gym
import pytest

import sim_arena_gym  # noqa: F401
from sim_arena_gym.scenarios.generate import canonical_scenarios

NOOP, CPU_UP, MEMORY_UP, CPU_DOWN, MEMORY_DOWN, REPLICAS_UP, REPLICAS_DOWN = range(7)
INSUFFICIENT_CPU_3 = (
    "0/3 nodes are available: 3 Insufficient cpu. "
    "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
)
INSUFFICIENT_MEMORY_3 = (
    "0/3 nodes are available: 3 Insufficient memory. "
    "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
)


@pytest.fixture()
def env() -> gym.Env:
    return gym.make("SimArena-InsufficientResources-v0", scenarios=canonical_scenarios())


def pods(info: dict) -> tuple[int, int, int]:
    return info["ready"], info["pending"], info["total"]


def test_slightly_bad_cpu_pending_then_ready(env: gym.Env) -> None:
    _, info = env.reset(seed=0, options={"scenario": "canonical-slightly-bad-cpu"})
    assert pods(info) == (3, 1, 4) and info["target"] == 4 and info["success"] is False
    assert info["scheduling_message"] == INSUFFICIENT_CPU_3
    assert info["pending_reasons"] == ["Insufficient cpu"]
    assert info["requests"] == {"web": {"cpu": "8500m", "memory": "2Gi"}} and info["replicas"] == 4

    # Waiting changes nothing: the trace is re-simulated to the same outcome.
    _, reward, terminated, truncated, info = env.step(NOOP)
    assert pods(info) == (3, 1, 4) and info["scheduling_message"] == INSUFFICIENT_CPU_3
    assert (reward, terminated, truncated) == (-0.01, False, False)

    # Raising CPU makes it worse in nothing visible here: still one pod per node.
    _, reward, terminated, _, info = env.step(CPU_UP)
    assert info["requests"]["web"]["cpu"] == "9" and pods(info) == (3, 1, 4)
    assert info["scheduling_message"] == INSUFFICIENT_CPU_3 and terminated is False

    # Back to 8500m, then 8 CPU: two pods fit per 16-CPU node and the 4th pod runs.
    _, _, _, _, info = env.step(CPU_DOWN)
    assert info["requests"]["web"]["cpu"] == "8500m" and pods(info) == (3, 1, 4)
    _, reward, terminated, truncated, info = env.step(CPU_DOWN)
    assert info["requests"]["web"]["cpu"] == "8" and pods(info) == (4, 0, 4)
    assert info["scheduling_message"] == "" and info["pending_reasons"] == []
    assert info["success"] is True and (terminated, truncated) == (True, False)
    assert reward == pytest.approx(0.25 + 1.0 - 0.01)
    assert info["reward_terms"] == {"progress": 0.25, "success": 1.0, "step_cost": -0.01}
    assert info["step"] == 4


def test_very_bad_cpu_all_pending_until_cpu_and_replicas_fit(env: gym.Env) -> None:
    _, info = env.reset(seed=0, options={"scenario": "canonical-very-bad-cpu"})
    assert pods(info) == (0, 4, 4) and info["target"] == 3
    assert info["scheduling_message"] == INSUFFICIENT_CPU_3

    _, _, _, _, info = env.step(CPU_UP)
    assert info["blocked"] == "cpu request 17500m would exceed the 16 CPU cap per container"
    assert pods(info) == (0, 4, 4) and info["requests"]["web"]["cpu"] == "17"

    _, _, _, _, info = env.step(CPU_DOWN)
    assert info["blocked"] is None and info["requests"]["web"]["cpu"] == "16500m"
    assert pods(info) == (0, 4, 4) and info["scheduling_message"] == INSUFFICIENT_CPU_3

    _, _, terminated, _, info = env.step(REPLICAS_DOWN)
    assert info["replicas"] == 3 and pods(info) == (0, 3, 3) and terminated is False
    assert info["scheduling_message"] == INSUFFICIENT_CPU_3

    _, reward, terminated, _, info = env.step(CPU_DOWN)
    assert info["requests"]["web"]["cpu"] == "16" and pods(info) == (3, 0, 3)
    assert info["scheduling_message"] == "" and terminated is True
    assert reward == pytest.approx(1.0 + 1.0 - 0.01)


def test_very_bad_memory_pending_until_memory_fits(env: gym.Env) -> None:
    _, info = env.reset(seed=0, options={"scenario": "canonical-very-bad-memory"})
    assert pods(info) == (0, 4, 4) and info["scheduling_message"] == INSUFFICIENT_MEMORY_3
    assert info["pending_reasons"] == ["Insufficient memory"]
    _, _, _, _, info = env.step(REPLICAS_DOWN)
    assert pods(info) == (0, 3, 3)
    memories = []
    for _ in range(4):
        _, _, terminated, _, info = env.step(MEMORY_DOWN)
        memories.append((info["requests"]["web"]["memory"], pods(info), info["scheduling_message"], terminated))
    assert memories == [
        ("33536Mi", (0, 3, 3), INSUFFICIENT_MEMORY_3, False),
        ("33280Mi", (0, 3, 3), INSUFFICIENT_MEMORY_3, False),
        ("33024Mi", (0, 3, 3), INSUFFICIENT_MEMORY_3, False),
        ("32Gi", (3, 0, 3), "", True),
    ]


def test_mixed_errors_oomkilled_then_pending_then_ready(env: gym.Env) -> None:
    _, info = env.reset(seed=0, options={"scenario": "canonical-mixed-errors"})
    # Three pods run but are OOMKilled (256Mi limit < 512Mi usage); the 4th is Pending.
    assert pods(info) == (0, 1, 4) and info["oom_killed"] == 3
    assert info["scheduling_message"] == INSUFFICIENT_CPU_3

    _, reward, _, _, info = env.step(MEMORY_UP)
    assert info["requests"]["web"] == {"cpu": "9", "memory": "512Mi"} and info["limits"]["web"] == {"memory": "512Mi"}
    assert pods(info) == (3, 1, 4) and info["oom_killed"] == 0
    assert reward == pytest.approx(0.75 - 0.01)

    _, _, _, _, info = env.step(CPU_DOWN)
    assert pods(info) == (3, 1, 4) and info["scheduling_message"] == INSUFFICIENT_CPU_3

    _, reward, terminated, _, info = env.step(CPU_DOWN)
    assert info["requests"]["web"] == {"cpu": "8", "memory": "512Mi"}
    assert pods(info) == (4, 0, 4) and info["scheduling_message"] == "" and terminated is True

"""SimKubeEnv.step_edit: an edit of any size as one step, under the actions' safeguards."""

from __future__ import annotations

import pytest

from sim_arena_gym.env.actions import EditState
from sim_arena_gym.env.simkube_env import SimKubeEnv


@pytest.fixture
def env():
    env = SimKubeEnv(scenarios="canonical")
    env.reset(options={"scenario": "canonical-very-bad-cpu"})
    yield env
    env.close()


def _with(state: EditState, **fields) -> EditState:
    return state._replace(**fields)


def test_an_edit_equal_to_an_action_is_scored_as_that_action(env):
    twin = SimKubeEnv(scenarios="canonical")
    twin.reset(options={"scenario": "canonical-very-bad-cpu"})
    start = env.edit_state
    obs, reward, terminated, truncated, info = env.step_edit(_with(start, cpu=(16_500,)))
    obs2, reward2, terminated2, truncated2, info2 = twin.step(twin.action_index("cpu_down"))
    assert (obs == obs2).all() and (reward, terminated, truncated) == (reward2, terminated2, truncated2)
    assert info["action"] == "edit" and info2["action"] == "cpu_down"
    assert {k: v for k, v in info.items() if k not in ("action", "action_mask")} == {
        k: v for k, v in info2.items() if k not in ("action", "action_mask")}
    twin.close()


def test_a_large_edit_repairs_in_one_step(env):
    _, reward, terminated, _, info = env.step_edit(_with(env.edit_state, cpu=(16_000,), replicas=3))
    assert (terminated, info["success"], info["step"], info["blocked"]) == (True, True, 1, None)
    assert reward == pytest.approx(1.99)


@pytest.mark.parametrize("fields, reason", [
    ({"cpu": (17_500,)}, "cpu request 17500m would exceed the 16 CPU cap per container"),
    ({"cpu": (0,)}, "cpu request 0 would go below the minimum of 500m"),
    ({"replicas": 101}, "replicas 101 would exceed the cap of 100"),
    ({"replicas": 0}, "replicas 0 would go below the minimum of 1"),
    ({"cpu": (None,)}, "the cpu request of container web may not be removed"),
    ({"cpu": (2_000,), "cpu_limit": (1_000,)}, "cpu request 2 of container web is above its limit 1"),
])
def test_a_refused_edit_is_a_blocked_step_that_changes_nothing(env, fields, reason):
    start = env.edit_state
    assert env.check_edit(_with(start, **fields)) == reason
    _, _, _, _, info = env.step_edit(_with(start, **fields))
    assert (info["blocked"], info["step"], env.edit_state) == (reason, 1, start)


def test_a_value_above_the_cap_may_be_lowered_while_still_above_it(env):
    env.step_edit(_with(env.edit_state, cpu=(16_000,)))
    assert env.check_edit(_with(env.edit_state, cpu=(17_000,))) == "cpu request 17 would exceed the 16 CPU cap per container"
    trace_cpu = SimKubeEnv(scenarios="canonical")
    trace_cpu.reset(options={"scenario": "canonical-very-bad-cpu"})
    assert trace_cpu.edit_state.cpu == (17_000,)  # the trace starts above the 16 CPU cap
    assert trace_cpu.check_edit(_with(trace_cpu.edit_state, cpu=(16_500,))) is None
    trace_cpu.close()

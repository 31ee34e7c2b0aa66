"""The hand-coded policies on the canonical scenarios."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest

import agents
import sim_arena_gym  # noqa: F401
from sim_arena_gym.scenarios.generate import canonical_scenarios
from sim_arena_gym.trace.codec import dumps_trace

CANON = canonical_scenarios()
IDS = [s.id for s in CANON]

#: The unique shortest repair of each canonical scenario (see canonical_scenarios' docstring).
SHORTEST = {
    "canonical-very-bad-cpu": ["replicas_down", "cpu_down", "cpu_down"],
    "canonical-very-bad-memory": ["replicas_down"] + ["memory_down"] * 4,
    "canonical-slightly-bad-cpu": ["cpu_down"],
    "canonical-mixed-errors": ["memory_up", "cpu_down", "cpu_down"],
}
REPAIRED = {
    "canonical-very-bad-cpu": ({"web": {"cpu": "16", "memory": "2Gi"}}, 3),
    "canonical-very-bad-memory": ({"web": {"cpu": "2", "memory": "32Gi"}}, 3),
    "canonical-slightly-bad-cpu": ({"web": {"cpu": "8", "memory": "2Gi"}}, 4),
    "canonical-mixed-errors": ({"web": {"cpu": "8", "memory": "512Mi"}}, 4),
}


@pytest.fixture(scope="module")
def env() -> gym.Env:
    return gym.make("SimArena-InsufficientResources-v0", scenarios=CANON)


def play(env: gym.Env, name: str, sid: str, **kwargs: Any) -> tuple[list[dict[str, Any]], bytes]:
    policy = agents.make(name, env=env, **kwargs)
    obs, info = env.reset(seed=0, options={"scenario": sid})
    infos = [info]
    while True:
        obs, _, terminated, truncated, info = env.step(policy.act(obs, info))
        infos.append(info)
        if terminated or truncated:
            break
    return infos, dumps_trace(env.unwrapped.current_trace())


def test_registry() -> None:
    assert agents.available() == [
        "noop", "random", "always_bump_cpu", "always_bump_memory", "scale_replicas", "heuristic", "oracle",
        "sre", "oracle_return",
    ]  # fmt: skip
    assert set(agents.describe()) == set(agents.available())
    with pytest.raises(ValueError, match="unknown policy 'greedy'; available: noop, random"):
        agents.make("greedy")
    with pytest.raises(ValueError, match=r"policy 'oracle' needs the env: agents.make\('oracle', env=env\)"):
        agents.make("oracle")
    assert isinstance(agents.make("noop"), agents.Policy)


@pytest.mark.parametrize("sid", IDS)
def test_oracle_and_heuristic_repair_every_canonical_scenario(env: gym.Env, sid: str) -> None:
    requests, replicas = REPAIRED[sid]
    for name in ("oracle", "heuristic"):
        infos, _ = play(env, name, sid)
        last = infos[-1]
        assert last["success"] is True, name
        assert (last["ready"], last["pending"], last["total"]) == (last["target"], 0, last["target"])
        assert len(infos) - 1 == len(SHORTEST[sid]), name
        assert last["requests"] == requests and last["replicas"] == replicas
    heuristic_actions = [i["action"] for i in play(env, "heuristic", sid)[0][1:]]
    assert heuristic_actions == SHORTEST[sid]


@pytest.mark.parametrize("sid", IDS)
def test_noop_never_repairs_a_broken_scenario(env: gym.Env, sid: str) -> None:
    infos, trace = play(env, "noop", sid)
    assert len(infos) == 21 and not any(i["success"] for i in infos)
    assert infos[-1]["pending"] > 0 or infos[-1]["oom_killed"] > 0 or infos[-1]["total"] != infos[-1]["target"]
    assert trace == dumps_trace(next(s for s in CANON if s.id == sid).trace)


def test_always_policies_do_what_their_names_say(env: gym.Env) -> None:
    sid = "canonical-slightly-bad-cpu"
    infos, _ = play(env, "always_bump_cpu", sid)
    assert {i["action"] for i in infos[1:]} == {"cpu_up"}
    cpus = [i["requests"]["web"]["cpu"] for i in infos]
    assert cpus[:4] == ["8500m", "9", "9500m", "10"] and cpus[-1] == "16"
    assert infos[-1]["blocked"] == "cpu request 16500m would exceed the 16 CPU cap per container"
    assert {i["requests"]["web"]["memory"] for i in infos} == {"2Gi"} and {i["replicas"] for i in infos} == {4}

    infos, _ = play(env, "always_bump_memory", sid)
    assert {i["action"] for i in infos[1:]} == {"memory_up"}
    assert infos[-1]["requests"]["web"] == {"cpu": "8500m", "memory": "7Gi"}  # 2Gi + 20 x 256Mi

    infos, _ = play(env, "scale_replicas", sid)
    assert {i["action"] for i in infos[1:]} == {"replicas_up"}
    assert [i["replicas"] for i in infos] == list(range(4, 25))
    assert infos[-1]["requests"]["web"] == {"cpu": "8500m", "memory": "2Gi"}


def test_random_respects_the_mask_and_its_seed(env: gym.Env) -> None:
    picks = []
    for seed in (1, 1, 2):
        policy = agents.make("random", seed=seed)
        obs, info = env.reset(seed=0, options={"scenario": "canonical-very-bad-cpu"})
        run = []
        for _ in range(60):
            a = policy.act(obs, info)
            assert info["action_mask"][a] == 1
            run.append(a)
            obs, _, terminated, truncated, info = env.step(a)
            assert info["blocked"] is None
            if terminated or truncated:
                obs, info = env.reset(options={"scenario": "canonical-very-bad-cpu"})
        picks.append(run)
    assert picks[0] == picks[1] != picks[2]
    assert len(set(picks[0])) >= 5  # it explores, not one action


def test_each_policy_leaves_a_different_trace(env: gym.Env) -> None:
    sid = "canonical-mixed-errors"
    traces = {name: play(env, name, sid, **({"seed": 0} if name == "random" else {}))[1] for name in agents.available()}
    distinct = [n for n in agents.available() if n not in ("oracle", "oracle_return", "sre")]
    assert len({traces[n] for n in distinct}) == len(distinct)
    # The oracles and the heuristics all find the scenario's one shortest repair.
    assert traces["oracle"] == traces["heuristic"] == traces["oracle_return"] == traces["sre"]


def test_heuristic_respects_usage_floors(env: gym.Env) -> None:
    # canonical-slightly-bad-cpu with a floor of 8500m: the heuristic may not shrink CPU, so it waits.
    from dataclasses import replace

    scenario = replace(CANON[2], usage_floors={"web": {"cpu": "8500m", "memory": "1Gi"}})
    floored = gym.make("SimArena-InsufficientResources-v0", scenarios=[scenario], max_steps=3)
    infos, _ = play(floored, "heuristic", scenario.id)
    assert [i["action"] for i in infos[1:]] == ["noop"] * 3 and not infos[-1]["success"]


def test_oracle_plans_without_touching_the_episode(env: gym.Env) -> None:
    u = env.unwrapped
    obs, info = env.reset(seed=0, options={"scenario": "canonical-very-bad-memory"})
    before = (u.edit_state, u.steps_taken, u.cache_info()["size"], u.view)
    oracle = agents.make("oracle", env=env)
    action = oracle.act(obs, info)
    assert u.action_names[action] in {"replicas_down", "memory_down"}
    assert (u.edit_state, u.steps_taken, u.cache_info()["size"], u.view) == before
    assert u.current_trace() is CANON[1].trace
    assert oracle.last_search_states > 5
    plan = oracle.plan(u.edit_state, 20)
    assert plan is not None and len(plan[1]) == 5
    assert sorted(u.action_names[a] for a in plan[1]) == ["memory_down"] * 4 + ["replicas_down"]
    assert oracle.plan(u.edit_state, 4) is None  # no repair within 4 actions


def test_oracle_follows_its_plan_and_replans_when_moved(env: gym.Env) -> None:
    u = env.unwrapped
    oracle = agents.make("oracle", env=env)
    obs, info = env.reset(seed=0, options={"scenario": "canonical-very-bad-cpu"})
    obs, _, _, _, info = env.step(oracle.act(obs, info))
    obs, _, _, _, info = env.step(u.action_index("memory_up"))  # off the plan
    while not (info["success"] or info["step"] >= 20):
        obs, _, _, _, info = env.step(oracle.act(obs, info))
    # 3 planned actions plus the detour, which the new plan keeps (2304Mi still fits).
    assert info["success"] and info["step"] == 4
    assert info["requests"]["web"] == {"cpu": "16", "memory": "2304Mi"} and info["replicas"] == 3

"""The hard tier and the second-generation ids: coarse actions per container slot, the hard observation,
the cluster success rule, reward revision 1, the return oracle and the SRE heuristic."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import agents
import sim_arena_gym  # noqa: F401
from sim_arena_gym.env.actions import Safeguards
from sim_arena_gym.env.coarse_actions import MAX_CONTAINER_SLOTS, CoarseActionSet, proportional_value
from sim_arena_gym.env.rewards import healthy_share, healthy_share_v1
from sim_arena_gym.scenarios.generate import generate_one, hard_scenarios
from sim_arena_gym.scenarios.model import NodePool, Scenario
from sim_arena_gym.trace import builders
from sim_arena_gym.trace.refs import WorkloadRef

GiB = 2**30
MiB = 2**20


def deployment_scenario(sid: str, *, replicas: int, containers: list[dict], nodes: int = 3,
                        target: int | None = None, floors: dict | None = None) -> Scenario:
    obj = builders.deployment("web", builders.pod_spec(containers), namespace="shop", replicas=replicas)
    trace = builders.build_trace([(1_735_732_800, [], []), (1_735_732_800, [obj], [])])
    return Scenario(id=sid, trace_path=None, workload=WorkloadRef("Deployment", "shop", "web"),
                    node_pools=(NodePool(count=nodes, cpu="16", memory="32Gi"),),
                    target_replicas=target, usage_floors=floors or {}, trace=trace)


def run(env: gym.Env, policy: agents.Policy) -> tuple[dict, int, float]:
    obs, info = env.reset()
    steps, total = 0, 0.0
    while True:
        obs, reward, terminated, truncated, info = env.step(policy.act(obs, info))
        steps += 1
        total += reward
        if terminated or truncated:
            return info, steps, total


# --------------------------------------------------------------------------------------------------
# Coarse actions


def test_proportional_moves_round_to_the_fixed_step() -> None:
    step = 256 * MiB
    assert proportional_value(40 * GiB, -1, step) == 30 * GiB
    assert proportional_value(33 * GiB, -1, step) == 24 * GiB + 512 * MiB + 256 * MiB  # 24.75Gi
    assert proportional_value(30 * GiB, +1, step) == 40 * GiB
    assert proportional_value(32 * GiB, -1, step, "medium") == 28 * GiB
    assert proportional_value(512 * MiB, -1, step) == 256 * MiB  # at least one step
    assert proportional_value(500, +1, 500) == 1000


def test_slot_layout_masks_empty_slots_and_names_the_container() -> None:
    actions = CoarseActionSet(Safeguards(), "slots")
    assert len(actions) == 1 + 12 * MAX_CONTAINER_SLOTS + 2 == 39
    assert actions.names[:3] == ("noop", "c0_cpu_up", "c0_memory_up")
    assert actions.names[-2:] == ("replicas_up", "replicas_down")
    scenario = deployment_scenario("two", replicas=2, containers=[
        builders.container("app", cpu="1", memory="1Gi"), builders.container("log", cpu="500m", memory="512Mi")])
    env = gym.make("SimArena-Coarse-v0", scenarios=[scenario])
    _, info = env.reset()
    mask = info["action_mask"]
    names = env.unwrapped.action_names
    assert all(mask[i] == 0 for i, n in enumerate(names) if n.startswith("c2_"))
    assert mask[names.index("c1_memory_down")] == 1
    assert mask[names.index("c1_cpu_down")] == 0  # 500m is the floor
    _, _, _, _, info = env.step(names.index("c2_memory_up"))
    assert info["blocked"] == "container slot 2 is empty: the pod template has 2 containers"
    _, _, _, _, info = env.step(names.index("c1_memory_down_coarse"))
    assert info["requests"] == {"app": {"cpu": "1", "memory": "1Gi"}, "log": {"cpu": "500m", "memory": "256Mi"}}
    _, _, _, _, info = env.step(names.index("c0_memory_up_coarse"))
    assert info["requests"]["app"]["memory"] == "1536Mi"


def test_coarse_moves_stop_at_the_caps() -> None:
    scenario = deployment_scenario("big", replicas=1, containers=[builders.container("app", cpu="15", memory="30Gi")])
    env = gym.make("SimArena-Coarse-v0", scenarios=[scenario])
    env.reset()
    names = env.unwrapped.action_names
    _, _, _, _, info = env.step(names.index("c0_memory_up_coarse"))
    assert info["requests"]["app"] == {"cpu": "15", "memory": "32Gi"} and info["blocked"] is None
    _, _, _, _, info = env.step(names.index("c0_memory_up_coarse"))
    assert info["blocked"] == "memory request 43776Mi would exceed the 32Gi memory cap per container (container app)"


# --------------------------------------------------------------------------------------------------
# The two repairs the issue names: reachable within the default budget in the new action set


@pytest.mark.parametrize("env_id", ["SimArena-Coarse-v0", "SimArena-Hard-v0"])
def test_oracle_repairs_3_pods_of_40gi_on_32gi_nodes(env_id: str) -> None:
    scenario = deployment_scenario("forty", replicas=3, containers=[builders.container("app", cpu="2", memory="40Gi")],
                                   floors={"app": {"cpu": "500m", "memory": "20Gi"}})
    env = gym.make(env_id, scenarios=[scenario], reward_mode="gradual")
    _, first = env.reset()
    assert first["pending"] == 3 and first["pending_reasons"] == ["Insufficient memory"]
    info, steps, _ = run(env, agents.make("oracle_return", env=env))
    assert info["success"] and steps == 1
    assert info["requests"]["app"]["memory"] == "30Gi"


@pytest.mark.parametrize("env_id", ["SimArena-Coarse-v0", "SimArena-Hard-v0"])
def test_oracle_repairs_5_replicas_of_33gi_two_per_node(env_id: str) -> None:
    scenario = deployment_scenario("thirty-three", replicas=5, containers=[builders.container("app", cpu="2",
                                                                                                memory="33Gi")],
                                   floors={"app": {"cpu": "500m", "memory": "12Gi"}})
    env = gym.make(env_id, scenarios=[scenario], reward_mode="gradual")
    _, first = env.reset()
    assert first["pending"] == 5
    info, steps, _ = run(env, agents.make("oracle_return", env=env))
    assert info["success"] and info["ready"] == 5
    assert steps == 3  # 33Gi -> 24.75Gi -> 18.5Gi -> 13.75Gi (x 3/4 each): two pods per 32Gi node
    assert steps <= env.unwrapped.max_steps
    # The v0 action set cannot: 33Gi -> 16Gi is 68 steps of 256Mi.
    v0 = gym.make("SimArena-InsufficientResources-v0", scenarios=[scenario])
    v0_info, _, _ = run(v0, agents.make("oracle", env=v0))
    assert not v0_info["success"]


# --------------------------------------------------------------------------------------------------
# Reward revision 1 and the cluster success rule


def test_gradual_revision_1_credits_removing_excess_pods() -> None:
    scenario = deployment_scenario("excess", replicas=5, target=3,
                                   containers=[builders.container("app", cpu="1", memory="1Gi")])
    v0 = gym.make("SimArena-InsufficientResources-v0", scenarios=[scenario])
    v1 = gym.make("SimArena-Coarse-v0", scenarios=[scenario])
    _, info0 = v0.reset()
    _, info1 = v1.reset()
    assert (info0["ready"], info0["total"]) == (5, 5)
    down0 = v0.unwrapped.action_index("replicas_down")
    down1 = v1.unwrapped.action_index("replicas_down")
    _, r0, _, _, t0 = v0.step(down0)
    _, r1, _, _, t1 = v1.step(down1)
    assert t0["reward_terms"] == {"progress": 0.0, "success": 0.0, "step_cost": -0.01}
    assert t1["reward_terms"]["progress"] == pytest.approx(1 / 3)  # one excess pod of a target of 3
    assert r1 == pytest.approx(1 / 3 - 0.01) and r0 == pytest.approx(-0.01)
    view = v1.unwrapped.view
    assert healthy_share(view, 3) == 1.0 and healthy_share_v1(view, 3) == pytest.approx(2 / 3)


def test_shared_nodes_needs_every_workload_ready() -> None:
    scenario = next(s for s, _ in hard_scenarios() if s.family == "shared-nodes")
    env = gym.make("SimArena-Hard-v0", scenarios=[scenario])
    _, info = env.reset()
    assert info["pending"] == 0 and info["ready"] == info["target"]  # the target alone looks healthy
    assert info["others_unready"] > 0 and not info["success"]
    target_only = gym.make("SimArena-Hard-v0", scenarios=[scenario], success_rule="target")
    assert target_only.reset()[1]["success"]


def test_hard_observation_is_bounded_and_documented() -> None:
    env = gym.make("SimArena-Hard-v0", scenarios="hard-test")
    space = env.observation_space
    assert space.shape == (40,) and np.all(np.isfinite(space.high))
    doc = type(env.unwrapped._encoder).__doc__ or ""
    for name in env.unwrapped._encoder.names[15:19]:
        assert f"``{name}``" in doc
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        assert space.contains(obs)


def test_oom_containers_name_the_container_below_its_floor() -> None:
    scenario = deployment_scenario("oom", replicas=2, containers=[
        builders.container("app", cpu="1", memory="2Gi"), builders.container("cache", cpu="500m", memory="4Gi")],
        floors={"app": {"memory": "1Gi"}, "cache": {"memory": "3500Mi"}})
    env = gym.make("SimArena-Hard-v0", scenarios=[scenario])
    env.reset()
    names = env.unwrapped.action_names
    _, _, _, _, info = env.step(names.index("c1_memory_down_coarse"))
    assert info["oom_killed"] == 2 and info["oom_containers"] == ["cache"]
    obs = env.unwrapped._encoder.names
    assert env.unwrapped.view.obs[obs.index("c1_oom_killed")] == 1.0
    assert env.unwrapped.view.obs[obs.index("c0_oom_killed")] == 0.0


# --------------------------------------------------------------------------------------------------
# The hard tier's scenarios and baselines


def test_hard_families_are_deterministic_and_broken_at_the_start() -> None:
    for family in ("hidden-floors", "oversized-helper", "shared-nodes", "fragmentation"):
        a, _ = generate_one(family, 11)
        b, _ = generate_one(family, 11)
        assert a.trace.events == b.trace.events and a.usage_floors == b.usage_floors
        env = gym.make("SimArena-Hard-v0", scenarios=[a])
        assert not env.reset()[1]["success"], family


def test_index_lists_the_hard_tier_with_oracle_returns() -> None:
    from sim_arena_gym.scenarios.index import load_scenario_set

    train, test = load_scenario_set("hard-train"), load_scenario_set("hard-test")
    assert {s.family for s in test} == {"hidden-floors", "oversized-helper", "shared-nodes", "fragmentation"}
    assert not {s.id for s in train} & {s.id for s in test}
    for s in train + test:
        assert s.oracle_steps is not None and 1 <= s.oracle_steps <= 12
        assert set(s.oracle_return or {}) == {"binary", "gradual", "penalty"}
        assert s.oracle_return["binary"] == 1.0
    assert len(load_scenario_set("all")) == 124  # -v0's sets are unchanged
    env = gym.make("SimArena-Hard-v0", scenarios="hard")
    for s in env.unwrapped.scenarios:  # every one broken at the start, by the cluster success rule
        assert not env.reset(options={"scenario": s.id})[1]["success"], s.id


@pytest.mark.slow
def test_oracle_repairs_the_whole_hard_test_split_and_sre_falls_short() -> None:
    env = gym.make("SimArena-Hard-v0", scenarios="hard-test")
    ids = [s.id for s in env.unwrapped.scenarios]
    results = {}
    for name in ("oracle_return", "sre"):
        policy = agents.make(name, env=env)
        wins = 0
        for sid in ids:
            obs, info = env.reset(options={"scenario": sid})
            while True:
                obs, _, terminated, truncated, info = env.step(policy.act(obs, info))
                if terminated or truncated:
                    break
            wins += info["success"]
        results[name] = wins / len(ids)
    assert results["oracle_return"] == 1.0
    assert results["sre"] <= 0.7

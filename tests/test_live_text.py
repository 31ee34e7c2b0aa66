"""The text interface (TextToolEnv) and the scripted kubectl agent: text observations, tool-call actions,
the Gym env's rewards and budget; sim-arena evaluate plays the agent beside the others."""

from __future__ import annotations

import gymnasium as gym
import pytest

import agents
import sim_arena_gym  # noqa: F401 - registers the envs
from sim_arena_gym.learning.evaluate import agent_entries, evaluate
from sim_arena_gym.live.text import TextToolEnv, parse_tool_call


@pytest.fixture
def text_env():
    env = TextToolEnv(gym.make("SimArena-InsufficientResources-v0", scenarios="canonical"))
    yield env
    env.close()


def test_observation_is_kubectl_text_and_a_tool_call_is_one_env_step(text_env):
    obs, info = text_env.reset(options={"scenario": "canonical-slightly-bad-cpu"})
    assert obs.startswith("Task: make exactly 4 pods of deployment shop/web Running and Ready, with no pod Pending. "
                          "Step 0 of 20.")
    assert "$ kubectl -n shop get pods -o wide" in obs and obs.count("   Pending   ") == 1
    assert "    Requests:  cpu=8500m, memory=2Gi" in obs
    assert ("Warning   FailedScheduling   pod/" in obs and "0/3 nodes are available: 3 Insufficient cpu." in obs)
    obs, reward, terminated, truncated, info = text_env.step(
        {"tool": "set_resources", "deployment": "web", "container": "web", "requests": {"cpu": "8"}})
    assert (reward, terminated, truncated, info["step"], info["action"]) == (1.24, True, False, 1, "edit")
    assert info["tool_result"] == "deployment.apps/web resource requirements updated"
    assert "Pending" not in obs.split("$ kubectl -n shop get pods -o wide")[1].split("$ kubectl")[0]


def test_refused_and_malformed_calls_take_the_step_as_a_noop(text_env):
    text_env.reset(options={"scenario": "canonical-very-bad-cpu"})
    _, reward, _, _, info = text_env.step('{"tool": "scale", "deployment": "web", "replicas": 500}')
    assert info["tool_result"] == ('Error from server (Forbidden): deployments.apps "web" is forbidden: spec.replicas: '
                                   "replicas 500 would exceed the cap of 100 (a safeguard of the scenario)")
    assert (info["step"], info["action"], info["replicas"], reward) == (1, "noop", 4, -0.01)
    _, _, _, _, info = text_env.step({"tool": "delete", "deployment": "web"})
    assert info["tool_result"] == "error: unknown tool 'delete'; tools: set_resources, scale, noop"
    assert info["step"] == 2
    with pytest.raises(ValueError, match=r"scale: missing argument\(s\) \['replicas'\]"):
        parse_tool_call({"tool": "scale", "deployment": "web"})


def test_scripted_agent_repairs_every_canonical_scenario_with_kubectl_calls(text_env):
    policy = agents.make_text("kubectl_scripted")
    for scenario in text_env.unwrapped.scenarios:
        obs, info = text_env.reset(options={"scenario": scenario.id})
        calls = []
        terminated = truncated = False
        while not (terminated or truncated):
            call = policy.act(obs, info)
            calls.append(call["tool"])
            obs, _, terminated, truncated, info = text_env.step(call)
        assert info["success"], (scenario.id, calls)
        assert set(calls) <= {"set_resources", "scale"}
        assert len(calls) <= scenario.oracle_steps


def test_scripted_agent_repairs_every_scenario_of_the_index():
    env = TextToolEnv(gym.make("SimArena-InsufficientResources-v0", scenarios="all"))
    policy = agents.make_text("kubectl_scripted")
    failed = []
    for scenario in env.unwrapped.scenarios:
        obs, info = env.reset(options={"scenario": scenario.id})
        terminated = truncated = bool(info["success"])
        while not (terminated or truncated):
            obs, _, terminated, truncated, info = env.step(policy.act(obs, info))
        if not info["success"]:
            failed.append(scenario.id)
    env.close()
    assert env.unwrapped.scenarios and failed == []


def test_evaluate_plays_the_text_agent_beside_the_gym_agents():
    entries = agent_entries(["heuristic", "kubectl_scripted"], [])
    assert [(e.name, e.kind) for e in entries] == [("heuristic", "agent"), ("kubectl_scripted", "text-agent")]
    result = evaluate(entries, split="canonical")
    summary = result.summary()
    assert summary["kubectl_scripted"]["overall"]["success_rate"] == 1.0
    assert summary["heuristic"]["overall"]["success_rate"] == 1.0
    assert summary["kubectl_scripted"]["overall"]["episodes"] == 4
    assert summary["kubectl_scripted"]["overall"]["mean_steps"] == 1.75

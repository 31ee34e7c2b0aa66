"""Parallel envs on the simkube backend against one fake cluster (issue 14, part 3): each env
instance has its own run, Simulation names, virtual namespaces and nodes; episodes played at the same
time equal the embedded ones; nothing is left behind."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import agents
from sim_arena_gym.backends.simkube_messages import without_other_runs
from sim_arena_gym.env.assignment import EnvInstance, with_instance
from sim_arena_gym.env.vector import env_fns, make_vector_env
from sim_arena_gym.testing.fake_cluster import FakeCluster


def _record_creations(cluster: FakeCluster) -> list[tuple[str, str, dict]]:
    """(resource key, name, labels) of every object created or changed from now on."""
    made: list[tuple[str, str, dict]] = []

    def hook(change) -> None:
        if change.type != "DELETED":
            meta = change.obj.get("metadata") or {}
            made.append((change.rtype.key, meta.get("name", ""), dict(meta.get("labels") or {})))

    cluster.store.hooks.append(hook)
    return made


def _episode(env, seed: int) -> list[tuple]:
    """Every step's (observation, reward, terminated, truncated, message) of the heuristic agent."""
    obs, info = env.reset(seed=seed)
    policy = agents.make("heuristic", env=env.unwrapped)
    out = [(obs.tobytes(), 0.0, False, False, info["scheduling_message"])]
    done = bool(info["success"])
    while not done:
        obs, reward, term, trunc, info = env.step(policy.act(obs, info))
        out.append((obs.tobytes(), reward, term, trunc, info["scheduling_message"]))
        done = term or trunc
    return out


def test_four_parallel_envs_run_whole_episodes_apart_and_leave_nothing(fake_cluster: FakeCluster) -> None:
    before = fake_cluster.snapshot()
    made = _record_creations(fake_cluster)
    options = fake_cluster.backend_options()
    fns = env_fns(4, scenarios="canonical", backend="simkube", backend_options=options)
    ref_fns = env_fns(4, scenarios="canonical")
    envs = [fn() for fn in fns]
    results: dict[int, list[tuple]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def play(i: int) -> None:
        try:
            start.wait()
            results[i] = [step for seed in (i, i + 10) for step in _episode(envs[i], seed)]  # two episodes each
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=play, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    runs = [e.unwrapped._backend.run_id for e in envs]
    for e in envs:
        e.close()
    assert not errors, errors
    # the same episodes on the embedded backend, one env at a time
    for i, fn in enumerate(ref_fns):
        ref = fn()
        want = [step for seed in (i, i + 10) for step in _episode(ref, seed)]
        ref.close()
        assert results[i] == want, i
    # every env instance had its own run; everything it made carried its run and instance
    assert len(set(runs)) == 4
    by_run: dict[str, set[str]] = {r: set() for r in runs}
    for key, name, labels in made:
        if key in ("simkube.io/simulations", "/nodes"):
            run = labels["sim-arena.io/run"]
            assert name.startswith(f"sa-{run}-")
            assert labels["sim-arena.io/instance"] == f"w0-e{runs.index(run)}"
            by_run[run].add(key)
    assert all(kinds == {"simkube.io/simulations", "/nodes"} for kinds in by_run.values())
    namespaces = {name for key, name, labels in made if key == "/namespaces"}
    assert namespaces == {f"sa-{r}-shop" for r in runs}
    sims = list(dict.fromkeys(name for key, name, _ in made if key == "simkube.io/simulations"))
    assert len(sims) >= 8
    assert fake_cluster.snapshot() == before
    assert list(fake_cluster.trace_store.iterdir()) == []


def test_make_vector_env_gives_each_simkube_sub_env_its_instance(fake_cluster: FakeCluster) -> None:
    made = _record_creations(fake_cluster)
    envs = make_vector_env(2, vectorization_mode="sync", scenarios="canonical", backend="simkube",
                           backend_options=fake_cluster.backend_options())
    try:
        assert [o["instance"] for o in (c["backend_options"] for c in envs.get_attr("config"))] == ["w0-e0", "w0-e1"]
        envs.reset(seed=0)
    finally:
        envs.close()
    instances = {labels.get("sim-arena.io/instance") for key, _, labels in made if key == "/nodes"}
    assert instances == {"w0-e0", "w0-e1"}


def test_with_instance_only_touches_simkube_configs() -> None:
    inst = EnvInstance(worker_index=2, vector_index=1, num_workers=2, num_vector=2)
    assert with_instance({"backend": "simkube", "backend_options": {"speed": 2}}, inst) == {
        "backend": "simkube", "backend_options": {"speed": 2, "instance": "w2-e1"}}
    assert with_instance({"backend": "simkube", "backend_options": {"instance": "mine"}}, inst)["backend_options"] == {
        "instance": "mine"}
    assert with_instance({"scenarios": "train"}, inst) == {"scenarios": "train"}


@pytest.mark.parametrize(
    ("message", "own", "alone"),
    [
        ("0/7 nodes are available: 3 Insufficient cpu, 3 node(s) had untolerated taint {sim-arena.io/run: 0a1b2c3d}, "
         "1 node(s) had untolerated taint {sim-arena.io/run: ffffffff}. preemption: 0/7 nodes are available: "
         "3 No preemption victims found for incoming pod, 4 Preemption is not helpful for scheduling.", 3,
         "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims "
         "found for incoming pod."),
        ("0/6 nodes are available: 1 Too many pods, 5 node(s) had untolerated taint(s). preemption: 0/6 nodes are "
         "available: 1 No preemption victims found for incoming pod, 5 Preemption is not helpful for scheduling.", 3,
         "0/3 nodes are available: 1 Too many pods, 2 node(s) had untolerated taint(s). preemption: 0/3 nodes are "
         "available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."),
        ("0/3 nodes are available: 3 Insufficient cpu.", 3, "0/3 nodes are available: 3 Insufficient cpu."),
        # foreign nodes that are not another run's (no run taint): left as the scheduler wrote it
        ("0/4 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 3 Insufficient cpu.", 3,
         "0/4 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 3 Insufficient cpu."),
        ("", 3, ""),
    ],
)
def test_messages_without_other_runs(message: str, own: int, alone: str) -> None:
    assert without_other_runs(message, own) == alone


def test_the_rllib_env_creator_passes_its_instance(fake_cluster: FakeCluster) -> None:
    from sim_arena_gym.integrations.rllib import make_rllib_env

    class Context(dict):  # RLlib's EnvContext: a dict with the runner's indices as attributes
        worker_index, num_workers, vector_index = 2, 2, 1

    made = _record_creations(fake_cluster)
    env = make_rllib_env(Context(scenarios="canonical", backend="simkube", num_envs_per_env_runner=2,
                                 backend_options=fake_cluster.backend_options()))
    try:
        assert env.unwrapped.config["backend_options"]["instance"] == "w2-e1"
        env.reset(seed=0)
    finally:
        env.close()
    assert {labels.get("sim-arena.io/instance") for key, _, labels in made if key == "/nodes"} == {"w2-e1"}

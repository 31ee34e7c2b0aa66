"""Issue 9's reproducers: every bad input gets one typed error naming file, event, object and field (or the
option), every run is bounded, nothing committed is ever overwritten.

Each reproducer also asserts that it is answered within a second of this process's CPU time
(``time.process_time``: robust against other processes loading the machine).
"""

from __future__ import annotations

import copy
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import gymnasium as gym
import numpy as np
import pytest

import sim_arena_gym  # noqa: F401  (registers the env ids)
from sim_arena_gym.cli import main
from sim_arena_gym.env import SimKubeEnv
from sim_arena_gym.optioncheck import OptionError
from sim_arena_gym.scenarios.generate import canonical_scenarios
from sim_arena_gym.scenarios.model import NodePool
from sim_arena_gym.trace import builders
from sim_arena_gym.trace.codec import load_trace, save_trace
from sim_arena_gym.trace.errors import (
    QuantityFieldError,
    TraceFieldError,
    TraceFormatError,
    TraceLimitError,
    TraceWriteError,
    WorkloadError,
)
from sim_arena_gym.trace.files import TEMP_SUFFIX, remove_stale_temp_files

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "traces" / "canonical" / "canonical-mixed-errors.sktrace"
TRACE_ENV = "SimArena-Trace-v0"
POD = ["spec", "template", "spec"]
APP = POD + ["containers", 0]


class within_a_second:
    """Assert that the block used at most a second of this process's CPU time."""

    def __enter__(self) -> "within_a_second":
        self.start = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        used = time.process_time() - self.start
        assert used < 1.0, f"took {used:.2f} s of CPU time"


def web(replicas: int = 3) -> dict[str, Any]:
    spec = builders.pod_spec([builders.container("app", cpu="500m", memory="256Mi", limit_memory="512Mi")])
    return builders.deployment("web", spec, replicas=replicas)


def statefulset() -> dict[str, Any]:
    return builders.statefulset("db", builders.pod_spec([builders.container("db", cpu="500m")]), replicas=2)


def job(**kwargs: Any) -> dict[str, Any]:
    spec = builders.pod_spec([builders.container("w", cpu="100m")], restart_policy="Never")
    return builders.job("batch", spec, **kwargs)


def put(obj: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return obj


def write(tmp_path: Path, objs: list[dict[str, Any]], name: str = "t.sktrace") -> Path:
    return save_trace(builders.build_trace([(1, objs, [])]), tmp_path / name)


def run_trace(path: Path | str, steps: int = 2, **kwargs: Any) -> tuple[list[np.ndarray], list[float], dict[str, Any]]:
    env = gym.make(TRACE_ENV, trace=str(path), workload="default/web", **kwargs)
    obs, info = env.reset(seed=0)
    observations, rewards = [obs], []
    for action in range(1, steps + 1):
        obs, reward, _, _, info = env.step(action)
        observations.append(obs)
        rewards.append(reward)
    for o in observations:
        assert env.observation_space.contains(o)
    assert all(math.isfinite(r) for r in rewards)
    return observations, rewards, info


AFFINITY_VALUES_5 = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
    "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": 5}]}]}}}  # fmt: skip
TERM = "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"

#: (id, objects, mutation path, value, error type, where, problem) -- the issue's untyped-error list.
TRACE_CASES = [
    ("strategy", [web()], ["spec", "strategy"], "x", TraceFieldError, "spec.strategy", "must be a map, got a string"),
    ("rollingUpdate", [web()], ["spec", "strategy", "rollingUpdate"], "x", TraceFieldError,
     "spec.strategy.rollingUpdate", "must be a map, got a string"),
    ("template.metadata", [web()], ["spec", "template", "metadata"], 5, TraceFieldError, "spec.template.metadata",
     "must be a map, got an integer"),
    ("resources", [web()], APP + ["resources"], "x", TraceFormatError, "spec.template.spec.containers[0].resources",
     "must be a map, got a string"),
    ("nodeSelector", [web()], POD + ["nodeSelector"], [["a", "b"]], TraceFieldError, "spec.template.spec.nodeSelector",
     "must be a map, got an array"),
    ("affinity", [web()], POD + ["affinity"], "x", TraceFieldError, "spec.template.spec.affinity",
     "must be a map, got a string"),
    ("matchExpressions.values", [web()], POD + ["affinity"], AFFINITY_VALUES_5, TraceFieldError,
     f"{TERM}.matchExpressions[0].values", "must be an array, got an integer"),
    ("tolerations", [web()], POD + ["tolerations"], 5, TraceFieldError, "spec.template.spec.tolerations",
     "must be an array, got an integer"),
    ("ownerReferences", [web()], ["metadata", "ownerReferences"], True, TraceFieldError, "metadata.ownerReferences",
     "must be an array, got a bool"),
    ("nodeName", [web()], POD + ["nodeName"], {"a": 1}, TraceFieldError, "spec.template.spec.nodeName",
     "must be a string, got a map"),
    ("2^63 bytes", [web()], APP + ["resources", "requests", "memory"], str(2**63), QuantityFieldError,
     "spec.template.spec.containers[0].resources.requests.memory",
     "quantity '9223372036854775808' is out of the int64 range in units"),
    ("1e400", [web()], APP + ["resources", "requests", "memory"], "1e400", QuantityFieldError,
     "spec.template.spec.containers[0].resources.requests.memory", "quantity '1e400' is out of the int64 range in units"),
    ("negative replicas", [web()], ["spec", "replicas"], -1, TraceFieldError, "spec.replicas",
     "must be greater than or equal to 0, got -1"),
    ("replicas 10^6", [web()], ["spec", "replicas"], 10**6, TraceLimitError, "spec.replicas",
     "1000000 is over the limit of 10000 pods a trace may ask for at once (max_pods); raise it with the "
     "environment variable SIM_ARENA_MAX_PODS=N"),
    ("replicas 2^63-1", [web()], ["spec", "replicas"], 2**63 - 1, TraceFieldError, "spec.replicas",
     "must be at most 2147483647, got 9223372036854775807"),
    ("request above limit", [web()], APP + ["resources", "requests", "memory"], "1Gi", QuantityFieldError,
     "spec.template.spec.containers[0].resources.requests.memory", "must be less than or equal to memory limit of 512Mi"),
]  # fmt: skip


@pytest.mark.parametrize("case", TRACE_CASES, ids=[c[0] for c in TRACE_CASES])
def test_bad_trace_field_is_one_typed_error_naming_file_event_object_and_field(tmp_path: Path, case: tuple) -> None:
    _, objs, path, value, error, field, problem = case
    objs = copy.deepcopy(objs)
    put(objs[0], path, value)
    trace_file = write(tmp_path, objs)
    with within_a_second(), pytest.raises(error) as info:
        run_trace(trace_file)
    assert str(info.value) == f"{trace_file}: events[0].applied_objs[0] (Deployment default/web) {field}: {problem}"


def test_statefulset_update_strategy_and_job_parallelism_are_typed(tmp_path: Path) -> None:
    db = put(statefulset(), ["spec", "updateStrategy"], "x")
    trace_file = write(tmp_path, [web(), db])
    with within_a_second(), pytest.raises(TraceFieldError) as info:
        run_trace(trace_file)
    assert str(info.value) == (
        f"{trace_file}: events[0].applied_objs[1] (StatefulSet default/db) spec.updateStrategy: must be a map, got a string"
    )
    batch = job(parallelism=10**6)
    del batch["spec"]["completions"]
    trace_file = write(tmp_path, [web(), batch], "job.sktrace")
    with within_a_second(), pytest.raises(TraceLimitError) as info:
        run_trace(trace_file)
    assert info.value.limit == "max_pods"
    assert str(info.value).startswith(
        f"{trace_file}: events[0].applied_objs[1] (Job default/batch) spec.parallelism: 1000000 is over the limit"
    )
    # parallelism 10^6 with one completion runs one pod at a time: it simulates, quickly
    trace_file = write(tmp_path, [web(), job(parallelism=10**6, completions=1)], "one.sktrace")
    with within_a_second():
        _, _, info_ = run_trace(trace_file)
    assert info_["ready"] == 3


def test_quantities_with_outer_whitespace_are_read_as_the_apiserver_reads_them(tmp_path: Path) -> None:
    spaced = put(web(), APP + ["resources", "limits"], {"cpu": " 1 ", "memory": " 512Mi "})
    trace_file = write(tmp_path, [spaced])
    with within_a_second():
        observations, _, info = run_trace(trace_file, nodes={"count": 2, "cpu": " 4 ", "memory": " 8Gi "})
    assert info["limits"] == {"app": {"cpu": "1", "memory": "512Mi"}}  # read as 1 CPU and 512Mi
    assert info["requests"] == {"app": {"cpu": "1", "memory": "512Mi"}}  # after cpu_up and memory_up
    assert info["ready"] == 3 and info["pending"] == 0


def test_workload_with_zero_replicas_needs_a_target(tmp_path: Path) -> None:
    trace_file = write(tmp_path, [web(replicas=0)])
    with within_a_second(), pytest.raises(WorkloadError) as info:
        run_trace(trace_file)
    assert str(info.value) == (
        f"{trace_file}: workload Deployment/default/web asks for 0 replicas, so there is nothing to repair; give the "
        "scenario a target of at least 1 Ready pod (target=N)"
    )
    env = gym.make(TRACE_ENV, trace=str(trace_file), target=2)
    _, info_ = env.reset(seed=0)
    assert info_["target"] == 2 and not info_["success"]


def test_limits_are_raised_with_their_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trace_file = write(tmp_path, [web(replicas=12)])
    monkeypatch.setenv("SIM_ARENA_MAX_PODS", "10")
    with pytest.raises(TraceLimitError, match=r"12 is over the limit of 10 pods .*SIM_ARENA_MAX_PODS=N"):
        run_trace(trace_file)
    monkeypatch.setenv("SIM_ARENA_MAX_PODS", "12")
    run_trace(trace_file)
    monkeypatch.setenv("SIM_ARENA_MAX_PODS", "many")
    with pytest.raises(ValueError, match=r"\$SIM_ARENA_MAX_PODS 'many': expected a positive integer"):
        run_trace(trace_file)


def test_workloads_are_summed_against_the_pod_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = web(replicas=6)
    other["metadata"]["name"] = "api"
    trace_file = write(tmp_path, [web(replicas=6), other])
    monkeypatch.setenv("SIM_ARENA_MAX_PODS", "10")
    with pytest.raises(TraceLimitError) as info:
        run_trace(trace_file)
    assert str(info.value) == (
        f"{trace_file}: the workloads ask for 12 pods at once (the largest, at events[0].applied_objs[0] (Deployment "
        "default/web), for 6): 12 is over the limit of 10 pods a trace may ask for at once (max_pods); raise it with "
        "the environment variable SIM_ARENA_MAX_PODS=N"
    )


def test_pods_created_over_time_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = web(replicas=3), web(replicas=3)
    put(second, APP + ["resources", "requests", "cpu"], "400m")  # a rollout: three new pods
    trace = builders.build_trace([(1, [first], []), (2, [second], [])])
    trace_file = save_trace(trace, tmp_path / "rollout.sktrace")
    monkeypatch.setenv("SIM_ARENA_MAX_PODS_CREATED", "5")
    with pytest.raises(TraceLimitError) as info:
        run_trace(trace_file)
    assert str(info.value) == (
        f"{trace_file}: events[1] (ts 2): 6 is over the limit of 5 pods one replay may create (max_pods_created); "
        "raise it with the environment variable SIM_ARENA_MAX_PODS_CREATED=N"
    )


def test_cron_schedules_over_a_long_window_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick", "namespace": "default"},
            "spec": {"schedule": "* * * * *", "concurrencyPolicy": "Forbid",
                     "jobTemplate": {"spec": {"template": {"spec": builders.pod_spec(
                         [builders.container("t", cpu="10m")], restart_policy="Never")}}}}}  # fmt: skip
    trace = builders.build_trace([(0, [web(), cron], []), (10**9, [], [])])
    trace_file = save_trace(trace, tmp_path / "cron.sktrace")
    monkeypatch.setenv("SIM_ARENA_MAX_TIMER_INSTANTS", "500")
    with within_a_second(), pytest.raises(TraceLimitError) as info:
        run_trace(trace_file)
    assert info.value.limit == "max_timer_instants"
    assert str(info.value).endswith(
        "501 is over the limit of 500 timer instants in one replay (max_timer_instants); raise it with the "
        "environment variable SIM_ARENA_MAX_TIMER_INSTANTS=N"
    )


def test_cron_jobs_piling_up_over_a_long_window_are_bounded(tmp_path: Path) -> None:
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick", "namespace": "default"},
            "spec": {"schedule": "* * * * *", "concurrencyPolicy": "Allow",
                     "jobTemplate": {"spec": {"template": {"spec": builders.pod_spec(
                         [builders.container("t", cpu="1m")], restart_policy="Never")}}}}}  # fmt: skip
    trace = builders.build_trace([(0, [web(), cron], []), (10**6, [], [])])  # 16,666 minutes: Jobs never finish
    trace_file = save_trace(trace, tmp_path / "cron.sktrace")
    with within_a_second(), pytest.raises(TraceLimitError) as info:
        run_trace(trace_file)
    assert str(info.value) == (
        f"{trace_file}: events[1] (ts 1000000): 2001 is over the limit of 2000 CronJob schedule ticks in one replay "
        "(max_cron_runs); raise it with the environment variable SIM_ARENA_MAX_CRON_RUNS=N"
    )


def test_trace_bytes_are_bounded_before_reading(tmp_path: Path) -> None:
    with within_a_second(), pytest.raises(TraceLimitError) as info:
        gym.make(TRACE_ENV, trace="/dev/zero")
    assert str(info.value) == (
        "/dev/zero: the stream is too large: 268435457 is over the limit of 268435456 bytes in a trace file "
        "(max_trace_bytes); raise it with the environment variable SIM_ARENA_MAX_TRACE_BYTES=N"
    )
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2000)
    with pytest.raises(TraceLimitError, match=r"^.*big.json: the file is too large: 2000 is over the limit of 1000"):
        load_trace(big, max_bytes=1000)


# --------------------------------------------------------------------------------------------------
# Options


@pytest.fixture(scope="module")
def canon() -> list[Any]:
    return canonical_scenarios()


@pytest.fixture()
def web_file(tmp_path: Path) -> Path:
    return write(tmp_path, [web()])


#: (id, gym.make keywords for SimArena-Trace-v0 besides trace, expected message)
TRACE_OPTION_CASES = [
    ("nodes labels 5", {"nodes": {"count": 1, "labels": 5}}, "nodes.labels 5: expected a dict, got int"),
    ("nodes count 10^7", {"nodes": {"count": 10**7}}, "nodes.count 10000000: expected an integer of at most 5000"),
    ("nodes cpu abc", {"nodes": [{"cpu": "abc"}]}, "nodes[0].cpu 'abc': not a Kubernetes quantity (quantities must "
     "match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$')"),
    ("nodes taint", {"nodes": {"taints": [{"key": 1}]}}, "nodes.taints[0].key 1: expected a non-empty string"),
    ("usage_floors x", {"usage_floors": "x"}, "usage_floors 'x': expected a dict, got str"),
    ("floors cpu abc", {"usage_floors": {"app": {"cpu": "abc"}}}, "usage_floors['app']['cpu'] 'abc': not a Kubernetes "
     "quantity (quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$')"),
    ("target 0", {"target": 0}, "target 0: expected an integer of at least 1"),
    ("config 5", {"config": 5}, "config 5: expected a dict, got int"),
    ("observation []", {"observation": []}, "observation []: expected a non-empty string"),
    ("backend_options x", {"backend_options": "x"}, "backend_options 'x': expected a dict, got str"),
    ("backend_options bad key", {"backend_options": {"speed": 1}},
     "backend_options {'speed': 1}: SimOptions.__init__() got an unexpected keyword argument 'speed'"),
    ("backend_options fast_path", {"backend_options": {"fast_path": "yes"}},
     "backend_options {'fast_path': 'yes'}: fast_path 'yes': expected true or false"),
    ("reward_weights x", {"reward_weights": "x"}, "reward_weights 'x': expected a dict, got str"),
    ("reward_weights nan", {"reward_weights": {"success": float("nan")}},
     "reward_weights['success'] nan: expected a finite number"),
    ("reward_weights inf", {"reward_weights": {"success": float("inf")}},
     "reward_weights['success'] inf: expected a finite number"),
    ("cpu_step", {"cpu_step": [1]}, "cpu_step [1]: not a Kubernetes quantity (quantities must be strings or numbers)"),
    ("caps cpu", {"caps": {"cpu": "0"}}, "caps['cpu'] '0': expected a positive quantity"),
    ("max_steps", {"max_steps": 0}, "max_steps 0: expected an integer of at least 1"),
]  # fmt: skip


@pytest.mark.parametrize("case", TRACE_OPTION_CASES, ids=[c[0] for c in TRACE_OPTION_CASES])
def test_bad_option_is_one_value_error_naming_it(web_file: Path, case: tuple) -> None:
    _, kwargs, message = case
    with within_a_second(), pytest.raises(OptionError) as info:
        gym.make(TRACE_ENV, trace=str(web_file), **kwargs)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == message


def test_trace_option_of_the_wrong_type(canon: list[Any]) -> None:
    with pytest.raises(OptionError, match=r"^trace 5: expected a trace file path or a Trace$"):
        gym.make(TRACE_ENV, trace=5)
    with pytest.raises(OptionError, match=r"^scenarios 5: expected a set name"):
        SimKubeEnv(scenarios=5)
    with pytest.raises(OptionError, match=r"^config 5: expected a dict, got int$"):
        SimKubeEnv(config=5, scenarios=canon)


def test_node_pools_in_scenarios_are_bounded_and_checked(canon: list[Any]) -> None:
    from dataclasses import replace

    huge = replace(canon[0], node_pools=(NodePool(count=10**7),))
    env = SimKubeEnv(scenarios=[huge])
    with within_a_second(), pytest.raises(OptionError, match=r"^node pool 'node' count 10000000: expected an integer "):
        env.reset(seed=0)
    with pytest.raises(OptionError, match=r"^node pool 'node' count 10000000: 10000000 is over the limit of 5000 nodes"):
        NodePool.from_dict({"count": 10**7})
    with pytest.raises(OptionError, match=r"^node pool 'node' labels 5: expected a dict, got int$"):
        NodePool.from_dict({"labels": 5})


# --------------------------------------------------------------------------------------------------
# CLI


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


CLI_CASES = [
    (["run", "--trace", "{web}", "--nodes", '{"cpu": "abc"}'], "nodes.cpu 'abc': not a Kubernetes quantity"),
    (["run", "--trace", "{web}", "--floors", '{"app": {"cpu": "abc"}}'], "usage_floors['app']['cpu'] 'abc'"),
    (["run", "--trace", "{web}", "--seed", "-1"], "sim-arena run: argument --seed: -1 is out of range: expected 0 to"),
    (["run", "--trace", "{web}", "--steps", "x"], "sim-arena run: argument --steps: invalid integer 'x'"),
    (["run", "--scenario"], "sim-arena run: argument --scenario: expected one argument"),
    (["no-such-command"], "sim-arena: argument COMMAND: invalid choice: 'no-such-command'"),
    (["trace", "generate", "--count", "1", "--out", "{web}"], "trace generate: --out {web} is a file; give a folder"),
    (["run", "--trace", "/dev/zero"], "/dev/zero: the stream is too large"),
    (["run", "--scenario", "canonical-mixed-errors", "--save-trace", "/dev/null"],
     "/dev/null: refusing to write: the destination is a character device, not a regular file"),
    (["run", "--trace", "{web}", "--target", "0"], "sim-arena run: argument --target: 0 is out of range: expected 1"),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[" ".join(c[0][:3]) for c in CLI_CASES])
def test_cli_user_error_is_one_line_and_exit_2(web_file: Path, capsys: pytest.CaptureFixture[str], case: tuple) -> None:
    argv = [a.replace("{web}", str(web_file)) for a in case[0]]
    with within_a_second():
        code, out, err = _cli(argv, capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("sim-arena: error: " + case[1].replace("{web}", str(web_file)))


def test_cli_internal_error_is_one_line_exit_70_traceback_only_with_debug(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sim_arena_gym.cli import run_commands

    def broken(args: Any) -> int:
        raise KeyError("oops")

    monkeypatch.setattr(run_commands, "cmd_agents", broken)  # stands for any bug inside a command
    code, out, err = _cli(["agents"], capsys)
    assert code == 70
    assert err == (
        "sim-arena: internal error, a bug: KeyError: 'oops' (run again with --debug for the traceback); please report it\n"
    )
    code, out, err = _cli(["agents", "--debug"], capsys)
    assert code == 70
    assert err.startswith("Traceback (most recent call last):")
    assert err.endswith("sim-arena: internal error, a bug: KeyError: 'oops'; please report it\n")


def test_cli_help_documents_exit_codes_limits_and_writes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "exit status: 0 done; 2 user error" in text
    assert "70 internal error" in text
    assert "SIM_ARENA_MAX_PODS" in text and "SIM_ARENA_MAX_TRACE_BYTES" in text
    assert "--overwrite" in text


# --------------------------------------------------------------------------------------------------
# Writes


def test_committed_scenario_file_is_never_overwritten_unless_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = COMMITTED.read_bytes()
    stat_before = COMMITTED.stat()
    code, out, err = _cli(["run", "--scenario", "canonical-mixed-errors", "--save-trace", str(COMMITTED)], capsys)
    assert code == 2 and out == ""  # refused before the episode ran
    assert err == (
        f"sim-arena: error: {COMMITTED}: refusing to write into the committed scenario set ({REPO / 'traces'}); write "
        "elsewhere or pass overwrite=True (CLI: --overwrite)\n"
    )
    with pytest.raises(TraceWriteError, match="refusing to write into the committed scenario set"):
        save_trace(load_trace(COMMITTED), COMMITTED.parent / "new.sktrace")
    assert COMMITTED.read_bytes() == before
    assert COMMITTED.stat().st_mtime_ns == stat_before.st_mtime_ns
    assert not (COMMITTED.parent / "new.sktrace").exists()


def test_run_never_saves_over_its_input_trace(web_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = web_file.read_bytes()
    code, _, err = _cli(["run", "--trace", str(web_file), "--save-trace", str(web_file)], capsys)
    assert code == 2
    assert err == (
        f"sim-arena: error: {web_file}: refusing to overwrite the file this trace was loaded from; write to another "
        "path or pass overwrite=True (CLI: --overwrite)\n"
    )
    assert web_file.read_bytes() == before
    code, out, _ = _cli(["run", "--trace", str(web_file), "--save-trace", str(web_file), "--overwrite"], capsys)
    assert code == 0 and f"saved     {web_file}" in out


def _special_files(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    yield "device", Path("/dev/null"), "a character device"
    folder = tmp_path / "folder"
    folder.mkdir()
    yield "directory", folder, "a directory"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    yield "fifo", fifo, "a FIFO (named pipe)"
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    try:
        yield "socket", sock_path, "a socket"
    finally:
        sock.close()


def test_writes_never_go_onto_a_non_regular_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = load_trace(write(tmp_path, [web()]))
    for _, dest, kind in _special_files(tmp_path):
        with within_a_second(), pytest.raises(TraceWriteError) as info:
            save_trace(trace, dest, overwrite=True)
        assert str(info.value) == f"{dest}: refusing to write: the destination is {kind}, not a regular file"
        assert not stat_is_regular(dest)
    code, _, err = _cli(["trace", "convert", str(tmp_path / "t.sktrace"), "/dev/full"], capsys)
    assert code == 2
    assert err == "sim-arena: error: /dev/full: refusing to write: the destination is a character device, not a regular file\n"
    assert Path("/dev/full").is_char_device()


def stat_is_regular(path: Path) -> bool:
    import stat

    return stat.S_ISREG(os.lstat(path).st_mode)


def test_symlink_destinations_are_refused(tmp_path: Path) -> None:
    source = write(tmp_path, [web()])
    trace = load_trace(source)
    target = tmp_path / "target.sktrace"
    target.write_bytes(b"keep")
    link = tmp_path / "link.sktrace"
    link.symlink_to(target)
    dangling = tmp_path / "dangling.sktrace"
    dangling.symlink_to(tmp_path / "nowhere.sktrace")
    for path, to in ((link, target), (dangling, tmp_path / "nowhere.sktrace")):
        with pytest.raises(TraceWriteError) as info:
            save_trace(trace, path, overwrite=True)
        assert str(info.value) == (
            f"{path}: refusing to write: the destination is a symbolic link (to {str(to)!r}); symlinks are never "
            "replaced or written through: write to the target path itself"
        )
        assert path.is_symlink()
    assert target.read_bytes() == b"keep"
    assert not (tmp_path / "nowhere.sktrace").exists()


_KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from sim_arena_gym.trace.files import open_temp
fd, name = open_temp(Path(sys.argv[1]))
os.write(fd, b"partial")
print(name, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_stale_temp_file_of_a_killed_write_is_removed_by_the_next_write(tmp_path: Path) -> None:
    trace = load_trace(write(tmp_path, [web()]))
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    dest = tmp_path / "out.sktrace"
    done = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(dest)], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL
    stale = Path(done.stdout.strip())
    assert stale.parent == tmp_path and stale.name.startswith(".out.sktrace.") and stale.name.endswith(TEMP_SUFFIX)
    assert stale.read_bytes() == b"partial"
    legacy = tmp_path / ".other.sktrace.abc123.tmp"  # an older version's temp file for another destination
    legacy.write_bytes(b"x")
    save_trace(trace, tmp_path / "other.json")
    assert not stale.exists()
    assert legacy.exists()  # younger than a minute: it could be a write in progress
    os.utime(legacy, (time.time() - 120, time.time() - 120))
    assert remove_stale_temp_files(tmp_path, "other.sktrace") == [legacy]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.json"]


def test_generated_set_never_goes_into_the_committed_folder(capsys: pytest.CaptureFixture[str]) -> None:
    before = {p: p.stat().st_mtime_ns for p in (REPO / "traces").rglob("*")}
    code, out, err = _cli(["trace", "generate", "--count", "1", "--out", str(REPO / "traces")], capsys)
    assert code == 2
    assert err == (
        f"sim-arena: error: trace generate: --out {REPO / 'traces'} is the committed scenario set; pass --overwrite "
        "to rewrite it\n"
    )
    assert {p: p.stat().st_mtime_ns for p in (REPO / "traces").rglob("*")} == before


# --------------------------------------------------------------------------------------------------
# The validator in the embedded backend


def test_backend_checks_traces_given_to_it_directly(tmp_path: Path, canon: list[Any]) -> None:
    from sim_arena_gym.backends.embedded import EmbeddedBackend

    bad = put(web(), POD + ["tolerations"], 5)
    trace = load_trace(write(tmp_path, [bad]))
    scenario = canon[0].with_trace(trace)
    with within_a_second(), pytest.raises(TraceFieldError) as info:
        EmbeddedBackend().run(trace, scenario)
    assert str(info.value) == (
        f"{tmp_path / 't.sktrace'}: events[0].applied_objs[0] (Deployment default/web) spec.template.spec.tolerations: "
        "must be an array, got an integer"
    )


def test_objects_made_by_the_env_editor_are_checked_where_the_edit_changed_them(tmp_path: Path) -> None:
    from sim_arena_gym.trace.validate import ObjectValidator
    from sim_arena_gym.trace.workloads import _LastOccurrenceEditor

    trace = load_trace(write(tmp_path, [web()]))
    validator = ObjectValidator()
    validator.validate(trace)
    editor = _LastOccurrenceEditor(trace, "default/web")
    validator.validate(editor.edit(replicas=5, requests={"app": {"cpu": "2"}}))  # a fine edit
    with pytest.raises(TraceLimitError) as info:
        validator.validate(editor.edit(replicas=10**6))
    assert str(info.value).startswith(
        f"{trace.source}: events[0].applied_objs[0] (Deployment default/web) spec.replicas: 1000000 is over the limit"
    )
    with pytest.raises(QuantityFieldError) as info_:
        validator.validate(editor.edit(requests={"app": {"cpu": "1e400"}}))
    assert str(info_.value) == (
        f"{trace.source}: events[0].applied_objs[0] (Deployment default/web) "
        "spec.template.spec.containers[0].resources.requests.cpu: quantity '1e400' is out of the int64 range in millicores"
    )
    edited = editor.edit(requests={"app": {"memory": "384Mi"}})
    with_replicas = editor.with_replicas(edited, 7)
    validator.validate(with_replicas)
    with pytest.raises(TraceLimitError):
        validator.validate(editor.with_replicas(edited, 10**5))


def test_cli_command_needing_a_missing_extra_is_one_line_exit_2(tmp_path: Path) -> None:
    """`sim-arena train` where stable-baselines3 cannot be imported (as without the train extra)."""
    script = (
        "import sys; sys.modules['stable_baselines3'] = None\n"  # an import of it now fails as if not installed
        "from sim_arena_gym.cli import main\n"
        f"sys.exit(main(['train', '--algo', 'ppo', '--timesteps', '10', '--out', {str(tmp_path / 'run')!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "sim-arena: error: this command needs the 'train' extra (module 'stable_baselines3' is not installed): "
        "pip install 'sim-arena-gym[train]', or `make install` in a checkout\n"
    )
    assert not (tmp_path / "run").exists()


def test_cli_missing_module_outside_the_extras_is_still_a_bug(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sim_arena_gym.cli import run_commands

    def broken(args: Any) -> int:
        raise ModuleNotFoundError("No module named 'sim_arena_gym.nothere'", name="sim_arena_gym.nothere")

    monkeypatch.setattr(run_commands, "cmd_agents", broken)
    code, out, err = _cli(["agents"], capsys)
    assert code == 70
    assert err.startswith("sim-arena: internal error, a bug: ModuleNotFoundError:")

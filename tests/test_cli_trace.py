"""``sim-arena trace inspect`` and ``sim-arena trace convert``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim_arena_gym.cli import main
from sim_arena_gym.trace import load_trace

DATA = Path(__file__).parent / "data" / "simkube"


def test_inspect_dsb_scaling(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(DATA / "dsb-scaling.sktrace")
    assert main(["trace", "inspect", path]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[:9] == [
        f"file:        {path}",
        "format:      msgpack, trace version 2",
        "time window: 2024-03-19T23:48:58Z .. 2024-03-20T00:07:52Z (1134 s)",
        "events:      19",
        "objects:     apps/v1.Deployment  applied 46  deleted 0",
        "index:       27 entries, 27 match the stored specs",
        "lifecycles:  0 owners, 0 pod hashes, 0 entries",
        "tracked:     apps/v1.Deployment ('/spec/template')",
        "",
    ]
    assert lines[9] == "workloads (27):"
    assert lines[10].split() == ["WORKLOAD", "REPLICAS", "CONTAINER", "REQUESTS", "LIMITS"]
    assert lines[11].split() == ["Deployment/dsb/user-timeline-service", "1", "user-timeline-service", "cpu=1", "memory=1Gi", "-"]
    nginx = lines.index(next(line for line in lines if "Deployment/dsb/nginx-thrift" in line))
    assert lines[nginx].split() == ["Deployment/dsb/nginx-thrift", "10", "nginx-thrift", "cpu=1", "memory=1Gi", "-"]
    assert lines[nginx + 1].split() == ["alpine-container", "(init)", "cpu=1", "memory=1Gi", "-"]
    assert len(lines) == 11 + 27 + 2  # two Deployments have an init container


def test_inspect_bare_pods_and_cronjob(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "inspect", str(DATA / "bare-pods.sktrace")]) == 0
    out = capsys.readouterr().out
    assert "index:       16 entries, 0 match the stored specs, 4 do not, 12 name no applied object\n" in out
    assert "lifecycles:  4 owners, 4 pod hashes, 4 entries\n" in out
    assert "workloads (4):\n" in out
    assert main(["trace", "inspect", str(DATA / "cronjob.sktrace")]) == 0
    out = capsys.readouterr().out
    assert "objects:     batch/v1.CronJob  applied 1  deleted 1\n" in out
    assert "index:       1 entry, 1 match the stored specs\n" in out
    assert "lifecycles:  1 owners, 1 pod hashes, 3 entries\n" in out
    assert out.endswith("workloads (0):\n")


def test_inspect_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "inspect", "--json", str(DATA / "large_trace.json")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format"] == "json"
    assert summary["events"] == 89
    assert summary["objects"] == {"apps/v1.Deployment": {"applied": 250, "deleted": 0}}
    assert summary["index"]["entries"] == 27
    assert summary["lifecycles"] == {"owners": 0, "pod_hashes": 0, "entries": 0}
    assert len(summary["workloads"]) == 27
    assert sum(w["occurrences"] for w in summary["workloads"]) == 250
    first = summary["workloads"][0]
    assert set(first) == {"ref", "replicas", "occurrences", "last_event", "containers"}
    assert set(first["containers"][0]) == {"name", "role", "requests", "limits"}


def test_convert_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = DATA / "dsb-scaling.sktrace"
    as_json = tmp_path / "dsb.json"
    back = tmp_path / "dsb.sktrace"
    assert main(["trace", "convert", str(source), str(as_json)]) == 0
    assert capsys.readouterr().out == f"wrote {as_json} (json, {as_json.stat().st_size} bytes)\n"
    assert main(["trace", "convert", str(as_json), str(back)]) == 0
    assert back.read_bytes() == source.read_bytes()
    forced = tmp_path / "dsb.out"
    assert main(["trace", "convert", "--format", "json", str(source), str(forced)]) == 0
    assert forced.read_bytes() == as_json.read_bytes()


def test_convert_lifecycles_need_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = DATA / "bare-pods.sktrace"
    out = tmp_path / "bare.json"
    assert main(["trace", "convert", str(source), str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sim-arena: error: {source}: the trace has pod lifecycles (4 owners, 4 entries)")
    assert not out.exists()
    assert main(["trace", "convert", "--drop-lifecycles", str(source), str(out)]) == 0
    assert load_trace(out).pod_lifecycles == {}


def test_bad_files_exit_2_and_name_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.sktrace"
    bad.write_bytes(b"\x85\xa7version")
    assert main(["trace", "inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sim-arena: error: {bad}: not a msgpack trace (truncated or corrupt): ")
    missing = tmp_path / "missing.sktrace"
    assert main(["trace", "inspect", str(missing)]) == 2
    assert capsys.readouterr().err == f"sim-arena: error: {missing}: cannot read the trace file: No such file or directory\n"
    same = tmp_path / "same.sktrace"
    same.write_bytes((DATA / "cronjob.sktrace").read_bytes())
    assert main(["trace", "convert", str(same), str(same)]) == 2
    assert "refusing to overwrite the file this trace was loaded from" in capsys.readouterr().err

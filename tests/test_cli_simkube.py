"""``--backend simkube`` flags on the episode commands, and ``sim-arena fake-cluster``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from sim_arena_gym.cli import main


def test_run_through_the_fake_cluster_prints_what_the_embedded_run_prints(fake_cluster, capsys) -> None:
    args = ["run", "--scenario", "canonical-very-bad-cpu", "--policy", "heuristic"]
    assert main(args) == 0
    embedded = capsys.readouterr().out
    assert main(args + ["--backend", "simkube", "--kubeconfig", str(fake_cluster.kubeconfig), "--trace-store",
                        str(fake_cluster.trace_store), "--speed", "1000", "--settle-seconds", "0.02"]) == 0
    assert capsys.readouterr().out == embedded


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--kubeconfig", "k"], "sim-arena: error: --kubeconfig: simkube flags need --backend simkube\n"),
        (["--backend", "simkube"], "sim-arena: error: --backend simkube needs --trace-store DIR (a folder the cluster's nodes mount as /data)\n"),
        (["--backend", "simkube", "--trace-store", "t", "--speed", "-1"],
         "sim-arena: error: simkube backend option 'speed': must be positive, got -1.0\n"),
    ],
)
def test_bad_backend_flags_are_one_line(capsys, extra: list[str], message: str) -> None:
    assert main(["run", "--scenario", "canonical-very-bad-cpu", *extra]) == 2
    assert capsys.readouterr().err == message


def test_a_backend_error_is_one_line(tmp_path, capsys) -> None:
    missing = tmp_path / "nope"
    assert main(["run", "--scenario", "canonical-very-bad-cpu", "--backend", "simkube", "--trace-store", str(tmp_path),
                 "--kubeconfig", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == (f"sim-arena: error: kubeconfig {str(missing)!r} not found: pass backend option 'kubeconfig' "
                   "(--kubeconfig) with the file `kind get kubeconfig` writes\n")


def test_fake_cluster_command_serves_until_interrupted(tmp_path) -> None:
    kubeconfig = tmp_path / "kc"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim_arena_gym.cli", "fake-cluster", "--kubeconfig-out", str(kubeconfig),
         "--trace-store", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("fake cluster serving http://127.0.0.1:")
        from kubernetes import client, config

        api = config.new_client_from_config(config_file=str(kubeconfig))
        names = [ns.metadata.name for ns in client.CoreV1Api(api).list_namespace().items]
        api.close()
        assert "simkube" in names and "default" in names
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_evaluate_on_the_fake_cluster_prints_the_embedded_table(fake_cluster, capsys) -> None:
    args = ["evaluate", "--split", "canonical", "--agents", "heuristic,random", "--overall-only"]
    assert main(args) == 0
    embedded = capsys.readouterr().out
    assert main(args + ["--backend", "simkube", "--kubeconfig", str(fake_cluster.kubeconfig), "--trace-store",
                        str(fake_cluster.trace_store), "--speed", "10000", "--settle-seconds", "0.02"]) == 0
    assert capsys.readouterr().out == embedded

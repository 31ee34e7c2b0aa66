"""The live cluster through kubectl itself (skipped where kubectl is not installed): server-side printed
columns, describe's events, set resources / scale / rollout status, a refusal as kubectl prints it."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from sim_arena_gym.live import LiveCluster

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


@pytest.fixture
def kubectl(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    with LiveCluster("canonical", scenario="canonical-mixed-errors", kubeconfig_path=kubeconfig) as cluster:
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}

        def run(*args: str, ok: bool = True) -> str:
            done = subprocess.run([KUBECTL, "-n", "shop", *args], capture_output=True, text=True, env=env, timeout=60)
            assert (done.returncode == 0) == ok, done.stderr
            return done.stdout + done.stderr

        yield cluster, run


def test_kubectl_reads_the_cluster_and_repairs_it(kubectl):
    cluster, run = kubectl
    pods = run("get", "pods").splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert sorted(line.split()[2] for line in pods[1:]) == ["CrashLoopBackOff"] * 3 + ["Pending"]
    wide = run("get", "pods", "-o", "wide").splitlines()
    assert wide[0].split()[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    pending = next(line.split()[0] for line in pods[1:] if "Pending" in line)
    described = run("describe", "pod", pending)
    assert ("FailedScheduling  " in described and "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes "
            "are available: 3 No preemption victims found for incoming pod." in described)

    refused = run("set", "resources", "deployment/web", "--requests=cpu=17", ok=False)
    assert ('deployments.apps "web" is forbidden: spec.template.spec.containers[0].resources.requests[cpu]: '
            "cpu request 17 would exceed the 16 CPU cap per container" in refused)
    assert run("set", "resources", "deployment/web", "--requests=cpu=8,memory=512Mi", "--limits=memory=512Mi").strip() == \
        "deployment.apps/web resource requirements updated"
    assert 'deployment "web" successfully rolled out' in run("rollout", "status", "deployment/web", "--timeout=10s")
    pods = run("get", "pods").splitlines()
    assert [line.split()[1:3] for line in pods[1:]] == [["1/1", "Running"]] * 4
    assert (cluster.episode_status()["step"], cluster.episode_status()["success"]) == (1, True)
    assert "the episode is over (repaired)" in run("scale", "deployment/web", "--replicas=5", ok=False)

"""``sim-arena preflight`` and ``sim-arena clean`` against the fake cluster: each missing piece named
with its fix, repeated runs leave nothing behind, clean is idempotent, kept simulations."""

from __future__ import annotations

import json
import socket

import pytest

from sim_arena_gym.cli import main
from sim_arena_gym.testing.fake_cluster import FakeCluster


def _flags(cluster: FakeCluster) -> list[str]:
    return ["--kubeconfig", str(cluster.kubeconfig), "--trace-store", str(cluster.trace_store)]


def _preflight(cluster: FakeCluster, capsys) -> tuple[int, dict]:
    code = main(["preflight", *_flags(cluster), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_a_complete_cluster_passes_every_check(fake_cluster: FakeCluster, capsys) -> None:
    before = fake_cluster.snapshot()
    assert main(["preflight", *_flags(fake_cluster)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[-1] == "preflight: all checks passed"
    assert len(lines) == 24 and all(line.startswith("PASS  ") for line in lines[:-1])
    assert f"PASS  cluster reachable         {fake_cluster.url} answers" in lines
    assert "PASS  Simulation CRD            simulations.simkube.io serves v1 with every field the backend sends" in lines
    assert "PASS  permissions simulations   may create, get, list, watch, delete simulations.simkube.io" in lines
    code, doc = _preflight(fake_cluster, capsys)
    assert code == 0 and doc["ok"] is True
    assert [c["name"] for c in doc["checks"]][:10] == [
        "kubeconfig", "cluster reachable", "server version", "Simulation CRD", "SimKube controller",
        "namespace monitoring", "namespace simkube", "cert-manager", "KWOK", "permissions nodes"]
    assert doc["checks"][-1] == {"name": "trace store mounted", "status": "pass", "fix": "",
                                 "found": "the driver read a probe trace from file:///data (1 pod replayed)"}
    assert fake_cluster.snapshot() == before  # the probe's objects are gone; access reviews are not stored
    assert list(fake_cluster.trace_store.iterdir()) == []  # the probe files are gone


def test_a_trace_store_the_driver_does_not_see(fake_cluster: FakeCluster, tmp_path, capsys) -> None:
    before = fake_cluster.snapshot()
    code = main(["preflight", "--kubeconfig", str(fake_cluster.kubeconfig), "--trace-store", str(tmp_path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert list(_failed(doc)) == ["trace store mounted"]
    check = _failed(doc)["trace store mounted"]
    assert check["found"].startswith("a probe Simulation did not run: Simulation sa-")
    assert "failed (driver: trace file file:///data/sa-" in check["found"] and "before its driver made" in check["found"]
    assert check["fix"].startswith(f"mount {tmp_path} on the kind worker at /data")
    assert fake_cluster.snapshot() == before and list(tmp_path.iterdir()) == []
    assert main(["preflight", "--kubeconfig", str(fake_cluster.kubeconfig), "--trace-store", str(tmp_path),
                 "--no-probe"]) == 1
    assert "SKIP  trace store mounted       not probed (--no-probe)" in capsys.readouterr().out


def _failed(doc: dict) -> dict[str, dict]:
    return {c["name"]: c for c in doc["checks"] if c["status"] == "fail"}


@pytest.mark.parametrize(
    ("breakage", "name", "found", "fix"),
    [
        ("crd", "Simulation CRD", "simulations.simkube.io is not installed", "kubectl apply -k k8s/kustomize/sim"),
        ("monitoring", "namespace monitoring", "missing", "kubectl create namespace monitoring"),
        ("verb", "permissions nodes", "may not create nodes", "kubectl create clusterrolebinding sim-arena-nodes"),
        ("controller", "SimKube controller", "deployment simkube/sk-ctrl-depl: 0 of 0 replicas available",
         "kubectl -n simkube scale deploy/sk-ctrl-depl --replicas 1"),
        ("issuer", "cert-manager", "no ClusterIssuer selfsigned (or cert-manager is not installed)",
         "cert-manager.yaml"),
    ],
)
def test_each_missing_piece_is_named_with_its_fix(fake_cluster: FakeCluster, capsys, breakage: str, name: str,
                                                  found: str, fix: str) -> None:
    if breakage == "crd":
        fake_cluster.uninstall_simkube()
    elif breakage == "monitoring":
        fake_cluster.remove_namespace("monitoring")
    elif breakage == "verb":
        fake_cluster.faults.forbid("create", "nodes")
    elif breakage == "controller":
        fake_cluster.stop_controller()
    else:
        from sim_arena_gym.testing.fake_cluster.resources import GROUPS

        fake_cluster.store.delete(GROUPS["cert-manager.io"][1][0], None, "selfsigned")
    code, doc = _preflight(fake_cluster, capsys)
    assert code == 1 and doc["ok"] is False
    failed = _failed(doc)
    assert list(failed) == [name]  # exactly the removed piece
    assert failed[name]["status"] == "fail" and failed[name]["found"] == found
    assert fix in failed[name]["fix"]
    assert main(["preflight", *_flags(fake_cluster)]) == 1
    text = capsys.readouterr().out
    assert f"FAIL  {name}" in text and "fix: " in text
    assert "SKIP  trace store mounted" in text  # the probe runs only on an otherwise ready cluster
    assert text.splitlines()[-1] == "preflight: 2 of 23 checks did not pass"


def test_the_backend_also_hits_the_forbidden_verb(fake_cluster: FakeCluster, capsys) -> None:
    """The denial the preflight reports is the one a run would meet."""
    fake_cluster.faults.forbid("create", "nodes")
    assert main(["run", "--scenario", "canonical-very-bad-cpu", "--backend", "simkube", *_flags(fake_cluster),
                 "--speed", "10000", "--settle-seconds", "0.02"]) == 2
    err = capsys.readouterr().err
    assert "HTTP 403 Forbidden: nodes is forbidden: User \"fake-user\" cannot create resource \"nodes\"" in err


def test_an_unreachable_server(tmp_path, capsys) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
    }))
    code = main(["preflight", "--kubeconfig", str(kubeconfig), "--trace-store", str(tmp_path), "--json",
                 "--request-timeout", "2"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    by_name = {c["name"]: c for c in doc["checks"]}
    assert by_name["kubeconfig"]["status"] == "pass"
    reach = by_name["cluster reachable"]
    assert reach["status"] == "fail" and reach["found"].startswith(f"http://127.0.0.1:{port}: ")
    assert reach["fix"] == f"kind get clusters && kubectl --kubeconfig {kubeconfig} cluster-info"
    assert {c["status"] for n, c in by_name.items() if n not in ("kubeconfig", "cluster reachable", "trace store")} == {"skip"}
    assert by_name["trace store"]["status"] == "pass"


def test_a_missing_kubeconfig_and_trace_store(tmp_path, capsys) -> None:
    code = main(["preflight", "--kubeconfig", str(tmp_path / "nope"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    first, last = doc["checks"][0], doc["checks"][-2]
    assert first == {"name": "kubeconfig", "status": "fail", "found": f"kubeconfig {str(tmp_path / 'nope')!r} not found",
                     "fix": f"kind get kubeconfig > {tmp_path / 'nope'}"}
    assert last["name"] == "trace store" and last["found"] == "no trace store given"


def _names(cluster: FakeCluster, resource: str) -> list[str]:
    """Names of the stored objects of ``resource`` (``group/plural``; ``/nodes`` for the core group)."""
    return sorted(name for key, _, name in cluster.snapshot() if key == resource)


def _run_simkube(cluster: FakeCluster, *extra: str) -> int:
    return main(["run", "--scenario", "canonical-very-bad-cpu", "--policy", "heuristic", "--backend", "simkube",
                 *_flags(cluster), "--speed", "10000", "--settle-seconds", "0.02", *extra])


def test_five_runs_in_a_row_then_clean_twice(fake_cluster: FakeCluster, capsys) -> None:
    before = fake_cluster.snapshot()
    for _ in range(5):
        assert _run_simkube(fake_cluster) == 0
        assert "REPAIRED" in capsys.readouterr().out
    assert fake_cluster.snapshot() == before
    assert list(fake_cluster.trace_store.iterdir()) == []
    nothing = "nothing to do: no Simulations, virtual namespaces, nodes or trace files of sim-arena-gym runs\n"
    assert main(["clean", *_flags(fake_cluster)]) == 0
    assert capsys.readouterr().out == nothing
    assert main(["clean", *_flags(fake_cluster)]) == 0
    assert capsys.readouterr().out == nothing
    assert fake_cluster.snapshot() == before


def _leave_leftovers(cluster: FakeCluster) -> tuple[str, str]:
    """A run that died mid-step: its nodes, a running Simulation and its trace file stay. Returns
    (run id, the simulation name)."""
    from sim_arena_gym.backends import make_backend
    from sim_arena_gym.scenarios.index import load_scenario_set
    from sim_arena_gym.trace.codec import load_trace

    scenario = load_scenario_set("canonical")[0]
    backend = make_backend("simkube", **cluster.backend_options(keep_simulations=True, instance="w1-e0"))
    backend.run(load_trace(scenario.trace_path), scenario)  # kept: Simulation, namespace, trace file
    # the process "dies" here: close() never runs, so the nodes stay too
    return backend.run_id, f"sa-{backend.run_id}-000001"


def test_clean_removes_what_a_dead_run_left_and_then_has_nothing_to_do(fake_cluster: FakeCluster, capsys) -> None:
    before = fake_cluster.snapshot()
    run_id, sim = _leave_leftovers(fake_cluster)
    assert sim in _names(fake_cluster, "simkube.io/simulations")
    assert [p.name for p in fake_cluster.trace_store.iterdir()] == [f"{sim}.sktrace"]
    assert main(["clean", *_flags(fake_cluster)]) == 0
    out = capsys.readouterr().out.splitlines()
    who = f"(run {run_id}, instance w1-e0)"
    assert out == [
        f"removed Simulation {sim} {who}",
        f"removed Namespace sa-{run_id}-shop {who}",
        *[f"removed Node sa-{run_id}-node-{i} {who}" for i in range(3)],
        f"removed trace file {fake_cluster.trace_store / (sim + '.sktrace')} (run {run_id})",
        "clean: removed 6 objects of 1 run",
    ]
    assert fake_cluster.snapshot() == before
    assert list(fake_cluster.trace_store.iterdir()) == []
    assert main(["clean", *_flags(fake_cluster)]) == 0
    assert capsys.readouterr().out.startswith("nothing to do")


def test_clean_all_finds_unlabelled_objects_named_like_a_run(fake_cluster: FakeCluster, capsys) -> None:
    from sim_arena_gym.testing.fake_cluster.resources import CORE

    # a virtual namespace the driver made before the backend could label it
    fake_cluster.store.create(CORE[0], None, {"metadata": {"name": "sa-0123abcd-shop", "labels": {"simkube.io/virtual": "true"}}})
    assert main(["clean", *_flags(fake_cluster)]) == 0
    assert capsys.readouterr().out.startswith("nothing to do")
    assert main(["clean", *_flags(fake_cluster), "--all"]) == 0
    assert capsys.readouterr().out.splitlines() == ["removed Namespace sa-0123abcd-shop (run 0123abcd)",
                                                    "clean: removed 1 object of 1 run"]


def test_clean_by_instance_leaves_other_instances(fake_cluster: FakeCluster, capsys) -> None:
    from sim_arena_gym.backends import make_backend
    from sim_arena_gym.scenarios.index import load_scenario_set
    from sim_arena_gym.trace.codec import load_trace

    scenario = load_scenario_set("canonical")[0]
    backends = [make_backend("simkube", **fake_cluster.backend_options(instance=i)) for i in ("w0-e0", "w0-e1")]
    for b in backends:
        b.run(load_trace(scenario.trace_path), scenario)  # each leaves its 3 nodes until close
    assert main(["clean", "--kubeconfig", str(fake_cluster.kubeconfig), "--instance", "w0-e1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "clean: removed 3 objects of 1 run"
    assert all(f"(run {backends[1].run_id}, instance w0-e1)" in line for line in out[:-1])
    left = _names(fake_cluster, "/nodes")
    assert left == [f"sa-{backends[0].run_id}-node-{i}" for i in range(3)]
    for b in backends:
        b.close()
    assert main(["clean", "--kubeconfig", str(fake_cluster.kubeconfig), "--run", "zz"]) == 2
    assert "--run 'zz': expected 8 lowercase hex digits" in capsys.readouterr().err


def test_keep_simulations_leaves_the_simulation_for_inspection(fake_cluster: FakeCluster, capsys) -> None:
    """The only thing a run leaves on purpose: with --keep-simulations, each step's Simulation and trace."""
    before = fake_cluster.snapshot()
    assert main(["run", "--scenario", "canonical-slightly-bad-cpu", "--policy", "noop", "--steps", "1",
                 "--backend", "simkube", *_flags(fake_cluster), "--speed", "10000", "--settle-seconds", "0.02",
                 "--keep-simulations"]) == 0
    capsys.readouterr()
    sims = _names(fake_cluster, "simkube.io/simulations")
    assert len(sims) == 1  # reset simulates once; a noop step re-runs nothing
    assert _names(fake_cluster, "/nodes") == []  # nodes still go on close
    assert [p.name for p in fake_cluster.trace_store.iterdir()] == [f"{sims[0]}.sktrace"]
    assert main(["clean", *_flags(fake_cluster)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("clean: removed")
    assert fake_cluster.snapshot() == before
    assert main(["run", "--scenario", "canonical-slightly-bad-cpu", "--keep-simulations"]) == 2
    assert capsys.readouterr().err == "sim-arena: error: --keep-simulations: simkube flags need --backend simkube\n"


def test_make_clean_ns_calls_sim_arena_clean() -> None:
    import shutil
    import subprocess
    from pathlib import Path

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(root), "clean-ns", "KUBECONFIG=/k", "TRACE_STORE=/t", "CLEAN_ARGS=--all"],
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1].split() == [".venv/bin/sim-arena", "clean", "--kubeconfig", "/k", "--trace-store", "/t", "--all"]


def test_evaluate_on_simkube_runs_preflight_first(fake_cluster: FakeCluster, capsys) -> None:
    fake_cluster.stop_controller()
    assert main(["evaluate", "--split", "canonical", "--agents", "noop", "--backend", "simkube", *_flags(fake_cluster)]) == 1
    captured = capsys.readouterr()
    assert "FAIL  SimKube controller        deployment simkube/sk-ctrl-depl: 0 of 0 replicas available" in captured.out
    assert captured.err == "sim-arena: error: preflight failed; fix the checks above before evaluating on SimKube\n"

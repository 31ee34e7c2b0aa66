"""The fake cluster's API semantics through the real ``kubernetes`` client: Status errors,
resourceVersion, selectors, watch resume and 410 Gone, binding to 127.0.0.1 only."""

from __future__ import annotations

import socket

import pytest
from kubernetes import client, config, watch

from sim_arena_gym.testing.fake_cluster import FakeCluster


@pytest.fixture
def core(fake_cluster):
    api = config.new_client_from_config(config_file=str(fake_cluster.kubeconfig))
    yield client.CoreV1Api(api)
    api.close()


def _ns(name: str, **labels: str) -> dict:
    return {"metadata": {"name": name, "labels": labels}}


def test_status_errors_have_the_real_codes_and_reasons(core) -> None:
    core.create_namespace(_ns("a"))
    with pytest.raises(client.ApiException) as exc:
        core.create_namespace(_ns("a"))
    assert (exc.value.status, exc.value.reason) == (409, "Conflict")
    assert '"reason":"AlreadyExists"' in exc.value.body
    with pytest.raises(client.ApiException) as exc:
        core.read_namespace("missing")
    assert exc.value.status == 404 and '"message":"namespaces \\"missing\\" not found"' in exc.value.body
    with pytest.raises(client.ApiException) as exc:
        core.create_namespaced_pod("missing", {"metadata": {"name": "p"}, "spec": {"containers": []}})
    assert exc.value.status == 404


def test_stale_updates_conflict_and_versions_increase(core) -> None:
    created = core.create_namespace(_ns("a"))
    first = int(created.metadata.resource_version)
    patched = core.patch_namespace("a", {"metadata": {"labels": {"x": "1"}}})
    assert int(patched.metadata.resource_version) > first
    created.metadata.labels = {"y": "2"}
    with pytest.raises(client.ApiException) as exc:
        core.replace_namespace("a", created)
    assert exc.value.status == 409


def test_label_and_field_selectors(core) -> None:
    core.create_namespace(_ns("a", team="x", tier="web"))
    core.create_namespace(_ns("b", team="y"))
    names = lambda **kw: [n.metadata.name for n in core.list_namespace(**kw).items]  # noqa: E731
    assert names(label_selector="team=x") == ["a"]
    assert names(label_selector="team in (x,y),tier") == ["a"]
    assert names(label_selector="team,!tier") == ["b"]
    assert names(label_selector="team notin (x)") == ["default", "kube-system", "kube-public", "kube-node-lease", "simkube", "monitoring", "cert-manager", "b"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert "a" not in names(field_selector="metadata.name!=a")


def test_watch_resumes_from_a_resource_version_and_expired_is_410(tmp_path) -> None:
    with FakeCluster(history_limit=5) as cluster:
        api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        core = client.CoreV1Api(api)
        rv = core.list_namespace().metadata.resource_version
        core.create_namespace(_ns("w1"))
        core.create_namespace(_ns("w2"))
        w = watch.Watch()
        seen = [(e["type"], e["object"].metadata.name)
                for e in w.stream(core.list_namespace, resource_version=rv, timeout_seconds=1)]
        assert seen == [("ADDED", "w1"), ("ADDED", "w2")]
        for i in range(6):
            core.create_namespace(_ns(f"x{i}"))
        with pytest.raises(client.ApiException) as exc:
            list(watch.Watch().stream(core.list_namespace, resource_version=rv, timeout_seconds=1))
        assert exc.value.status == 410
        api.close()


def test_a_wrong_token_is_unauthorized(fake_cluster) -> None:
    cfg = client.Configuration()
    cfg.host = fake_cluster.url
    cfg.api_key = {"authorization": "Bearer wrong"}
    api = client.ApiClient(cfg)
    with pytest.raises(client.ApiException) as exc:
        client.CoreV1Api(api).list_namespace()
    assert exc.value.status == 401
    api.close()
    anonymous = client.Configuration()
    anonymous.host = fake_cluster.url
    api = client.ApiClient(anonymous)  # no credentials: served, as kubectl over plain HTTP needs
    assert "default" in [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
    api.close()


def test_binds_127_0_0_1_only(fake_cluster) -> None:
    host, port = fake_cluster.server._httpd.server_address[:2]
    assert host == "127.0.0.1"
    addrs = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1", "127.0.1.1"}
    for addr in addrs:
        with socket.socket() as s:
            s.settimeout(0.5)
            assert s.connect_ex((addr, port)) != 0


def test_simkube_crds_are_served_and_can_be_uninstalled(fake_cluster) -> None:
    api = config.new_client_from_config(config_file=str(fake_cluster.kubeconfig))
    ext = client.ApiextensionsV1Api(api)
    names = sorted(c.metadata.name for c in ext.list_custom_resource_definition().items)
    assert names == ["simulationroots.simkube.io", "simulations.simkube.io"]
    groups = [g.name for g in client.ApisApi(api).get_api_versions().groups]
    assert "simkube.io" in groups
    fake_cluster.uninstall_simkube()
    assert ext.list_custom_resource_definition().items == []
    assert "simkube.io" not in [g.name for g in client.ApisApi(api).get_api_versions().groups]
    with pytest.raises(client.ApiException) as exc:
        client.CustomObjectsApi(api).list_cluster_custom_object("simkube.io", "v1", "simulations")
    assert exc.value.status == 404
    api.close()


def test_chunked_and_delete_bodies_keep_the_connection_usable(fake_cluster) -> None:
    import http.client
    import json as _json

    conn = http.client.HTTPConnection("127.0.0.1", fake_cluster.server.port, timeout=5)
    headers = {"Authorization": f"Bearer {fake_cluster.token}", "Content-Type": "application/json"}
    body = _json.dumps({"metadata": {"name": "chunky"}}).encode()
    conn.request("POST", "/api/v1/namespaces", body=iter([body[:10], body[10:]]), headers=headers,
                 encode_chunked=True)
    resp = conn.getresponse()
    assert (resp.status, _json.loads(resp.read())["metadata"]["name"]) == (201, "chunky")
    conn.request("DELETE", "/api/v1/namespaces/chunky", body=b'{"propagationPolicy":"Background"}', headers=headers)
    resp = conn.getresponse()
    assert resp.status == 200
    resp.read()
    conn.request("GET", "/api/v1/namespaces/chunky", headers=headers)
    resp = conn.getresponse()
    assert (resp.status, _json.loads(resp.read())["reason"]) == (404, "NotFound")
    conn.request("POST", "/api/v1/namespaces", body=b"\x0a\x01", headers={**headers, "Content-Type": "application/vnd.kubernetes.protobuf"})
    resp = conn.getresponse()
    assert (resp.status, _json.loads(resp.read())["reason"]) == (415, "UnsupportedMediaType")
    conn.close()

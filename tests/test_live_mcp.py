"""sim-arena mcp through the `mcp` client API over stdio: inspect and repair canonical scenarios."""

from __future__ import annotations

import json
import sys

import anyio
import pytest

mcp = pytest.importorskip("mcp")
from mcp import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402


def _text(result) -> str:
    assert not result.is_error, result
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def _session_run() -> dict:
    params = StdioServerParameters(command=sys.executable, args=["-m", "sim_arena_gym.cli", "mcp", "--scenarios", "canonical",
                                                                 "--scenario", "canonical-slightly-bad-cpu"])
    async with stdio_client(params) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            await session.initialize()
            names = [t.name for t in (await session.list_tools()).tools]
            message = _text(await session.call_tool("scheduling_message", {}))
            pods = _text(await session.call_tool("get_pods", {}))
            node = _text(await session.call_tool("describe_node", {"name": "node-0"}))
            refused = _text(await session.call_tool("set_resources", {"deployment": "web", "container": "web",
                                                                      "requests": {"cpu": "1 core"}}))
            fixed = _text(await session.call_tool("set_resources", {"deployment": "web", "container": "web",
                                                                    "requests": {"cpu": "8"}}))
            first = json.loads(_text(await session.call_tool("episode_status", {})))
            reset = _text(await session.call_tool("reset", {"scenario": "canonical-very-bad-cpu"}))
            _text(await session.call_tool("set_resources", {"deployment": "web", "container": "web",
                                                            "requests": {"cpu": "16"}}))
            scaled = _text(await session.call_tool("scale", {"deployment": "web", "replicas": 3}))
            second = json.loads(_text(await session.call_tool("episode_status", {})))
            after = _text(await session.call_tool("get_pods", {}))
    return dict(names=names, message=message, pods=pods, node=node, refused=refused, fixed=fixed, first=first, reset=reset,
                scaled=scaled, second=second, after=after)


def test_mcp_client_repairs_two_canonical_scenarios_over_stdio():
    out = anyio.run(_session_run)
    assert out["names"] == ["get_pods", "describe_pod", "get_deployments", "describe_deployment", "get_nodes",
                            "describe_node", "get_events", "scheduling_message", "set_resources", "scale", "episode_status",
                            "list_scenarios", "reset"]
    assert out["message"] == ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
                              "3 No preemption victims found for incoming pod.")
    assert out["pods"].count("Running") == 3 and out["pods"].count("Pending") == 1
    assert out["node"].splitlines()[0] == "Name:        node-0"
    assert out["node"].splitlines()[-1] == "Allocated resources:  cpu 8500m, memory 2048Mi"
    assert out["refused"].startswith('Error from server (Invalid): Deployment.apps "web" is invalid: '
                                     'spec.template.spec.containers[0].resources.requests[cpu]: Invalid value: "1 core"')
    assert out["fixed"] == "deployment.apps/web resource requirements updated"
    assert (out["first"]["scenario"], out["first"]["step"], out["first"]["success"], out["first"]["rewards"]) == (
        "canonical-slightly-bad-cpu", 1, True, [1.24])
    assert out["reset"] == "reset to canonical-very-bad-cpu: repair Deployment/shop/web so that 3 pods are Ready"
    assert out["scaled"] == "deployment.apps/web scaled"
    assert (out["second"]["scenario"], out["second"]["step"], out["second"]["success"]) == ("canonical-very-bad-cpu", 2, True)
    assert out["after"].count("Running") == 3 and "Pending" not in out["after"]

"""``sim-arena mcp``: the live cluster as Model Context Protocol tools, with the maintained ``mcp`` SDK.

One :class:`~sim_arena_gym.live.cluster.LiveCluster` over a scenario set; each tool is a method of
:class:`~sim_arena_gym.live.tools.ClusterTools` (text answers, kubectl style). ``reset`` moves to the
next task of the set. Served over stdio (:func:`serve_stdio`); no HTTP port is listened on.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from mcp.server.mcpserver import MCPServer

from sim_arena_gym.live.cluster import LiveCluster
from sim_arena_gym.live.tools import ClusterTools

__all__ = ["TOOL_NAMES", "build_server", "serve_stdio"]

#: The tools served, in order.
TOOL_NAMES = ("get_pods", "describe_pod", "get_deployments", "describe_deployment", "get_nodes", "describe_node",
              "get_events",
              "scheduling_message", "set_resources", "scale", "episode_status", "list_scenarios", "reset")


def build_server(tools: ClusterTools) -> MCPServer:
    """An MCP server whose tools are ``tools``' methods (names :data:`TOOL_NAMES`, docstrings as descriptions)."""
    server = MCPServer("sim-arena", instructions=(
        "A Kubernetes cluster whose target Deployment has pods stuck Pending (or crash-looping). Inspect it with "
        "the get/describe tools, repair it with set_resources and scale, and watch episode_status: the episode "
        "succeeds when exactly the target number of pods are Running and Ready. Each accepted edit is one step."))
    for name in TOOL_NAMES:
        server.tool(name=name)(getattr(tools, name))
    return server


def serve_stdio(scenarios: Sequence[Any] | str, config: Mapping[str, Any] | None = None, *,
                first: str | None = None) -> None:
    """Serve ``scenarios`` as MCP tools over stdio until the client closes the stream."""
    cluster = LiveCluster(scenarios, config, scenario=first, serve=False)
    try:
        build_server(ClusterTools(cluster)).run("stdio")
    finally:
        cluster.close()

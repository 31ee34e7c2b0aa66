"""The live cluster: scenarios served as a running Kubernetes cluster for tool-using agents.

``sim-arena serve`` (:class:`~sim_arena_gym.live.cluster.LiveCluster`) presents a scenario through the
Kubernetes API (any client: kubectl, the ``kubernetes`` Python client); repairs of the target
workload are re-simulated and scored by the same :class:`~sim_arena_gym.env.simkube_env.SimKubeEnv`
the Gym leaderboard uses. ``sim-arena mcp`` (:mod:`~sim_arena_gym.live.mcp_server`) serves the same as
Model Context Protocol tools; :mod:`~sim_arena_gym.live.text` wraps it for text policies. Modules:
``objects`` (a state as API objects), ``patches`` (merge, strategic merge, JSON patch), ``edits``
(written object -> edit state, apiserver validation), ``cluster`` (the server and its write gate).
See docs/LIVE_CLUSTER.md.
"""

from sim_arena_gym.live.cluster import EPISODE_PATH, TRACE_PATH, LiveCluster

__all__ = ["EPISODE_PATH", "LiveCluster", "TRACE_PATH"]

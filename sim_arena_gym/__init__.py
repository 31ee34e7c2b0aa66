"""sim-arena-gym: a Gymnasium environment in which agents repair Kubernetes workloads whose pods stay
Pending for lack of CPU or memory, on SimKube traces.

Importing the package registers two environments (Gymnasium 1.x has no plugin auto-discovery, so the
import is what registers them; ``gym.make("sim_arena_gym:SimArena-InsufficientResources-v0")`` imports
it for you):

- ``SimArena-InsufficientResources-v0``: :class:`~sim_arena_gym.env.SimKubeEnv` on a scenario set
  (``scenarios="train"`` by default; ``"test"``, ``"canonical"``, ``"all"`` or an index path).
- ``SimArena-Trace-v0``: one scenario built from your own trace,
  ``gym.make("SimArena-Trace-v0", trace="my.sktrace", workload="ns/name", nodes={...}, target=4)``.
- ``SimArena-Coarse-v0``: the same scenario sets with the ``coarse`` action set edited per container
  slot, the ``hard`` observation, the ``cluster`` success rule and reward revision 1
  (:data:`V1_CONFIG`). It is not called ``SimArena-InsufficientResources-v1``: Gymnasium would then
  warn on every ``gym.make`` of ``-v0`` that it is out of date, and ``-v0`` stays as it was.
- ``SimArena-Hard-v0``: ``V1_CONFIG`` on the hard tier (``scenarios="hard-train"``; ``"hard-test"``
  for evaluation), where the heuristic falls short (``docs/HARD_TIER.md``).

Neither is registered with ``max_episode_steps``: the env truncates itself after ``max_steps`` (20), so
a ``TimeLimit`` wrapper would only duplicate (or contradict) that budget.

The import stays light: Gymnasium's registry only; the env module loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gymnasium.envs.registration import register, registry

__version__ = "0.1.0"

__all__ = ["SimKubeEnv", "SimKubeTraceEnv", "__version__"]

#: Environment ids registered on import.
ENV_IDS = (
    "SimArena-InsufficientResources-v0",
    "SimArena-Trace-v0",
    "SimArena-Coarse-v0",
    "SimArena-Hard-v0",
)

#: Config of the second-generation ids (keyword arguments of their registration; overridable in
#: ``gym.make``): coarse moves per container slot, the per-container observation, the cluster-wide
#: success rule and reward revision 1.
V1_CONFIG: dict[str, Any] = {
    "action_set": "coarse",
    "edit_containers": "slots",
    "observation": "hard",
    "success_rule": "cluster",
    "reward_revision": 1,
}
#: Config of ``SimArena-Hard-v0``: :data:`V1_CONFIG` on the hard tier, with its step budget.
HARD_CONFIG: dict[str, Any] = {**V1_CONFIG, "scenarios": "hard-train", "max_steps": 12}

if "SimArena-InsufficientResources-v0" not in registry:
    register(
        id="SimArena-InsufficientResources-v0",
        entry_point="sim_arena_gym.env.simkube_env:SimKubeEnv",
    )
if "SimArena-Trace-v0" not in registry:
    register(
        id="SimArena-Trace-v0",
        entry_point="sim_arena_gym.env.simkube_env:SimKubeTraceEnv",
    )

if "SimArena-Coarse-v0" not in registry:
    register(
        id="SimArena-Coarse-v0",
        entry_point="sim_arena_gym.env.simkube_env:SimKubeEnv",
        kwargs=dict(V1_CONFIG),
    )
if "SimArena-Hard-v0" not in registry:
    register(
        id="SimArena-Hard-v0",
        entry_point="sim_arena_gym.env.simkube_env:SimKubeEnv",
        kwargs=dict(HARD_CONFIG),
    )

if TYPE_CHECKING:  # pragma: no cover
    from sim_arena_gym.env.simkube_env import SimKubeEnv, SimKubeTraceEnv


def __getattr__(name: str) -> Any:
    if name in ("SimKubeEnv", "SimKubeTraceEnv"):
        from sim_arena_gym.env import simkube_env

        return getattr(simkube_env, name)
    raise AttributeError(f"module 'sim_arena_gym' has no attribute {name!r}")

"""sim-arena-gym: a Gymnasium environment in which agents repair Kubernetes workloads whose pods stay
Pending for lack of CPU or memory, on SimKube traces.

Importing the package registers two environments (Gymnasium 1.x has no plugin auto-discovery, so the
import is what registers them; ``gym.make("sim_arena_gym:SimArena-InsufficientResources-v0")`` imports
it for you):

- ``SimArena-InsufficientResources-v0``: :class:`~sim_arena_gym.env.SimKubeEnv` on a scenario set
  (``scenarios="train"`` by default; ``"test"``, ``"canonical"``, ``"all"`` or an index path).
- ``SimArena-Trace-v0``: one scenario built from your own trace,
  ``gym.make("SimArena-Trace-v0", trace="my.sktrace", workload="ns/name", nodes={...}, target=4)``.

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
ENV_IDS = ("SimArena-InsufficientResources-v0", "SimArena-Trace-v0")

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

if TYPE_CHECKING:  # pragma: no cover
    from sim_arena_gym.env.simkube_env import SimKubeEnv, SimKubeTraceEnv


def __getattr__(name: str) -> Any:
    if name in ("SimKubeEnv", "SimKubeTraceEnv"):
        from sim_arena_gym.env import simkube_env

        return getattr(simkube_env, name)
    raise AttributeError(f"module 'sim_arena_gym' has no attribute {name!r}")

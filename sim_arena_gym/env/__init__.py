"""The Gymnasium environment: ``SimKubeEnv`` and its pluggable pieces.

=====================  ==============================================================
module                 what
=====================  ==============================================================
``simkube_env``        :class:`SimKubeEnv`, :class:`SimKubeTraceEnv`, scenario helpers
``actions``            action sets by name, safeguards, masks, :class:`EditState`
``observations``       observation encoders by name
``rewards``            reward modes by name
``state``              scenario contexts, simulated-state views, the outcome cache
``render``             ``ansi`` and ``rgb_array`` rendering
``wrappers``           :class:`ActionMaskObservation` (mask inside a Dict observation)
=====================  ==============================================================
"""

from sim_arena_gym.env.actions import ACTION_SETS, DEFAULT_ACTIONS, EditState, Safeguards
from sim_arena_gym.env.observations import OBSERVATIONS
from sim_arena_gym.env.rewards import REWARDS
from sim_arena_gym.env.simkube_env import SimKubeEnv, SimKubeTraceEnv, resolve_scenarios, scenario_from_trace
from sim_arena_gym.env.wrappers import ActionMaskObservation

__all__ = [
    "ACTION_SETS",
    "DEFAULT_ACTIONS",
    "OBSERVATIONS",
    "REWARDS",
    "ActionMaskObservation",
    "EditState",
    "Safeguards",
    "SimKubeEnv",
    "SimKubeTraceEnv",
    "resolve_scenarios",
    "scenario_from_trace",
]

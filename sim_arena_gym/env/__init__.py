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
``wrappers``           :class:`ActionMaskObservation` (mask inside a Dict observation),
                       :class:`InstanceIdentity` (seed and id of one env among many)
``assignment``         scenario parts for parallel envs, :class:`EnvInstance`
``vector``             vector envs and SB3 env factories with per-env scenario parts
=====================  ==============================================================
"""

from sim_arena_gym.env.actions import ACTION_SETS, DEFAULT_ACTIONS, EditState, Safeguards
from sim_arena_gym.env.assignment import EnvInstance, ScenarioAssignmentError
from sim_arena_gym.env.observations import OBSERVATIONS
from sim_arena_gym.env.rewards import REWARDS
from sim_arena_gym.env.simkube_env import SimKubeEnv, SimKubeTraceEnv, resolve_scenarios, scenario_from_trace
from sim_arena_gym.env.vector import assign_scenarios, env_fns, make_vector_env
from sim_arena_gym.env.wrappers import ActionMaskObservation, InstanceIdentity

__all__ = [
    "ACTION_SETS",
    "DEFAULT_ACTIONS",
    "OBSERVATIONS",
    "REWARDS",
    "ActionMaskObservation",
    "EditState",
    "EnvInstance",
    "InstanceIdentity",
    "Safeguards",
    "ScenarioAssignmentError",
    "SimKubeEnv",
    "SimKubeTraceEnv",
    "assign_scenarios",
    "env_fns",
    "make_vector_env",
    "resolve_scenarios",
    "scenario_from_trace",
]

"""Scenarios: what to repair (trace, nodes, target workload, floors), the index under ``traces/``, and
the seeded generator of broken workloads.

* :mod:`~sim_arena_gym.scenarios.model` -- the fixed data model (``Scenario``, ``NodePool``, ``Taint``).
* :mod:`~sim_arena_gym.scenarios.families` -- one template function per scenario family.
* :mod:`~sim_arena_gym.scenarios.generate` -- seeded sets, the train/test split, the canonical demos.
* :mod:`~sim_arena_gym.scenarios.index` -- ``index.json``: read, validate, write; scenario sets.
"""

from sim_arena_gym.scenarios.families import FAMILIES, FAMILY_NAMES
from sim_arena_gym.scenarios.generate import (
    CANONICAL_IDS,
    DEFAULT_PRESET,
    canonical_scenarios,
    default_scenarios,
    family_counts,
    generate_one,
    generate_scenarios,
    scenario_seed,
)
from sim_arena_gym.scenarios.index import (
    INDEX_FORMAT,
    SCENARIO_SETS,
    ScenarioIndexError,
    default_traces_dir,
    load_index,
    load_scenario_set,
    save_scenario_set,
    write_index,
)
from sim_arena_gym.scenarios.model import (
    KWOK_PROVIDER_TAINT,
    NODE_PRESETS,
    VIRTUAL_NODE_LABELS,
    NodePool,
    Scenario,
    Taint,
    parse_node_pools,
)

__all__ = [
    "CANONICAL_IDS",
    "DEFAULT_PRESET",
    "FAMILIES",
    "FAMILY_NAMES",
    "INDEX_FORMAT",
    "KWOK_PROVIDER_TAINT",
    "NODE_PRESETS",
    "NodePool",
    "SCENARIO_SETS",
    "Scenario",
    "ScenarioIndexError",
    "Taint",
    "VIRTUAL_NODE_LABELS",
    "canonical_scenarios",
    "default_scenarios",
    "default_traces_dir",
    "family_counts",
    "generate_one",
    "generate_scenarios",
    "load_index",
    "load_scenario_set",
    "parse_node_pools",
    "save_scenario_set",
    "write_index",
]

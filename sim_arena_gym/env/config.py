"""Up-front checks of the env's options (``gym.make`` keywords and ``config=``): one typed error each.

:func:`check_env_config` checks a merged :class:`~sim_arena_gym.env.simkube_env.SimKubeEnv` config and
:func:`check_trace_env_args` the extra arguments of ``SimArena-Trace-v0``, before anything is built.
Every failure is an :class:`~sim_arena_gym.optioncheck.OptionError` (a ``ValueError``) whose message
starts with the option's name (``caps['cpu']``, ``nodes[0].labels``, ``backend_options``).

A new option joins by adding a line to :data:`CHECKS` (a function of the value) or to
:func:`check_env_config` when it depends on other options.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping

from sim_arena_gym.limits import MAX_NODES_PER_POOL
from sim_arena_gym.optioncheck import (
    OptionError,
    check_choice,
    check_finite,
    check_int,
    check_mapping,
    check_quantity,
    check_str,
    check_str_map,
)

__all__ = [
    "CHECKS",
    "check_config_argument",
    "check_env_config",
    "check_nodes",
    "check_trace_env_args",
    "check_usage_floors",
]

_CAP_KEYS = ("cpu", "memory", "replicas", "min_cpu", "min_memory", "min_replicas")
#: Most replicas a cap may allow (a replica count a simulation can afford).
_MAX_REPLICAS_CAP = 10_000


def _caps(value: Any) -> None:
    check_mapping("caps", value, keys=_CAP_KEYS)
    for key in ("cpu", "min_cpu"):
        if value.get(key) is not None:
            check_quantity(f"caps[{key!r}]", value[key], "cpu", positive=key == "cpu")
    for key in ("memory", "min_memory"):
        if value.get(key) is not None:
            check_quantity(f"caps[{key!r}]", value[key], positive=key == "memory")
    for key in ("replicas", "min_replicas"):
        if value.get(key) is not None:
            check_int(f"caps[{key!r}]", value[key], low=0, high=_MAX_REPLICAS_CAP)


def _reward_weights(value: Any) -> None:
    check_mapping("reward_weights", value)
    for key, weight in value.items():
        check_finite(f"reward_weights[{key!r}]", weight)


def _backend_options(value: Any) -> None:
    check_mapping("backend_options", value)


def _scenarios(value: Any) -> None:
    from sim_arena_gym.scenarios.model import Scenario

    if isinstance(value, (str, os.PathLike, Scenario)):
        return
    if isinstance(value, (list, tuple)) and value and all(isinstance(s, Scenario) for s in value):
        return
    raise OptionError(
        "scenarios", value,
        "expected a set name ('train', 'test', 'canonical', 'all'), an index.json path, or a non-empty list of Scenario",
    )  # fmt: skip


#: One check per option that depends only on its own value.
CHECKS: dict[str, Callable[[Any], Any]] = {
    "backend": lambda v: check_str("backend", v),
    "backend_options": _backend_options,
    "scenarios": _scenarios,
    "cpu_step": lambda v: check_quantity("cpu_step", v, "cpu", positive=True),
    "memory_step": lambda v: check_quantity("memory_step", v, positive=True),
    "replica_step": lambda v: check_int("replica_step", v, low=1, high=_MAX_REPLICAS_CAP),
    "caps": _caps,
    "reward_mode": lambda v: check_str("reward_mode", v),
    "reward_weights": _reward_weights,
    "max_steps": lambda v: check_int("max_steps", v, low=1),
    "observation": lambda v: check_str("observation", v),
    "action_set": lambda v: check_str("action_set", v),
    "outcome_cache_size": lambda v: check_int("outcome_cache_size", v, low=0, high=10**7),
}


def check_env_config(config: Mapping[str, Any]) -> None:
    """Check every option of a merged env config (unknown keys are refused earlier, when merging)."""
    for key, value in config.items():
        check = CHECKS.get(key)
        if check is not None:
            check(value)
    if config.get("backend") == "embedded":
        from sim_arena_gym.sim.options import SimOptions

        try:
            SimOptions(**config.get("backend_options", {}))
        except TypeError as exc:
            raise OptionError("backend_options", config.get("backend_options"), str(exc)) from None
        except OptionError:
            raise
        except ValueError as exc:
            raise OptionError("backend_options", config.get("backend_options"), str(exc)) from None


def check_nodes(value: Any) -> None:
    """``nodes``: one pool dict or a non-empty list of them (``count``, ``cpu``, ``memory``, ``pods``,
    ``labels``, ``taints``, ``name``, ``preset``, ``ephemeral_storage``)."""
    from sim_arena_gym.scenarios.model import NodePool

    pools = [value] if isinstance(value, (Mapping, NodePool)) else value
    if not isinstance(pools, (list, tuple)) or not pools:
        raise OptionError("nodes", value, "expected a node pool dict or a non-empty list of them")
    for i, pool in enumerate(pools):
        name = "nodes" if isinstance(value, (Mapping, NodePool)) else f"nodes[{i}]"
        if isinstance(pool, NodePool):
            continue
        check_mapping(name, pool)
        if "count" in pool:
            check_int(f"{name}.count", pool["count"], low=0, high=MAX_NODES_PER_POOL.value())
        if "pods" in pool:
            check_int(f"{name}.pods", pool["pods"], low=0, high=2**31 - 1)
        for key, resource in (("cpu", "cpu"), ("memory", "memory"), ("ephemeral_storage", "memory")):
            if pool.get(key) is not None and pool[key] != "":
                check_quantity(f"{name}.{key}", pool[key], resource)
        if "labels" in pool:
            check_str_map(f"{name}.labels", pool["labels"])
        if "name" in pool:
            check_str(f"{name}.name", pool["name"])
        if "taints" in pool:
            taints = pool["taints"]
            if not isinstance(taints, (list, tuple)):
                raise OptionError(f"{name}.taints", taints, "expected a list of {'key', 'value', 'effect'} dicts")
            for k, taint in enumerate(taints):
                check_mapping(f"{name}.taints[{k}]", taint, keys=("key", "value", "effect"))
                check_str(f"{name}.taints[{k}].key", taint.get("key"))
                check_str(f"{name}.taints[{k}].value", taint.get("value", ""), empty=True)
                check_choice(f"{name}.taints[{k}].effect", taint.get("effect", "NoSchedule"),
                             ("NoSchedule", "PreferNoSchedule", "NoExecute"))  # fmt: skip


def check_usage_floors(value: Any) -> None:
    """``usage_floors``: ``{container: {"cpu": quantity, "memory": quantity}}``."""
    check_mapping("usage_floors", value)
    for container, floors in value.items():
        check_mapping(f"usage_floors[{container!r}]", floors, keys=("cpu", "memory"))
        for resource, amount in floors.items():
            check_quantity(f"usage_floors[{container!r}][{resource!r}]", amount, resource)


def check_trace_env_args(trace: Any, workload: Any, nodes: Any, target: Any, usage_floors: Any) -> None:
    """The arguments of ``SimArena-Trace-v0`` / :func:`~sim_arena_gym.env.simkube_env.scenario_from_trace`."""
    from sim_arena_gym.trace.model import Trace
    from sim_arena_gym.trace.refs import WorkloadRef

    if not isinstance(trace, (str, os.PathLike, Trace)):
        raise OptionError("trace", trace, "expected a trace file path or a Trace")
    if workload is not None and not isinstance(workload, (str, WorkloadRef)):
        raise OptionError("workload", workload, "expected 'namespace/name' or 'Kind/namespace/name'")
    if nodes is not None:
        check_nodes(nodes)
    if target is not None:
        check_int("target", target, low=1, high=_MAX_REPLICAS_CAP)
    if usage_floors is not None:
        check_usage_floors(usage_floors)


def check_config_argument(config: Any) -> None:
    """``config=``: a dict of options (or ``None``)."""
    if config is not None:
        check_mapping("config", config)


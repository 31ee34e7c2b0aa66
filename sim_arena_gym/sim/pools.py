"""The node-pool model the simulator builds its nodes from: pools of identical KWOK nodes and their taints.

A :class:`NodePool` declares ``count`` identical nodes the way a user writes a Node manifest: quantities
as Kubernetes strings (``"16"``, ``"32Gi"``), labels and taints. The defaults are SimKube's virtual
node (label ``type=virtual``, taint ``kwok-provider=true:NoSchedule``); :data:`NODE_PRESETS` names the
other shapes. :mod:`sim_arena_gym.sim.nodes` turns pools into nodes (millicores, bytes). Scenarios
(:mod:`sim_arena_gym.scenarios.model`) hold pools and re-export these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from sim_arena_gym.limits import MAX_NODES_PER_POOL
from sim_arena_gym.optioncheck import OptionError, check_quantity, check_str_map

__all__ = ["KWOK_PROVIDER_TAINT", "KWOK_PROVIDER_TAINT_KEY", "NODE_PRESETS", "NodePool", "Taint", "VIRTUAL_NODE_LABELS"]

#: Label every SimKube virtual node carries, and the nodeSelector SimKube's driver adds to pods.
VIRTUAL_NODE_LABELS: Mapping[str, str] = {"type": "virtual"}
#: Taint SimKube virtual nodes carry (KWOK provider), tolerated by every simulated pod.
KWOK_PROVIDER_TAINT_KEY = "kwok-provider"


@dataclass(frozen=True, slots=True)
class Taint:
    """A node taint ``key=value:effect``; effect is ``NoSchedule``, ``PreferNoSchedule`` or ``NoExecute``."""

    key: str
    value: str = ""
    effect: str = "NoSchedule"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Taint":
        if not isinstance(d, Mapping) or not isinstance(d.get("key"), str):
            raise ValueError(f"taint {d!r}: expected a map with 'key', 'value' and 'effect' (strings)")
        if not isinstance(d.get("value", ""), str):
            raise ValueError(f"taint {d!r}: value must be a string")
        effect = d.get("effect", "NoSchedule")
        if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise ValueError(f"taint {d!r}: effect must be NoSchedule, PreferNoSchedule or NoExecute")
        return cls(str(d["key"]), str(d.get("value", "")), effect)

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "value": self.value, "effect": self.effect}


#: The taint of SimKube virtual nodes: ``kwok-provider=true:NoSchedule``.
KWOK_PROVIDER_TAINT = Taint(KWOK_PROVIDER_TAINT_KEY, "true", "NoSchedule")

#: Presets for :meth:`NodePool.from_dict` ``preset``: labels and taints.
NODE_PRESETS: Mapping[str, tuple[Mapping[str, str], tuple[Taint, ...]]] = {
    # SimKube virtual node (docs/intro/running.md): label type=virtual, taint kwok-provider.
    "simkube": (VIRTUAL_NODE_LABELS, (KWOK_PROVIDER_TAINT,)),
    # kwokctl's node template: label type=kwok, no taint.
    "kwok": ({"type": "kwok"}, ()),
    # A plain node: no labels beyond the hostname, no taints.
    "plain": ({}, ()),
}


@dataclass(frozen=True, slots=True)
class NodePool:
    """``count`` identical nodes.

    Attributes:
        count: number of nodes.
        cpu: allocatable CPU as a quantity string (``"16"`` = 16000 millicores).
        memory: allocatable memory as a quantity string (``"32Gi"``).
        pods: allocatable pod count.
        labels: node labels (a ``kubernetes.io/hostname`` label is added per node).
        taints: node taints.
        name: pool name; nodes are named ``<name>-<i>`` (i from 0).
        ephemeral_storage: allocatable ephemeral storage quantity, or ``None`` for none declared.
    """

    count: int = 3
    cpu: str = "16"
    memory: str = "32Gi"
    pods: int = 110
    labels: Mapping[str, str] = field(default_factory=lambda: dict(VIRTUAL_NODE_LABELS))
    taints: tuple[Taint, ...] = (KWOK_PROVIDER_TAINT,)
    name: str = "node"
    ephemeral_storage: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, default_name: str = "node") -> "NodePool":
        """Build a pool from ``{"count", "cpu", "memory", "pods", "labels", "taints", "name",
        "preset", "ephemeral_storage"}``; ``preset`` (``simkube`` default, ``kwok``, ``plain``)
        supplies labels and taints that are not given."""
        if not isinstance(d, Mapping):
            raise ValueError(f"node pool {d!r}: expected a map such as {{'count': 3, 'cpu': '16', 'memory': '32Gi'}}")
        known = {"count", "cpu", "memory", "pods", "labels", "taints", "name", "preset", "ephemeral_storage"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"node pool {dict(d)!r}: unknown keys {unknown}; allowed: {sorted(known)}")
        preset = d.get("preset", "simkube")
        if not isinstance(preset, str) or preset not in NODE_PRESETS:
            raise ValueError(f"node pool {dict(d)!r}: preset must be one of {sorted(NODE_PRESETS)}")
        labels, taints = NODE_PRESETS[preset]
        name = str(d.get("name", default_name))
        where = f"node pool {name!r}"
        count = d.get("count", 3)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"node pool {dict(d)!r}: count must be a non-negative integer")
        limit = MAX_NODES_PER_POOL.value()
        if count > limit:
            raise OptionError(f"{where} count", count, MAX_NODES_PER_POOL.exceeded(count, limit))
        pods = d.get("pods", 110)
        if not isinstance(pods, int) or isinstance(pods, bool) or pods < 0:
            raise ValueError(f"node pool {dict(d)!r}: pods must be a non-negative integer")
        for key, resource in (("cpu", "cpu"), ("memory", "memory"), ("ephemeral_storage", "memory")):
            value = d.get(key)
            if value is not None and not (isinstance(value, str) and not value.strip()):  # "" = undeclared
                check_quantity(f"{where} {key}", value, resource)
        labels = check_str_map(f"{where} labels", d.get("labels", labels))
        if "taints" in d and not isinstance(d["taints"], (list, tuple)):
            raise OptionError(f"{where} taints", d["taints"], "expected a list of {'key', 'value', 'effect'} maps")
        return cls(
            count=count,
            cpu=str(d.get("cpu", "16")),
            memory=str(d.get("memory", "32Gi")),
            pods=pods,
            labels=labels,
            taints=tuple(Taint.from_dict(t) for t in d["taints"]) if "taints" in d else tuple(taints),
            name=name,
            ephemeral_storage=d.get("ephemeral_storage"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "count": self.count,
            "cpu": self.cpu,
            "memory": self.memory,
            "pods": self.pods,
            "labels": dict(self.labels),
            "taints": [t.to_dict() for t in self.taints],
        }
        if self.ephemeral_storage is not None:
            out["ephemeral_storage"] = self.ephemeral_storage
        return out

"""Generate scenarios: seeded variations of the families, the train/test split, the canonical demos.

Everything here is deterministic: a scenario is a pure function of ``(family, seed)`` (see
:mod:`sim_arena_gym.scenarios.families`), a generated set is a pure function of ``(count, seed)``, and the
four canonical demos are fixed. No clock, no global random state, no file access: writing the traces and
the index is :mod:`sim_arena_gym.scenarios.index`'s job.
"""

from __future__ import annotations

import hashlib
import math
from typing import Iterable, Sequence

from sim_arena_gym.scenarios.families import FAMILIES, FAMILY_NAMES, FamilyDraft, Rand
from sim_arena_gym.scenarios.hard_families import HARD_FAMILIES, HARD_FAMILY_NAMES
from sim_arena_gym.scenarios.model import NodePool, Scenario
from sim_arena_gym.trace import builders
from sim_arena_gym.trace.model import Trace
from sim_arena_gym.trace.refs import WorkloadRef

#: The generated set committed under ``traces/``: ``generate_scenarios(**DEFAULT_PRESET)``.
DEFAULT_PRESET: dict[str, float | int] = {"count": 120, "seed": 2025, "split_ratio": 0.8}
#: The hard tier committed under ``traces/``: ``generate_hard_scenarios(**HARD_PRESET)``.
HARD_PRESET: dict[str, float | int] = {"count": 60, "seed": 2026, "split_ratio": 0.8}
#: Splits of the hard tier (kept apart from ``train`` / ``test`` so that ``-v0`` sees the same sets).
HARD_SPLITS: dict[str, str] = {"train": "hard-train", "test": "hard-test"}
#: Ids of the four canonical demo scenarios, in order.
CANONICAL_IDS: tuple[str, ...] = (
    "canonical-very-bad-cpu",
    "canonical-very-bad-memory",
    "canonical-slightly-bad-cpu",
    "canonical-mixed-errors",
)


def scenario_seed(master_seed: int, position: int) -> int:
    """The seed of the ``position``-th scenario of a set generated with ``master_seed``.

    Derived with SHA-256 (stable across Python versions and platforms); a 31-bit integer."""
    digest = hashlib.sha256(f"sim-arena-gym/scenario/{int(master_seed)}/{int(position)}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


def draft_scenario(family: str, seed: int) -> FamilyDraft:
    """The family's draft for ``seed``; ``ValueError`` for an unknown family."""
    template = FAMILIES.get(family) or HARD_FAMILIES.get(family)
    if template is None:
        known = ", ".join((*FAMILY_NAMES, *HARD_FAMILY_NAMES))
        raise ValueError(f"unknown scenario family {family!r}; known: {known}")
    return template(Rand(seed))


def generate_one(
    family: str, seed: int, *, id: str | None = None, split: str | None = None
) -> tuple[Scenario, Trace]:
    """One scenario of ``family`` drawn with ``seed``: ``(scenario, trace)``.

    The scenario holds the trace in memory (``scenario.trace``) and has no ``trace_path`` yet.
    ``id`` defaults to ``"<family>-s<seed>"``."""
    draft = draft_scenario(family, seed)
    trace = builders.build_trace(draft.events)
    scenario = Scenario(
        id=id or f"{family}-s{seed}",
        trace_path=None,
        workload=draft.workload,
        node_pools=draft.node_pools,
        target_replicas=draft.target,
        usage_floors={k: dict(v) for k, v in draft.usage_floors.items()},
        family=family,
        split=split,
        seed=seed,
        description=draft.description,
        trace=trace,
    )
    return scenario, trace


def split_of(position_in_family: int, family_size: int, split_ratio: float) -> str:
    """``"train"`` or ``"test"`` for the ``position_in_family``-th scenario (from 0) of a family with
    ``family_size`` members.

    Rule: in each family the last ``round(family_size * (1 - split_ratio))`` scenarios, and at least
    one when the family has two or more, form the test split; the others are train."""
    if not 0.0 <= split_ratio <= 1.0:
        raise ValueError(f"split ratio {split_ratio} must be within [0, 1]")
    n_test = round(family_size * (1.0 - split_ratio))
    if family_size >= 2 and split_ratio < 1.0:
        n_test = max(1, n_test)
    n_test = min(n_test, family_size - 1) if family_size >= 2 and split_ratio > 0.0 else n_test
    return "test" if position_in_family >= family_size - n_test else "train"


def generate_scenarios(
    count: int,
    seed: int,
    *,
    families: Sequence[str] | None = None,
    split_ratio: float = 0.8,
) -> list[tuple[Scenario, Trace]]:
    """``count`` scenarios cycling through ``families`` (default: all, in :data:`FAMILY_NAMES` order).

    The ``i``-th scenario uses family ``families[i % len(families)]`` and seed
    :func:`scenario_seed(seed, i) <scenario_seed>`; its id is ``"<family>-<k:03d>"`` with ``k`` its
    number within the family. Splits follow :func:`split_of`."""
    names = list(families) if families is not None else list(FAMILY_NAMES)
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if not names:
        raise ValueError("families must not be empty")
    for name in names:
        if name not in FAMILIES:
            raise ValueError(f"unknown scenario family {name!r}; known: {', '.join(FAMILY_NAMES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"families repeat: {names}")
    return _cycle(names, count, seed, split_ratio, prefix="", splits={"train": "train", "test": "test"})


def _cycle(names: Sequence[str], count: int, seed: int, split_ratio: float, *, prefix: str,
           splits: dict[str, str]) -> list[tuple[Scenario, Trace]]:
    """The ``i``-th of ``count`` scenarios: family ``names[i % len(names)]``, seed ``scenario_seed(seed, i)``,
    id ``"<prefix><family>-<k:03d>"``, split ``splits[split_of(k, family size, split_ratio)]``."""
    sizes = {name: len(range(i, count, len(names))) for i, name in enumerate(names)}
    out: list[tuple[Scenario, Trace]] = []
    for i in range(count):
        family = names[i % len(names)]
        k = i // len(names)
        split = splits[split_of(k, sizes[family], split_ratio)]
        out.append(generate_one(family, scenario_seed(seed, i), id=f"{prefix}{family}-{k:03d}", split=split))
    return out


def generate_hard_scenarios(count: int, seed: int, *, split_ratio: float = 0.8) -> list[tuple[Scenario, Trace]]:
    """``count`` hard-tier scenarios cycling through :data:`HARD_FAMILY_NAMES`, as
    :func:`generate_scenarios` does (seeds :func:`scenario_seed`, split rule :func:`split_of`), with ids
    ``"hard-<family>-<k:03d>"`` and splits ``hard-train`` / ``hard-test``."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    return _cycle(list(HARD_FAMILY_NAMES), count, seed, split_ratio, prefix="hard-", splits=HARD_SPLITS)


def hard_scenarios() -> list[tuple[Scenario, Trace]]:
    """The committed hard tier: ``generate_hard_scenarios(**HARD_PRESET)``."""
    p = HARD_PRESET
    return generate_hard_scenarios(int(p["count"]), int(p["seed"]), split_ratio=float(p["split_ratio"]))


def default_scenarios() -> list[tuple[Scenario, Trace]]:
    """The committed set: the canonical demos, then ``generate_scenarios(**DEFAULT_PRESET)``."""
    preset = DEFAULT_PRESET
    canon = [(s, s.trace) for s in canonical_scenarios()]
    generated = generate_scenarios(int(preset["count"]), int(preset["seed"]), split_ratio=float(preset["split_ratio"]))
    return canon + generated


def family_counts(scenarios: Iterable[Scenario]) -> dict[str, dict[str, int]]:
    """``{family: {split: count}}`` in :data:`FAMILY_NAMES` order, unknown families last."""
    counts: dict[str, dict[str, int]] = {}
    for s in scenarios:
        by_split = counts.setdefault(s.family, {})
        key = s.split or "-"
        by_split[key] = by_split.get(key, 0) + 1
    order = {name: i for i, name in enumerate(FAMILY_NAMES)}
    return dict(sorted(counts.items(), key=lambda kv: (order.get(kv[0], math.inf), kv[0])))


# ---------------------------------------------------------------------------------------------------
# Canonical demos: 3 nodes of 16 CPU / 32Gi, one Deployment shop/web of 4 replicas.

#: Export start of every canonical trace: 2025-01-01T12:00:00Z.
CANONICAL_START_TS = 1_735_732_800
_CANONICAL_IMAGE = "registry.example.com/shop/web:1.4.0"


def _canonical_trace(*, cpu: str | None, memory: str | None, limit_memory: str | None = None) -> Trace:
    web = builders.container("web", cpu=cpu, memory=memory, limit_memory=limit_memory, image=_CANONICAL_IMAGE)
    labels = {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "shop"}
    obj = builders.deployment("web", builders.pod_spec([web]), namespace="shop", replicas=4, labels=labels)
    return builders.build_trace([(CANONICAL_START_TS, [], []), (CANONICAL_START_TS, [obj], [])])


def canonical_scenarios() -> list[Scenario]:
    """The four canonical demos, traces held in memory (``scenario.trace``), split ``"canonical"``.

    All run ``shop/web`` (4 replicas, one container ``web``) on 3 nodes of 16 CPU / 32Gi:

    * ``canonical-very-bad-cpu``: 17 CPU per pod; no node has that much, all 4 Pending. A pod that
      needs a whole node leaves room for 3 replicas on 3 nodes, so the target is 3: lower CPU to
      16 (2 steps) and drop one replica (1 step).
    * ``canonical-very-bad-memory``: 33Gi per pod on 32Gi nodes, all Pending; target 3: lower memory
      to 32Gi (4 steps) and drop one replica.
    * ``canonical-slightly-bad-cpu``: 8500m per pod; one fits per node, the 4th is Pending; lower CPU
      to 8 (1 step).
    * ``canonical-mixed-errors``: 9 CPU per pod (the 4th is Pending) and a 256Mi memory limit below
      the 512Mi the app uses (the 3 running pods are OOMKilled); lower CPU twice, raise memory once.
    """
    pool = (NodePool(count=3, cpu="16", memory="32Gi"),)
    web = WorkloadRef("Deployment", "shop", "web")
    specs = [
        ("canonical-very-bad-cpu", "very-bad-cpu", 3, {"cpu": "17", "memory": "2Gi"},
         {"cpu": "500m", "memory": "1Gi"},
         "shop/web asks 17 CPU per pod on 16-CPU nodes: all 4 pods Pending; 3 replicas are needed"),
        ("canonical-very-bad-memory", "very-bad-memory", 3, {"cpu": "2", "memory": "33Gi"},
         {"cpu": "500m", "memory": "2Gi"},
         "shop/web asks 33Gi memory per pod on 32Gi nodes: all 4 pods Pending; 3 replicas are needed"),
        ("canonical-slightly-bad-cpu", "slightly-bad-cpu", 4, {"cpu": "8500m", "memory": "2Gi"},
         {"cpu": "500m", "memory": "1Gi"},
         "shop/web asks 8500m CPU per pod: one pod fits per 16-CPU node, the 4th stays Pending"),
        ("canonical-mixed-errors", "mixed-cpu-memory", 4, {"cpu": "9", "memory": "256Mi", "limit_memory": "256Mi"},
         {"cpu": "500m", "memory": "512Mi"},
         "shop/web asks 9 CPU per pod (the 4th pod is Pending) with a 256Mi memory limit below the app's "
         "512Mi usage (the running pods are OOMKilled)"),
    ]
    out = []
    for sid, family, target, resources, floors, description in specs:
        trace = _canonical_trace(**resources)
        out.append(
            Scenario(
                id=sid,
                trace_path=None,
                workload=web,
                node_pools=pool,
                target_replicas=target,
                usage_floors={"web": dict(floors)},
                family=family,
                split="canonical",
                seed=None,
                description=description,
                trace=trace,
            )
        )
    return out

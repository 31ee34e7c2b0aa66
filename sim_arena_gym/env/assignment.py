"""Which scenarios each of N parallel envs plays, and who each env instance is.

Pure data, no Gymnasium: used by :class:`~sim_arena_gym.env.SimKubeEnv` (``scenario_subset``,
``scenario_order``), by :mod:`sim_arena_gym.env.vector` and by the RLlib integration.

- :func:`split_evenly` deals a scenario set round-robin into ``parts`` disjoint subsets that together
  hold every scenario once, so N envs walking their own subset (``scenario_order="sequential"``) cover a
  split without repeats.
- :class:`EnvInstance` names one env among many (RLlib env runner ``worker_index`` and sub-env
  ``vector_index``): a flat ``index``, a seed derived from it, and an ``id`` (``"w1-e0"``) that is a
  valid DNS-label fragment, so a backend that creates cluster objects per env can later put it into
  simulation names, namespace prefixes and node labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence, TypeVar

T = TypeVar("T")

#: ``scenario_order`` values: how a reset without ``options["scenario"]`` picks its scenario.
SCENARIO_ORDERS = ("random", "sequential")


class ScenarioAssignmentError(ValueError):
    """A bad scenario assignment option. ``option`` names it (``"scenario_subset"``, ``"num_envs"``, ...);
    the message starts with it."""

    def __init__(self, option: str, problem: str) -> None:
        self.option = option
        super().__init__(f"{option}: {problem}")


def split_evenly(items: Sequence[T], parts: int, *, option: str = "num_envs") -> list[tuple[T, ...]]:
    """Deal ``items`` round-robin into ``parts`` disjoint, non-empty tuples (``items[i::parts]``).

    Every item lands in exactly one part; part sizes differ by at most one. Raises
    :class:`ScenarioAssignmentError` naming ``option`` when ``parts`` is not an integer in
    ``[1, len(items)]`` (a part would be empty)."""
    if not isinstance(parts, int) or isinstance(parts, bool) or parts < 1:
        raise ScenarioAssignmentError(option, f"expected a positive integer, got {parts!r}")
    if parts > len(items):
        raise ScenarioAssignmentError(
            option, f"{parts} envs but only {len(items)} scenarios: each env needs at least one scenario of its own"
        )
    return [tuple(items[i::parts]) for i in range(parts)]


def check_subset(ids: object, known: Sequence[str]) -> tuple[str, ...]:
    """``ids`` validated as a non-empty sequence of distinct ids drawn from ``known`` (``scenario_subset``)."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
        raise ScenarioAssignmentError("scenario_subset", f"expected a list of scenario ids or None, got {ids!r}")
    subset = tuple(ids)
    if not subset:
        raise ScenarioAssignmentError("scenario_subset", "the list is empty; pass None for the whole set")
    known_set = set(known)
    unknown = [i for i in subset if i not in known_set]
    if unknown:
        raise ScenarioAssignmentError(
            "scenario_subset", f"{unknown[0]!r} is not in this env's scenario set ({len(known)} scenarios)"
        )
    dupes = sorted({i for i in subset if subset.count(i) > 1})
    if dupes:
        raise ScenarioAssignmentError("scenario_subset", f"duplicate ids {dupes}")
    return subset


@dataclass(frozen=True)
class EnvInstance:
    """One env among ``num_workers`` workers x ``num_vector`` sub-envs.

    ``worker_index`` follows RLlib: 0 is the local (driver) env runner, ``1..num_workers`` the remote
    ones; ``num_workers == 0`` means only the local one samples. ``vector_index`` is the sub-env within
    its worker, ``0..num_vector-1``.
    """

    worker_index: int = 0
    vector_index: int = 0
    num_workers: int = 0
    num_vector: int = 1

    def __post_init__(self) -> None:
        for name in ("worker_index", "vector_index", "num_workers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ScenarioAssignmentError(name, f"expected an integer >= 0, got {value!r}")
        if not isinstance(self.num_vector, int) or isinstance(self.num_vector, bool) or self.num_vector < 1:
            raise ScenarioAssignmentError("num_vector", f"expected a positive integer, got {self.num_vector!r}")
        if self.vector_index >= self.num_vector:
            raise ScenarioAssignmentError(
                "vector_index", f"{self.vector_index} is out of range for {self.num_vector} sub-envs per worker"
            )
        if self.worker_index > self.num_workers:
            raise ScenarioAssignmentError(
                "worker_index", f"{self.worker_index} is out of range for {self.num_workers} remote workers"
            )

    @property
    def sampling_workers(self) -> int:
        """Workers that sample: the remote ones, or the local one when there are none."""
        return max(self.num_workers, 1)

    @property
    def count(self) -> int:
        """Sampling env instances in all: ``sampling_workers * num_vector``."""
        return self.sampling_workers * self.num_vector

    @property
    def index(self) -> int:
        """Flat position ``0..count-1`` among the sampling instances; the local worker of a set with
        remote workers (it does not sample) shares position ``vector_index`` with the first remote one."""
        worker = self.worker_index - 1 if self.num_workers and self.worker_index else 0
        return worker * self.num_vector + self.vector_index

    @property
    def id(self) -> str:
        """``"w<worker_index>-e<vector_index>"``: lower-case letters, digits and ``-`` only."""
        return f"w{self.worker_index}-e{self.vector_index}"

    def seed(self, base_seed: int) -> int:
        """``base_seed + index``: distinct for every sampling instance of one run."""
        return int(base_seed) + self.index


def with_instance(config: Mapping[str, Any], instance: EnvInstance) -> dict[str, Any]:
    """The env ``config`` with ``instance.id`` as ``backend_options["instance"]`` when the backend is
    ``"simkube"`` (the run then labels everything it makes ``sim-arena.io/instance=<id>``); an id
    already given wins. Other backends: ``config`` unchanged (a copy)."""
    out = dict(config)
    if out.get("backend") == "simkube":
        options = dict(out.get("backend_options") or {})
        options.setdefault("instance", instance.id)
        out["backend_options"] = options
    return out

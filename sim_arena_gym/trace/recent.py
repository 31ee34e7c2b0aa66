"""Memos of what was used lately, for values that are made, used a few times and dropped.

The environment simulates a new edit state by writing it into a fresh copy of one workload's object
(:class:`~sim_arena_gym.trace.workloads._LastOccurrenceEditor`); the copy is validated, parsed and
hashed once or twice, then never seen again. Memoising such copies in the long-lived tables that hold
a trace's shared objects would keep every copy alive until the table is cleared, and each object kept
alive that long is one more object that every full collection of the garbage collector walks: the
collector runs a full collection whenever the objects that survived two collections reach a quarter
of the long-lived ones, so what each simulated state leaves in such a table costs collection time
however large the table is.

:class:`RecentMemo` keeps entries for a short while instead: two generations of at most ``size``
entries each. An entry goes into the young generation; when that is full, it becomes the old one (the
previous old generation is dropped). A hit in the old generation copies the entry back into the young
one, so an entry stays while it keeps being used and goes soon after it is not. An entry lives for at
most ``2 * size`` insertions after its last use, short enough that a throw-away copy dies before the
collector moves it to its oldest generation.

It tolerates concurrent use from threads (the embedded backends of threaded envs share the process's
memos): each step is a single dict operation, and a race can only lose an entry, never give a wrong
one.
"""

from __future__ import annotations

from typing import Any, Hashable

__all__ = ["RecentMemo"]


class RecentMemo:
    """A bounded memo of the entries used lately (see the module docstring).

    Args:
        size: entries per generation (at most ``2 * size`` held).
    """

    __slots__ = ("size", "young", "old")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"RecentMemo size must be at least 1, got {size}")
        self.size = size
        self.young: dict[Hashable, Any] = {}
        self.old: dict[Hashable, Any] = {}

    def __len__(self) -> int:
        return len(self.young) + len(self.old)

    def get(self, key: Hashable) -> Any:
        """The entry stored for ``key``, or ``None``; an entry found in the old generation is moved
        back into the young one."""
        found = self.young.get(key)
        if found is None:
            found = self.old.get(key)
            if found is not None:
                self.put(key, found)
        return found

    def put(self, key: Hashable, value: Any) -> None:
        """Store ``value`` (not ``None``) for ``key`` in the young generation."""
        young = self.young
        if len(young) >= self.size:
            self.old = young
            young = self.young = {}
        young[key] = value

    def clear(self) -> None:
        self.young = {}
        self.old = {}

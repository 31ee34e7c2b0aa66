"""Which objects the env's editor made from which: ``new`` is ``old`` with only container requests,
limits and ``spec.replicas`` changed.

:class:`~sim_arena_gym.trace.workloads._LastOccurrenceEditor` records each object it makes
(:func:`note_resource_edit`), and the readers use it:

* :class:`~sim_arena_gym.trace.validate.ObjectValidator` checks only those fields of ``new`` when it
  has checked ``old``;
* the simulator's parser (:class:`~sim_arena_gym.sim.parse.ObjectParser`) and validator keep what
  they memoise about such an object in short-lived memos (:class:`~sim_arena_gym.trace.recent.
  RecentMemo`) instead of their long-lived tables: an edited copy is used for one simulated state
  and then dropped.

The record is itself a :class:`RecentMemo` (an object is looked up right after it is made, and an
object the editor keeps reusing stays known while it is used); a record that has gone only makes
its object be checked in full.

An object that its maker keeps for reuse (the env without an outcome cache keeps each state's trace,
:attr:`~sim_arena_gym.env.state.ScenarioContext.keep_traces`) is marked lasting (:func:`keep_derived`):
its record then stays (bounded table, cleared when full) and the readers memoise it in their
long-lived tables, as it will be read again.
"""

from __future__ import annotations

from typing import Any, Mapping

from sim_arena_gym.trace.recent import RecentMemo

__all__ = ["derived_from", "is_lasting", "keep_derived", "note_resource_edit"]

#: ``id(new) -> (new, old)``; the reference to ``new`` keeps its id valid.
_DERIVED = RecentMemo(8)


#: ``id(new) -> (new, old)`` of the records marked lasting (:func:`keep_derived`).
_LASTING: dict[int, tuple[Mapping[str, Any], Mapping[str, Any]]] = {}
#: Entries of :data:`_LASTING` before it is cleared (a cleared record only costs a full check).
_LASTING_LIMIT = 16384


def note_resource_edit(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Record that ``new`` is ``old`` with only container requests/limits and ``spec.replicas``
    changed (what the env's editor makes)."""
    _DERIVED.put(id(new), (new, old))


def derived_from(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The object ``obj`` was made from by :func:`note_resource_edit`'s kind of edit, if recorded."""
    found = _DERIVED.get(id(obj))
    if found is not None and found[0] is obj:
        return found[1]
    found = _LASTING.get(id(obj))
    if found is not None and found[0] is obj:
        return found[1]
    return None


def keep_derived(obj: Mapping[str, Any]) -> bool:
    """Mark the record of ``obj`` (if it has one) lasting: its maker keeps ``obj`` to be read again.
    Returns whether there was a record."""
    found = _DERIVED.get(id(obj))
    if found is None or found[0] is not obj:
        return False
    if len(_LASTING) >= _LASTING_LIMIT:
        _LASTING.clear()
    _LASTING[id(obj)] = found
    return True


def is_lasting(obj: Mapping[str, Any]) -> bool:
    """Whether ``obj``'s record was marked lasting (:func:`keep_derived`)."""
    found = _LASTING.get(id(obj))
    return found is not None and found[0] is obj

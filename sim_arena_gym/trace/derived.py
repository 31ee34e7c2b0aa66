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

A record may also carry :class:`EditFacts` (:func:`note_resource_edit`'s ``facts``): what the maker
knows about ``new`` because it wrote it from integers -- the pods it asks for at once, that its
container requests and limits pass the validator's checks, and its parse. The validator then checks
only the pod bound, and the parser returns that parse. The env sets them for the edits it derives
from a base parse (:func:`~sim_arena_gym.sim.edited.derive_edited_deployment`, checked to equal a full
parse by ``tests/test_env_fused_edit.py``).

An object that its maker keeps for reuse (the env without an outcome cache keeps each state's trace,
:attr:`~sim_arena_gym.env.state.ScenarioContext.keep_traces`) is marked lasting (:func:`keep_derived`):
its record then stays (bounded table, cleared when full) and the readers memoise it in their
long-lived tables, as it will be read again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from sim_arena_gym.trace.recent import RecentMemo

__all__ = [
    "EditFacts", "derived_facts", "derived_from", "derived_record", "is_lasting", "keep_derived", "note_resource_edit",
]


@dataclass(frozen=True, slots=True)
class EditFacts:
    """What the maker of an edited object knows about it (see the module docstring).

    Attributes:
        pods: the pods it asks for at once (``spec.replicas``, 1 when absent); the validator still
            checks it against the pod bound in force.
        parsed: its parse (a :class:`~sim_arena_gym.sim.parse.ParsedObject`, equal to what the
            parser would give), whose container requests and limits passed the checks the validator
            and the parser make on them (valid quantities, each request at most its limit).
    """

    pods: int
    parsed: Any


#: ``id(new) -> (new, old, facts)``; the reference to ``new`` keeps its id valid.
_DERIVED = RecentMemo(8)


#: ``id(new) -> (new, old, facts)`` of the records marked lasting (:func:`keep_derived`).
_LASTING: dict[int, tuple[Mapping[str, Any], Mapping[str, Any], EditFacts | None]] = {}
#: Entries of :data:`_LASTING` before it is cleared (a cleared record only costs a full check).
_LASTING_LIMIT = 16384


def note_resource_edit(old: Mapping[str, Any], new: Mapping[str, Any], facts: EditFacts | None = None) -> None:
    """Record that ``new`` is ``old`` with only container requests/limits and ``spec.replicas``
    changed (what the env's editor makes), with what its maker knows of it (``facts``), if anything.
    Noting ``new`` again replaces its record."""
    _DERIVED.put(id(new), (new, old, facts))


def derived_record(obj: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any], EditFacts | None] | None:
    """``(obj, old, facts)`` as recorded for ``obj`` (short-lived or lasting), or ``None``: the
    object it was made from and its maker's :class:`EditFacts` (or ``None``), in one look-up."""
    found = _DERIVED.get(id(obj))
    if found is not None and found[0] is obj:
        return found
    found = _LASTING.get(id(obj))
    if found is not None and found[0] is obj:
        return found
    return None


def derived_from(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The object ``obj`` was made from by :func:`note_resource_edit`'s kind of edit, if recorded."""
    found = derived_record(obj)
    return None if found is None else found[1]


def derived_facts(obj: Mapping[str, Any]) -> EditFacts | None:
    """The :class:`EditFacts` recorded with ``obj`` (:func:`note_resource_edit`), if any."""
    found = derived_record(obj)
    return None if found is None else found[2]


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

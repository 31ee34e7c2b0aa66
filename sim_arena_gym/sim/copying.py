"""Copies of a replay's object graph: every pod and controller once, references re-pointed.

A replay's mutable state is a graph: pods point at their owning controller and spread group,
controllers at their pods, their owner and their child controllers, the cluster and the scheduler at
pods, timers at controllers. :class:`StateCopier` copies such a graph: :meth:`StateCopier.pod` and
:meth:`StateCopier.controller` return the one copy of an original (made on first request, so pods
and controllers reachable only from a timer or a deleted owner are copied too), and
:meth:`StateCopier.finish` lets each copied controller re-point its references
(``Controller.relink``) until no new copy appears. Immutable values -- parsed specs, templates,
requests, constraints, strings, tuples -- are shared, never copied.

The copy and the original share no mutable object, so either may be run on without changing the
other (:mod:`sim_arena_gym.sim.snapshot` relies on it; ``tests/test_sim_snapshot.py`` walks both
graphs to check it).
"""

from __future__ import annotations

from typing import Any

__all__ = ["StateCopier"]


class StateCopier:
    """One copy of a pod/controller graph; see the module docstring.

    Attributes:
        memo: ``id(original)`` -> copy, for every pod and controller copied so far (the originals
            stay alive while the copier is used, so their ids stay valid).
    """

    __slots__ = ("memo", "_pending")

    def __init__(self) -> None:
        self.memo: dict[int, Any] = {}
        self._pending: list[Any] = []

    def pod(self, pod: Any) -> Any:
        """The copy of ``pod`` (a :class:`~sim_arena_gym.sim.cluster.Pod`), its owner and group
        re-pointed at their copies."""
        found = self.memo.get(id(pod))
        if found is not None:
            return found
        new = self.memo[id(pod)] = pod.copy()
        owner = pod.owner
        if owner is not None:
            new.owner = self.controller(owner)
        group = pod.group
        if group is not None:  # the owning ReplicaSet or StatefulSet
            new.group = new.owner if group is owner else self.controller(group)
        return new

    def pods(self, pods: dict[Any, Any]) -> dict[Any, Any]:
        """``{key: self.pod(p)}`` for a map of pods (written out: maps of pods are most of a copy)."""
        memo = self.memo
        get = memo.get
        controller = self.controller
        out = {}
        for key, p in pods.items():
            new = get(id(p))
            if new is None:  # self.pod(p), inlined
                new = memo[id(p)] = p.copy()
                owner = p.owner
                group = p.group
                if owner is not None:
                    found = get(id(owner))
                    new.owner = found if found is not None else controller(owner)
                    if group is not None:
                        new.group = new.owner if group is owner else controller(group)
                elif group is not None:
                    new.group = controller(group)
            out[key] = new
        return out

    def copied_pods(self, pods: dict[Any, Any]) -> dict[Any, Any]:
        """:meth:`pods` for a map whose pods were most likely copied already (a node's pods, a
        controller's pods, after the replay's map of every pod): one lookup each, :meth:`pods` if one
        was not."""
        try:  # C loops only (a comprehension is a function call per map on Python 3.11)
            return dict(zip(pods, map(self.memo.__getitem__, map(id, pods.values()))))
        except KeyError:
            return self.pods(pods)

    def controller(self, controller: Any) -> Any:
        """The copy of ``controller``; its references are re-pointed by :meth:`finish`."""
        found = self.memo.get(id(controller))
        if found is not None:
            return found
        new = self.memo[id(controller)] = controller.copy()
        self._pending.append(new)
        return new

    def finish(self) -> None:
        """Re-point the references of every copied controller (copying what they reach)."""
        pending = self._pending
        while pending:
            pending.pop().relink(self)

"""The oracle: plans a shortest repair with the simulator itself."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from sim_arena_gym.env.actions import EditState


class OraclePolicy:
    """Breadth-first search over action sequences from the current state, with the env's own action
    rules (safeguards included) and its backend; returns the first action of a shortest sequence that
    ends in success. The upper bound for learned agents.

    The search runs on :class:`~sim_arena_gym.env.actions.EditState` values through
    ``env.unwrapped.transition`` and ``env.unwrapped.simulate``, so the live episode is never touched
    (``simulate`` reads the env's outcome cache but does not write to it; the oracle keeps its own).
    States are deduplicated (edits commute, so ``cpu_down, replicas_down`` and ``replicas_down,
    cpu_down`` reach one state) and the depth is bounded by the steps left in the episode. A plan is
    kept and followed while the env is where the plan expects it, and recomputed otherwise.

    Args:
        env: the env the policy acts in.
        max_states: most states simulated per search (a safety bound; the default covers any repair of
            the generated scenarios).
        cache_size: simulated states remembered across searches.

    When no repair exists within the budget, the oracle returns ``noop``.
    """

    def __init__(self, env: Any, max_states: int = 50_000, cache_size: int = 100_000) -> None:
        self.env = env
        self.max_states = max_states
        self._cache: OrderedDict[tuple[str, EditState], Any] = OrderedDict()
        self._cache_size = cache_size
        u = env.unwrapped
        self._noop = u.action_index("noop")
        self._moves = [i for i, n in enumerate(u.action_names) if n != "noop"]
        self._plan: tuple[str, list[EditState], list[int]] | None = None  # (scenario, states, actions)
        self.last_search_states = 0

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        u = self.env.unwrapped
        if info.get("success") or u.view.success:
            return self._noop
        sid = u.scenario.id
        state = u.edit_state
        plan = self._plan
        if plan is not None and plan[0] == sid:
            states, actions = plan[1], plan[2]
            if states and states[0] == state and actions:
                states.pop(0)
                return actions.pop(0)
        budget = max(1, u.max_steps - u.steps_taken)
        found = self.plan(state, budget)
        if not found:
            self._plan = None
            return self._noop
        states, actions = found
        # states[k] is the state the action actions[k] is applied to.
        self._plan = (sid, states[1:], actions[1:])
        return actions[0]

    def plan(self, start: EditState, max_depth: int) -> tuple[list[EditState], list[int]] | None:
        """A shortest action sequence from ``start`` to success within ``max_depth`` actions, as the
        states visited (before each action) and the action ids; ``None`` if there is none."""
        u = self.env.unwrapped
        sid = u.scenario.id
        parent: dict[EditState, tuple[EditState, int] | None] = {start: None}
        frontier = [start]
        simulated = 0
        for _ in range(max_depth):
            nxt: list[EditState] = []
            for s in frontier:
                for a in self._moves:
                    ns, blocked = u.transition(s, a)
                    if blocked is not None or ns in parent:
                        continue
                    parent[ns] = (s, a)
                    simulated += 1
                    if self._simulate(sid, ns).success:
                        self.last_search_states = simulated
                        return _path(parent, ns)
                    if simulated >= self.max_states:
                        self.last_search_states = simulated
                        return None
                    nxt.append(ns)
            frontier = nxt
            if not frontier:
                break
        self.last_search_states = simulated
        return None

    def _simulate(self, sid: str, state: EditState) -> Any:
        key = (sid, state)
        view = self._cache.get(key)
        if view is None:
            view = self.env.unwrapped.simulate(state)
            self._cache[key] = view
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return view


def _path(parent: dict[EditState, tuple[EditState, int] | None], end: EditState) -> tuple[list[EditState], list[int]]:
    states: list[EditState] = []
    actions: list[int] = []
    node = end
    while True:
        link = parent[node]
        if link is None:
            break
        prev, a = link
        states.append(prev)
        actions.append(a)
        node = prev
    states.reverse()
    actions.reverse()
    return states, actions

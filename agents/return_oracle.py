"""The return oracle: plans, with the simulator and full knowledge, the action sequence of highest return.

The shortest-path oracle (:mod:`agents.oracle`) is optimal for ``binary`` and ``gradual`` rewards,
whose returns depend only on the number of steps, but not for ``penalty``, where a repair that asks less
above the app's usage (less waste) may be worth a step or two more, and throttled or collateral states on
the way cost. This oracle maximises the env's own reward, whatever the mode and weights.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

from agents.oracle import OraclePolicy
from sim_arena_gym.env.actions import EditState
from sim_arena_gym.env.rewards import waste


class ReturnOraclePolicy(OraclePolicy):
    """Best-first (A*) search for the action sequence of highest return within the steps left.

    Nodes are :class:`~sim_arena_gym.env.actions.EditState` values reached through
    ``env.unwrapped.transition`` and ``env.unwrapped.simulate`` (the simulator knows the usage floors
    the agent cannot see); edges carry the env's reward (``env.unwrapped.reward_of``). A node's priority
    is its return so far plus an upper bound on what the rest of the episode can still earn:

    * ``binary``: the success reward;
    * ``gradual``: ``potential_max - potential(s) + w_success - w_step_cost`` (its shaping terms are
      differences of a potential, :meth:`~sim_arena_gym.env.rewards.GradualReward.potential`);
    * ``penalty``: ``max over k >= 1`` of ``w_success - w_waste * max(0, waste(s) - k * delta) -
      k * w_step_cost``, ``delta`` being the most one step can lower the waste (a x 3/4 move of the
      largest request, or one fixed step).

    The bound never underestimates, so the first time the best node's priority is no better than the
    best repair found, that repair is optimal (the usual A* argument). Blocked actions and ``noop`` are
    never part of an optimal plan (they leave the state as it is and cost at least nothing), so they are
    not expanded. With its full knowledge the oracle also leaves out moves that cannot pay (see
    :meth:`relevant_moves`): replicas moves away from the target, and requests of a resource nothing
    is short of (no pod Pending for it, no container below its floor) unless lowering them could save
    more waste than a step costs (``penalty``). Returns reached again with no more than a return already seen are dropped (for the
    three modes a state's later arrival is never worth more: every step costs).

    Args:
        env: the env the policy acts in.
        max_states: most states simulated per search; past it the best repair found so far is used
            (``last_search_exact`` is then false).
        penalty_states, second_pass_states: most states of the two ``penalty`` passes when a plan to
            beat is given (:meth:`plan`); past them the best plan found is used.
        cache_size: simulated states remembered across searches.

    Attributes after :meth:`plan`: ``last_search_states``, ``last_search_exact``, ``last_plan_return``.
    """

    def __init__(self, env: Any, max_states: int = 1_500_000, cache_size: int = 200_000,
                 penalty_states: int = 30_000, second_pass_states: int = 10_000) -> None:
        super().__init__(env, max_states=max_states, cache_size=cache_size)
        self.second_pass_states = second_pass_states
        self.penalty_states = penalty_states
        self.last_search_exact = True
        self.last_plan_return: float | None = None

    # ------------------------------------------------------------------------------------------------
    # act() is OraclePolicy's: follow the plan while the env is where it expects, re-plan otherwise.

    def plan(
        self, start: EditState, max_depth: int, seed_actions: list[int] | None = None
    ) -> tuple[list[EditState], list[int]] | None:
        """The highest-return action sequence from ``start`` that ends in success within ``max_depth``
        actions, as the states before each action and the action ids; ``None`` if no repair is found.

        Two passes. Moves on different requests (or on the replicas) commute, so any plan can be
        reordered to edit the coordinates in a fixed order without changing its end state or length;
        the first pass searches only such ordered plans (far fewer), which is exact for ``binary`` and
        ``gradual`` (their return depends only on the end state and the length). For ``penalty`` (whose
        throttled / collateral terms depend on the states on the way) a second, unrestricted pass
        starts from the first pass's return as the bar to beat, and keeps the better plan; it stops
        after ``second_pass_states`` simulated states (then ``last_search_exact`` is false)."""
        reward = self.env.unwrapped.reward_function
        seeded = self._replay(start, seed_actions, max_depth) if seed_actions else None
        incumbent = None if seeded is None else seeded[2]
        limit = None if reward.name in ("binary", "gradual") or seeded is None else self.penalty_states
        first = self._search(start, max_depth, ordered=True, incumbent=incumbent, max_states=limit)
        exact = self.last_search_exact
        found = first if first is not None else seeded
        if reward.name not in ("binary", "gradual"):
            bar = None if found is None else found[2]
            second = self._search(start, max_depth, ordered=False, incumbent=bar, max_states=self.second_pass_states)
            exact = exact and self.last_search_exact
            found = second if second is not None else found
        self.last_search_exact = exact
        if found is None:
            return None
        self.last_plan_return = found[2]
        return found[0], found[1]

    def _replay(
        self, start: EditState, actions: list[int], max_depth: int
    ) -> tuple[list[EditState], list[int], float] | None:
        """``(states, actions, return)`` of following ``actions`` from ``start``, if they end in success."""
        u = self.env.unwrapped
        sid = u.scenario.id
        state, view, total, states = start, self._simulate(sid, start), 0.0, []
        for a in actions[:max_depth]:
            ns, blocked = u.transition(state, a)
            nview = self._simulate(sid, ns)
            r, _ = u.reward_of(view, nview, blocked is not None)
            states.append(state)
            total += r
            state, view = ns, nview
            if view.success:
                return states, list(actions[: len(states)]), total
        return None

    def relevant_moves(self, view: Any) -> list[int]:
        """The moves worth searching from ``view``'s state (see the class docstring)."""
        u = self.env.unwrapped
        ctx = u.context
        state = view.state
        c = ctx.constants
        text = " ".join(p.message for p in view.outcome.pods if p.phase == "Pending")
        short = {"cpu": "Insufficient cpu" in text, "memory": "Insufficient memory" in text}
        # A resource the target's pods cannot all get beside the other workloads is short as well,
        # even when the scheduler names only the other one now.
        others_cpu = sum(p.cpu_request_millis for p in view.outcome.pods
                         if p.workload != ctx.workload_key and p.node is not None)
        others_mem = sum(p.memory_request_bytes for p in view.outcome.pods
                         if p.workload != ctx.workload_key and p.node is not None)
        if c.target * view.pod_cpu_millis > c.cluster_cpu_millis - others_cpu:
            short["cpu"] = True
        if c.target * view.pod_memory_bytes > c.cluster_memory_bytes - others_mem:
            short["memory"] = True
        short["memory"] = short["memory"] or bool(view.oom_containers)
        short["cpu"] = short["cpu"] or bool(view.throttled_containers)
        for i, floor in enumerate(ctx.floors):
            if floor.memory_bytes is not None and (state.memory[i] or 0) < floor.memory_bytes:
                short["memory"] = True
            if floor.cpu_millis is not None and (state.cpu[i] or 0) < floor.cpu_millis:
                short["cpu"] = True
        reward = u.reward_function
        guards = u.safeguards
        pays: dict[tuple[str, int], bool] = {}
        if reward.name == "penalty":
            w = reward.weights
            for i, floor in enumerate(ctx.floors):
                for resource, values, ref, node in (
                    ("cpu", state.cpu, max(floor.cpu_millis or 0, guards.cpu_min_millis), c.node_cpu_millis),
                    ("memory", state.memory, max(floor.memory_bytes or 0, guards.memory_min_bytes), c.node_memory_bytes),
                ):  # fmt: skip
                    over = (values[i] or 0) - ref
                    pays[(resource, i)] = node > 0 and w["waste"] * over / (2 * node) > w["step_cost"]
        out = []
        target = c.target
        for a in self._moves:
            spec = u._actions.actions[a]
            resource = getattr(spec, "resource", "none")
            if resource == "replicas":
                if (spec.sign > 0 and state.replicas < target) or (spec.sign < 0 and state.replicas > target):
                    out.append(a)
                continue
            slot = getattr(spec, "slot", None)
            slots = range(len(state.cpu)) if slot is None else (slot,)
            if short.get(resource) or any(pays.get((resource, i)) for i in slots):
                out.append(a)
        return out

    def _coordinate(self, action: int) -> int:
        """Which coordinate of the state an action moves: its slot and resource, or the replicas."""
        spec = self.env.unwrapped._actions.actions[action]
        resource = getattr(spec, "resource", "none")
        slot = getattr(spec, "slot", None)
        if resource == "replicas":
            return 1_000
        base = 0 if slot is None else 2 * slot
        return base + (0 if resource == "cpu" else 1)

    def _search(
        self, start: EditState, max_depth: int, *, ordered: bool, incumbent: float | None,
        max_states: int | None = None,
    ) -> tuple[list[EditState], list[int], float] | None:
        limit = self.max_states if max_states is None else max_states
        u = self.env.unwrapped
        sid = u.scenario.id
        reward = u.reward_function
        bound = self._bound_fn(reward)
        start_view = self._simulate(sid, start)
        moves = self.relevant_moves(start_view)
        coords = {a: self._coordinate(a) for a in moves}
        root = (start, -1)
        best_g: dict[tuple[EditState, int], float] = {root: 0.0}
        parent: dict[tuple[EditState, int], tuple[tuple[EditState, int], int] | None] = {root: None}
        tie = itertools.count()
        heap: list[tuple[float, int, int, tuple[EditState, int], Any]] = []
        heapq.heappush(heap, (-bound(start_view), next(tie), 0, root, start_view))
        best_return = incumbent
        best_end: tuple[tuple[EditState, int], int] | None = None
        simulated = 0
        exact = True
        while heap:
            neg_f, _, depth, key, view = heapq.heappop(heap)
            if best_return is not None and -neg_f <= best_return + 1e-12:
                break
            state, last = key
            g = best_g[key]
            if depth >= max_depth:
                continue
            for a in moves:
                coord = coords[a]
                if ordered and coord < last:
                    continue
                ns, blocked = u.transition(state, a)
                if blocked is not None or ns == state:
                    continue
                nview = self._simulate(sid, ns)
                simulated += 1
                r, _ = u.reward_of(view, nview, False)
                ng = g + r
                if nview.success:
                    if best_return is None or ng > best_return + 1e-12:
                        best_return, best_end = ng, (key, a)
                    continue
                if depth + 1 >= max_depth:
                    continue
                nkey = (ns, coord if ordered else -1)
                old = best_g.get(nkey)
                if old is not None and ng <= old + 1e-12:
                    continue
                best_g[nkey] = ng
                parent[nkey] = (key, a)
                heapq.heappush(heap, (-(ng + bound(nview)), next(tie), depth + 1, nkey, nview))
            if simulated >= limit:
                exact = False
                break
        self.last_search_states = simulated
        self.last_search_exact = exact
        if best_end is None or best_return is None:
            return None
        states: list[EditState] = []
        actions: list[int] = []
        node, a = best_end
        while True:
            states.append(node[0])
            actions.append(a)
            link = parent[node]
            if link is None:
                break
            node, a = link
        states.reverse()
        actions.reverse()
        return states, actions, best_return

    def _bound_fn(self, reward: Any) -> Any:
        """``view -> upper bound on the return still to come`` for the env's reward mode."""
        u = self.env.unwrapped
        ctx = u.context
        w = reward.weights
        if reward.name == "binary":
            return lambda view: 1.0
        if reward.name == "gradual":
            top = float(w["progress"])  # the potential is at most w_progress (everything healthy)
            rest = float(w["success"]) - float(w["step_cost"])
            return lambda view: top - reward.potential(view, ctx) + rest
        guards = u.safeguards
        c = ctx.constants
        w_s, w_w, w_c = float(w["success"]), float(w["waste"]), float(w["step_cost"])

        def penalty_bound(view: Any) -> float:
            state = view.state
            top_cpu = max([guards.cpu_max_millis, *(v or 0 for v in state.cpu)])
            top_mem = max([guards.memory_max_bytes, *(v or 0 for v in state.memory)])
            delta = 0.5 * max(
                (top_cpu / 4 + guards.cpu_step_millis) / c.node_cpu_millis if c.node_cpu_millis else 0.0,
                (top_mem / 4 + guards.memory_step_bytes) / c.node_memory_bytes if c.node_memory_bytes else 0.0,
            )
            now = waste(view, ctx, guards)
            best = w_s - w_w * max(0.0, now - delta) - w_c
            k = 1
            while delta > 0 and now - k * delta > 0 and k < 64:
                k += 1
                best = max(best, w_s - w_w * max(0.0, now - k * delta) - k * w_c)
            return best

        return penalty_bound


#: Reward modes :func:`oracle_record` measures.
RECORD_MODES: tuple[str, ...] = ("binary", "gradual", "penalty")


def oracle_record(scenario: Any, *, env_id: str = "SimArena-Hard-v0", **env_kwargs: Any
                  ) -> tuple[int | None, dict[str, float] | None]:
    """The return oracle's record on ``scenario`` in ``env_id`` (its default config, ``env_kwargs`` on
    top): ``(steps, {mode: return})``, steps being those of its ``gradual`` episode (a shortest repair)
    and returns rounded to 6 decimals; ``(None, None)`` when an episode does not end in success.

    ``binary`` and ``gradual`` returns depend only on the repair's length, so the ``gradual`` plan is
    optimal for both (it is replayed in ``binary``); the ``penalty`` search starts from that plan's
    ``penalty`` return as the bar to beat."""
    import gymnasium as gym

    import sim_arena_gym  # noqa: F401  (registers the ids)

    def episode(mode: str, seed_actions: list[int] | None, replay: bool) -> tuple[bool, float, list[int]]:
        env = gym.make(env_id, scenarios=[scenario], reward_mode=mode, **env_kwargs)
        try:
            policy = ReturnOraclePolicy(env)
            obs, info = env.reset()
            u = env.unwrapped
            if replay and seed_actions is not None:
                plan = list(seed_actions)
            else:
                found = policy.plan(u.edit_state, u.max_steps, seed_actions=seed_actions)
                plan = [] if found is None else found[1]
            total, taken = 0.0, []
            for a in plan:
                obs, r, terminated, truncated, info = env.step(a)
                total += r
                taken.append(a)
                if terminated or truncated:
                    break
            return bool(info["success"]), total, taken
        finally:
            env.close()

    ok, g_return, actions = episode("gradual", None, False)
    if not ok:
        return None, None
    ok_b, b_return, _ = episode("binary", actions, True)
    ok_p, p_return, _ = episode("penalty", actions, False)
    if not (ok_b and ok_p):
        return None, None
    return len(actions), {"binary": round(b_return, 6), "gradual": round(g_return, 6), "penalty": round(p_return, 6)}

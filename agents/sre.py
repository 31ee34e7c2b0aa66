"""The SRE heuristic for the ``coarse`` action set: the repair an on-call engineer does by hand.

What it knows is what ``kubectl`` shows: the pods of every workload (phase, reason, node), the nodes'
allocatable and requested resources, the pod template's requests. It does not know the usage floors:
an OOMKilled or throttled pod after an edit is how it learns that it went too far.
"""

from __future__ import annotations

from typing import Any

from sim_arena_gym.env.actions import EditState
from sim_arena_gym.sim.outcome import PENDING, RUNNING


class SrePolicy:
    """Rule-based repair with the ``coarse`` action set (any ``edit_containers`` layout), in order:

    1. more replicas than the target -> ``replicas_down``;
    2. pods OOMKilled (throttled): a container's memory (CPU) request is below what it uses. It
       blames the container ``kubectl describe pod`` names (``info["oom_containers"]`` /
       ``info["throttled_containers"]``; among several, the one cut the most relative to its start),
       records that value as too low and *bisects*: moves the request back up to about halfway
       between the value that failed and the last value that ran (the start value if none did);
    3. pods Pending -- the target's, or other workloads' (they share the nodes, and only the target
       may be edited) -- for ``Insufficient cpu`` / ``Insufficient memory``: work out, by arithmetic on
       the nodes' free capacity, the largest pod request that lets every Pending pod fit (the target's
       replicas into what the other workloads leave; or the other workloads' Pending pods into what
       the target leaves), and lower the **largest** container that has not yet failed at a lower
       value by the move (x 3/4, x 7/8 or a fixed step) that gets closest to it without going past
       it; never below a value that already failed;
    4. fewer replicas than the target -> ``replicas_up``;
    5. otherwise ``noop``.

    It remembers, per episode, the lowest value of each container's request that failed and the
    last value that did not. One look and a little memory; no search, no simulation, no usage floors.
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        u = env.unwrapped
        self._names = u.action_names
        self._ids = {n: i for i, n in enumerate(self._names)}
        self._failed: dict[tuple[int, str], int] = {}
        self._good: dict[tuple[int, str], int] = {}
        self._episode: tuple[str, int] | None = None
        self._origin: EditState | None = None
        self._named: dict[str, set[str]] = {}

    # ------------------------------------------------------------------------------------------------

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        u = self.env.unwrapped
        ids = self._ids
        step = int(info.get("step", 0))
        if step == 0 or self._episode is None or self._episode[0] != info.get("scenario") or step < self._episode[1]:
            self._failed, self._good = {}, {}
            self._origin = u.edit_state
        self._episode = (str(info.get("scenario")), step)
        mask = info.get("action_mask")
        if info.get("success"):
            return ids["noop"]
        state: EditState = u.edit_state
        replicas, target = int(info["replicas"]), int(info["target"])
        oom, throttled = int(info.get("oom_killed", 0)), int(info.get("throttled", 0))
        self._named = {
            "memory": set(info.get("oom_containers", ())),
            "cpu": set(info.get("throttled_containers", ())),
        }
        self._learn(state, oom, throttled)
        if replicas > target and self._ok("replicas_down", mask):
            return self._do(ids["replicas_down"], state)
        for resource, bad in (("memory", oom), ("cpu", throttled)):
            if bad:
                action = self._back_off(u, state, resource, mask)
                if action is not None:
                    return self._do(action, state)
        action = self._shrink(u, state, info, mask)
        if action is not None:
            return self._do(action, state)
        if replicas < target and self._ok("replicas_up", mask):
            return self._do(ids["replicas_up"], state)
        return self._do(ids["noop"], state)

    # ------------------------------------------------------------------------------------------------
    # Memory of what failed

    def _learn(self, state: EditState, oom: int, throttled: int) -> None:
        origin = self._origin or state
        running = bool(self.env.unwrapped.view.ready or oom)
        for resource, failed in (("memory", oom), ("cpu", throttled)):
            values = state.memory if resource == "memory" else state.cpu
            start = origin.memory if resource == "memory" else origin.cpu
            if failed:
                slot = self._blame(values, start, self._candidates(resource, len(values)))
                if slot is not None:
                    known = self._failed.get((slot, resource))
                    now = values[slot] or 0
                    self._failed[(slot, resource)] = now if known is None else max(known, now)
            elif running:
                for slot, v in enumerate(values):
                    good = self._good.get((slot, resource))
                    if v is not None and (good is None or v < good):
                        self._good[(slot, resource)] = v

    def _candidates(self, resource: str, n: int) -> set[int]:
        """Slots of the containers the pod status names for ``resource`` (all when it names none)."""
        names = self.env.unwrapped.context.target.container_names
        named = {i for i, name in enumerate(names) if name in self._named.get(resource, ())}
        return named or set(range(n))

    @staticmethod
    def _blame(values: tuple, start: tuple, candidates: set[int]) -> int | None:
        """Of ``candidates``, the container cut the most relative to its start value (the first
        candidate if none was cut; ``None`` if there is none)."""
        best, best_ratio = None, 1.0 + 1e-9
        for i, (v, s0) in enumerate(zip(values, start)):
            if i in candidates and v is not None and s0:
                ratio = v / s0
                if ratio < best_ratio:
                    best, best_ratio = i, ratio
        return best

    def _do(self, action: int, state: EditState) -> int:
        return action

    def _ok(self, name: str, mask: Any) -> bool:
        i = self._ids.get(name)
        return i is not None and (mask is None or bool(mask[i]))

    # ------------------------------------------------------------------------------------------------
    # Rules

    def _moves_of(self, slot: int, resource: str, direction: str) -> list[int]:
        """Action ids that move ``resource`` of container ``slot`` in ``direction`` (``up`` / ``down``)."""
        out = []
        for name, i in self._ids.items():
            parts = name.split("_")
            if name.startswith(f"c{slot}_"):
                parts = parts[1:]
            elif name.startswith("c") and name[1:2].isdigit():
                continue
            if len(parts) >= 2 and parts[0] == resource and parts[1] == direction:
                out.append(i)
        return out

    def _value_after(self, state: EditState, action: int, slot: int, resource: str) -> int | None:
        ns, blocked = self.env.unwrapped.transition(state, action)
        if blocked is not None:
            return None
        return (ns.cpu if resource == "cpu" else ns.memory)[slot] or 0

    def _back_off(self, u: Any, state: EditState, resource: str, mask: Any) -> int | None:
        origin = self._origin or state
        values = state.memory if resource == "memory" else state.cpu
        last = self._blame(values, origin.memory if resource == "memory" else origin.cpu,
                           self._candidates(resource, len(values)))
        if last is None:
            if resource == "memory":
                for name in ("c0_memory_up", "memory_up"):
                    if self._ok(name, mask):
                        return self._ids[name]
            return None
        slot = last
        now = values[slot] or 0
        start = ((origin.memory if resource == "memory" else origin.cpu)[slot]) or now
        good = self._good.get((slot, resource))
        if good is None or good <= now:
            good = start
        aim = (now + good) // 2 if good > now else now + 1
        best, best_gap = None, None
        for a in self._moves_of(slot, resource, "up"):
            if mask is not None and not mask[a]:
                continue
            v = self._value_after(state, a, slot, resource)
            if v is None or v <= now:
                continue
            gap = abs(v - aim)
            if best_gap is None or gap < best_gap:
                best, best_gap = a, gap
        return best

    def _shrink(self, u: Any, state: EditState, info: dict[str, Any], mask: Any) -> int | None:
        outcome = u.view.outcome
        key = u.context.workload_key
        mine_pending = [p for p in outcome.pods if p.workload == key and p.phase == PENDING]
        others_pending = [p for p in outcome.pods if p.workload != key and p.phase == PENDING]
        pending = mine_pending or others_pending
        if not pending:
            return None
        reasons = " ".join(p.message for p in pending)
        for resource in ("memory", "cpu"):
            if f"Insufficient {resource}" not in reasons:
                continue
            wanted = self._pod_request_wanted(u, resource, mine_pending, others_pending)
            action = self._lower_largest(state, resource, wanted, mask)
            if action is not None:
                return action
        return None

    def _pod_request_wanted(self, u: Any, resource: str, mine: list, others: list) -> int:
        """The largest pod request of ``resource`` (millicores / bytes) with which the Pending pods fit."""
        outcome = u.view.outcome
        key = u.context.workload_key
        cpu = resource == "cpu"
        pod_now = sum(v or 0 for v in (u.edit_state.cpu if cpu else u.edit_state.memory))
        free: list[int] = []
        target_on: dict[str, int] = {}
        for p in outcome.pods:
            if p.workload == key and p.node is not None and p.phase in (PENDING, RUNNING):
                target_on[p.node] = target_on.get(p.node, 0) + 1
        for n in outcome.nodes:
            alloc = n.allocatable_cpu_millis if cpu else n.allocatable_memory_bytes
            used = n.requested_cpu_millis if cpu else n.requested_memory_bytes
            free.append(alloc - used)
        if mine:
            # Room per node for target pods: free plus what the target's own pods there hold now.
            per_node = [f + target_on.get(n.name, 0) * pod_now for f, n in zip(free, outcome.nodes)]
            need = u.context.constants.target
            x = pod_now
            while x > 0 and sum(r // x for r in per_node) < need:
                x -= self._step(u, resource)
            return max(x, 0)
        # Other workloads' Pending pods: spread over the nodes the target runs on, each node must make
        # room for its share of them; the target's pods there give it up.
        pending_total = sum((p.cpu_request_millis if cpu else p.memory_request_bytes) for p in others)
        hosts = [f for f, n in zip(free, outcome.nodes) if target_on.get(n.name)] or free
        share = -(-pending_total // max(1, len(hosts)))
        count = max(1, max(target_on.values(), default=1))
        short = max(0, share - min(hosts))
        return max(0, pod_now - -(-short // count))

    def _step(self, u: Any, resource: str) -> int:
        g = u.safeguards
        return g.cpu_step_millis if resource == "cpu" else g.memory_step_bytes

    def _lower_largest(self, state: EditState, resource: str, wanted_pod: int, mask: Any) -> int | None:
        values = state.cpu if resource == "cpu" else state.memory
        pod_now = sum(v or 0 for v in values)
        excess = pod_now - wanted_pod
        order = sorted(range(len(values)), key=lambda i: -(values[i] or 0))
        for slot in order:
            now = values[slot] or 0
            failed = self._failed.get((slot, resource))
            aim = now - excess
            if failed is not None:
                aim = max(aim, failed + 1)
            if aim >= now:
                continue
            best, best_v = None, None
            fallback, fallback_v = None, None
            for a in self._moves_of(slot, resource, "down"):
                if mask is not None and not mask[a]:
                    continue
                v = self._value_after(state, a, slot, resource)
                if v is None or v >= now or (failed is not None and v <= failed):
                    continue
                if v >= aim and (best_v is None or v < best_v):
                    best, best_v = a, v
                if fallback_v is None or v > fallback_v:
                    fallback, fallback_v = a, v
            if best is not None:
                return best
            if fallback is not None:
                return fallback
        # The arithmetic says it fits but pods are still Pending (a rollout waiting for room for its
        # surge pod, a spread constraint): lower the largest container that has not failed by one step.
        for slot in order:
            failed = self._failed.get((slot, resource))
            for a in self._moves_of(slot, resource, "down"):
                name = self._names[a]
                if name.endswith(("_medium", "_coarse")) or (mask is not None and not mask[a]):
                    continue
                v = self._value_after(state, a, slot, resource)
                if v is not None and (failed is None or v > failed):
                    return a
        return None

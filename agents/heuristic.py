"""A heuristic operator: the rules a person follows when a Deployment's pods stay Pending."""

from __future__ import annotations

from typing import Any

from sim_arena_gym.env.actions import EditState
from sim_arena_gym.sim.outcome import PENDING, RUNNING, ClusterOutcome


class HeuristicPolicy:
    """Rule-based repair, in priority order:

    1. more replicas than the target -> ``replicas_down`` (extra pods only take room);
    2. pods OOMKilled (memory below what the app uses) -> ``memory_up``;
    3. pods Pending with ``Insufficient cpu`` / ``Insufficient memory`` -> lower that request (when both
       are reported, the one whose lowering lets more pods fit on the nodes soonest, by arithmetic on
       the node capacities), but never below the app's usage floor (the env's ``usage_floors``) nor the
       safeguard floor;
    4. pods CPU-throttled (CPU request below usage) -> ``cpu_up``;
    5. fewer replicas than the target -> ``replicas_up``;
    6. otherwise ``noop``.

    It reads ``info`` (pending reasons, replicas, target, OOMKilled / throttled counts, the action mask)
    and, through ``env.unwrapped``, the current requests in millicores / bytes, the nodes'
    allocatable and what other workloads use, and the usage floors. It never plans: one look, one action.
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        u = env.unwrapped
        names = u.action_names
        self._ids = {n: i for i, n in enumerate(names)}

    def _allowed(self, name: str, mask: Any) -> bool:
        i = self._ids.get(name)
        return i is not None and (mask is None or bool(mask[i]))

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        u = self.env.unwrapped
        ids = self._ids
        mask = info.get("action_mask")
        if info.get("success"):
            return ids["noop"]
        replicas, target = int(info["replicas"]), int(info["target"])
        if replicas > target and self._allowed("replicas_down", mask):
            return ids["replicas_down"]
        if info.get("oom_killed", 0) > 0 and self._allowed("memory_up", mask):
            return ids["memory_up"]
        reasons = set(info.get("pending_reasons", ()))
        if info.get("pending", 0) > 0 and reasons:
            for resource in self._shrink_order(u, reasons):
                name = f"{resource}_down"
                if self._allowed(name, mask) and self._can_shrink(u, u.edit_state, resource):
                    return ids[name]
        if info.get("throttled", 0) > 0 and self._allowed("cpu_up", mask):
            return ids["cpu_up"]
        if replicas < target and self._allowed("replicas_up", mask):
            return ids["replicas_up"]
        return ids["noop"]

    def _shrink_order(self, u: Any, reasons: set[str]) -> list[str]:
        """The insufficient resources, the one whose shrinking lets more pods fit soonest first.

        Fit is counted per node: what the node has left once the other workloads' pods are placed,
        divided by one pod's request (``sum over nodes of min(free cpu // pod cpu, free memory //
        pod memory, free pod slots)``); pure arithmetic on the node capacities, no simulation. Ties go
        to the resource that takes the larger share of the largest node."""
        wanted = [r for r in ("cpu", "memory") if f"Insufficient {r}" in reasons]
        if len(wanted) < 2:
            return wanted
        c = u.constants
        view = u.view
        share = {
            "cpu": view.pod_cpu_millis / c.node_cpu_millis if c.node_cpu_millis else 0.0,
            "memory": view.pod_memory_bytes / c.node_memory_bytes if c.node_memory_bytes else 0.0,
        }
        free = _free_per_node(view.outcome, u.context.workload_key)
        pod_cpu, pod_mem = _pod_request(view, u.context.workload_key)
        n_edit = len(u.context.target.edit_indices)
        steps = {
            "cpu": u.safeguards.cpu_step_millis * n_edit,
            "memory": u.safeguards.memory_step_bytes * n_edit,
        }
        now = _fits(free, pod_cpu, pod_mem)

        def steps_to_gain(resource: str) -> int:
            for k in range(1, 65):
                cpu = pod_cpu - k * steps["cpu"] if resource == "cpu" else pod_cpu
                mem = pod_mem - k * steps["memory"] if resource == "memory" else pod_mem
                if cpu <= 0 or mem <= 0:
                    break
                if _fits(free, cpu, mem) > now:
                    return k
            return 10**6

        return sorted(wanted, key=lambda r: (steps_to_gain(r), -share[r]))

    @staticmethod
    def _can_shrink(u: Any, state: EditState, resource: str) -> bool:
        """Whether one step down keeps every edited container at or above its usage floor."""
        guards = u.safeguards
        ctx = u.context
        if resource == "cpu":
            step, low, values = guards.cpu_step_millis, guards.cpu_min_millis, state.cpu
        else:
            step, low, values = guards.memory_step_bytes, guards.memory_min_bytes, state.memory
        for i in ctx.target.edit_indices:
            floor = ctx.floors[i].cpu_millis if resource == "cpu" else ctx.floors[i].memory_bytes
            if (values[i] or 0) - step < max(low, floor or 0):
                return False
        return True


def _free_per_node(outcome: ClusterOutcome, workload_key: str) -> list[tuple[int, int, int]]:
    """Per node ``(free cpu millicores, free memory bytes, free pod slots)`` once the target workload's
    own pods are taken off."""
    mine: dict[str, tuple[int, int, int]] = {}
    for p in outcome.pods:
        if p.workload == workload_key and p.node is not None and p.phase in (PENDING, RUNNING):
            cpu, mem, n = mine.get(p.node, (0, 0, 0))
            mine[p.node] = (cpu + p.cpu_request_millis, mem + p.memory_request_bytes, n + 1)
    out = []
    for node in outcome.nodes:
        cpu, mem, n = mine.get(node.name, (0, 0, 0))
        out.append((
            node.allocatable_cpu_millis - node.requested_cpu_millis + cpu,
            node.allocatable_memory_bytes - node.requested_memory_bytes + mem,
            node.allocatable_pods - node.pod_count + n,
        ))  # fmt: skip
    return out


def _pod_request(view: Any, workload_key: str) -> tuple[int, int]:
    """The scheduler's request of one target pod (init containers and sidecars included): that of a
    Pending pod of the workload (the newest template), else the template's summed container requests."""
    for p in view.outcome.pods:
        if p.workload == workload_key and p.phase == PENDING:
            return p.cpu_request_millis, p.memory_request_bytes
    return view.pod_cpu_millis, view.pod_memory_bytes


def _fits(free: list[tuple[int, int, int]], cpu: int, mem: int) -> int:
    total = 0
    for fc, fm, fp in free:
        n = fp
        if cpu > 0:
            n = min(n, fc // cpu)
        if mem > 0:
            n = min(n, fm // mem)
        total += max(0, n)
    return total

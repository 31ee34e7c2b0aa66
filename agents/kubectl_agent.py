"""A scripted tool-using agent: repairs a workload reading only kubectl-style text and acting only
with kubectl-style tool calls (``set_resources``, ``scale``), as an LLM agent would through
:class:`~sim_arena_gym.live.text.TextToolEnv` or the MCP server. It stands in for a hosted model in
tests and on the leaderboard; no model is called.

Rules, one tool call per step, first that applies:

1. the Deployment's desired replicas differ from the task's target: ``scale`` to the target;
2. a pod is in ``CrashLoopBackOff`` (OOMKilled): double the memory request and limit of the first
   container;
3. a ``FailedScheduling`` event says ``Insufficient cpu`` and / or ``memory``: scale those requests
   of every container down by the mildest factor at which the target number of pods fit in what the
   nodes have free (allocatable minus what other pods request, from ``kubectl get nodes``' requested
   columns), one ``set_resources`` per container, over as many steps (a request not set takes its
   limit, so a limits-only container gets a request below its limit);
4. otherwise ``noop``.
"""

from __future__ import annotations

import re
from typing import Any

from sim_arena_gym.quantity import cpu_millis, format_cpu, format_memory, memory_bytes

__all__ = ["KubectlScriptedPolicy"]

_TASK = re.compile(r"^Task: make exactly (\d+) pods of (\w+) ([^/\s]+)/(\S+) Running", re.M)
_GRID = {"cpu": 100, "memory": 64 * 2**20}


def _section(text: str, command: str) -> list[str]:
    """The output lines of the ``$ kubectl ... command ...`` section of an observation."""
    for block in text.split("\n\n"):
        lines = block.splitlines()
        if lines and lines[0].startswith("$ kubectl") and command in lines[0]:
            return lines[1:]
    return []


def _table(lines: list[str]) -> list[dict[str, str]]:
    if not lines or lines[0].startswith(("No ", "error")):
        return []
    head = lines[0].split()
    return [dict(zip(head, line.split(None, len(head) - 1))) for line in lines[1:]]


def _quantities(text: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in text.split(", ") if "=" in kv)


class KubectlScriptedPolicy:
    """``act(text, info) -> tool call`` (see the module docstring). ``text_interface`` tells
    ``sim-arena evaluate`` to play it through :class:`~sim_arena_gym.live.text.TextToolEnv`."""

    text_interface = True

    def __init__(self, env: Any = None, **_: Any) -> None:
        del env
        self._plan: list[dict[str, Any]] = []

    def act(self, observation: str, info: dict[str, Any]) -> dict[str, Any]:
        task = _TASK.search(observation)
        if task is None:
            return {"tool": "noop"}
        if " Step 0 of " in observation.split("\n", 1)[0]:
            self._plan = []  # a new task
        if self._plan:
            return self._plan.pop(0)
        target, name = int(task.group(1)), task.group(4)
        describe = _section(observation, "describe")
        pods = _table(_section(observation, "get pods"))
        nodes = _table(_section(observation, "get nodes"))
        events = _section(observation, "get events")
        desired = next((int(m.group(1)) for m in (re.search(r"Replicas:\s+(\d+) desired", line) for line in describe) if m), None)
        containers = self._containers(describe)
        if desired is not None and desired != target:
            return {"tool": "scale", "deployment": name, "replicas": target}
        if not containers:
            return {"tool": "noop"}
        if any(p.get("STATUS") == "CrashLoopBackOff" for p in pods):
            container, requests, limits = containers[0]
            current = max(memory_bytes(limits.get("memory", "0")), memory_bytes(requests.get("memory", "0")))
            new = format_memory(2 * current)
            call: dict[str, Any] = {"tool": "set_resources", "deployment": name, "container": container,
                                    "requests": {"memory": new}}
            if "memory" in limits:
                call["limits"] = {"memory": new}
            return call
        short = [r for r in ("cpu", "memory") if any(f"Insufficient {r}" in line for line in events)]
        if short:
            self._plan = self._shrink(short, containers, target, name, pods, nodes)
            if self._plan:
                return self._plan.pop(0)
        return {"tool": "noop"}

    @staticmethod
    def _containers(describe: list[str]) -> list[tuple[str, dict[str, str], dict[str, str]]]:
        """(name, requests, limits) of each container of ``kubectl describe deployment``; a request
        not shown takes its limit (the apiserver's default)."""
        out: list[tuple[str, dict[str, str], dict[str, str]]] = []
        for line in describe:
            m = re.match(r"^  (\S+):\s+image ", line)
            if m:
                out.append((m.group(1), {}, {}))
            elif out and line.strip().startswith(("Requests:", "Limits:")):
                key, _, value = line.strip().partition(":")
                parsed = {} if value.strip() == "<none>" else _quantities(value.strip())
                out[-1][1 if key == "Requests" else 2].update(parsed)
        return [(n, {**lim, **req}, lim) for n, req, lim in out]

    @staticmethod
    def _shrink(short: list[str], containers: list[tuple[str, dict[str, str], dict[str, str]]], target: int,
                name: str, pods: list[dict[str, str]], nodes: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Calls that scale the short resources of every container down by the mildest factor (in 1%
        steps, values on a 100m / 64Mi grid) at which ``target`` pods fit in what the nodes have free."""
        parse = {"cpu": cpu_millis, "memory": memory_bytes}
        current = {r: [parse[r](req[r]) if r in req else 0 for _, req, _ in containers] for r in ("cpu", "memory")}
        pod = {r: sum(current[r]) for r in current}
        mine: dict[str, int] = {}
        for p in pods:
            if p.get("NAME", "").startswith(f"{name}-") and p.get("NODE") not in (None, "<none>"):
                mine[p["NODE"]] = mine.get(p["NODE"], 0) + 1
        free = []
        for n in nodes:
            row = {}
            for r, column in (("cpu", "CPU"), ("memory", "MEMORY")):
                taken = parse[r](n[f"{column}-REQUESTED"]) - mine.get(n["NAME"], 0) * pod[r]
                row[r] = parse[r](n[column]) - taken
            free.append(row)
        for percent in range(99, 0, -1):
            new = {r: [(v * percent // 100) // _GRID[r] * _GRID[r] if r in short else v for v in current[r]]
                   for r in current}
            if any(v < _GRID[r] and old > 0 for r in short for v, old in zip(new[r], current[r])):
                break
            need = {r: sum(new[r]) for r in new}
            fits = sum(min((f[r] // need[r]) if need[r] else target for r in need) for f in free
                       if all(f[r] >= 0 for r in need))
            if fits >= target:
                calls = []
                for i, (container, _, _) in enumerate(containers):
                    requests = {r: (format_cpu if r == "cpu" else format_memory)(new[r][i])
                                for r in short if new[r][i] != current[r][i]}
                    if requests:
                        calls.append({"tool": "set_resources", "deployment": name, "container": container,
                                      "requests": requests})
                return calls
        return []

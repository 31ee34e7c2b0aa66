"""A scripted tool-using agent: repairs a workload reading only kubectl-style text and acting only
with kubectl-style tool calls (``set_resources``, ``scale``), as an LLM agent would through
:class:`~sim_arena_gym.live.text.TextToolEnv` or the MCP server. It stands in for a hosted model in
tests and on the leaderboard; no model is called.

Rules, one tool call per step, first that applies:

1. the Deployment's desired replicas differ from the task's target: ``scale`` to the target;
2. a pod is in ``CrashLoopBackOff`` (OOMKilled): double the memory request and limit of the first
   container;
3. a ``FailedScheduling`` event says ``Insufficient cpu`` (``memory``): lower the first container's CPU
   (memory) request to the largest value, on a 100m (64Mi) grid, at which the target number of pods
   fit in what the nodes have free (allocatable minus what other pods request, from ``kubectl get
   nodes``' requested columns);
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

    def act(self, observation: str, info: dict[str, Any]) -> dict[str, Any]:
        task = _TASK.search(observation)
        if task is None:
            return {"tool": "noop"}
        target, name = int(task.group(1)), task.group(4)
        describe = _section(observation, "describe")
        pods = _table(_section(observation, "get pods"))
        nodes = _table(_section(observation, "get nodes"))
        events = _section(observation, "get events")
        desired = next((int(m.group(1)) for m in (re.search(r"Replicas:\s+(\d+) desired", line) for line in describe) if m), None)
        container, requests, limits = self._first_container(describe)
        if desired is not None and desired != target:
            return {"tool": "scale", "deployment": name, "replicas": target}
        if container is None:
            return {"tool": "noop"}
        if any(p.get("STATUS") == "CrashLoopBackOff" for p in pods):
            current = max(memory_bytes(limits.get("memory", "0")), memory_bytes(requests.get("memory", "0")))
            new = format_memory(2 * current)
            call: dict[str, Any] = {"tool": "set_resources", "deployment": name, "container": container,
                                    "requests": {"memory": new}}
            if "memory" in limits:
                call["limits"] = {"memory": new}
            return call
        for resource in ("cpu", "memory"):
            if any(f"Insufficient {resource}" in line for line in events) and resource in requests:
                value = self._fitting(resource, requests[resource], target, name, pods, nodes)
                if value is not None:
                    return {"tool": "set_resources", "deployment": name, "container": container,
                            "requests": {resource: value}}
        return {"tool": "noop"}

    @staticmethod
    def _first_container(describe: list[str]) -> tuple[str | None, dict[str, str], dict[str, str]]:
        """Name, requests and limits of the first container of ``kubectl describe deployment``."""
        name, requests, limits = None, {}, {}
        for line in describe:
            m = re.match(r"^  (\S+):\s+image ", line)
            if m:
                if name is not None:
                    break
                name = m.group(1)
            elif name is not None and line.strip().startswith(("Requests:", "Limits:")):
                key, _, value = line.strip().partition(":")
                parsed = {} if value.strip() == "<none>" else _quantities(value.strip())
                (requests if key == "Requests" else limits).update(parsed)
        return name, requests, limits

    @staticmethod
    def _fitting(resource: str, current_text: str, target: int, name: str, pods: list[dict[str, str]],
                 nodes: list[dict[str, str]]) -> str | None:
        """The largest request (on the grid, below the current one) at which ``target`` pods fit."""
        parse = cpu_millis if resource == "cpu" else memory_bytes
        current = parse(current_text)
        column = "CPU" if resource == "cpu" else "MEMORY"
        mine = {}
        for p in pods:
            if p.get("NAME", "").startswith(f"{name}-") and p.get("NODE") not in (None, "<none>"):
                mine[p["NODE"]] = mine.get(p["NODE"], 0) + 1
        free = []
        for n in nodes:
            taken = parse(n[f"{column}-REQUESTED"]) - mine.get(n["NAME"], 0) * current
            free.append(parse(n[column]) - taken)
        grid = _GRID[resource]
        value = (current - 1) // grid * grid
        while value >= grid:
            if sum(f // value for f in free if f > 0) >= target:
                return format_cpu(value) if resource == "cpu" else format_memory(value)
            value -= grid
        return None

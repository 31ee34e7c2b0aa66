"""A text interface to the env, for text policies (an LLM, a scripted tool-using agent).

:class:`TextToolEnv` wraps a :class:`~sim_arena_gym.env.simkube_env.SimKubeEnv`: its observation is
the text a person would read from the cluster (``kubectl get nodes``, ``get pods -o wide``,
``describe deployment``, ``get events``, the task and the step budget), and its action is one
structured tool call, a dict (or its JSON text)::

    {"tool": "set_resources", "deployment": "web", "container": "web",
     "requests": {"cpu": "8"}, "limits": {"memory": "512Mi"}}     # kubectl set resources
    {"tool": "scale", "deployment": "web", "replicas": 3}          # kubectl scale
    {"tool": "noop"}

A write goes through the live cluster's write gate (:class:`~sim_arena_gym.live.cluster.LiveCluster`,
in-process): validated as the apiserver would, checked against the safeguards, and taken as one env
step (:meth:`SimKubeEnv.step_edit`), so rewards, success and the step budget are the Gym env's. A call
that is refused, malformed, or leaves the workload as it is takes the step as a ``noop`` (every
wrapper step is one env step) and its error text goes to ``info["tool_result"]``, which holds the
tool's answer for every call. Episodes are those of the wrapped env: ``reset(seed=, options=)``
passes through, so ``sim-arena evaluate`` plays text agents on the same tasks as the others
(agents with ``text_interface = True`` get this wrapper; see :func:`sim_arena_gym.learning.evaluate.play`).
"""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from sim_arena_gym.live.cluster import LiveCluster
from sim_arena_gym.live.tools import ClusterTools

__all__ = ["TOOLS", "TextToolEnv", "parse_tool_call"]

#: Write tools a text policy may call, with their arguments.
TOOLS: dict[str, tuple[str, ...]] = {
    "set_resources": ("deployment", "container", "requests", "limits", "namespace"),
    "scale": ("deployment", "replicas", "namespace"),
    "noop": (),
}

#: Longest observation text (characters).
MAX_TEXT = 200_000


class ToolCallError(ValueError):
    """A tool call that cannot be read (unknown tool, missing or unknown argument, bad JSON)."""


def parse_tool_call(action: Any) -> tuple[str, dict[str, Any]]:
    """``(tool, arguments)`` of an action (a dict or its JSON text); :class:`ToolCallError` if malformed."""
    if isinstance(action, str):
        try:
            action = json.loads(action)
        except json.JSONDecodeError as exc:
            raise ToolCallError(f"the tool call is not valid JSON ({exc.msg})") from None
    if not isinstance(action, dict) or not isinstance(action.get("tool"), str):
        raise ToolCallError('a tool call is an object with a "tool" key, e.g. {"tool": "scale", ...}')
    tool = action["tool"]
    if tool not in TOOLS:
        raise ToolCallError(f"unknown tool {tool!r}; tools: {', '.join(TOOLS)}")
    args = {k: v for k, v in action.items() if k != "tool"}
    unknown = sorted(set(args) - set(TOOLS[tool]))
    if unknown:
        raise ToolCallError(f"{tool}: unknown argument(s) {unknown}; arguments: {list(TOOLS[tool])}")
    required = {"set_resources": ("deployment", "container"), "scale": ("deployment", "replicas")}.get(tool, ())
    missing = [k for k in required if k not in args]
    if missing:
        raise ToolCallError(f"{tool}: missing argument(s) {missing}")
    return tool, args


class TextToolEnv(gym.Wrapper):
    """Text observations, tool-call actions (see the module docstring)."""

    text_interface = True

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = spaces.Text(max_length=MAX_TEXT, charset=_CHARSET)
        self.action_space = spaces.Text(max_length=4096, charset=_CHARSET)  # the JSON text of a tool call
        self.cluster = LiveCluster(env=env, serve=False)
        self.tools = ClusterTools(self.cluster)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        _, info = self.env.reset(seed=seed, options=options)
        self.cluster.adopt()
        info["tool_result"] = None
        return self.text(), info

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        before = self.cluster.env.steps_taken
        try:
            tool, args = parse_tool_call(action)
            answer = getattr(self.tools, tool)(**args) if tool != "noop" else "nothing changed"
        except (ToolCallError, TypeError) as exc:
            answer = f"error: {exc}"
        if self.cluster.env.steps_taken > before and self.cluster.last_step is not None:
            _, reward, terminated, truncated, info = self.cluster.last_step
        else:
            _, reward, terminated, truncated, info = self.env.step(self.cluster.env.action_index("noop"))
        info = dict(info)
        info["tool_result"] = answer
        return self.text(), float(reward), bool(terminated), bool(truncated), info

    def text(self) -> str:
        """The observation: what a person reads from the cluster now (see the module docstring)."""
        env = self.cluster.env
        workload = env.context.scenario.workload
        ns = workload.namespace
        return "\n\n".join([
            f"Task: make exactly {env.constants.target} pods of {workload.kind.lower()} {ns}/{workload.name} Running "
            f"and Ready, with no pod Pending. Step {env.steps_taken} of {env.max_steps}.",
            "$ kubectl get nodes\n" + self.tools.get_nodes(),
            f"$ kubectl -n {ns} get pods -o wide\n" + self.tools.get_pods(ns),
            f"$ kubectl -n {ns} describe {workload.kind.lower()} {workload.name}\n"
            + self.tools.describe_deployment(workload.name, ns),
            f"$ kubectl -n {ns} get events\n" + self.tools.get_events(ns),
        ])

    def close(self) -> None:
        self.cluster.close()
        super().close()


_CHARSET = frozenset(chr(c) for c in range(32, 127)) | {"\n", "\t"}

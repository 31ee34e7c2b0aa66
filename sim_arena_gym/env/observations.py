"""Observation encoders, chosen by name (``OBSERVATIONS``), as HighwayEnv chooses observation types.

An encoder turns a :class:`~sim_arena_gym.env.state.StateView` into a 1-D ``float32`` vector inside
a ``Box`` whose finite bounds are known when the env is built. Every feature is normalised by a
constant known at reset (the target, the largest node's allocatable, the caps, the step budget), so
the same policy reads scenarios of different sizes.

Encoders work in two parts, to keep a step cheap:

* :meth:`ObservationEncoder.encode_state` -- the features that depend only on the scenario and the
  edit state. The env memoises the result with the state's view.
* :meth:`ObservationEncoder.finish` -- a fresh copy with the episode features filled in (the share of
  the step budget used).

``default`` layout (15 features):

=====  =========================  ===========  ====================================================
index  name                       bounds       meaning
=====  =========================  ===========  ====================================================
0      ``ready``                  [0, 4]       Running+Ready pods of the workload / target
1      ``pending``                [0, 4]       Pending pods / target
2      ``total``                  [0, 4]       non-terminal pods / target
3      ``pod_cpu_request``        [0, 4]       pod CPU request (sum over containers) / largest node's allocatable CPU
4      ``pod_memory_request``     [0, 4]       pod memory request / largest node's allocatable memory
5      ``replicas``               [0, 1]       ``spec.replicas`` / replicas cap
6      ``insufficient_cpu``       {0, 1}       a Pending pod reports ``Insufficient cpu``
7      ``insufficient_memory``    {0, 1}       a Pending pod reports ``Insufficient memory``
8      ``too_many_pods``          {0, 1}       a Pending pod reports ``Too many pods``
9      ``other_pending_reason``   {0, 1}       a Pending pod reports any other reason (taints, selectors, ...)
10     ``free_cpu``               [0, 1]       unrequested share of the cluster's allocatable CPU
11     ``free_memory``            [0, 1]       unrequested share of the cluster's allocatable memory
12     ``budget_used``            [0, 1]       steps taken / ``max_steps``
13     ``oom_killed``             [0, 1]       OOMKilled (CrashLoopBackOff) pods / non-terminal pods
14     ``throttled``              [0, 1]       CPU-throttled pods / non-terminal pods
=====  =========================  ===========  ====================================================

Ratios above their bound (e.g. 40 replicas for a target of 4) are clipped to the bound.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np
from gymnasium import spaces

from sim_arena_gym.env.state import KNOWN_REASONS, ScenarioContext, StateView

#: Upper bound of the ratio features (counts relative to the target, requests relative to a node).
RATIO_MAX = 4.0

_NO_REASONS = (0.0, 0.0, 0.0, 0.0)  # the four pending-reason flags when no pod is Pending


class ObservationEncoder(Protocol):
    """What the env needs from an observation encoder."""

    #: The observation space (fixed at construction).
    space: spaces.Box
    #: One name per index.
    names: tuple[str, ...]

    def encode_state(self, view: StateView, ctx: ScenarioContext) -> np.ndarray:
        """Features that depend only on the scenario and the edit state (the env caches them)."""
        ...

    def finish(self, base: np.ndarray, step: int, max_steps: int) -> np.ndarray:
        """A new array: ``base`` plus the episode features."""
        ...


class DefaultObservation:
    """The ``default`` encoder; see the module docstring for the layout."""

    names: tuple[str, ...] = (
        "ready", "pending", "total", "pod_cpu_request", "pod_memory_request", "replicas",
        "insufficient_cpu", "insufficient_memory", "too_many_pods", "other_pending_reason",
        "free_cpu", "free_memory", "budget_used", "oom_killed", "throttled",
    )  # fmt: skip
    #: Index of the budget feature, filled by :meth:`finish`.
    BUDGET = 12

    def __init__(self) -> None:
        high = np.ones(len(self.names), dtype=np.float32)
        high[:5] = RATIO_MAX
        self.space = spaces.Box(low=np.zeros_like(high), high=high, dtype=np.float32)
        self._high = high

    def encode_state(self, view: StateView, ctx: ScenarioContext) -> np.ndarray:
        # Runs once per simulated state. ``r if r < x else x`` is ``min(x, r)`` (same result, NaN
        # included) without the call; the reason flags are looked up only when there are reasons.
        c = ctx.constants
        target = c.target if c.target > 0 else 1
        reasons = view.pending_reasons
        total = view.total
        r = RATIO_MAX
        ready = view.ready / target
        pending = view.pending / target
        pods = total / target
        if c.node_cpu_millis > 0:
            cpu = view.pod_cpu_millis / c.node_cpu_millis
            cpu = r if r < cpu else cpu
        else:
            cpu = r
        if c.node_memory_bytes > 0:
            memory = view.pod_memory_bytes / c.node_memory_bytes
            memory = r if r < memory else memory
        else:
            memory = r
        if c.replicas_cap > 0:
            replicas = view.state.replicas / c.replicas_cap
            replicas = 1.0 if 1.0 < replicas else replicas
        else:
            replicas = 1.0
        if reasons:
            flags = (
                1.0 if "Insufficient cpu" in reasons else 0.0,
                1.0 if "Insufficient memory" in reasons else 0.0,
                1.0 if "Too many pods" in reasons else 0.0,
                1.0 if any(x not in KNOWN_REASONS for x in reasons) else 0.0,
            )
        else:
            flags = _NO_REASONS
        values = (
            r if r < ready else ready,
            r if r < pending else pending,
            r if r < pods else pods,
            cpu,
            memory,
            replicas,
            *flags,
            view.free_cpu_fraction,
            view.free_memory_fraction,
            0.0,
            view.oom_killed / total if total else 0.0,
            view.throttled / total if total else 0.0,
        )
        return np.array(values, dtype=np.float32)

    def finish(self, base: np.ndarray, step: int, max_steps: int) -> np.ndarray:
        obs = base.copy()
        obs[self.BUDGET] = step / max_steps if step < max_steps else 1.0
        return obs


class HardObservation(DefaultObservation):
    """The ``hard`` encoder: ``default`` (indices 0-14, unchanged) plus what the hard tier needs.

    =====  ==============================  ========  ================================================
    index  name                            bounds    meaning
    =====  ==============================  ========  ================================================
    0-14   as ``default``
    15     ``replicas_vs_target``          [0, 4]    ``spec.replicas`` / target
    16     ``others_present``              {0, 1}    the trace has workloads besides the target
    17     ``others_ready``                [0, 1]    Ready pods of the other workloads / their desired
                                                     (1 with no other workload)
    18     ``others_pending``              [0, 1]    Pending pods of the other workloads / their desired
    19+7k  ``c<k>_present``                {0, 1}    the pod template has a regular container in slot
                                                     ``k`` (k = 0 .. MAX_CONTAINER_SLOTS - 1 = 2)
    20+7k  ``c<k>_cpu_request``            [0, 4]    its CPU request / largest node's allocatable CPU
    21+7k  ``c<k>_memory_request``         [0, 4]    its memory request / largest node's memory
    22+7k  ``c<k>_cpu_limit``              [0, 4]    its CPU limit / node CPU (0 when unset)
    23+7k  ``c<k>_memory_limit``           [0, 4]    its memory limit / node memory (0 when unset)
    24+7k  ``c<k>_oom_killed``             {0, 1}    it is the OOMKilled container of the target's
                                                     crash-looping pods (``info["oom_containers"]``)
    25+7k  ``c<k>_throttled``              {0, 1}    it is a throttled container (CPU below usage)
    =====  ==============================  ========  ================================================

    40 features in all. Containers beyond the last slot are left out (as the ``slots`` actions do).
    """

    SLOTS = 3
    names: tuple[str, ...] = DefaultObservation.names + (
        "replicas_vs_target", "others_present", "others_ready", "others_pending",
    ) + tuple(
        f"c{k}_{f}" for k in range(3)
        for f in ("present", "cpu_request", "memory_request", "cpu_limit", "memory_limit", "oom_killed", "throttled")
    )  # fmt: skip

    def __init__(self) -> None:
        high = np.ones(len(self.names), dtype=np.float32)
        high[:5] = RATIO_MAX
        high[15] = RATIO_MAX
        for k in range(self.SLOTS):
            high[20 + 7 * k : 24 + 7 * k] = RATIO_MAX
        self.space = spaces.Box(low=np.zeros_like(high), high=high, dtype=np.float32)
        self._high = high

    def encode_state(self, view: StateView, ctx: ScenarioContext) -> np.ndarray:
        base = DefaultObservation.encode_state(self, view, ctx)
        c = ctx.constants
        target = c.target if c.target > 0 else 1
        desired = view.others_desired
        extra = [
            min(RATIO_MAX, view.state.replicas / target),
            1.0 if desired > 0 else 0.0,
            view.others_ready / desired if desired > 0 else 1.0,
            min(1.0, view.others_pending / desired) if desired > 0 else 0.0,
        ]
        state = view.state
        n = len(state.cpu)
        node_cpu = c.node_cpu_millis or 1
        node_mem = c.node_memory_bytes or 1
        for k in range(self.SLOTS):
            if k < n:
                extra.append(1.0)
                for value, scale in (
                    (state.cpu[k], node_cpu), (state.memory[k], node_mem),
                    (state.cpu_limit[k], node_cpu), (state.memory_limit[k], node_mem),
                ):  # fmt: skip
                    extra.append(min(RATIO_MAX, (value or 0) / scale))
                name = ctx.target.container_names[k]
                extra.append(1.0 if name in view.oom_containers else 0.0)
                extra.append(1.0 if name in view.throttled_containers else 0.0)
            else:
                extra.extend((0.0,) * 7)
        return np.concatenate([base, np.array(extra, dtype=np.float32)])


#: Encoders by name. Add one with :func:`register_observation`.
OBSERVATIONS: dict[str, Callable[[], ObservationEncoder]] = {"default": DefaultObservation, "hard": HardObservation}


def register_observation(name: str, factory: Callable[[], ObservationEncoder]) -> None:
    """Make ``factory`` available as ``config["observation"] = name``."""
    OBSERVATIONS[name] = factory


def make_observation(name: str) -> ObservationEncoder:
    """The encoder called ``name``."""
    try:
        factory = OBSERVATIONS[name]
    except KeyError:
        raise ValueError(f"observation {name!r}: expected one of {sorted(OBSERVATIONS)}") from None
    return factory()

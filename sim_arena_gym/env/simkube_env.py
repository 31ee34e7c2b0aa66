"""``SimKubeEnv``: repair a Kubernetes workload whose pods stay Pending, on SimKube traces."""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sim_arena_gym.env.actions import EditState, Safeguards, Transition, check_edit
from sim_arena_gym.env.coarse_actions import make_any_action_set
from sim_arena_gym.env.config import check_config_argument, check_env_config, check_trace_env_args
from sim_arena_gym.env.assignment import SCENARIO_ORDERS, ScenarioAssignmentError, check_subset
from sim_arena_gym.env.observations import make_observation
from sim_arena_gym.env.render import Frame, render_ansi, render_rgb
from sim_arena_gym.env.rewards import make_reward
from sim_arena_gym.env.state import (
    ContainerFloor,
    OutcomeCache,
    ScenarioConstants,
    ScenarioContext,
    SUCCESS_RULES,
    StateView,
    build_context,
    build_view,
    fresh_quantities,
    intern_plain,
    load_trace_cached,
)
from sim_arena_gym.scenarios.model import NodePool, Scenario, parse_node_pools
from sim_arena_gym.trace.model import Trace
from sim_arena_gym.trace.refs import WorkloadRef

_tuple_new = tuple.__new__
_from_record = StateView.from_record

#: Info templates an env keeps (see ``SimKubeEnv._info_base_of``) before the table is cleared.
_INFO_BASES_LIMIT = 8192

#: Config keys whose value is a dict merged key by key with the default.
_MERGED_KEYS = ("caps",)


class SimKubeEnv(gym.Env[np.ndarray, np.int64]):
    """Repair a Kubernetes workload whose pods stay ``Pending`` for lack of CPU, memory or pod slots.

    ## Description

    A scenario is a SimKube trace, a node pool, a target workload (a Deployment in the trace) and a
    target number of Ready replicas. Its pods ask for more than the cluster can give, so some stay
    Pending: ``0/3 nodes are available: 3 Insufficient cpu.`` Each step edits the workload's CPU /
    memory requests or its replicas, re-simulates the whole trace with the backend (by default an
    in-process model of the kube-scheduler and the Deployment controller) and observes the workload at
    the end of the simulated window. The episode ends when exactly ``target`` pods are Running and
    Ready.

    ## Action Space

    ``Discrete(7)`` (action set ``default``; ``requests`` keeps the first five):

    | Num | Action          | Effect                                                               |
    |-----|-----------------|----------------------------------------------------------------------|
    | 0   | `noop`          | nothing                                                              |
    | 1   | `cpu_up`        | CPU request of each edited container + `cpu_step` (500m)             |
    | 2   | `memory_up`     | memory request of each edited container + `memory_step` (256Mi)      |
    | 3   | `cpu_down`      | CPU request of each edited container - `cpu_step`                    |
    | 4   | `memory_down`   | memory request of each edited container - `memory_step`              |
    | 5   | `replicas_up`   | `spec.replicas` + `replica_step` (1)                                 |
    | 6   | `replicas_down` | `spec.replicas` - `replica_step`                                     |

    Edited containers: every regular container of the pod template (``edit_containers="all"``, the
    default: a pod's request is the sum of its containers', so scaling them together moves the pod by
    ``n * step``) or only the first (``"first"``). Init containers and sidecars are never edited.
    Limits keep ``request <= limit``: a request raised above its limit raises the limit with it.

    Safeguards (``caps``): a container request stays within [one step, 16 CPU] and [one step, 32Gi];
    replicas within [1, 100]. An action that would break one is not applied; ``info["blocked"]`` says
    why (``"cpu request 16500m would exceed the 16 CPU cap per container"``, ``"replicas 0 would go
    below the minimum of 1"``). The mask of allowed actions is in ``info["action_mask"]`` (``np.int8``),
    ``env.action_masks()`` (MaskablePPO) and :class:`~sim_arena_gym.env.wrappers.ActionMaskObservation`.

    ``SimArena-Coarse-v0`` and ``SimArena-Hard-v0`` use the ``coarse`` set with ``edit_containers="slots"``
    (``Discrete(39)``: fixed, x 7/8 and x 3/4 moves per resource for each of 3 container slots, then
    the replicas; table in :mod:`sim_arena_gym.env.coarse_actions`) and the ``hard`` observation
    (``Box(0, high, (40,))``, table in :class:`~sim_arena_gym.env.observations.HardObservation`).

    ## Observation Space

    ``Box(0, high, (15,), float32)`` (encoder ``default``):

    | Num | Observation             | Min | Max | Unit / normalised by                                  |
    |-----|-------------------------|-----|-----|-------------------------------------------------------|
    | 0   | ready pods              | 0   | 4   | Running+Ready pods of the workload / target           |
    | 1   | pending pods            | 0   | 4   | Pending pods / target                                 |
    | 2   | total pods              | 0   | 4   | non-terminal pods / target                            |
    | 3   | pod CPU request         | 0   | 4   | sum of container CPU requests / largest node's CPU    |
    | 4   | pod memory request      | 0   | 4   | sum of container memory requests / largest node's mem |
    | 5   | replicas                | 0   | 1   | `spec.replicas` / replicas cap                        |
    | 6   | Insufficient cpu        | 0   | 1   | flag: a Pending pod reports it                        |
    | 7   | Insufficient memory     | 0   | 1   | flag                                                  |
    | 8   | Too many pods           | 0   | 1   | flag                                                  |
    | 9   | other pending reason    | 0   | 1   | flag (taints, selectors, ...)                         |
    | 10  | free cluster CPU        | 0   | 1   | unrequested / allocatable CPU of all nodes            |
    | 11  | free cluster memory     | 0   | 1   | unrequested / allocatable memory of all nodes         |
    | 12  | step budget used        | 0   | 1   | steps taken / `max_steps`                             |
    | 13  | OOMKilled pods          | 0   | 1   | OOMKilled (CrashLoopBackOff) pods / non-terminal pods |
    | 14  | CPU-throttled pods      | 0   | 1   | throttled pods / non-terminal pods                    |

    Ratios are clipped to their bounds. All normalising constants are known at reset.

    ## Rewards

    ``reward_mode`` (formulas in :mod:`sim_arena_gym.env.rewards`; every term in ``info["reward_terms"]``):

    - ``binary``: 1 on the successful step, else 0.
    - ``gradual`` (default): ``(h' - h) + 1[success] - 0.01`` with ``h = min(ready, target) / target``.
    - ``penalty``: ``1[success] * (1 - 0.5 * waste) - 0.1 * 1[blocked] - 0.2 * throttled / target - 0.01``,
      waste being the over-allocation of the requests above the usage floors, relative to a node.

    ## Starting State

    The workload exactly as the trace last applies it. ``reset(seed=s)`` draws the scenario from the
    scenario set with ``self.np_random``; ``reset(options={"scenario": "canonical-very-bad-cpu"})``
    pins one. Nothing else is random: the simulation is deterministic. Parallel envs can each be given
    their own part of the set (:attr:`scenario_subset`) and walk it in order
    (``scenario_order="sequential"``); see :mod:`sim_arena_gym.env.vector`.

    ## Episode End

    - Termination: exactly ``target`` pods of the workload Running and Ready, none Pending and no other
      pod left (e.g. no crash-looping pod): the workload is repaired.
    - Truncation: ``max_steps`` (20) steps taken. The env truncates itself, so it is registered without
      ``max_episode_steps`` (no second ``TimeLimit``).

    ## Info

    ``scenario``, ``ready``, ``pending``, ``total``, ``target``, ``success``, ``pending_reasons``,
    ``scheduling_message``, ``requests`` / ``limits`` (``{"app": {"cpu": "500m", "memory": "256Mi"}}``),
    ``replicas``, ``action`` (name, ``None`` after reset), ``blocked`` (reason or ``None``),
    ``reward_terms``, ``action_mask`` (``np.int8``), ``step``, ``oom_killed``, ``throttled`` and
    ``oracle_steps`` when the scenario knows it. Fresh objects on every call.

    ## Arguments

    ``gym.make("SimArena-InsufficientResources-v0", render_mode=None, **config)``; the keys and their
    defaults are documented in :meth:`default_config`. ``config=`` takes a whole dict; keyword
    overrides win over it. Unknown keys raise ``ValueError``.

    ## Speed

    The episode state is a small immutable :class:`~sim_arena_gym.env.actions.EditState`. The edited
    trace is built only when a backend must run it (or on :meth:`current_trace`), and every simulated
    state is memoised in an LRU of ``outcome_cache_size`` (65,536) entries keyed by (scenario, edit
    state): the backend is deterministic, so this is exact. An entry is a plain record of the view
    (about 700 bytes, nothing for the garbage collector to walk; ``cache_info()["bytes"]``); a view
    made from one re-simulates its ``outcome`` only when asked. A step that leaves the state unchanged
    (``noop``, a blocked action) never re-runs the backend, cache or not. A step that runs no backend
    copies what it can: the info starts as a copy of a template shared by the views with equal values
    (per env, numbered in the records), the observation as a copy of the view's state part; only the
    step counter, the action, the reward terms and fresh lists, dicts and mask are written in. Edited
    traces are memoised per requests-and-limits state (process-wide, bounded), so states that differ
    only in replicas share one pod template and the embedded backend's identity-keyed parse caches hit.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    #: Info templates kept per env before the table is cleared (see :meth:`_info_base_of`).
    _info_bases_limit = _INFO_BASES_LIMIT

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        """Every config key and its default.

        - ``backend`` (``"embedded"``): backend name for ``make_backend`` (``"embedded"``, or ``"simkube"``
          for a SimKube cluster, docs/SIMKUBE.md).
        - ``backend_options`` (``{}``): keyword arguments for the backend (simkube: ``kubeconfig``,
          ``trace_store``, ``speed``, ...; see :class:`~sim_arena_gym.backends.simkube_options.SimKubeOptions`).
        - ``scenarios`` (``"train"``): a scenario set name (``"train"``, ``"test"``, ``"canonical"``,
          ``"all"``), the path of an ``index.json``, or a list of :class:`Scenario`.
        - ``cpu_step`` (``"500m"``): CPU request change per action, per container.
        - ``memory_step`` (``"256Mi"``): memory request change per action, per container.
        - ``replica_step`` (``1``): replicas change per action.
        - ``edit_containers`` (``"all"``): ``"all"`` regular containers of the pod template change
          together, or only the ``"first"``, or (``action_set="coarse"`` only) ``"slots"``: one action
          per container slot (:data:`~sim_arena_gym.env.coarse_actions.MAX_CONTAINER_SLOTS`), masked
          where the pod template has no such container.
        - ``caps``: safeguards. ``cpu`` (``"16"``) and ``memory`` (``"32Gi"``): most a container may
          request; ``replicas`` (``100``): most replicas; ``min_cpu`` / ``min_memory`` (``None`` = one
          step) and ``min_replicas`` (``1``): the floors. Given keys are merged into the defaults.
        - ``reward_mode`` (``"gradual"``): ``"binary"``, ``"gradual"`` or ``"penalty"``. Gradual is the
          default because its dense progress signal lets a learner start from scratch.
        - ``reward_weights`` (``{}``): weights overriding the mode's defaults
          (:data:`sim_arena_gym.env.rewards.DEFAULT_WEIGHTS`).
        - ``max_steps`` (``20``): step budget; the episode is truncated after it.
        - ``observation`` (``"default"``): observation encoder name.
        - ``action_set`` (``"default"``): ``"default"`` (7 actions), ``"requests"`` (no replicas) or
          ``"coarse"`` (fine and proportional moves, :mod:`sim_arena_gym.env.coarse_actions`).
        - ``success_rule`` (``"target"``): ``"target"`` (the target workload alone) or ``"cluster"``
          (also no throttled target pod, and every other workload with all its pods Ready).
        - ``reward_revision`` (``0``): ``0`` (the ``-v0`` formulas) or ``1`` (excess pods count in
          ``gradual``, collateral damage to other workloads costs; :mod:`sim_arena_gym.env.rewards`).
        - ``outcome_cache_size`` (``65536``): simulated states memoised per env (0 disables); sized for
          a whole split under a random agent (about 700 bytes an entry, see ``cache_info()["bytes"]``).
        - ``scenario_order`` (``"random"``): how a reset without ``options["scenario"]`` picks the
          scenario among the active ones (:attr:`scenario_subset`): ``"random"`` draws with
          ``self.np_random``; ``"sequential"`` walks them in order and wraps around, so ``k`` resets
          play ``k`` different scenarios while ``k`` <= their number (a seeded reset restarts the walk).
        """
        return {
            "backend": "embedded",
            "backend_options": {},
            "scenarios": "train",
            "cpu_step": "500m",
            "memory_step": "256Mi",
            "replica_step": 1,
            "edit_containers": "all",
            "caps": {
                "cpu": "16",
                "memory": "32Gi",
                "replicas": 100,
                "min_cpu": None,
                "min_memory": None,
                "min_replicas": 1,
            },
            "reward_mode": "gradual",
            "reward_weights": {},
            "max_steps": 20,
            "observation": "default",
            "action_set": "default",
            "outcome_cache_size": 65536,
            "scenario_order": "random",
            "success_rule": "target",
            "reward_revision": 0,
        }

    def __init__(self, config: Mapping[str, Any] | None = None, render_mode: str | None = None, **overrides: Any) -> None:
        super().__init__()
        self.config = self._merge_config(config, overrides)
        cfg = self.config
        check_env_config(cfg)  # every option up front: OptionError (a ValueError) naming it
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r}: expected None or one of {self.metadata['render_modes']}")
        self.render_mode = render_mode
        if cfg["edit_containers"] not in ("all", "first", "slots"):
            raise ValueError(f"edit_containers {cfg['edit_containers']!r}: expected 'all', 'first' or 'slots'")
        if cfg["success_rule"] not in SUCCESS_RULES:
            raise ValueError(f"success_rule {cfg['success_rule']!r}: expected one of {list(SUCCESS_RULES)}")
        max_steps = cfg["max_steps"]
        if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1:
            raise ValueError(f"max_steps {max_steps!r}: expected a positive integer")
        self._max_steps: int = max_steps
        self.safeguards = Safeguards.from_config(
            cpu_step=cfg["cpu_step"], memory_step=cfg["memory_step"], replica_step=cfg["replica_step"], caps=cfg["caps"]
        )
        self._actions = make_any_action_set(cfg["action_set"], self.safeguards, cfg["edit_containers"])
        self._encoder = make_observation(cfg["observation"])
        self._reward = make_reward(
            cfg["reward_mode"], self.safeguards, cfg["reward_weights"], cfg["reward_revision"]
        )
        self._cache = OutcomeCache(cfg["outcome_cache_size"])
        self._scenarios: tuple[Scenario, ...] = tuple(resolve_scenarios(cfg["scenarios"]))
        self._by_id = {s.id: i for i, s in enumerate(self._scenarios)}
        if len(self._by_id) != len(self._scenarios):
            dupes = sorted({s.id for s in self._scenarios if sum(t.id == s.id for t in self._scenarios) > 1})
            raise ValueError(f"scenarios: duplicate ids {dupes}")
        if cfg["scenario_order"] not in SCENARIO_ORDERS:
            raise ScenarioAssignmentError(
                "scenario_order", f"{cfg['scenario_order']!r}: expected one of {list(SCENARIO_ORDERS)}"
            )
        self._active: tuple[int, ...] = tuple(range(len(self._scenarios)))
        self._cursor = 0
        self._contexts: dict[int, ScenarioContext] = {}
        self._resimulators: dict[int, Any] = {}
        self._info_bases: dict[tuple, int] = {}  # see _info_base_of
        self._info_by_id: dict[int, dict[str, Any]] = {}
        self._info_next_id = 0
        self._action_names: tuple[str, ...] = self._actions.names
        self._backend: Any = None

        self.action_space = spaces.Discrete(len(self._actions))
        self.observation_space = self._encoder.space

        self._ctx: ScenarioContext | None = None
        self._view: StateView | None = None
        self._step = 0
        self._last_action: str | None = None
        self._last_blocked: str | None = None
        self._last_reward: float | None = None

    # ------------------------------------------------------------------------------------------------
    # Config

    @classmethod
    def _merge_config(cls, config: Mapping[str, Any] | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
        cfg = cls.default_config()
        valid = set(cfg)
        check_config_argument(config)
        for source in (config or {}, overrides):
            unknown = sorted(set(source) - valid)
            if unknown:
                raise ValueError(f"unknown config key(s) {unknown}; valid keys: {sorted(valid)}")
            for key, value in source.items():
                if key in _MERGED_KEYS:
                    if not isinstance(value, Mapping):
                        raise ValueError(f"{key} {value!r}: expected a dict with keys {sorted(cfg[key])}")
                    bad = sorted(set(value) - set(cfg[key]))
                    if bad:
                        raise ValueError(f"{key}: unknown key(s) {bad}; valid: {sorted(cfg[key])}")
                    cfg[key] = {**cfg[key], **value}
                elif key == "scenarios" and not isinstance(value, (str, os.PathLike)):
                    cfg[key] = value  # Scenario objects are immutable: no copy
                else:
                    cfg[key] = copy.deepcopy(value)
        return cfg

    # ------------------------------------------------------------------------------------------------
    # Gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode on a scenario drawn with ``self.np_random`` or pinned by
        ``options={"scenario": id}``."""
        super().reset(seed=seed)
        pinned = None
        if options:
            unknown = sorted(set(options) - {"scenario"})
            if unknown:
                raise ValueError(f"reset options: unknown key(s) {unknown}; valid: ['scenario']")
            pinned = options.get("scenario")
        if seed is not None:
            self._cursor = 0
        active = self._active
        if pinned is not None:
            index = self._scenario_index(pinned)
        elif len(active) == 1:
            index = active[0]
        elif self.config["scenario_order"] == "sequential":
            index = active[self._cursor % len(active)]
            self._cursor += 1
        else:
            index = active[int(self.np_random.integers(len(active)))]
        ctx = self._context(index)
        view = self._evaluate(ctx, ctx.initial)
        self._ctx = ctx
        self._view = view
        self._step = 0
        self._last_action = None
        self._last_blocked = None
        self._last_reward = None
        return self._encoder.finish(view.obs, 0, self._max_steps), self._info(ctx, view, {}, 0, None, None)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` (an action id), re-simulate if the workload changed, and observe."""
        prev = self._view
        ctx = self._ctx
        if prev is None or ctx is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        a = int(action)
        moves = prev._moves  # a view made from a record or recorded in the cache has them
        if moves is not None:
            if not 0 <= a < len(moves):
                raise ValueError(f"action {action!r}: expected an integer in [0, {len(moves) - 1}]")
            plain, blocked = moves[a]
            if plain is prev.plain:
                view = prev
            else:  # _evaluate_plain with its cache hit written out (most steps are one)
                cache = self._cache
                record = cache.get((ctx.index, plain)) if cache.maxsize else None
                if record is None:
                    view = self._evaluate_plain(ctx, plain, looked_up=cache.maxsize > 0)
                else:
                    resimulate = self._resimulators.get(ctx.index)
                    view = _from_record(record, resimulate if resimulate is not None else self._resimulator(ctx))
        else:  # a view simulated without the cache: its transitions
            transitions = prev._transitions
            if not 0 <= a < len(transitions):
                raise ValueError(f"action {action!r}: expected an integer in [0, {len(transitions) - 1}]")
            new_state, blocked = transitions[a]
            view = prev if new_state is prev.state else self._evaluate(ctx, new_state)
        return self._advance(prev, ctx, view, blocked, self._action_names[a])

    def step_edit(self, state: EditState) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One step that sets the workload to ``state`` directly (an edit of any size, as ``kubectl
        set resources`` / ``kubectl scale`` make), under the same safeguards as the actions
        (:func:`~sim_arena_gym.env.actions.check_edit`): a refused edit leaves the state unchanged and
        counts as a blocked step, as a blocked action does. ``info["action"]`` is ``"edit"``.
        Observation, reward, termination and truncation are computed exactly as in :meth:`step`."""
        prev = self._view
        ctx = self._ctx
        if prev is None or ctx is None:
            raise gym.error.ResetNeeded("call reset() before step_edit()")
        if not isinstance(state, EditState):
            raise ValueError(f"state {state!r}: expected an EditState")
        blocked = self.check_edit(state)
        view = prev if blocked is not None or state == prev.state else self._evaluate(ctx, state)
        return self._advance(prev, ctx, view, blocked, "edit")

    def check_edit(self, state: EditState) -> str | None:
        """Why :meth:`step_edit` would refuse ``state`` now (a safeguard), or ``None``."""
        return check_edit(self.edit_state, state, self.context.target, self.safeguards)

    def _advance(
        self, prev: StateView, ctx: ScenarioContext, view: StateView, blocked: str | None, action: str
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """The bookkeeping of a step that moved from ``prev`` to ``view`` (shared by step and step_edit)."""
        self._view = view
        step = self._step = self._step + 1
        reward, terms = self._reward(prev, view, blocked is not None, ctx)
        terminated = view.success
        max_steps = self._max_steps
        self._last_action = action
        self._last_blocked = blocked
        self._last_reward = reward
        return (
            self._encoder.finish(view.obs, step, max_steps),
            reward,
            terminated,
            not terminated and step >= max_steps,
            self._info(ctx, view, terms, step, action, blocked),
        )

    def render(self) -> str | np.ndarray | None:
        """``ansi``: a text table (str); ``rgb_array``: node occupancy as an ``(160, W, 3)`` uint8 image."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'rgb_array'.")
            return None
        if self._view is None or self._ctx is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        frame = Frame(
            self._ctx, self._view, self._step, self._max_steps, self._last_action, self._last_blocked, self._last_reward
        )
        if self.render_mode == "ansi":
            return render_ansi(frame)
        return render_rgb(frame)

    def close(self) -> None:
        """Close the backend (the simkube one deletes the run's nodes) and drop the outcome cache."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None
        self._cache.clear()

    def action_masks(self) -> np.ndarray:
        """Allowed actions now, as a fresh ``bool`` array of shape ``(n,)`` (sb3-contrib MaskablePPO)."""
        if self._view is None:
            return np.ones(self.action_space.n, dtype=bool)
        return self._view.mask_array.astype(bool)

    # ------------------------------------------------------------------------------------------------
    # Introspection for agents, planners and tools (no effect on the episode)

    @property
    def action_names(self) -> tuple[str, ...]:
        """Action names by id (``("noop", "cpu_up", ...)``)."""
        return self._actions.names

    def action_index(self, name: str) -> int:
        """Action id of ``name``; ``KeyError`` if the action set has no such action."""
        return self._actions.index(name)

    @property
    def scenarios(self) -> tuple[Scenario, ...]:
        """The scenario set, in order."""
        return self._scenarios

    @property
    def scenario_subset(self) -> tuple[str, ...]:
        """Ids of the scenarios a reset may pick (all of :attr:`scenarios` unless narrowed).

        Set it to a list of ids of this env's set to narrow the draw (``None`` restores the whole set);
        the walk of ``scenario_order="sequential"`` restarts. A vector env gives each sub-env its own
        part with ``envs.set_attr("scenario_subset", parts)`` (see
        :func:`sim_arena_gym.env.vector.assign_scenarios`). ``options={"scenario": id}`` may still pin
        any scenario of the set. Bad values raise
        :class:`~sim_arena_gym.env.assignment.ScenarioAssignmentError`."""
        return tuple(self._scenarios[i].id for i in self._active)

    @scenario_subset.setter
    def scenario_subset(self, ids: Sequence[str] | None) -> None:
        if ids is None:
            self._active = tuple(range(len(self._scenarios)))
        else:
            subset = check_subset(ids, [s.id for s in self._scenarios])
            self._active = tuple(self._by_id[i] for i in subset)
        self._cursor = 0

    @property
    def scenario(self) -> Scenario | None:
        """The current episode's scenario (``None`` before the first reset)."""
        return None if self._ctx is None else self._ctx.scenario

    @property
    def context(self) -> ScenarioContext:
        """The current scenario's context: constants (target, node sizes), floors, containers."""
        if self._ctx is None:
            raise gym.error.ResetNeeded("call reset() first")
        return self._ctx

    @property
    def constants(self) -> ScenarioConstants:
        """Target and node sizes of the current scenario (millicores, bytes, pods)."""
        return self.context.constants

    @property
    def usage_floors(self) -> dict[str, ContainerFloor]:
        """Per container name, the current scenario's usage floor (millicores / bytes, ``None`` if undeclared)."""
        ctx = self.context
        return dict(zip(ctx.target.container_names, ctx.floors))

    @property
    def edit_state(self) -> EditState:
        """The workload's current requests, limits and replicas."""
        if self._view is None:
            raise gym.error.ResetNeeded("call reset() first")
        return self._view.state

    @property
    def view(self) -> StateView:
        """What the last simulation showed (includes the backend's ``ClusterOutcome``)."""
        if self._view is None:
            raise gym.error.ResetNeeded("call reset() first")
        return self._view

    @property
    def max_steps(self) -> int:
        """The episode's step budget (truncation after this many steps)."""
        return self._max_steps

    @property
    def steps_taken(self) -> int:
        """Steps taken in the current episode."""
        return self._step

    def transition(self, state: EditState, action: int) -> Transition:
        """What ``action`` would do to ``state`` in the current scenario: ``(next state, blocked reason)``."""
        return self._actions.apply(state, int(action), self.context.target)

    def simulate(self, state: EditState, *, remember: bool = False) -> StateView:
        """Simulate ``state`` in the current scenario without touching the episode.

        Reads the outcome cache; stores the result there only when ``remember`` is true."""
        ctx = self.context
        key = (ctx.index, tuple(state))
        record = self._cache.peek(key)
        if record is not None:
            return StateView.from_record(record, self._resimulator(ctx))
        view = self._run(ctx, state)
        if remember:
            self._cache.put(key, view.record)
        return view

    @property
    def reward_function(self) -> Any:
        """The reward function (``name``, ``weights``, ``revision``; call it as ``reward_of`` does)."""
        return self._reward

    def reward_of(self, prev: StateView, cur: StateView, blocked: bool = False) -> tuple[float, dict[str, float]]:
        """The reward (and terms) of a step from ``prev`` to ``cur`` in the current scenario (planners)."""
        return self._reward(prev, cur, blocked, self.context)

    def current_trace(self) -> Trace:
        """The trace with the current edits written into the workload (a valid SimKube trace)."""
        if self._view is None or self._ctx is None:
            raise gym.error.ResetNeeded("call reset() first")
        return self._ctx.materialize(self._view.state)

    def cache_info(self) -> Mapping[str, int]:
        """Outcome cache statistics: size, maxsize, hits, misses."""
        return self._cache.stats()

    # ------------------------------------------------------------------------------------------------
    # Internals

    def _scenario_index(self, pinned: Any) -> int:
        if isinstance(pinned, Scenario):
            pinned = pinned.id
        if isinstance(pinned, str):
            try:
                return self._by_id[pinned]
            except KeyError:
                ids = sorted(self._by_id)
                shown = ", ".join(ids[:8]) + (f", ... ({len(ids)} in all)" if len(ids) > 8 else "")
                raise ValueError(f"scenario {pinned!r} is not in this env's scenario set: {shown}") from None
        raise ValueError(f"options['scenario'] {pinned!r}: expected a scenario id")

    def _context(self, index: int) -> ScenarioContext:
        ctx = self._contexts.get(index)
        if ctx is None:
            ctx = build_context(
                index,
                self._scenarios[index],
                edit_containers=self.config["edit_containers"],
                replicas_cap=self.safeguards.replicas_max,
                success_rule=self.config["success_rule"],
            )
            ctx.keep_traces = not self._cache.maxsize  # see ScenarioContext.keep_traces
            self._contexts[index] = ctx
        return ctx

    def _evaluate(self, ctx: ScenarioContext, state: EditState) -> StateView:
        if not self._cache.maxsize:
            return self._run(ctx, state)
        return self._evaluate_plain(ctx, intern_plain(tuple(state)), state)

    def _evaluate_plain(
        self, ctx: ScenarioContext, plain: tuple, state: EditState | None = None, *, looked_up: bool = False
    ) -> StateView:
        """The view of the state ``plain`` (``tuple(state)``; ``state`` itself when the caller has
        it): from the outcome cache's record, else simulated (and recorded). ``looked_up``: the
        caller has just missed in the cache (so it is not asked, nor counted, twice)."""
        cache = self._cache
        if not cache.maxsize:
            return self._run(ctx, state if state is not None else _tuple_new(EditState, plain))
        key = (ctx.index, plain)
        record = None if looked_up else cache.get(key)
        if record is not None:
            return _from_record(record, self._resimulator(ctx))
        view = self._run(ctx, state if state is not None else _tuple_new(EditState, plain))
        cache.put(key, view.record)
        return view

    def _resimulator(self, ctx: ScenarioContext) -> Any:
        """``state -> ClusterOutcome`` for ``ctx`` (one per scenario): how a view made from a cached
        record gets its outcome when asked."""
        found = self._resimulators.get(ctx.index)
        if found is None:
            found = self._resimulators[ctx.index] = functools.partial(self._outcome_of, ctx)
        return found

    def _run(self, ctx: ScenarioContext, state: EditState) -> StateView:
        backend = self._backend
        if backend is None:
            from sim_arena_gym.backends import make_backend

            backend = self._backend = make_backend(self.config["backend"], **self.config["backend_options"])
        outcome = backend.run(ctx.materialize(state), ctx.scenario)
        view = build_view(
            ctx, state, outcome, self._actions, self._encoder, self._resimulator(ctx), intern=self._cache.maxsize > 0
        )
        view.info_id, view.info_base = self._info_base_of(ctx, view)  # before its record is taken
        return view

    def _outcome_of(self, ctx: ScenarioContext, state: EditState) -> Any:
        """The backend's outcome of ``state`` in ``ctx`` (what a view made from a cached record re-simulates)."""
        if self._backend is None:
            from sim_arena_gym.backends import make_backend

            self._backend = make_backend(self.config["backend"], **self.config["backend_options"])
        return self._backend.run(ctx.materialize(state), ctx.scenario)

    def _info_base_of(self, ctx: ScenarioContext, view: StateView) -> tuple[int, dict[str, Any]]:
        """``(number, template)`` of ``view``'s info (:attr:`StateView.info_base` and ``info_id``):
        every key in order, the values that depend on the view and its scenario only, ``None`` for
        the others (filled by :meth:`_info`). Views with equal values share one template, so that a
        cached record holds its number, not a dict of its own. The tables are per env and cleared
        when full; numbers are never reused, so a record whose template was dropped is simply given
        a new one when seen again."""
        replicas = view.state.replicas
        key = (
            ctx.index, view.ready, view.pending, view.total, view.success, view.scheduling_message, replicas,
            view.oom_killed, view.throttled, view.others_pending, view.others_unready,
        )  # fmt: skip
        found = self._info_bases.get(key)  # the number (an int: the table stays untracked)
        if found is None:
            base = {
                "scenario": ctx.scenario.id,
                "ready": view.ready,
                "pending": view.pending,
                "total": view.total,
                "target": ctx.constants.target,
                "success": view.success,
                "pending_reasons": None,
                "scheduling_message": view.scheduling_message,
                "requests": None,
                "limits": None,
                "replicas": replicas,
                "action": None,
                "blocked": None,
                "reward_terms": None,
                "action_mask": None,
                "step": None,
                "oom_killed": view.oom_killed,
                "throttled": view.throttled,
                "others_pending": view.others_pending,
                "others_unready": view.others_unready,
                "oom_containers": None,
                "throttled_containers": None,
            }
            oracle_steps = ctx.scenario.oracle_steps
            if oracle_steps is not None:
                base["oracle_steps"] = oracle_steps
            if len(self._info_bases) >= self._info_bases_limit:
                self._info_bases.clear()
                self._info_by_id.clear()
            number = self._info_bases[key] = self._info_next_id
            self._info_next_id = number + 1
            self._info_by_id[number] = base
            return number, base
        return found, self._info_by_id[found]

    def _info(
        self, ctx: ScenarioContext, view: StateView, terms: dict[str, float], step: int, action: str | None,
        blocked: str | None,
    ) -> dict[str, Any]:
        """A fresh info dict: a copy of the view's template with the per-step and mutable values
        written in (fresh lists, dicts and array, so a caller may change what it gets)."""
        base = view.info_base
        if base is None:  # a view made from a record: its template by number
            base = self._info_by_id.get(view.info_id)  # type: ignore[arg-type]
            if base is None:
                view.info_id, base = self._info_base_of(ctx, view)
            view.info_base = base
        info = base.copy()
        info["pending_reasons"] = [*view.pending_reasons]
        info["requests"] = fresh_quantities(view.requests)
        info["limits"] = fresh_quantities(view.limits)
        info["action"] = action
        info["blocked"] = blocked
        info["reward_terms"] = terms
        info["action_mask"] = view.mask_array.copy()
        info["step"] = step
        info["oom_containers"] = [*view.oom_containers]
        info["throttled_containers"] = [*view.throttled_containers]
        return info


class SimKubeTraceEnv(SimKubeEnv):
    """``SimArena-Trace-v0``: :class:`SimKubeEnv` on one trace of your own.

    Args:
        trace: a ``.sktrace`` / ``.json`` path, or a :class:`Trace`.
        workload: ``"namespace/name"`` (a Deployment) or ``"Kind/namespace/name"``; default: the trace's
            only Deployment (or only workload).
        nodes: node pools, a list of ``{"count", "cpu", "memory", "pods", "labels", "taints"}`` dicts
            or one dict; default: 3 nodes of 16 CPU / 32Gi / 110 pods (SimKube virtual nodes).
        target: Ready replicas wanted; default: the workload's replicas in the trace.
        usage_floors: ``{"container": {"cpu": "250m", "memory": "256Mi"}}``, the least the app uses.
        config, render_mode, overrides: as for :class:`SimKubeEnv` (except ``scenarios``).
    """

    def __init__(
        self,
        trace: str | os.PathLike[str] | Trace,
        workload: str | WorkloadRef | None = None,
        nodes: Any = None,
        target: int | None = None,
        usage_floors: Mapping[str, Mapping[str, str]] | None = None,
        config: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        check_config_argument(config)
        if "scenarios" in (config or {}) or "scenarios" in overrides:
            raise ValueError("SimArena-Trace-v0 builds its one scenario from trace=...; do not pass scenarios")
        scenario = scenario_from_trace(trace, workload=workload, nodes=nodes, target=target, usage_floors=usage_floors)
        super().__init__(config, render_mode, scenarios=[scenario], **overrides)


# ---------------------------------------------------------------------------------------------------
# Scenario helpers


def resolve_scenarios(spec: Any) -> list[Scenario]:
    """Scenarios from a set name / index path (``load_scenario_set``), a Scenario, or a list of them."""
    if isinstance(spec, Scenario):
        return [spec]
    if isinstance(spec, (str, os.PathLike)):
        from sim_arena_gym.scenarios.index import load_scenario_set

        found = list(load_scenario_set(str(spec)))
        if not found:
            raise ValueError(f"scenarios {str(spec)!r}: the set is empty")
        return found
    if isinstance(spec, Sequence) and spec and all(isinstance(s, Scenario) for s in spec):
        return list(spec)
    raise ValueError(
        f"scenarios {spec!r}: expected a set name ('train', 'test', 'canonical', 'all'), an index.json path, "
        "or a non-empty list of Scenario"
    )


def _trace_stem(path: Path) -> str:
    name = path.name
    for suffix in (".sktrace", ".json", ".msgpack"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or name
    return path.stem or name


def scenario_from_trace(
    trace: str | os.PathLike[str] | Trace,
    *,
    workload: str | WorkloadRef | None = None,
    nodes: Any = None,
    target: int | None = None,
    usage_floors: Mapping[str, Mapping[str, str]] | None = None,
    scenario_id: str | None = None,
) -> Scenario:
    """A one-off :class:`Scenario` over any SimKube trace (what ``SimArena-Trace-v0`` and
    ``sim-arena run --trace`` use). Raises ``TraceError`` for an unreadable trace or a missing
    workload, ``ValueError`` for bad nodes / target."""
    from sim_arena_gym.trace.errors import WorkloadError
    from sim_arena_gym.trace.validate import validate_trace
    from sim_arena_gym.trace.workloads import find_workload, list_workloads

    check_trace_env_args(trace, workload, nodes, target, usage_floors)
    if isinstance(trace, Trace):
        loaded, path, default_id = trace, None, "trace"
        if trace.source and trace.source != "<bytes>":
            default_id = _trace_stem(Path(trace.source))
    else:
        path = Path(trace)
        loaded = load_trace_cached(path)
        default_id = _trace_stem(path)
    validate_trace(loaded)  # what the apiserver would refuse, before reading the workloads
    if workload is None:
        infos = list_workloads(loaded)
        deployments = [w for w in infos if w.ref.kind == "Deployment"]
        candidates = deployments if len(deployments) == 1 else infos
        if len(candidates) != 1:
            names = ", ".join(str(w.ref) for w in infos) or "none"
            raise WorkloadError(
                f"the trace has {len(infos)} workloads ({names}); choose one with workload='namespace/name'",
                file=loaded.source,
            )
        ref = candidates[0].ref
    else:
        try:
            ref = WorkloadRef.parse(workload)
        except ValueError as exc:
            raise WorkloadError(str(exc), file=loaded.source) from None
    info = find_workload(loaded, ref)
    if target is not None and (not isinstance(target, int) or isinstance(target, bool) or target < 1):
        raise ValueError(f"target {target!r}: expected a positive integer")
    pools = parse_node_pools(nodes) if nodes is not None else (NodePool(),)
    return Scenario(
        id=scenario_id or default_id,
        trace_path=path,
        workload=ref,
        node_pools=pools,
        target_replicas=target if target is not None else int(info.replicas),
        usage_floors={k: dict(v) for k, v in (usage_floors or {}).items()},
        family="custom",
        description=f"{ref} from {path if path is not None else 'an in-memory trace'}",
        trace=loaded,
    )

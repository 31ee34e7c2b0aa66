"""Hand-coded policies for SimArena: baselines, a heuristic operator and a planning oracle.

Every policy has one method, ``act(observation, info) -> int`` (an action id of the env's action set),
so it runs in a plain Gymnasium loop::

    import gymnasium as gym
    import sim_arena_gym, agents

    env = gym.make("SimArena-InsufficientResources-v0", scenarios="canonical")
    policy = agents.make("heuristic", env=env)
    obs, info = env.reset(seed=0)
    while True:
        obs, reward, terminated, truncated, info = env.step(policy.act(obs, info))
        if terminated or truncated:
            break

======================  ========  ====================================================================
name                    env?      behaviour
======================  ========  ====================================================================
``noop``                no        never changes anything (the "do nothing" baseline)
``random``              no        uniform over the allowed actions (``info["action_mask"]``), seeded
``always_bump_cpu``     no        ``cpu_up`` every step
``always_bump_memory``  no        ``memory_up`` every step
``scale_replicas``      no        ``replicas_up`` every step
``heuristic``           yes       what an operator does: scale to the target, fix OOMKills, shrink the
                                  insufficient resource down to the app's usage floor
``oracle``              yes       breadth-first search with the simulator: the first action of a
                                  shortest repair (the upper bound for learned agents)
``sre``                 yes       the on-call engineer's rules for the ``coarse`` action set: bisect
                                  back from OOMKills, shrink the largest container by arithmetic on
                                  the nodes, never looks at the usage floors (``agents/sre.py``)
``oracle_return``       yes       A* search with the simulator and the hidden floors for the plan of
                                  highest *return* in the env's reward mode (``agents/return_oracle.py``)
======================  ========  ====================================================================

Policies that need the env read it through ``env.unwrapped`` (action names, the scenario's node sizes
and usage floors, the simulator); they never change the live episode.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

__all__ = ["Policy", "available", "describe", "make"]


@runtime_checkable
class Policy(Protocol):
    """A policy: maps the last observation and info to an action id."""

    def act(self, observation: Any, info: dict[str, Any]) -> int: ...


def _factories() -> dict[str, tuple[Callable[..., Policy], bool, str]]:
    from agents.basic import ConstantPolicy, NoopPolicy, RandomPolicy
    from agents.heuristic import HeuristicPolicy
    from agents.oracle import OraclePolicy
    from agents.return_oracle import ReturnOraclePolicy
    from agents.sre import SrePolicy

    return {
        "noop": (NoopPolicy, False, "never changes anything"),
        "random": (RandomPolicy, False, "uniform over the allowed actions (info['action_mask']); seed=..."),
        "always_bump_cpu": (
            lambda env=None, **kw: ConstantPolicy("cpu_up", env=env, **kw),
            False,
            "cpu_up every step",
        ),
        "always_bump_memory": (
            lambda env=None, **kw: ConstantPolicy("memory_up", env=env, **kw),
            False,
            "memory_up every step",
        ),
        "scale_replicas": (
            lambda env=None, **kw: ConstantPolicy("replicas_up", env=env, **kw),
            False,
            "replicas_up every step",
        ),
        "heuristic": (
            HeuristicPolicy,
            True,
            "operator rules: scale to target, fix OOMKills, shrink what is insufficient down to the usage floor",
        ),
        "oracle": (OraclePolicy, True, "breadth-first search with the simulator: first action of a shortest repair"),
        "sre": (SrePolicy, True, "on-call rules for the coarse action set: bisect back from OOMKills, shrink the "
                "largest container to what the nodes hold; never sees the usage floors"),
        "oracle_return": (ReturnOraclePolicy, True, "A* search with the simulator and the hidden floors: first "
                          "action of the plan of highest return in the env's reward mode"),
    }


#: Policy names, in the order ``available()`` lists them.
NAMES: tuple[str, ...] = (
    "noop",
    "random",
    "always_bump_cpu",
    "always_bump_memory",
    "scale_replicas",
    "heuristic",
    "oracle",
    "sre",
    "oracle_return",
)


#: Text policies (``act(text, info) -> tool call``), played through
#: :class:`~sim_arena_gym.live.text.TextToolEnv`; ``sim-arena evaluate --agents`` accepts them.
TEXT_NAMES: tuple[str, ...] = ("kubectl_scripted",)


def make_text(name: str, **kwargs: Any) -> Any:
    """The text policy called ``name`` (one of :data:`TEXT_NAMES`)."""
    if name != "kubectl_scripted":
        raise ValueError(f"unknown text policy {name!r}; available: {', '.join(TEXT_NAMES)}")
    from agents.kubectl_agent import KubectlScriptedPolicy

    return KubectlScriptedPolicy(**kwargs)


def available() -> list[str]:
    """Names accepted by :func:`make` (also on the command line: ``sim-arena run --policy NAME``)."""
    return list(NAMES)


def describe() -> dict[str, str]:
    """``{name: one-line description}``, with ``(needs env)`` where ``make`` requires ``env=``."""
    out = {}
    for name, (_, needs_env, text) in _factories().items():
        out[name] = text + (" (needs env)" if needs_env else "")
    return out


def make(name: str, env: Any = None, **kwargs: Any) -> Policy:
    """The policy called ``name``.

    Args:
        name: one of :func:`available`.
        env: the env the policy acts in (required by ``heuristic`` and ``oracle``; used by the others to
            look up action ids when the env's action set is not the default one).
        kwargs: policy options, e.g. ``seed=`` for ``random``, ``max_states=`` for ``oracle``.

    Raises:
        ValueError: unknown name, or a policy that needs ``env`` was given none.
    """
    factories = _factories()
    try:
        factory, needs_env, _ = factories[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; available: {', '.join(NAMES)}") from None
    if needs_env and env is None:
        raise ValueError(f"policy {name!r} needs the env: agents.make({name!r}, env=env)")
    return factory(env=env, **kwargs)

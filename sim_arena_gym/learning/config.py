"""Training settings: the algorithm names, the committed hyperparameter file and ``--config`` overrides.

The hyperparameter file (``hyperparams.yml`` next to this module, shipped as package data) follows the
rl-zoo3 layout, one section per algorithm keyed by environment id, ``default`` for any other id::

    ppo:
      default:
        n_timesteps: 100000   # env steps
        n_envs: 4
        policy: MlpPolicy
        eval_freq: 5000       # env steps between two evaluations
        n_steps: 256          # ... every other key goes to the algorithm's constructor

A ``--config FILE`` has the same layout; each key it names replaces the committed one. This module
imports neither torch nor Stable-Baselines3.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

#: Algorithm names accepted by ``sim-arena train --algo`` (the keys of the hyperparameter file).
ALGORITHMS = ("ppo", "dqn", "maskable_ppo")
#: Learning frameworks ``train`` can drive (``--framework``).
FRAMEWORKS = ("sb3",)
#: Vector-env kinds (``--vec``): SB3's ``DummyVecEnv`` (one process) or ``SubprocVecEnv``.
VEC_KINDS = ("dummy", "subproc")
#: The committed hyperparameter file.
DEFAULT_HYPERPARAMS = Path(__file__).with_name("hyperparams.yml")
#: Keys of a hyperparameter entry that ``train`` reads itself (the rest go to the algorithm).
RUN_KEYS = ("n_timesteps", "n_envs", "policy", "eval_freq", "env_kwargs")
DEFAULT_ENV_ID = "SimArena-InsufficientResources-v0"


class LearningConfigError(ValueError):
    """A hyperparameter file or a training/evaluation option is invalid; the message names the file
    (or option) and the key."""


@dataclass
class TrainSpec:
    """Everything one training run needs.

    ``timesteps`` counts env steps (all envs together); ``eval_freq`` too. ``hyperparams`` are the
    algorithm constructor's keyword arguments (``learning_rate``, ``n_steps``, ...)."""

    algo: str
    env_id: str = DEFAULT_ENV_ID
    split: str = "train"
    eval_split: str = "test"
    timesteps: int = 100_000
    n_envs: int = 4
    vec: str = "dummy"
    seed: int = 0
    policy: str = "MlpPolicy"
    eval_freq: int = 5000
    hyperparams: dict[str, Any] = field(default_factory=dict)
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    framework: str = "sb3"
    progress_bar: bool = True
    config_files: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``run.json`` records)."""
        return {
            "framework": self.framework,
            "algo": self.algo,
            "env_id": self.env_id,
            "split": self.split,
            "eval_split": self.eval_split,
            "timesteps": self.timesteps,
            "n_envs": self.n_envs,
            "vec": self.vec,
            "seed": self.seed,
            "policy": self.policy,
            "eval_freq": self.eval_freq,
            "hyperparams": copy.deepcopy(self.hyperparams),
            "env_kwargs": copy.deepcopy(self.env_kwargs),
            "config_files": list(self.config_files),
        }


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping in the YAML file at ``path``; :class:`LearningConfigError` naming the file otherwise."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LearningConfigError(f"{path}: cannot read the hyperparameter file ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise LearningConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise LearningConfigError(f"{path}: expected a mapping of algorithm names, found {type(data).__name__}")
    return dict(data)


def _check_file(path: Path, data: Mapping[str, Any]) -> None:
    for algo, section in data.items():
        if algo not in ALGORITHMS:
            raise LearningConfigError(f"{path}: unknown algorithm {algo!r}; known: {', '.join(ALGORITHMS)}")
        if not isinstance(section, Mapping):
            raise LearningConfigError(f"{path}: {algo}: expected a mapping of environment ids to settings")
        for env_id, entry in section.items():
            if not isinstance(entry, Mapping):
                raise LearningConfigError(f"{path}: {algo}.{env_id}: expected a mapping of settings")


def _positive_int(path: str, where: str, key: str, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # rl-zoo3 files write 1e5
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise LearningConfigError(f"{path}: {where}.{key}: expected a positive integer, got {value!r}")
    return value


def resolve_hyperparams(
    algo: str, env_id: str, config_files: tuple[str | Path, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(run settings, algorithm kwargs)`` for ``algo`` on ``env_id``.

    Starts from the committed file's ``default`` entry then its ``env_id`` entry, then applies each
    ``config_files`` entry the same way (later files win). Run settings hold the :data:`RUN_KEYS`."""
    if algo not in ALGORITHMS:
        raise LearningConfigError(f"--algo {algo!r}: expected one of {', '.join(ALGORITHMS)}")
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for path in (DEFAULT_HYPERPARAMS, *map(Path, config_files)):
        data = read_yaml(path)
        _check_file(path, data)
        section = data.get(algo) or {}
        for key in ("default", env_id):
            for name, value in (section.get(key) or {}).items():
                merged[str(name)] = copy.deepcopy(value)
                sources[str(name)] = f"{path}: {algo}.{key}"
    run = {k: merged.pop(k) for k in RUN_KEYS if k in merged}
    for key in ("n_timesteps", "n_envs", "eval_freq"):
        if key in run:
            where = sources[key].split(": ", 1)
            run[key] = _positive_int(where[0], where[1], key, run[key])
    if "policy" in run and not isinstance(run["policy"], str):
        raise LearningConfigError(f"{sources['policy']}.policy: expected a policy name such as MlpPolicy")
    if "env_kwargs" in run and not isinstance(run["env_kwargs"], Mapping):
        raise LearningConfigError(f"{sources['env_kwargs']}.env_kwargs: expected a mapping of env options")
    for key in ("seed", "env", "tensorboard_log", "verbose", "device"):
        if key in merged:
            raise LearningConfigError(
                f"{sources[key]}.{key}: set by `sim-arena train` itself (use its options), not by the config"
            )
    return run, merged


def make_train_spec(
    algo: str,
    *,
    env_id: str = DEFAULT_ENV_ID,
    split: str = "train",
    eval_split: str = "test",
    timesteps: int | None = None,
    n_envs: int | None = None,
    vec: str = "dummy",
    seed: int = 0,
    config_files: tuple[str | Path, ...] = (),
    framework: str = "sb3",
    progress_bar: bool = True,
) -> TrainSpec:
    """A :class:`TrainSpec` from the hyperparameter files plus explicit options (which win)."""
    if framework not in FRAMEWORKS:
        raise LearningConfigError(f"--framework {framework!r}: expected one of {', '.join(FRAMEWORKS)}")
    if vec not in VEC_KINDS:
        raise LearningConfigError(f"--vec {vec!r}: expected one of {', '.join(VEC_KINDS)}")
    run, hyper = resolve_hyperparams(algo, env_id, tuple(config_files))
    if timesteps is not None and timesteps < 1:
        raise LearningConfigError(f"--timesteps {timesteps}: must be at least 1")
    if n_envs is not None and n_envs < 1:
        raise LearningConfigError(f"--n-envs {n_envs}: must be at least 1")
    if seed < 0:
        raise LearningConfigError(f"--seed {seed}: must be 0 or more")
    return TrainSpec(
        algo=algo,
        env_id=env_id,
        split=split,
        eval_split=eval_split,
        timesteps=timesteps if timesteps is not None else run.get("n_timesteps", 100_000),
        n_envs=n_envs if n_envs is not None else run.get("n_envs", 1),
        vec=vec,
        seed=seed,
        policy=run.get("policy", "MlpPolicy"),
        eval_freq=run.get("eval_freq", 5000),
        hyperparams=hyper,
        env_kwargs=dict(run.get("env_kwargs") or {}),
        framework=framework,
        progress_bar=progress_bar,
        config_files=tuple(str(p) for p in config_files),
    )

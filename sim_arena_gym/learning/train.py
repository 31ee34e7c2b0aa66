"""Train a Stable-Baselines3 / sb3-contrib agent (PPO, DQN, MaskablePPO) on a scenario split.

:func:`train` is what ``sim-arena train`` and ``examples/train_ppo.py`` run. The run folder gets::

    model.zip               the final model (load it with `sim-arena evaluate --model DIR`)
    best_model.zip          the model with the best held-out mean return seen by the evaluations
    checkpoints/            model_<steps>_steps.zip every `checkpoint_freq` env steps
    tb/<algo>_1/            TensorBoard event files (rollout/*, train/*, eval/* = held-out, eval_train/* = train)
    eval/<split>/evaluations.npz   SB3's evaluation records (timesteps, returns, lengths, successes)
    curves.csv              success rate and mean return against env steps, per split
    learning_curve.png      the same, drawn
    config.yml              the resolved settings (hyperparameter file plus options)
    run.json                the settings, wall time, final results on both splits, library versions

Evaluations play every scenario of a split once, deterministically (``ScenarioCycle``), every
``eval_freq`` env steps, through SB3's ``EvalCallback`` (sb3-contrib's ``MaskableEvalCallback`` for
MaskablePPO, so evaluation is masked as training is). Torch and SB3 are imported inside :func:`train`.
"""

from __future__ import annotations

import csv
import io
import json
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any, TextIO

from sim_arena_gym.learning.config import LearningConfigError, TrainSpec
from sim_arena_gym.learning.evaluate import atomic_write, play, summarize
from sim_arena_gym.learning.envs import ScenarioCycle, SuccessInfo, make_env

#: ``--algo`` name -> (package, class).
ALGO_CLASSES = {"ppo": ("stable_baselines3", "PPO"), "dqn": ("stable_baselines3", "DQN"),
                "maskable_ppo": ("sb3_contrib", "MaskablePPO")}  # fmt: skip
#: Env steps between two checkpoints unless the config sets ``checkpoint_freq``.
DEFAULT_CHECKPOINT_FREQ = 25_000


class _RenamedLogger:
    """Forwards to an SB3 logger, recording ``eval/*`` keys as ``eval_train/*``."""

    def __init__(self, logger: Any) -> None:
        self._logger = logger

    def record(self, key: str, value: Any, exclude: Any = None) -> None:
        if key.startswith("eval/"):
            key = "eval_train/" + key[len("eval/"):]
        self._logger.record(key, value, exclude)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)


def _eval_callback_class(algo: str) -> Any:
    if algo == "maskable_ppo":
        from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback

        return MaskableEvalCallback
    from stable_baselines3.common.callbacks import EvalCallback

    return EvalCallback


def _train_split_callback_class(base: Any) -> Any:
    class TrainSplitEvalCallback(base):  # type: ignore[misc,valid-type]
        """The same evaluation on the training split, logged as ``eval_train/*``."""

        @property
        def logger(self) -> Any:
            return _RenamedLogger(self.model.logger)

    return TrainSplitEvalCallback


def _eval_env(spec: TrainSpec, split: str) -> tuple[Any, int]:
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    probe = make_env(spec.env_id, split, spec.env_kwargs)
    count = len(probe.unwrapped.scenarios)
    probe.close()

    def build() -> Any:
        return Monitor(ScenarioCycle(SuccessInfo(make_env(spec.env_id, split, spec.env_kwargs))))

    return DummyVecEnv([build]), count


def _curve_rows(npz_path: Path) -> list[dict[str, float]]:
    import numpy as np

    if not npz_path.is_file():
        return []
    data = np.load(npz_path)
    rows = []
    for i, steps in enumerate(data["timesteps"]):
        row = {"timesteps": int(steps), "mean_return": float(np.mean(data["results"][i]))}
        row["success_rate"] = float(np.mean(data["successes"][i])) if "successes" in data and len(data["successes"]) else 0.0
        rows.append(row)
    return rows


def run_curves(
    run_dir: Path, *, split: str, eval_split: str, final: dict[str, dict[str, Any]], num_timesteps: int
) -> dict[str, list[dict[str, float]]]:
    """The learning curves of a run folder: ``{"<split> split": rows, "<eval split> split (held-out)": rows}``.

    Rows are SB3's evaluations (``eval/<split>/evaluations.npz``), then the final model's figures at
    ``num_timesteps``; they replace an evaluation made at that same step, which an off-policy learner
    can make before its last gradient step."""
    curves = {}
    for split_name, label in ((split, f"{split} split"), (eval_split, f"{eval_split} split (held-out)")):
        rows = [r for r in _curve_rows(run_dir / "eval" / split_name / "evaluations.npz") if r["timesteps"] != num_timesteps]
        last = final[split_name]
        rows.append({"timesteps": num_timesteps, "success_rate": last["success_rate"], "mean_return": last["mean_return"]})
        curves[label] = rows
    return curves


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("stable-baselines3", "sb3-contrib", "torch", "gymnasium", "numpy"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:  # pragma: no cover
            pass
    return out


def train(spec: TrainSpec, out_dir: str | Path, *, overwrite: bool = False, log: TextIO | None = None) -> dict[str, Any]:
    """Train ``spec.algo`` as ``spec`` says, write the run folder ``out_dir`` (see the module
    docstring) and return the run summary (what ``run.json`` holds).

    Raises :class:`LearningConfigError` for an unknown framework or algorithm, a split the env does not
    know, or an ``out_dir`` that already holds a run (unless ``overwrite``)."""
    log = log or sys.stdout
    if spec.framework != "sb3":
        raise LearningConfigError(f"--framework {spec.framework!r}: only 'sb3' is built")
    if spec.algo not in ALGO_CLASSES:
        raise LearningConfigError(f"--algo {spec.algo!r}: expected one of {', '.join(ALGO_CLASSES)}")
    out = Path(out_dir)
    if (out / "model.zip").exists() and not overwrite:
        raise LearningConfigError(f"--out {str(out)!r}: already holds a run (model.zip); choose another folder or pass --overwrite")
    if overwrite:
        _clear_run(out)
    hyper = dict(spec.hyperparams)
    checkpoint_freq = int(hyper.pop("checkpoint_freq", DEFAULT_CHECKPOINT_FREQ))

    # Fail on a bad env id or split before any heavy import.
    probe = make_env(spec.env_id, spec.split, spec.env_kwargs)
    train_count = len(probe.unwrapped.scenarios)
    probe.close()

    import importlib

    import torch
    from stable_baselines3.common.callbacks import CallbackList, CheckpointCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    torch.set_num_threads(1)  # a small MLP: more threads only add overhead
    out.mkdir(parents=True, exist_ok=True)
    package, cls_name = ALGO_CLASSES[spec.algo]
    algo_cls = getattr(importlib.import_module(package), cls_name)

    env_id, split, env_kwargs = spec.env_id, spec.split, dict(spec.env_kwargs)

    def build_train_env() -> Any:
        return SuccessInfo(make_env(env_id, split, env_kwargs))

    vec_cls = SubprocVecEnv if spec.vec == "subproc" else DummyVecEnv
    vec = make_vec_env(build_train_env, n_envs=spec.n_envs, seed=spec.seed, vec_env_cls=vec_cls)
    eval_test, test_count = _eval_env(spec, spec.eval_split)
    eval_train, _ = _eval_env(spec, spec.split)
    eval_cls = _eval_callback_class(spec.algo)
    freq = max(spec.eval_freq // spec.n_envs, 1)
    callbacks = CallbackList([
        eval_cls(eval_test, n_eval_episodes=test_count, eval_freq=freq, log_path=str(out / "eval" / spec.eval_split),
                 best_model_save_path=str(out), deterministic=True, verbose=0),
        _train_split_callback_class(eval_cls)(
            eval_train, n_eval_episodes=train_count, eval_freq=freq, log_path=str(out / "eval" / spec.split),
            best_model_save_path=None, deterministic=True, verbose=0),
        CheckpointCallback(save_freq=max(checkpoint_freq // spec.n_envs, 1), save_path=str(out / "checkpoints"),
                           name_prefix="model"),
    ])  # fmt: skip
    try:
        model = algo_cls(spec.policy, vec, seed=spec.seed, tensorboard_log=str(out / "tb"), verbose=0,
                         device="cpu", **hyper)  # fmt: skip
    except TypeError as exc:
        raise LearningConfigError(f"hyperparameters for {spec.algo}: {exc}") from None
    log.write(f"training {cls_name} on {spec.env_id} split {spec.split!r} ({train_count} scenarios) for "
              f"{spec.timesteps} env steps, {spec.n_envs} env(s), seed {spec.seed}; held-out: {spec.eval_split!r} "
              f"({test_count} scenarios)\n")  # fmt: skip
    log.flush()
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # Evaluation always runs in-process (DummyVecEnv), whatever --vec trains with; and tqdm calls
            # its rich bar experimental. Neither is a problem here.
            warnings.filterwarnings("ignore", message="Training and eval env are not of the same type")
            warnings.filterwarnings("ignore", message="rich is experimental")
            model.learn(total_timesteps=spec.timesteps, callback=callbacks, tb_log_name=spec.algo,
                        progress_bar=spec.progress_bar)  # fmt: skip
    finally:
        vec.close()
        eval_test.close()
        eval_train.close()
    wall_s = time.perf_counter() - start
    model.save(out / "model")

    final = _final_results(model, spec)
    curves = run_curves(out, split=spec.split, eval_split=spec.eval_split, final=final,
                        num_timesteps=int(model.num_timesteps))  # fmt: skip
    _write_curves(out / "curves.csv", curves)
    from sim_arena_gym.learning.plots import learning_curve

    learning_curve(curves, out / "learning_curve.png", f"{cls_name} on {spec.env_id}, seed {spec.seed}")
    import yaml

    config = {spec.algo: {spec.env_id: {"n_timesteps": spec.timesteps, "n_envs": spec.n_envs, "policy": spec.policy,
                                        "eval_freq": spec.eval_freq, **spec.hyperparams,
                                        **({"env_kwargs": spec.env_kwargs} if spec.env_kwargs else {})}}}  # fmt: skip
    atomic_write(out / "config.yml", yaml.safe_dump(config, sort_keys=False).encode())
    summary = {
        "format": "sim-arena-run/v1",
        "algorithm": cls_name,
        **spec.to_json(),
        "num_timesteps": int(model.num_timesteps),
        "wall_time_s": round(wall_s, 2),
        "steps_per_s": round(model.num_timesteps / wall_s, 1) if wall_s > 0 else None,
        "final": final,
        "versions": _versions(),
        "machine": {"cpus": _cpu_count(), "platform": platform.platform()},
    }
    atomic_write(out / "run.json", (json.dumps(summary, indent=2) + "\n").encode())
    for split_name in (spec.split, spec.eval_split):
        r = final[split_name]
        steps = "-" if r["mean_steps"] is None else f"{r['mean_steps']:.2f}"
        log.write(f"{split_name:<10} success {100 * r['success_rate']:.1f}%  mean steps {steps}  "
                  f"mean return {r['mean_return']:.3f}\n")  # fmt: skip
    log.write(f"trained in {wall_s:.1f} s; saved {out / 'model.zip'}\n")
    log.write(f"evaluate: sim-arena evaluate --split {spec.eval_split} --model {out}\n")
    return summary


#: What a run writes into its folder (and ``--overwrite`` removes first); nothing else there is touched.
RUN_FILES = ("model.zip", "best_model.zip", "curves.csv", "learning_curve.png", "config.yml", "run.json")
RUN_FOLDERS = ("checkpoints", "tb", "eval")


def _clear_run(out: Path) -> None:
    import shutil

    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for name in RUN_FOLDERS:
        if (out / name).is_dir():
            shutil.rmtree(out / name)


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _final_results(model: Any, spec: TrainSpec) -> dict[str, dict[str, Any]]:
    """The final model on both splits, each scenario once, deterministic (masked for MaskablePPO)."""
    from sim_arena_gym.learning.models import PredictPolicy

    policy = PredictPolicy(model, maskable=spec.algo == "maskable_ppo")
    out = {}
    for split_name in dict.fromkeys((spec.split, spec.eval_split)):
        env = make_env(spec.env_id, split_name, spec.env_kwargs)
        try:
            out[split_name] = summarize(play(env, policy, spec.algo, seed=spec.seed))
        finally:
            env.close()
    return out


def _write_curves(path: Path, curves: dict[str, list[dict[str, float]]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["split", "timesteps", "success_rate", "mean_return"])
    for label, rows in curves.items():
        for r in rows:
            writer.writerow([label.split(" ")[0], r["timesteps"], repr(r["success_rate"]), repr(r["mean_return"])])
    atomic_write(path, buf.getvalue().encode())

"""Saved Stable-Baselines3 / sb3-contrib models: tell the algorithm from the zip, load, act.

A model zip (``model.save(...)``) holds a JSON ``data`` entry whose ``policy_class`` names the module
and class of its policy; that, plus one algorithm-specific key, says which algorithm saved it, so
:func:`load_model` needs no ``--algo``. Torch and SB3 are imported only when a model is loaded.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

from sim_arena_gym.learning.config import LearningConfigError

#: ``(policy module, policy class) -> (import path, class name)`` of the algorithm that saves it.
_POLICY_TO_ALGO: dict[tuple[str, str], tuple[str, str]] = {
    ("stable_baselines3.dqn.policies", "DQNPolicy"): ("stable_baselines3", "DQN"),
    ("sb3_contrib.common.maskable.policies", "MaskableActorCriticPolicy"): ("sb3_contrib", "MaskablePPO"),
    ("sb3_contrib.qrdqn.policies", "QRDQNPolicy"): ("sb3_contrib", "QRDQN"),
    ("stable_baselines3.common.policies", "ActorCriticPolicy"): ("stable_baselines3", "PPO"),
}


def model_file(path: str | Path) -> Path:
    """The zip for ``path``: the file itself, ``path + ".zip"``, or ``model.zip`` inside a run folder."""
    p = Path(path)
    for candidate in (p, Path(f"{p}.zip"), p / "model.zip"):
        if candidate.is_file():
            return candidate
    raise LearningConfigError(f"--model {str(path)!r}: no such model (a .zip saved by `sim-arena train`, or its run folder)")


def read_model_data(path: Path) -> dict[str, Any]:
    """The ``data`` JSON of a saved model (no torch needed)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return dict(json.loads(archive.read("data")))
    except (OSError, zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise LearningConfigError(f"--model {str(path)!r}: not a Stable-Baselines3 model zip ({exc})") from None


def detect_algorithm(path: str | Path) -> str:
    """The algorithm class name that saved the model (``"PPO"``, ``"DQN"``, ``"MaskablePPO"``, ...)."""
    zpath = model_file(path)
    policy = read_model_data(zpath).get("policy_class")
    if not isinstance(policy, dict):
        raise LearningConfigError(f"--model {str(zpath)!r}: its data names no policy class")
    module = str(policy.get("__module__", ""))
    match = re.match(r"<function (\w+)\.__init__", str(policy.get("__init__", "")))
    cls = match.group(1) if match else ""
    data = read_model_data(zpath)
    if (module, cls) == ("stable_baselines3.common.policies", "ActorCriticPolicy") and "clip_range" not in data:
        return "A2C"
    try:
        return _POLICY_TO_ALGO[(module, cls)][1]
    except KeyError:
        raise LearningConfigError(
            f"--model {str(zpath)!r}: cannot tell which algorithm saved it (policy {module}.{cls}); "
            f"supported: {', '.join(sorted({a for _, a in _POLICY_TO_ALGO.values()} | {'A2C'}))}"
        ) from None


def algorithm_class(name: str) -> Any:
    """The SB3 / sb3-contrib class called ``name``."""
    import importlib

    package = "sb3_contrib" if name in ("MaskablePPO", "QRDQN") else "stable_baselines3"
    return getattr(importlib.import_module(package), name)


class PredictPolicy:
    """A loaded SB3 model as a policy: ``act(observation, info) -> action id``, deterministic, masked
    with ``info["action_mask"]`` when ``maskable``."""

    def __init__(self, model: Any, *, maskable: bool) -> None:
        self.model = model
        self.maskable = maskable

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        kwargs = {"action_masks": info["action_mask"].astype(bool)} if self.maskable else {}
        action, _ = self.model.predict(observation, deterministic=True, **kwargs)
        return int(action)


class ModelPolicy(PredictPolicy):
    """A saved model (``path``: a zip or a run folder) as a policy; the algorithm is read from the zip."""

    def __init__(self, path: str | Path) -> None:
        import torch

        torch.set_num_threads(1)
        self.path = model_file(path)
        self.algorithm = detect_algorithm(self.path)
        model = algorithm_class(self.algorithm).load(self.path, device="cpu")
        super().__init__(model, maskable=self.algorithm == "MaskablePPO")

"""Learning agents: train Stable-Baselines3 / sb3-contrib agents and evaluate them next to the
hand-coded ones.

==============  ==================================================================================
module          what
==============  ==================================================================================
``config``      algorithm names, the committed ``hyperparams.yml`` (rl-zoo3 layout), ``--config``
``envs``        env construction, ``SuccessInfo`` / ``ScenarioCycle`` wrappers (Gymnasium only)
``train``       :func:`~sim_arena_gym.learning.train.train`: one run folder per training run
``models``      tell a saved model's algorithm from its zip, load it, act with it
``evaluate``    every agent on every scenario of a split: per-family metrics, table, CSV, JSON
``plots``       learning curves and per-family bar charts (matplotlib, Agg backend)
``leaderboard`` markdown tables for ``docs/RESULTS.md`` and the README from result files
==============  ==================================================================================

This package sits at the level of ``agents`` and the CLI (it uses both the env and the agents).
Importing it imports neither torch nor Stable-Baselines3: they load inside ``train`` and when a model
is loaded.
"""

from sim_arena_gym.learning.config import ALGORITHMS, FRAMEWORKS, LearningConfigError, TrainSpec, make_train_spec

__all__ = ["ALGORITHMS", "FRAMEWORKS", "LearningConfigError", "TrainSpec", "make_train_spec"]

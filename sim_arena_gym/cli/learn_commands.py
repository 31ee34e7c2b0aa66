"""``sim-arena train`` and ``sim-arena evaluate``: learning agents and the leaderboard.

Examples::

    sim-arena train --algo maskable_ppo --out runs/mppo-s0
    sim-arena train --algo dqn --timesteps 100000 --seed 1 --config my-dqn.yml --out runs/dqn-s1
    sim-arena evaluate --split test --model runs/mppo-s0 --out results/test   # with every hand-coded agent
    sim-arena evaluate --split train --agents heuristic,oracle --episodes-per-scenario 2

Torch and Stable-Baselines3 load only inside these commands (and ``evaluate`` loads them only for
``--model``), so ``sim-arena --help`` stays light.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sim_arena_gym.cli import UsageError
from sim_arena_gym.cli.backend_flags import add_backend_arguments, backend_config, preflight_passes

#: Hand-coded agents ``evaluate`` runs unless ``--agents`` says otherwise: every one, next to any model.
DEFAULT_AGENTS = "all"


def register(commands: Any, trace_commands: Any) -> None:
    """Add ``train`` and ``evaluate``."""
    from sim_arena_gym.learning.config import ALGORITHMS, DEFAULT_ENV_ID, FRAMEWORKS, VEC_KINDS

    tr = commands.add_parser(
        "train",
        help="train PPO, DQN or MaskablePPO on a scenario split (curves, checkpoints, TensorBoard)",
        description=(
            "Train a Stable-Baselines3 agent on a scenario split, evaluating it on the held-out split as it "
            "learns. Hyperparameters come from the committed rl-zoo3-style file "
            "(sim_arena_gym/learning/hyperparams.yml), overridden by --config files and by these options. "
            "The run folder gets model.zip, best_model.zip, checkpoints/, tb/ (TensorBoard), curves.csv, "
            "learning_curve.png, config.yml and run.json."
        ),
    )
    tr.add_argument("--algo", required=True, choices=ALGORITHMS, help="the learning algorithm")
    tr.add_argument("--framework", default="sb3", choices=FRAMEWORKS, help="learning library (default sb3)")
    tr.add_argument("--env", dest="env_id", metavar="ID", default=DEFAULT_ENV_ID,
                    help=f"registered env id (default {DEFAULT_ENV_ID})")
    tr.add_argument("--split", default="train", metavar="NAME",
                    help="scenario split to train on (default train; any split of the index, or an index path)")
    tr.add_argument("--eval-split", default="test", metavar="NAME",
                    help="held-out split evaluated during training (default test)")
    tr.add_argument("--timesteps", type=int, metavar="N", help="env steps to train (default: the config's n_timesteps)")
    tr.add_argument("--n-envs", type=int, metavar="N", help="parallel envs (default: the config's n_envs)")
    tr.add_argument("--vec", default="dummy", choices=VEC_KINDS,
                    help="vector env: dummy (one process, default) or subproc (one process per env)")
    tr.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the envs and the learner (default 0)")
    tr.add_argument("--config", action="append", default=[], metavar="FILE", type=Path,
                    help="YAML file overriding the committed hyperparameters (repeatable; later wins)")
    tr.add_argument("--out", type=Path, metavar="DIR", help="run folder (default runs/<algo>-s<seed>)")
    tr.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    tr.add_argument("--no-progress-bar", dest="progress_bar", action="store_false", help="hide the progress bar")
    tr.set_defaults(func=cmd_train)

    ev = commands.add_parser(
        "evaluate",
        help="success rate, steps, over-allocation and return per family, for agents and trained models",
        description=(
            "Play every scenario of a split with each agent (hand-coded agents and SB3 models saved by `train`, "
            "whose algorithm is read from the zip), then print per-family and overall success rate, mean steps "
            "to success, mean final over-allocation and mean return. With --out, also write results.json, "
            "results.csv and plots/<family>.png."
        ),
    )
    ev.add_argument("--split", default="test", metavar="NAME",
                    help="scenario split (default test; any split of the index, or an index path)")
    ev.add_argument("--env", dest="env_id", metavar="ID", default=DEFAULT_ENV_ID,
                    help=f"registered env id (default {DEFAULT_ENV_ID})")
    ev.add_argument("--agents", metavar="A,B,...", default=None,
                    help="hand-coded agents, comma-separated, 'all' (default: the Gym agents) or 'none'; "
                         "text agents (kubectl_scripted) play through the live cluster's text interface")
    ev.add_argument("--model", action="append", default=[], metavar="[LABEL=]PATH",
                    help="a model zip saved by `train`, or its run folder (repeatable)")
    ev.add_argument("--episodes-per-scenario", type=int, default=1, metavar="K",
                    help="episodes per scenario and agent (default 1; the env is deterministic)")
    ev.add_argument("--seed", type=int, default=0, metavar="S", help="first reset seed, and the random agent's (default 0)")
    ev.add_argument("--out", type=Path, metavar="DIR", help="write results.json, results.csv and plots/ here")
    ev.add_argument("--overall-only", action="store_true", help="print only the overall table")
    add_backend_arguments(ev)  # evaluate on a SimKube cluster: --backend simkube --kubeconfig ... --trace-store ...
    ev.set_defaults(func=cmd_evaluate)


def _agent_names(text: str | None) -> list[str]:
    import agents

    text = DEFAULT_AGENTS if text is None else text.strip()
    if text == "all":
        return agents.available()
    if text in ("none", ""):
        return []
    return [name.strip() for name in text.split(",") if name.strip()]


def cmd_train(args: argparse.Namespace) -> int:
    """``sim-arena train``: train a Stable-Baselines3 agent into a run folder."""
    from sim_arena_gym.learning.config import LearningConfigError, make_train_spec

    try:
        spec = make_train_spec(
            args.algo, env_id=args.env_id, split=args.split, eval_split=args.eval_split, timesteps=args.timesteps,
            n_envs=args.n_envs, vec=args.vec, seed=args.seed, config_files=tuple(args.config),
            framework=args.framework, progress_bar=args.progress_bar,
        )  # fmt: skip
        from sim_arena_gym.learning.train import train

        train(spec, args.out or Path("runs") / f"{args.algo}-s{args.seed}", overwrite=args.overwrite, log=sys.stdout)
    except LearningConfigError as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``sim-arena evaluate``: score agents and models per family."""
    from sim_arena_gym.learning.config import LearningConfigError
    from sim_arena_gym.learning.evaluate import agent_entries, evaluate, table_text, write_results

    try:
        entries = agent_entries(_agent_names(args.agents), args.model)
        backend = backend_config(args)
        if not preflight_passes(backend, "evaluating on SimKube"):
            return 1
        result = evaluate(entries, env_id=args.env_id, split=args.split,
                          episodes_per_scenario=args.episodes_per_scenario, seed=args.seed,
                          env_kwargs=backend if backend["backend"] != "embedded" else None)  # fmt: skip
    except LearningConfigError as exc:
        raise UsageError(str(exc)) from None
    sys.stdout.write(table_text(result, families=not args.overall_only))
    if args.out is not None:
        for path in write_results(result, args.out):
            sys.stdout.write(f"wrote {path}\n")
    return 0

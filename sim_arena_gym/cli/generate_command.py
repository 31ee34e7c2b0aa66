"""``sim-arena trace generate``: write seeded broken-workload scenarios as ``.sktrace`` files plus an index.

Examples::

    sim-arena trace generate --count 24 --seed 7 --out my-traces/
    sim-arena trace generate --count 10 --seed 1 --families very-bad-cpu,node-pools --format json --out x/
    sim-arena trace generate --preset default --out traces/      # the committed set, oracle steps included

The output folder gets ``train/<id>.sktrace`` and ``test/<id>.sktrace`` (``canonical/`` with
``--canonical`` or ``--preset default``) and an ``index.json`` listing them (see docs/TRACE_FORMAT.md).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

from sim_arena_gym.scenarios.families import FAMILY_NAMES
from sim_arena_gym.scenarios.generate import (
    DEFAULT_PRESET,
    canonical_scenarios,
    default_scenarios,
    family_counts,
    generate_scenarios,
)
from sim_arena_gym.scenarios.model import Scenario


#: Most scenarios one ``trace generate`` writes (every run bounded).
MAX_GENERATED = 100_000


def register(commands: Any, trace_commands: Any) -> None:
    """Add ``trace generate`` to the ``trace`` sub-commands."""
    p = trace_commands.add_parser(
        "generate",
        help="generate broken-workload scenarios (.sktrace files and an index.json)",
        description=(
            "Generate seeded scenarios in which a Deployment's pods stay Pending (or are OOMKilled), cycling "
            "through the scenario families, and write them with an index.json. Same seed, same bytes."
        ),
    )
    p.add_argument("--count", type=int, default=24, help="number of generated scenarios (default 24)")
    p.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (created if missing); required unless --preset is given")
    p.add_argument("--format", choices=("msgpack", "json"), default="msgpack",
                   help="trace encoding: msgpack .sktrace as SimKube writes (default) or .json")
    p.add_argument("--families", type=_family_list, default=None,
                   help=f"comma-separated families to cycle through (default all: {','.join(FAMILY_NAMES)})")
    p.add_argument("--split-ratio", type=float, default=0.8,
                   help="share of each family that goes to the train split (default 0.8; the rest is test)")
    p.add_argument("--canonical", action="store_true", help="also write the four canonical demo scenarios")
    p.add_argument("--preset", choices=("default",), default=None,
                   help=("'default': the committed set (the canonical demos and "
                         f"{DEFAULT_PRESET['count']} scenarios from seed {DEFAULT_PRESET['seed']}); "
                         "ignores --count, --seed, --families and --split-ratio; --out defaults to the traces folder"))
    p.add_argument("--overwrite", action="store_true",
                   help="allow writing into the repository's committed scenario set (traces/); off by default")
    p.add_argument("--oracle", action=argparse.BooleanOptionalAction, default=None,
                   help="run the oracle on every scenario and record oracle_steps (default: on with --preset)")
    p.set_defaults(func=run_generate)


def _family_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in FAMILY_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown family {', '.join(unknown) or '(none given)'}; known: {', '.join(FAMILY_NAMES)}"
        )
    return names


def measure_oracle_steps(scenario: Scenario, *, max_steps: int | None = None) -> int | None:
    """Steps the ``oracle`` agent needs to repair ``scenario`` in a fresh env (default config), or
    ``None`` when the episode ends without success. Needs the env and the ``agents`` package."""
    import agents
    from sim_arena_gym.env import SimKubeEnv

    env = SimKubeEnv(config={"scenarios": [scenario]})
    try:
        policy = agents.make("oracle", env=env)
        obs, info = env.reset(seed=0)
        steps = 0
        while True:
            obs, _, terminated, truncated, info = env.step(policy.act(obs, info))
            steps += 1
            if terminated or truncated or (max_steps is not None and steps >= max_steps):
                break
        return steps if info.get("success") else None
    finally:
        env.close()


def with_oracle_steps(
    scenarios: Sequence[Scenario], *, progress: Callable[[str], None] | None = None
) -> list[Scenario]:
    """``scenarios`` with ``oracle_steps`` measured by :func:`measure_oracle_steps`."""
    out = []
    for s in scenarios:
        steps = measure_oracle_steps(s)
        if progress is not None:
            progress(f"{s.id}: oracle {'failed' if steps is None else f'{steps} steps'}")
        out.append(replace(s, oracle_steps=steps))
    return out


#: Splits of the hard tier, measured with the return oracle in ``SimArena-Hard-v0``.
HARD_TIER_SPLITS = ("hard-train", "hard-test")


def with_oracle_records(
    scenarios: Sequence[Scenario], *, progress: Callable[[str], None] | None = None
) -> list[Scenario]:
    """``scenarios`` with their oracle figures: first-tier ones with ``oracle_steps`` of the shortest-path
    oracle (:func:`with_oracle_steps`), hard-tier ones with the return oracle's steps and per-mode returns
    in ``SimArena-Hard-v0`` (:func:`agents.return_oracle.oracle_record`)."""
    from agents.return_oracle import oracle_record

    first = [s for s in scenarios if s.split not in HARD_TIER_SPLITS]
    measured = {s.id: s for s in with_oracle_steps(first, progress=progress)}
    for s in scenarios:
        if s.split in HARD_TIER_SPLITS:
            steps, returns = oracle_record(s)
            if progress is not None:
                progress(f"{s.id}: return oracle {'failed' if steps is None else f'{steps} steps'}, returns {returns}")
            measured[s.id] = replace(s, oracle_steps=steps, oracle_return=returns)
    return [measured[s.id] for s in scenarios]


def summary_table(scenarios: Sequence[Scenario]) -> str:
    """A plain-text table: scenarios per family and split, with totals."""
    counts = family_counts(scenarios)
    splits = [s for s in ("train", "test", "canonical", *HARD_TIER_SPLITS, "-") if any(s in c for c in counts.values())]
    width = max([len("family"), len("total")] + [len(f) for f in counts])
    head = f"{'family':<{width}}  " + "  ".join(f"{s:>9}" for s in splits) + f"  {'total':>5}"
    lines = [head, "-" * len(head)]
    for family, by_split in counts.items():
        cells = "  ".join(f"{by_split.get(s, 0):>9}" for s in splits)
        lines.append(f"{family:<{width}}  {cells}  {sum(by_split.values()):>5}")
    totals = "  ".join(f"{sum(c.get(s, 0) for c in counts.values()):>9}" for s in splits)
    lines.append(f"{'total':<{width}}  {totals}  {len(scenarios):>5}")
    return "\n".join(lines)


def run_generate(args: argparse.Namespace) -> int:
    """Handler of ``sim-arena trace generate``."""
    from sim_arena_gym.cli import UsageError
    from sim_arena_gym.scenarios.index import INDEX_NAME, default_traces_dir, save_scenario_set
    from sim_arena_gym.trace.files import is_committed

    out = args.out if args.out is not None else (default_traces_dir() if args.preset == "default" else None)
    if out is None:
        raise UsageError("trace generate: --out DIR is required (or use --preset default)")
    if out.exists() and not out.is_dir():
        raise UsageError(f"trace generate: --out {out} is a file; give a folder (it is created if missing)")
    if is_committed(Path(out) / INDEX_NAME) and not args.overwrite:  # refuse before the (long) generation
        raise UsageError(f"trace generate: --out {out} is the committed scenario set; pass --overwrite to rewrite it")
    if args.preset == "default":
        from sim_arena_gym.scenarios.generate import hard_scenarios

        scenarios = [s for s, _ in default_scenarios()] + [s for s, _ in hard_scenarios()]
        oracle = True if args.oracle is None else args.oracle
    else:
        if not 0 <= args.count <= MAX_GENERATED:
            raise UsageError(f"trace generate: --count must be within [0, {MAX_GENERATED}], got {args.count}")
        if not 0.0 <= args.split_ratio <= 1.0:
            raise UsageError(f"trace generate: --split-ratio must be within [0, 1], got {args.split_ratio}")
        scenarios = [s for s, _ in generate_scenarios(args.count, args.seed, families=args.families,
                                                      split_ratio=args.split_ratio)]
        if args.canonical:
            scenarios = canonical_scenarios() + scenarios
        oracle = bool(args.oracle)
    if oracle:
        scenarios = with_oracle_records(scenarios, progress=lambda line: print(line, file=sys.stderr))
    saved = save_scenario_set(scenarios, out, format=args.format, overwrite=args.overwrite)
    print(summary_table(saved))
    print(f"wrote {len(saved)} scenarios and {Path(out) / 'index.json'}")
    failed = [s.id for s in saved if oracle and s.oracle_steps is None]
    if failed:
        print(f"warning: the oracle did not repair {len(failed)} scenario(s): {', '.join(failed)}", file=sys.stderr)
    return 0

"""``sim-arena batch``: every trace of a folder (or scenario of a split) as an episode per policy.

Examples::

    sim-arena batch traces/test --policy heuristic,oracle --out results.csv
    sim-arena batch my-traces/ --workload shop/web --nodes '{"count": 3, "cpu": "16", "memory": "32Gi"}' \\
        --policy heuristic --jobs 2 --out results.json
    sim-arena batch test --policy heuristic --backend simkube --kubeconfig ~/.kube/sim-arena \\
        --trace-store ~/sim-arena-traces
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sim_arena_gym.cli import UsageError
from sim_arena_gym.cli.backend_flags import add_backend_arguments, backend_config, preflight_passes
from sim_arena_gym.cli.run_commands import REWARD_MODES


def register(commands: Any, trace_commands: Any) -> None:
    """Add ``batch``."""
    p = commands.add_parser(
        "batch",
        help="run policies over a folder of traces or a scenario split; summary table and CSV/JSON",
        description=(
            "Play each trace of a folder (.sktrace/.json; --workload/--nodes/--target are the defaults for bare "
            "traces) or each scenario of a split or index once per policy. A trace that fails (bad file, backend "
            "error, timeout) is recorded with its error and the batch goes on. On --backend simkube, preflight "
            "runs once first. Ctrl-C stops, keeps what finished (written to --out) and cleans up."
        ),
    )
    p.add_argument("source", metavar="SOURCE", help="a folder of traces, a split name (train, test, canonical) or an index.json")
    p.add_argument("--policy", metavar="NAME[,NAME...]", default="heuristic",
                   help="policies, comma-separated (default heuristic; see `sim-arena agents`)")
    p.add_argument("--workload", metavar="NS/NAME", help="for folder traces: the workload to repair (default: the trace's only Deployment)")
    p.add_argument("--nodes", metavar="JSON", help="for folder traces: node pools (default: 3 nodes of 16 CPU / 32Gi)")
    p.add_argument("--target", metavar="N", type=int, help="for folder traces: Ready replicas wanted (default: the workload's replicas)")
    p.add_argument("--reward-mode", choices=REWARD_MODES, default="gradual", help="reward mode (default gradual)")
    p.add_argument("--steps", metavar="N", type=int, default=20, help="step budget per episode (default 20)")
    p.add_argument("--seed", metavar="S", type=int, default=0, help="reset seed of every episode (default 0)")
    p.add_argument("--jobs", metavar="N", type=int, default=1, help="processes for embedded episodes (default 1)")
    p.add_argument("--out", metavar="FILE", type=Path, help="write the rows to FILE: .csv as CSV, else JSON")
    p.add_argument("--no-progress-bar", dest="progress_bar", action="store_false", help="hide the progress bar")
    add_backend_arguments(p)
    p.set_defaults(func=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    """``sim-arena batch``: run policies over traces or a split; summary table and CSV/JSON."""
    import json

    from sim_arena_gym.learning.batch import batch_items, run_batch, summary_text, write_rows
    from sim_arena_gym.learning.config import LearningConfigError
    from sim_arena_gym.learning.evaluate import agent_entries

    if args.steps < 1:
        raise UsageError(f"--steps {args.steps}: must be at least 1")
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1")
    backend = backend_config(args)
    if backend["backend"] == "simkube" and args.jobs > 1:
        raise UsageError("--jobs goes with --backend embedded: SimKube runs one Simulation at a time")
    if args.out is not None and not args.out.parent.is_dir():
        raise UsageError(f"--out {args.out}: folder {args.out.parent} does not exist")
    if args.out is not None:  # the write policy (no devices, symlinks, committed files), before the work
        from sim_arena_gym.trace.files import check_destination

        check_destination(args.out)
    names = [n.strip() for n in args.policy.split(",") if n.strip()]
    try:
        policies = agent_entries(names, [])
    except LearningConfigError as exc:
        raise UsageError(str(exc)) from None
    if not policies:
        raise UsageError("--policy: name at least one policy")
    nodes = None
    if args.nodes is not None:
        try:
            nodes = json.loads(args.nodes)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--nodes: not valid JSON ({exc.msg} at column {exc.colno}): {args.nodes}") from None
    if not Path(args.source).is_dir() and any(v is not None for v in (args.workload, args.nodes, args.target)):
        raise UsageError("--workload, --nodes and --target go with a folder of traces, not a split")
    try:
        items = batch_items(args.source, workload=args.workload, nodes=nodes, target=args.target)
    except ValueError as exc:
        raise UsageError(f"batch {args.source}: {exc}") from None
    if not preflight_passes(backend, "a simkube batch"):
        return 1
    env_kwargs = {"reward_mode": args.reward_mode, "max_steps": args.steps, **backend}
    total = sum(1 if i.error else len(policies) for i in items)
    bar = None
    if args.progress_bar:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="batch", unit="episode", file=sys.stderr, dynamic_ncols=True)
    try:
        rows, interrupted = run_batch(items, policies, env_kwargs=env_kwargs, seed=args.seed, jobs=args.jobs,
                                      on_row=(lambda row: bar.update(1)) if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    sys.stdout.write(summary_text(rows))
    if interrupted:
        sys.stdout.write(f"interrupted (Ctrl-C): {len(rows)} of {total} rows finished; the env was closed and cleaned up\n")
    if args.out is not None:
        sys.stdout.write(f"wrote {write_rows(rows, args.out, interrupted=interrupted)}\n")
    return 130 if interrupted else 0

"""Success rate, steps, over-allocation and return of agents and trained models, per scenario family.

    .venv/bin/python examples/evaluate.py                              # every hand-coded agent, test split
    .venv/bin/python examples/evaluate.py --agents heuristic oracle --split train
    .venv/bin/python examples/evaluate.py --model runs/maskable_ppo --out results/   # and every agent

Every scenario of the split is played once per agent (pinned with ``reset(options={"scenario": id})``),
so every agent sees the same tasks. The same as ``sim-arena evaluate``: both call
:func:`sim_arena_gym.learning.evaluate.evaluate`. A model's algorithm is read from its zip.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import agents
from sim_arena_gym.learning.evaluate import agent_entries, evaluate, table_text, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", help="test (default), train, canonical, all or an index path")
    parser.add_argument("--agents", nargs="*", default=None, help="hand-coded agents (default: all)")
    parser.add_argument("--model", action="append", default=[], help="a model zip or run folder saved by training")
    parser.add_argument("--overall-only", action="store_true", help="print only the overall table")
    parser.add_argument("--out", type=Path, default=None, help="write results.json, results.csv and plots/ here")
    args = parser.parse_args()

    names = args.agents if args.agents is not None else agents.available()
    result = evaluate(agent_entries(names, args.model), split=args.split)
    print(table_text(result, families=not args.overall_only), end="")
    if args.out is not None:
        for path in write_results(result, args.out):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()

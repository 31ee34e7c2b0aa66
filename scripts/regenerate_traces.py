"""Rebuild (or check) the committed scenario set under ``traces/`` from its recorded seeds.

    python scripts/regenerate_traces.py            # rewrite traces/ (oracle steps measured again)
    python scripts/regenerate_traces.py --check    # verify traces/ without writing (exit 1 on a difference)
    python scripts/regenerate_traces.py --keep-oracle-steps   # rewrite, reusing the recorded oracle steps

The set is the four canonical demos plus ``generate_scenarios(**DEFAULT_PRESET)`` (120 scenarios from
seed 2025, split 80/20 per family), then the hard tier ``generate_hard_scenarios(**HARD_PRESET)`` (splits
``hard-train`` / ``hard-test``; their oracle steps and per-mode returns are measured with the return
oracle in ``SimArena-Hard-v0``). Every generated entry of ``traces/index.json`` records its family and
seed, and ``generate_one(family, seed)`` rebuilds its trace byte for byte; ``--check`` verifies exactly
that, entry by entry, plus the index and ``traces/README.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a plain script: make the repository's packages importable
    sys.path.insert(0, str(REPO))

from sim_arena_gym.scenarios.families import FAMILIES, FAMILY_NAMES  # noqa: E402
from sim_arena_gym.scenarios.hard_families import HARD_FAMILIES  # noqa: E402
from sim_arena_gym.scenarios.generate import (  # noqa: E402
    CANONICAL_IDS,
    DEFAULT_PRESET,
    HARD_PRESET,
    canonical_scenarios,
    hard_scenarios,
    default_scenarios,
    family_counts,
    generate_one,
)
from sim_arena_gym.scenarios.index import (  # noqa: E402
    INDEX_NAME,
    dumps_index,
    load_index,
    save_scenario_set,
    trace_file_name,
)
from sim_arena_gym.scenarios.model import Scenario  # noqa: E402
from sim_arena_gym.trace.codec import dumps_trace  # noqa: E402

SPLIT_DIRS = ("train", "test", "canonical", "hard-train", "hard-test")
HARD_SPLITS = ("hard-train", "hard-test")


def hard_readme_text(scenarios: list[Scenario]) -> str:
    """The hard-tier section of ``traces/README.md``."""
    hard = [s for s in scenarios if s.split in HARD_SPLITS]
    if not hard:
        return ""
    rows = []
    for family, template in HARD_FAMILIES.items():
        doc = " ".join((template.__doc__ or "").strip().split("\n\n")[0].split()).replace("``", "`")
        n_train = sum(1 for s in hard if s.family == family and s.split == "hard-train")
        n_test = sum(1 for s in hard if s.family == family and s.split == "hard-test")
        rows.append(f"| `{family}` | {n_train} | {n_test} | {doc} |")
    steps = [s.oracle_steps for s in hard if s.oracle_steps is not None]
    hist = ", ".join(f"{k}: {steps.count(k)}" for k in sorted(set(steps)))
    p = HARD_PRESET
    return f"""
## Hard tier

`hard-train/`, `hard-test/`: {p['count']} scenarios (`generate_hard_scenarios({p['count']}, seed={p['seed']})`, the last
`round(n * (1 - {p['split_ratio']}))` of each family in `hard-test`) for `SimArena-Hard-v0` (`docs/HARD_TIER.md`).
Usage floors lie just under the request that fits and the containers set no memory limit, so the agent
learns them only from OOMKilled or throttled pods; other workloads must stay Ready. `oracle_steps` is the
return oracle's repair length in `SimArena-Hard-v0` (12-step budget; distribution: {hist}) and
`oracle_return` its return in each reward mode.

| family | hard-train | hard-test | what is wrong |
|---|---|---|---|
{chr(10).join(rows)}
"""


def readme_text(scenarios: list[Scenario]) -> str:
    """``traces/README.md``: what the folder holds, the split rule and the family mix."""
    tail = hard_readme_text(scenarios)
    scenarios = [s for s in scenarios if s.split not in HARD_SPLITS]
    counts = family_counts(scenarios)
    rows = []
    for family, by_split in counts.items():
        doc = (FAMILIES[family].__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        doc = " ".join(doc.split()).replace("``", "`")
        rows.append(f"| `{family}` | {by_split.get('train', 0)} | {by_split.get('test', 0)} | "
                    f"{by_split.get('canonical', 0)} | {doc} |")
    total = {k: sum(c.get(k, 0) for c in counts.values()) for k in ("train", "test", "canonical")}
    steps = [s.oracle_steps for s in scenarios if s.oracle_steps is not None]
    hist = {k: steps.count(k) for k in sorted(set(steps))}
    hist_text = ", ".join(f"{k}: {v}" for k, v in hist.items())
    n_families, ratio = len(FAMILY_NAMES), DEFAULT_PRESET["split_ratio"]
    per_family = int(DEFAULT_PRESET["count"]) // n_families
    canon = "\n".join(
        f"| `{s.id}` | {s.target_replicas} | {s.oracle_steps} | {s.description} |"
        for s in scenarios if s.split == "canonical"
    )
    return f"""# Scenario traces

This folder is generated: `python scripts/regenerate_traces.py` rebuilds every file in it from the
recorded seeds (and `--check` verifies that nothing differs). Do not edit the traces by hand.

* `index.json`: every scenario (id, file, family, split, workload, nodes, target, usage floors, seed,
  oracle steps, description); the format is described in `docs/TRACE_FORMAT.md`.
* `train/`, `test/`: {DEFAULT_PRESET['count']} generated scenarios (`generate_scenarios({DEFAULT_PRESET['count']}, \
seed={DEFAULT_PRESET['seed']})`), SimKube `.sktrace` files.
* `canonical/`: {len(CANONICAL_IDS)} hand-made demos on 3 nodes of 16 CPU / 32Gi, one Deployment `shop/web` of
  4 replicas.

Every scenario is broken when its trace starts (some target pods Pending, or OOMKilled below a usage
floor) and the planning oracle repairs it within the 20-step budget; `oracle_steps` records how many
actions the shortest repair takes (distribution: {hist_text}).

## Split rule

The generator cycles through the {n_families} families, so each has {per_family} scenarios, numbered
`<family>-000`, `<family>-001`, ... in generation order. In each family the last
`round(n * (1 - {ratio}))` (at least one) go to `test`, the others to `train`. The two splits are
disjoint and the test split covers every family. The canonical demos form their own split.

## Family mix

| family | train | test | canonical | what is wrong |
|---|---|---|---|---|
{chr(10).join(rows)}
| **total** | {total['train']} | {total['test']} | {total['canonical']} | |

## Canonical demos

| id | target | oracle steps | what is wrong |
|---|---|---|---|
{canon}
{tail}"""


def _measure(scenarios: list[Scenario]) -> list[Scenario]:
    from sim_arena_gym.cli.generate_command import with_oracle_records

    return with_oracle_records(scenarios, progress=lambda line: print(line, file=sys.stderr))


def _recorded_steps(index_path: Path) -> dict[str, tuple[int | None, dict | None]]:
    doc = json.loads(index_path.read_text(encoding="utf-8"))
    return {e["id"]: (e.get("oracle_steps"), e.get("oracle_return")) for e in doc["scenarios"]}


def all_scenarios() -> list[Scenario]:
    """Both tiers, in index order: the canonical demos, the generated set, the hard tier."""
    return [s for s, _ in default_scenarios()] + [s for s, _ in hard_scenarios()]


def rebuild(out: Path, *, keep_oracle_steps: bool) -> int:
    """Write the default set, its index and README under ``out``; remove trace files no longer listed."""
    from dataclasses import replace

    scenarios = all_scenarios()
    if keep_oracle_steps:
        recorded = _recorded_steps(out / INDEX_NAME)
        scenarios = [replace(s, oracle_steps=recorded.get(s.id, (None, None))[0],
                             oracle_return=recorded.get(s.id, (None, None))[1]) for s in scenarios]
    else:
        scenarios = _measure(scenarios)
    failed = [s.id for s in scenarios if s.oracle_steps is None]
    if failed:
        print(f"error: the oracle did not repair: {', '.join(failed)}", file=sys.stderr)
        return 1
    saved = save_scenario_set(scenarios, out, overwrite=True)  # this script rebuilds the committed set
    keep = {Path(s.trace_path).resolve() for s in saved}
    for split in SPLIT_DIRS:
        for path in sorted((out / split).glob("*")):
            if path.suffix in (".sktrace", ".json") and path.resolve() not in keep:
                path.unlink()
                print(f"removed stale {path}", file=sys.stderr)
    (out / "README.md").write_text(readme_text(saved), encoding="utf-8")
    print(f"wrote {len(saved)} scenarios, {out / INDEX_NAME} and {out / 'README.md'}")
    return 0


def check(out: Path, *, oracle: bool) -> int:
    """Compare ``out`` with what the recorded seeds produce; print each difference; 0 when identical."""
    problems: list[str] = []
    listed = load_index(out / INDEX_NAME)
    by_id = {s.id: s for s in listed}
    canon = {s.id: s for s in canonical_scenarios()}
    expected: list[Scenario] = []
    for entry in listed:
        if entry.split == "canonical":
            fresh = canon.get(entry.id)
            if fresh is None:
                problems.append(f"{entry.id}: not a canonical demo")
                continue
        else:
            fresh, _ = generate_one(entry.family, entry.seed, id=entry.id, split=entry.split)
        fmt = "json" if str(entry.trace_path).endswith(".json") else "msgpack"
        if Path(entry.trace_path).read_bytes() != dumps_trace(fresh.trace, format=fmt):
            problems.append(f"{entry.id}: {entry.trace_path} differs from what seed {entry.seed} generates")
        expected.append(_with(fresh, entry))
    preset = all_scenarios()
    if [s.id for s in preset] != [s.id for s in listed]:
        problems.append("index ids differ from the default preset's")
    text = dumps_index(expected, out)
    if (out / INDEX_NAME).read_text(encoding="utf-8") != text:
        problems.append(f"{out / INDEX_NAME} differs from the regenerated index")
    for s in preset:
        if s.id in by_id and Path(by_id[s.id].trace_path) != out / trace_file_name(s):
            problems.append(f"{s.id}: expected at {trace_file_name(s)}")
    if (out / "README.md").read_text(encoding="utf-8") != readme_text(expected):
        problems.append(f"{out / 'README.md'} is out of date")
    if oracle:
        for s, measured in zip(expected, _measure([_with(s, s) for s in expected])):
            if measured.oracle_steps != s.oracle_steps:
                problems.append(f"{s.id}: oracle needs {measured.oracle_steps} steps, index says {s.oracle_steps}")
            if measured.oracle_return != s.oracle_return:
                problems.append(f"{s.id}: oracle returns {measured.oracle_return}, index says {s.oracle_return}")
    for line in problems:
        print(line)
    print(f"checked {len(listed)} scenarios: {'OK' if not problems else f'{len(problems)} difference(s)'}")
    return 1 if problems else 0


def _with(fresh: Scenario, entry: Scenario) -> Scenario:
    from dataclasses import replace

    return replace(fresh, trace_path=entry.trace_path, oracle_steps=entry.oracle_steps,
                   oracle_return=entry.oracle_return)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "traces",
                        help="traces folder (default: the repository's)")
    parser.add_argument("--check", action="store_true", help="verify the folder instead of writing it")
    parser.add_argument("--oracle", action="store_true", help="with --check: also re-measure the oracle steps")
    parser.add_argument("--keep-oracle-steps", action="store_true",
                        help="reuse the oracle steps recorded in the existing index instead of measuring them")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.out, oracle=args.oracle)
    return rebuild(args.out, keep_oracle_steps=args.keep_oracle_steps)


if __name__ == "__main__":
    sys.exit(main())

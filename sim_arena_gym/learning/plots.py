"""PNG figures with matplotlib's non-interactive Agg backend: learning curves and per-family bars.

Only imported by ``train`` and ``evaluate`` when they write figures.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Mapping, Sequence

METRIC_TITLES = {
    "success_rate": "success rate",
    "mean_steps": "mean steps to success",
    "mean_over_allocation": "mean final over-allocation",
    "mean_return": "mean return",
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    from sim_arena_gym.scenarios.index import _atomic_write as atomic_write  # as evaluate does (no circle)

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    _pyplot().close(fig)
    atomic_write(path, buf.getvalue())
    return path


def learning_curve(curves: Mapping[str, Sequence[Mapping[str, float]]], path: Path, title: str) -> Path:
    """Success rate and mean return against env steps, one line per split.

    ``curves`` maps a label (``"train"``, ``"test (held-out)"``) to rows ``{"timesteps", "success_rate",
    "mean_return"}``."""
    plt = _pyplot()
    fig, (ax_s, ax_r) = plt.subplots(1, 2, figsize=(10, 4))
    for label, rows in curves.items():
        steps = [r["timesteps"] for r in rows]
        ax_s.plot(steps, [100 * r["success_rate"] for r in rows], marker="o", markersize=3, label=label)
        ax_r.plot(steps, [r["mean_return"] for r in rows], marker="o", markersize=3, label=label)
    ax_s.set(xlabel="env steps", ylabel="success rate (%)", ylim=(-2, 102), title="success rate")
    ax_r.set(xlabel="env steps", ylabel="mean return", title="mean return")
    for ax in (ax_s, ax_r):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def family_bar_charts(results: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """One PNG per family (and ``overall``) of an evaluation's JSON: a bar per agent for the success
    rate and for the mean steps to success (no bar where no episode succeeded)."""
    plt = _pyplot()
    names = [a["name"] for a in results["agents"]]
    written = []
    for family in [*results["families"], "overall"]:
        fig, axes = plt.subplots(2, 1, figsize=(max(6.0, 1.0 + 0.6 * len(names)), 7))
        for ax, metric in zip(axes, ("success_rate", "mean_steps")):
            values = [results["summary"][n][family][metric] for n in names]
            heights = [0.0 if v is None else (100 * v if metric == "success_rate" else v) for v in values]
            bars = ax.bar(range(len(names)), heights, color="tab:blue")
            for bar, v in zip(bars, values):
                text = "-" if v is None else (f"{100 * v:.0f}%" if metric == "success_rate" else f"{v:.2f}")
                ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                            fontsize=8)  # fmt: skip
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
            ax.set_title(METRIC_TITLES[metric])
            if metric == "success_rate":
                ax.set_ylim(0, 110)
        fig.suptitle(f"{results['split']} split, family {family}")
        fig.tight_layout()
        written.append(_save(fig, out_dir / f"{family}.png"))
    return written


def runs_overview(runs: Mapping[str, Mapping[str, Sequence[Mapping[str, float]]]], path: Path, title: str) -> Path:
    """Held-out and training-split success rate against env steps for several runs, one colour per
    algorithm. ``runs`` maps ``"<algorithm> seed <s>"`` to ``{"train": rows, "held-out": rows}``."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    colours: dict[str, str] = {}
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for label, curves in runs.items():
        algorithm = label.split(" ")[0]
        colour = colours.setdefault(algorithm, palette[len(colours) % len(palette)])
        for ax, role in zip(axes, ("train", "held-out")):
            rows = curves.get(role, [])
            first = not any(line.get_label() == algorithm for line in ax.get_lines())
            ax.plot([r["timesteps"] for r in rows], [100 * r["success_rate"] for r in rows], color=colour,
                    alpha=0.8, linewidth=1.2, label=algorithm if first else "_nolegend_")  # fmt: skip
    for ax, role in zip(axes, ("training split", "held-out split")):
        ax.set(xlabel="env steps", title=f"success rate, {role}", ylim=(-2, 102))
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_ylabel("success rate (%)")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)

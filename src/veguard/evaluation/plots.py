"""Report plots drawn from results.json with matplotlib's Agg backend, returned as PNG bytes.

One function per plot slot in report.document(): precision-recall curves per category,
a reliability diagram, per-functionality accuracy bars and per-identity false-positive
rates, each with the model beside the baseline. Labels come from data and are set as plain
text (usetex off, and `$` escaped so mathtext cannot interpret them).
What it leaves out: embedding the images (html_report.py).
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from veguard.evaluation.report import ordered

COLORS = {"model": "#1f5fa8", "previous": "#6b8e23", "baseline": "#c0641e"}


def _label(text: str) -> str:
    return str(text).replace("$", r"\$")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    # No "Software"/date metadata, so the same results give the same bytes.
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def pr_curves(results: dict, suite: dict) -> bytes | None:
    cats = ordered(next(iter(suite["by_model"].values()))["all"])
    fig, axes = plt.subplots(1, len(cats), figsize=(3.2 * len(cats), 3.2), squeeze=False)
    drew = False
    for ax, c in zip(axes[0], cats):
        for role, block in suite["by_model"].items():
            curve = block["all"][c].get("pr_curve") or []
            if curve:
                ax.plot([p[2] for p in curve], [p[1] for p in curve], color=COLORS.get(role),
                        label=_label(results["models"][role]["name"]), marker=".", markersize=3)
                drew = True
        ax.set(title=_label(c), xlabel="recall", xlim=(0, 1), ylim=(0, 1.02))
        ax.grid(alpha=0.3)
    if not drew:
        plt.close(fig)
        return None
    axes[0][0].set_ylabel("precision")
    axes[0][0].legend(fontsize=7, loc="lower left")
    return _png(fig)


def reliability(results: dict, suite: dict) -> bytes | None:
    cats = ordered(next(iter(suite["by_model"].values())))
    if not any("reliability" in v for b in suite["by_model"].values() for v in b.values()):
        return None
    fig, axes = plt.subplots(1, len(cats), figsize=(3.2 * len(cats), 3.2), squeeze=False)
    for ax, c in zip(axes[0], cats):
        ax.plot([0, 1], [0, 1], color="#888", linestyle=":", linewidth=1)
        for role, block in suite["by_model"].items():
            pts = [(b["mean_prob"], b["frac_positive"]) for b in block[c].get("reliability", [])
                   if b["count"]]
            if pts:
                ax.plot(*zip(*pts), marker="o", markersize=3, color=COLORS.get(role),
                        label=_label(results["models"][role]["name"]))
        ax.set(title=_label(c), xlabel="mean predicted probability", xlim=(0, 1), ylim=(0, 1))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("fraction positive")
    axes[0][0].legend(fontsize=7, loc="upper left")
    return _png(fig)


def _bars(results: dict, values: dict[str, dict[str, float | None]], title: str,
          xlabel: str) -> bytes | None:
    """Horizontal bars, one group per key, one bar per role."""
    keys = sorted(set().union(*(v.keys() for v in values.values())))
    if not keys:
        return None
    roles = list(values)
    height = 0.8 / len(roles)
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(keys) * len(roles) + 1.2))
    for j, role in enumerate(roles):
        ys = [i + j * height for i in range(len(keys))]
        xs = [values[role].get(k) or 0.0 for k in keys]
        ax.barh(ys, xs, height=height, color=COLORS.get(role),
                label=_label(results["models"][role]["name"]))
    ax.set_yticks([i + height * (len(roles) - 1) / 2 for i in range(len(keys))])
    ax.set_yticklabels([_label(k) for k in keys], fontsize=7)
    ax.invert_yaxis()
    ax.set(title=_label(title), xlabel=xlabel, xlim=(0, 1))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def functional_bars(results: dict, suite: dict) -> bytes | None:
    sl = suite["failure_slice"]
    values = {r: {k: v["accuracy"] for k, v in b["by"].get(sl, {}).items()}
              for r, b in suite["by_model"].items()}
    fig = _bars(results, values, f"accuracy by {sl}", "accuracy")
    return fig


def identity_fpr(results: dict, suite: dict) -> bytes | None:
    values = {r: {t: v.get("fpr") for t, v in b["templates"]["by_term"].items()}
              for r, b in suite["by_model"].items()}
    return _bars(results, values, "false-positive rate per identity term (templates)", "FPR")


PLOTS = {"pr_curves": pr_curves, "reliability": reliability,
         "functional_bars": functional_bars, "identity_fpr": identity_fpr}

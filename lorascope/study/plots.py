"""A study's pictures as PNG and SVG (matplotlib, Agg): the learning curve with its fitted power law (the
extrapolation drawn dashed and labelled), and NPRR per strategy and perturbation model with 95% intervals."""

from __future__ import annotations

from pathlib import Path

from lorascope.core.analysis.study_tables import EXTRAPOLATE, StudyReport


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: Path, stem: str) -> list[Path]:
    paths = []
    for ext in ("png", "svg"):
        path = out / f"{stem}.{ext}"
        fig.savefig(path, dpi=150, bbox_inches="tight", metadata={"Date": None} if ext == "svg" else None)
        paths.append(path)
    return paths


def learning_curve(report: StudyReport, out: Path) -> list[Path]:
    if not report.curve:
        return []
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    groups = sorted({(c.backbone, c.strategy) for c in report.curve}, key=str)
    for backbone, strategy in groups:
        pts = [c for c in report.curve if (c.backbone, c.strategy) == (backbone, strategy)]
        label = strategy if len({c.backbone for c in report.curve}) == 1 else f"{strategy} ({backbone})"
        line = ax.errorbar([c.n for c in pts], [100 * c.wer for c in pts],
                           yerr=[100 * (c.wer_sd or 0) for c in pts], marker="o", capsize=3, label=label,
                           linestyle="none")
        fit = next((f for f in report.fits if (f.backbone, f.strategy) == (backbone, strategy)), None)
        if fit is not None:
            color = line[0].get_color()
            lo = min(c.n for c in pts)
            xs = [lo * (fit.largest / lo) ** (i / 50) for i in range(51)]
            ax.plot(xs, [100 * fit.law(x) for x in xs], color=color, linewidth=1)
            far = fit.largest * max(EXTRAPOLATE)
            xe = [fit.largest * (far / fit.largest) ** (i / 30) for i in range(31)]
            ax.plot(xe, [100 * fit.law(x) for x in xe], color=color, linewidth=1, linestyle="--",
                    label=f"{label}: {fit.law.describe()}, extrapolated")
    ax.set_xscale("log")
    ax.set_xlabel("training lists (nested subsets)")
    ax.set_ylabel("test WER %")
    ax.set_title(f"Learning curve: study {report.name}", fontsize=10)
    ax.legend(fontsize=7)
    fig.text(0.01, -0.02, report.described, fontsize=6, wrap=True)
    paths = _save(fig, out, "learning_curve")
    plt.close(fig)
    return paths


def nprr_bars(report: StudyReport, out: Path) -> list[Path]:
    rows = [r for r in report.table3 if r.nprr is not None]
    if not rows:
        return []
    plt = _pyplot()
    conditions = sorted({(r.model, r.p, r.condition) for r in rows}, key=lambda k: (k[0], k[1], k[2]))
    strategies = list(dict.fromkeys(f"{r.strategy}" if len({x.backbone for x in rows}) == 1
                                    else f"{r.strategy} ({r.backbone})" for r in rows))
    fig, ax = plt.subplots(figsize=(max(6.4, 1.1 * len(conditions) + 2), 4.2))
    width = 0.8 / len(strategies)
    for i, strategy in enumerate(strategies):
        xs, ys, errs = [], [], []
        for j, cond in enumerate(conditions):
            match = [r for r in rows if (r.model, r.p, r.condition) == cond and
                     (r.strategy == strategy or f"{r.strategy} ({r.backbone})" == strategy)]
            if match:
                r = match[0]
                xs.append(j + (i - (len(strategies) - 1) / 2) * width)
                ys.append(100 * r.nprr)
                errs.append(0 if r.nprr_sd is None or r.values < 2 else 100 * 1.96 * r.nprr_sd / r.values ** 0.5)
        ax.bar(xs, ys, width, yerr=errs, capsize=2, label=strategy)
    ax.set_xticks(range(len(conditions)))
    ax.set_xticklabels([f"{m}\np {p:g}\n{c}" for m, p, c in conditions], fontsize=7)
    ax.set_ylabel("NPRR % (mean, 95% interval of the mean)")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_title(f"NPRR per strategy and perturbation model: study {report.name}", fontsize=10)
    ax.legend(fontsize=7)
    fig.text(0.01, -0.05, report.described, fontsize=6, wrap=True)
    paths = _save(fig, out, "nprr")
    plt.close(fig)
    return paths

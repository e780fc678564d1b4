"""Report queries over stored results: the paper's Table 3 layout of robustness metrics."""

from __future__ import annotations

import statistics
from collections import defaultdict

from .db import Store

CONDITIONS = ("clean", "perturb-1", "perturb-N")
#: Rows stored before perturbation models existed came from today's ``lexicon`` model (the same candidates).
BEFORE_MODELS = "lexicon"


def table3_rows(store: Store, run_ids: list[int] | None = None, dataset: str | None = None,
                perturbation: str | None = None) -> list[dict]:
    """Rows of the paper's Table 3 layout: per run, dataset, perturbation model and condition, means over seeds
    (and NPRR spread); ``perturbation`` keeps one model's rows."""
    runs = {r.id: r for r in store.runs()}
    if run_ids:
        for rid in run_ids:
            store.run(rid)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for m in store.metrics():
        if m["split"] != "robustness" or m["run_id"] is None:
            continue
        if run_ids and m["run_id"] not in run_ids:
            continue
        if dataset and m["dataset"] != dataset:
            continue
        model = m.get("perturbation_model") or BEFORE_MODELS
        if perturbation and model != perturbation:
            continue
        groups[(m["run_id"], m["dataset"], model, m["perturbation"])].append(m)
    rows = []
    for (rid, ds, model, cond), ms in sorted(groups.items(), key=lambda kv: (*kv[0][:3], CONDITIONS.index(kv[0][3]))):
        if cond == "clean":
            ms = ms[-1:]  # the newest clean measurement
        nprrs = [m["nprr"] for m in ms if m["nprr"] is not None]
        rows.append({
            "run": rid, "strategy": runs[rid].strategy if rid in runs else "?", "dataset": ds, "perturbation": cond,
            "model": model,
            "seeds": len(ms) if cond != "clean" else 0,
            "wer": statistics.fmean(m["wer"] for m in ms),
            "oracle_wer": statistics.fmean(m["oracle_wer"] for m in ms),
            "delta_wer": statistics.fmean(m["delta_wer"] for m in ms),
            "nprr": statistics.fmean(nprrs) if nprrs else None,
            "nprr_std": statistics.stdev(nprrs) if len(nprrs) > 1 else None,
        })
    return rows

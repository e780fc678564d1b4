"""Report queries over stored results: the paper's Table 3 layout of robustness metrics.

A table row is one (run, data set, perturbation model and settings, p, seeds, combination, role) and one
condition: rows made under different settings are never averaged together (store/provenance.py says what
each row records), and every row carries the columns that tell it from the others.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from .db import Store
from .provenance import MISSING, describe_combination, model_spec, seeds_text, setting_key

CONDITIONS = ("clean", "perturb-1", "perturb-N")
#: Rows stored before perturbation models existed came from today's ``lexicon`` model (the same candidates).
BEFORE_MODELS = "lexicon"


def _matches(m: dict, dataset: str | None, perturbation: str | None, p: float | None,
             lam: float | None) -> bool:
    model = m.get("perturbation_model") or BEFORE_MODELS
    if dataset and m["dataset"] != dataset:
        return False
    if perturbation and model != perturbation and model_spec(model, m.get("settings")) != perturbation:
        return False
    if p is not None and (m["p"] is None or abs(m["p"] - p) > 1e-9):
        return False
    return lam is None or (m.get("lam") is not None and abs(m["lam"] - lam) <= 1e-9 * max(1.0, abs(lam)))


def table3_rows(store: Store, run_ids: list[int] | None = None, dataset: str | None = None,
                perturbation: str | None = None, *, p: float | None = None, lam: float | None = None) -> list[dict]:
    """Rows of the paper's Table 3 layout: per run, data set, measurement settings and condition, means over the
    measurement's seeds (and NPRR spread). Filters: ``dataset``, ``perturbation`` (a model name such as
    ``paper``, or a full spec such as ``lexicon:max_distance=0.0``), ``p`` and ``lam``."""
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
        if not _matches(m, dataset, perturbation, p, lam):
            continue
        groups[(m["run_id"], m["dataset"], setting_key(m), m["perturbation"])].append(m)
    order: dict[tuple, int] = {}
    for (rid, ds, key, _), ms in groups.items():
        order[(rid, ds, key)] = min(order.get((rid, ds, key), ms[0]["id"]), min(m["id"] for m in ms))
    rows = []
    for (rid, ds, key, cond), ms in sorted(groups.items(), key=lambda kv: (
            kv[0][0], kv[0][1], order[kv[0][:3]], CONDITIONS.index(kv[0][3]))):
        if cond == "clean":
            ms = ms[-1:]  # the newest clean measurement
        nprrs = [m["nprr"] for m in ms if m["nprr"] is not None]
        first = ms[-1]
        model = first.get("perturbation_model") or BEFORE_MODELS
        rows.append({
            "run": rid, "strategy": runs[rid].strategy if rid in runs else MISSING, "dataset": ds,
            "role": first.get("role") or MISSING, "perturbation": cond,
            "model": model_spec(model, first.get("settings")) if first.get("perturbation_model") else model,
            "p": first["p"], "seeds": seeds_text(first.get("seeds")),
            "lam": first.get("lam"), "combination": describe_combination(first.get("combination")),
            "combination_json": first.get("combination"),
            "measured": len(ms) if cond != "clean" else 0,
            "wer": statistics.fmean(m["wer"] for m in ms),
            "oracle_wer": statistics.fmean(m["oracle_wer"] for m in ms),
            "delta_wer": statistics.fmean(m["delta_wer"] for m in ms),
            "nprr": statistics.fmean(nprrs) if nprrs else None,
            "nprr_std": statistics.stdev(nprrs) if len(nprrs) > 1 else None,
        })
    return rows


def lam_text(lam: float | None) -> str:
    return MISSING if lam is None else f"{lam:.4g}"


def table3_markdown(rows: list[dict]) -> str:
    """The rows as a Markdown table with every setting column (p, seeds, model, λ, combination, role)."""
    from lorascope.core.fmt import pct

    lines = ["| run | strategy | dataset | role | perturbation | model | p | seeds | λ | combination | WER | Oracle "
             "| ΔWER | NPRR% |", "|---|---|---|---|---|---|---:|---|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        nprr = "-" if r["nprr"] is None else f"{100 * r['nprr']:.2f}"
        if r["nprr_std"] is not None:
            nprr += f" ± {100 * r['nprr_std']:.2f}"
        p = MISSING if r["p"] is None else f"{r['p']:g}"
        lines.append(f"| {r['run']} | {r['strategy']} | {r['dataset']} | {r['role']} | {r['perturbation']} | "
                     f"{r['model']} | {p} | {r['seeds']} | {lam_text(r['lam'])} | {r['combination']} | "
                     f"{pct(r['wer'])} | {pct(r['oracle_wer'])} | {pct(r['delta_wer'])} | {nprr} |")
    return "\n".join(lines) + "\n"


__all__ = ["BEFORE_MODELS", "CONDITIONS", "lam_text", "table3_markdown", "table3_rows"]

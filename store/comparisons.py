"""Stored comparisons of two runs (`lorascope compare`): one row per comparison, written in one transaction."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .db import Store, now
from .provenance import combination_dict

if TYPE_CHECKING:
    from lorascope.core.analysis.compare import Comparison


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def add_comparison(store: Store, run_a: int, run_b: int, dataset: str, comparison: "Comparison", *,
                   combination_a: Any, combination_b: Any, role_a: str | None = None, role_b: str | None = None,
                   perturbation: dict[str, Any] | None = None, mode: str | None = None, p: float | None = None,
                   bootstrap_seed: int = 0) -> int:
    """Store ``comparison`` (core.compare.Comparison) of runs A and B on ``dataset``; returns its id."""
    store.run(run_a)
    store.run(run_b)
    c, nprr = comparison, comparison.nprr
    row = {
        "run_a": run_a, "run_b": run_b, "dataset": dataset, "role_a": role_a, "role_b": role_b,
        "combination_a": json.dumps(combination_dict(combination_a), sort_keys=True),
        "combination_b": json.dumps(combination_dict(combination_b), sort_keys=True),
        "utterances": c.utterances, "reference_words": c.reference_words, "wer_a": c.wer_a, "wer_b": c.wer_b,
        "wer_diff": c.wer.difference, "wer_low": c.wer.low, "wer_high": c.wer.high, "p_a_lower": c.wer.p_a_lower,
        **asdict(c.counts), "right_means": c.right_means,
        "perturbation_model": perturbation["name"] if perturbation else None,
        "settings": json.dumps(perturbation, sort_keys=True) if perturbation else None,
        "mode": mode if perturbation else None, "p": p if perturbation else None,
        "seeds": json.dumps(list(c.seeds), separators=(",", ":")) if perturbation else None,
        "nprr_a": _num(c.nprr_a), "nprr_b": _num(c.nprr_b),
        "nprr_diff": _num(nprr.difference) if nprr else None, "nprr_low": _num(nprr.low) if nprr else None,
        "nprr_high": _num(nprr.high) if nprr else None,
        "confidence": c.wer.confidence, "resamples": c.wer.resamples, "bootstrap_seed": bootstrap_seed,
        "top": json.dumps([asdict(d) for d in c.top], ensure_ascii=False), "created_at": now(),
    }
    with store.atomic():
        return store.db["comparisons"].insert(row).last_pk


def comparisons(store: Store, runs: list[int] | None = None) -> list[dict[str, Any]]:
    """Stored comparisons, oldest first; with ``runs``, those where run A or B is one of them."""
    rows = store._rows("SELECT * FROM comparisons ORDER BY id")
    if runs is not None:
        wanted = set(runs)
        rows = [r for r in rows if r["run_a"] in wanted or r["run_b"] in wanted]
    return rows

"""CSV exports of what a screen shows: the inspect screen's N-best table and the Runs screen's Table 3 rows."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .inspector import UtteranceView

NBEST_FIELDS = ("utterance", "adapter", "lam", "perturbation", "perturbation_model", "first_pass_rank", "text",
                "first_pass_score", "lm_score", "combined_score", "errors", "wer", "new_rank", "clean_rank", "perturbed")
#: The columns of ``lorascope report --format csv``, and where a row came from.
RUNS_FIELDS = ("run", "strategy", "dataset", "perturbation", "model", "seeds", "wer", "oracle_wer", "delta_wer",
               "nprr", "nprr_std", "source")


def export_nbest(path: Path, view: UtteranceView, adapter_key: str, perturbation: str, model: str) -> Path:
    """The N-best table as shown (full precision, rows in first-pass order) to ``path``; ``model`` is the
    perturbation model's spec."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(NBEST_FIELDS)
        for r in view.rows:
            w.writerow([view.clean.id, adapter_key, view.lam, perturbation, model, r.index, r.text, r.first_pass_score,
                        r.lm, r.combined, r.errors, r.wer, r.new_rank, r.clean_rank, int(r.perturbed)])
    return path


def export_rows(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Table 3 rows, in the order given; WERs as fractions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(RUNS_FIELDS), extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path

"""CSV exports of the views added for everyday use: the utterance list as filtered and sorted, a run's training
curves, and a run's fragility table. Each row says how its figures were made (data set, adapter, λ, settings)."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

LIST_FIELDS = ("order", "position", "utterance", "reference", "flips", "chosen", "wer_change", "dataset", "adapter",
               "lam", "combination", "sort", "search")
CURVE_FIELDS = ("run", "strategy", "step", "loss", "dev_wer", "lr", "rank_budget")
FRAGILITY_FIELDS = ("run", "dataset", "utterance", "reference", "perturbations", "flips", "flip_share",
                    "delta_errors", "conditions", "model")


def _value(x: Any) -> Any:
    """NaN and infinities as empty cells (pandas reads them as NaN)."""
    if isinstance(x, float) and not math.isfinite(x):
        return ""
    return x


def write_csv(path: Path, fields: Sequence[str], rows: Iterable[dict[str, Any]]) -> int:
    """``rows`` (dicts) into ``path`` with a header of ``fields``; returns the rows written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: _value(v) for k, v in r.items()})
            n += 1
    return n

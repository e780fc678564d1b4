"""The evaluation job: score a data set with a stored run's adapter and store the metric row and scores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorascope.store import Store

from ..datasets import resolve_dataset
from .common import run_with_adapter


@dataclass
class EvalJob:
    run_id: int
    dataset: str
    utterances: int
    result: Any                     # core.combine.EvalResult


def eval_job(db_path: str | Path, run_id: int, data: str, *, lam: float | None = None, device: str = "auto",
             engine: str = "auto", first_pass: str | None = None, on_event: Callable[[Any], None] | None = None) -> EvalJob:
    """Score ``data`` (a dataset name or a file, imported on first use) with a stored run's adapter; store the
    metric row and per-hypothesis scores in one transaction."""
    from lorascope.core.adapter import load_rescorer
    from lorascope.core.rescorer import evaluate

    with Store(db_path) as store, store.atomic():   # a refusal undoes a file imported on the way
        run = run_with_adapter(store, run_id)
        name, utts = resolve_dataset(store, data, first_pass=first_pass)
    rescorer = load_rescorer(run.adapter_path, device=None if device == "auto" else device, engine=engine)
    result = evaluate(rescorer, utts, lam, on_event=on_event)
    with Store(db_path) as store:
        store.add_evaluation(run_id, name, "eval", result)
    return EvalJob(run_id=run_id, dataset=name, utterances=len(utts), result=result)

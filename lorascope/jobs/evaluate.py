"""The evaluation job: score a data set with a stored run's adapter and store the metric row and scores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorascope.store import Store

from ..datasets import resolve_dataset
from .combos import Plan, apply_plan, plan_combination
from .common import run_with_adapter


@dataclass
class EvalJob:
    run_id: int
    dataset: str
    utterances: int                 # the lists the WER is on (a --tune-on fraction: the held-out rest)
    result: Any                     # core.combine.EvalResult
    how: str = ""                   # which combination, tuned where, and on which lists the figure is
    split: str = "eval"


def eval_job(db_path: str | Path, run_id: int, data: str, *, lam: float | None = None, device: str = "auto",
             engine: str = "auto", first_pass: str | None = None, tune_on: str | None = None,
             cross_fit: int | None = None, on_event: Callable[[Any], None] | None = None) -> EvalJob:
    """Score ``data`` (a dataset name or a file, imported on first use) with a stored run's adapter; store the
    metric row and per-hypothesis scores in one transaction.

    The combination is the one stored for the run on this set (else the training's); a set that lacks a
    feature it weighs is refused before any scoring unless ``tune_on`` (a data set name or a fraction of this
    set) or ``cross_fit`` (K folds) says how to tune one for it (jobs/combos.py)."""
    from lorascope.core.scoring.adapter import load_rescorer
    from lorascope.core.scoring.rescorer import check_engine

    check_engine(engine)
    with Store(db_path) as store, store.atomic():   # a refusal undoes a file imported on the way
        run = run_with_adapter(store, run_id)
        name, utts = resolve_dataset(store, data, first_pass=first_pass)
        plan: Plan = plan_combination(store, run, name, utts, tune_on=tune_on, cross_fit_k=cross_fit, lam=lam,
                                      first_pass=first_pass, need_references=False)
    rescorer = load_rescorer(run.adapter_path, device=None if device == "auto" else device, engine=engine)
    gate = (run.config or {}).get("lambda_confidence")
    applied = apply_plan(plan, utts, lambda lists: rescorer.score_utterances(lists, on_event=on_event),
                         db_path=db_path, gate=gate or None)
    with Store(db_path) as store:
        store.add_evaluation(run_id, name, plan.split, applied.result)
    return EvalJob(run_id=run_id, dataset=name, utterances=len(applied.utterances), result=applied.result,
                   how=applied.how, split=plan.split)

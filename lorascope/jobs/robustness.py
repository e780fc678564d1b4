"""The robustness job: perturb-1 / perturb-N of a stored run's test set, stored with the perturbation model.

:func:`prepare_robustness` checks everything a run needs (run, data set, p, seeds, modes, perturbation model,
the combination's features, engine) before a model loads, so the command draws no bar for a bad argument."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorascope.core.errors import InputError
from lorascope.store import Store

from ..datasets import resolve_dataset
from .combos import Plan, apply_plan, plan_combination
from .common import perturbation_model, run_with_adapter


@dataclass
class RobustnessJob:
    run_id: int
    strategy: str
    dataset: str
    utterances: int
    report: Any                     # core.robustness.RobustnessReport
    model_spec: str = ""            # the perturbation model, as a spec (``mined:from=sample-train,...``)
    metric_ids: list[int] = field(default_factory=list)
    how: str = ""                   # which combination, and on which lists
    tuning_set: bool = False        # the set the run's combination was tuned on (named with --data)
    combination: Any = None         # core.combination.Combination whose choices were scored


@dataclass
class PreparedRobustness:
    """Everything checked; nothing scored yet."""

    run: Any
    dataset: str
    utterances: list
    model: Any                      # the perturbation model, ready
    plan: Plan
    modes: tuple[str, ...]
    p: float
    seeds: tuple[int, ...]
    device: str
    tuning_set: bool


def prepare_robustness(db_path: str | Path, run_id: int, *, data: str | None = None,
                       modes: Sequence[str] = ("1", "N"), p: float = 0.5, seeds: Sequence[int] = (0,),
                       perturbation: str | None = None, lam: float | None = None, device: str = "auto",
                       first_pass: str | None = None, tune_on: str | None = None,
                       cross_fit: int | None = None) -> PreparedRobustness:
    """Check every argument and read what the run needs; InputError (one line) on the first problem."""
    from lorascope.core.perturbation.perturb import check_p
    from lorascope.core.perturbation.models import perturbation_for

    p = check_p(p)
    for m in modes:
        if str(m).removeprefix("perturb-") not in ("1", "N"):
            raise InputError("--mode", f"must be 1, N or both, got {m!r}")
    if not seeds:
        raise InputError("--seed", "needs at least one seed")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise InputError("--seed", f"must be a whole number from 0, got {s!r}")
    # an unknown model or setting fails here, before the store is read (the training set is named later)
    perturbation_for(perturbation, mined_from="the run's training set")
    with Store(db_path) as store, store.atomic():   # a refusal undoes a file imported on the way
        run = run_with_adapter(store, run_id)
        target = data or run.test_dataset
        if target is None:
            raise InputError(f"run {run_id}", "has no test set; name the set to perturb with --data NAME (the dev "
                                              f"set {run.dev_dataset}, which tuned the combination, only when named)")
        name, utts = resolve_dataset(store, target, need_references="robustness needs WER", first_pass=first_pass)
        model = perturbation_model(store, perturbation, mined_from=run.train_dataset, under_test=name)
        plan = plan_combination(store, run, name, utts, tune_on=tune_on, cross_fit_k=cross_fit, lam=lam,
                                first_pass=first_pass)
    tuning = plan.mode == "stored" and name in (run.dev_dataset, plan.tuned_on)
    return PreparedRobustness(run=run, dataset=name, utterances=utts, model=model, plan=plan, modes=tuple(modes),
                              p=p, seeds=tuple(seeds), device=device, tuning_set=tuning)


def robustness_job(db_path: str | Path, run_id: int, *, data: str | None = None, modes: Sequence[str] = ("1", "N"),
                   p: float = 0.5, seeds: Sequence[int] = (0,), perturbation: str | None = None,
                   lam: float | None = None, device: str = "auto", first_pass: str | None = None,
                   tune_on: str | None = None, cross_fit: int | None = None,
                   prepared: PreparedRobustness | None = None,
                   on_start: Callable[[str, int], None] | None = None,
                   on_rescore: Callable[[], None] | None = None) -> RobustnessJob:
    """perturb-1 / perturb-N of a stored run's test set (or ``data``) with ``perturbation`` (a model spec; default
    paper): WER, oracle, ΔWER, NPRR and rank changes, stored with the model and its settings in one transaction.
    ``prepared``: the checks already made (:func:`prepare_robustness`). ``on_start(dataset, utterances)`` before
    scoring; ``on_rescore()`` after each scoring pass (1 clean + one per mode and seed)."""
    from lorascope.core.scoring.adapter import load_rescorer
    from lorascope.core.perturbation.robustness import evaluate_robustness

    job = prepared or prepare_robustness(db_path, run_id, data=data, modes=modes, p=p, seeds=seeds,
                                         perturbation=perturbation, lam=lam, device=device, first_pass=first_pass,
                                         tune_on=tune_on, cross_fit=cross_fit)
    rescorer = load_rescorer(job.run.adapter_path, device=None if job.device == "auto" else job.device)
    gate = (job.run.config or {}).get("lambda_confidence")
    applied = apply_plan(job.plan, job.utterances, rescorer.score_utterances, db_path=db_path, gate=gate or None)
    lists = applied.utterances
    if on_start is not None:
        on_start(job.dataset, len(lists))
    per_list = applied.per_list or [applied.combination] * len(lists)
    clean_lm = applied.result.lm_scores

    def rescore(batch):
        same = len(batch) == len(lists) and all(a is b for a, b in zip(batch, lists))
        lm = clean_lm if same else rescorer.score_utterances(batch)
        out = [per_list[k].scores(u, lm[k]) for k, u in enumerate(batch)]
        if on_rescore is not None:
            on_rescore()
        return out

    report = evaluate_robustness(lists, rescore, modes=job.modes, p=job.p, seeds=job.seeds, model=job.model)
    with Store(db_path) as store:
        role = ("tuning" if job.tuning_set else "out-of-fold" if applied.how.startswith("out-of-fold")
                else "held-out" if "(held out)" in applied.how else None)
        ids = store.add_robustness(job.run.id, job.dataset, report, combination=applied.combination, role=role)
    return RobustnessJob(run_id=job.run.id, strategy=job.run.strategy, dataset=job.dataset, utterances=len(lists),
                         report=report, model_spec=job.model.spec(), metric_ids=ids, how=applied.how,
                         tuning_set=job.tuning_set, combination=applied.combination)

"""The robustness job: perturb-1 / perturb-N of a stored run's test set, stored with the perturbation model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorascope.core.errors import InputError
from lorascope.store import Store

from ..datasets import resolve_dataset
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
    combination: Any = None         # core.combination.Combination whose choices were scored


def robustness_job(db_path: str | Path, run_id: int, *, data: str | None = None, modes: Sequence[str] = ("1", "N"),
                   p: float = 0.5, seeds: Sequence[int] = (0,), perturbation: str | None = None,
                   lam: float | None = None, device: str = "auto", first_pass: str | None = None,
                   on_start: Callable[[str, int], None] | None = None,
                   on_rescore: Callable[[], None] | None = None) -> RobustnessJob:
    """perturb-1 / perturb-N of a stored run's test set (or ``data``) with ``perturbation`` (a model spec; default
    paper): WER, oracle, ΔWER, NPRR and rank changes, stored with the model and its settings in one transaction. ``on_start(dataset, utterances)`` before scoring; ``on_rescore()`` after each
    scoring pass (1 clean + one per mode and seed)."""
    from lorascope.core.adapter import load_rescorer
    from lorascope.core.perturb import check_p
    from lorascope.core.rescorer import rescore_fn
    from lorascope.core.robustness import evaluate_robustness

    check_p(p)
    with Store(db_path) as store, store.atomic():   # a refusal undoes a file imported on the way
        run = run_with_adapter(store, run_id)
        target = data or run.test_dataset or run.dev_dataset
        if target is None:
            raise InputError(f"run {run_id}", "has no test set; name one with --data")
        mined = (perturbation or "paper").partition(":")[0].strip() == "mined"
        if not mined:      # a bad spec is refused before a file is imported on the way
            model = perturbation_model(store, perturbation)
        name, utts = resolve_dataset(store, target, need_references="robustness needs WER", first_pass=first_pass)
        if mined:          # mined needs the set under test's name (never mined from it unless named)
            model = perturbation_model(store, perturbation, mined_from=run.train_dataset, under_test=name)
    if on_start is not None:
        on_start(name, len(utts))
    rescorer = load_rescorer(run.adapter_path, device=None if device == "auto" else device)
    combination = rescorer.resolve_combination(lam)
    score = rescore_fn(rescorer, combination=combination)

    def rescore(lists):
        out = score(lists)
        if on_rescore is not None:
            on_rescore()
        return out

    report = evaluate_robustness(utts, rescore, modes=modes, p=p, seeds=seeds, model=model)
    with Store(db_path) as store:
        ids = store.add_robustness(run_id, name, report, combination=combination)
    return RobustnessJob(run_id=run_id, strategy=run.strategy, dataset=name, utterances=len(utts), report=report,
                         model_spec=model.spec(), metric_ids=ids, combination=combination)

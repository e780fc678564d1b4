"""The comparison job: two runs' adapters score the same lists (clean, and perturbed per seed), core.compare
measures the differences, and the comparison is stored (store/comparisons.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorascope.core.errors import InputError
from lorascope.core.names import DEFAULT_PERTURBATION
from lorascope.store import Store

from ..datasets import resolve_dataset
from .combos import plan_combination
from .common import perturbation_model, run_with_adapter


@dataclass
class CompareJob:
    run_a: int
    run_b: int
    strategy_a: str
    strategy_b: str
    dataset: str
    role_a: str | None
    role_b: str | None
    combination_a: Any              # core Combination of each run, as stored with its adapter
    combination_b: Any
    comparison: Any                 # core.compare.Comparison
    perturbation: dict[str, Any] | None = None
    model_spec: str | None = None
    mode: str | None = None
    p: float | None = None
    seeds: list[int] = field(default_factory=list)
    comparison_id: int | None = None


def compare_job(db_path: str | Path, run_a: int, run_b: int, *, data: str | None = None,
                perturbation: str | None = DEFAULT_PERTURBATION, mode: str = "N", p: float = 0.5, seeds: Sequence[int] = (0,),
                resamples: int = 1000, confidence: float = 0.95, bootstrap_seed: int = 0, top: int = 10,
                device: str = "auto", engine: str = "auto",
                on_start: Callable[[str, int, int], None] | None = None,
                on_pass: Callable[[], None] | None = None) -> CompareJob:
    """Compare runs A and B on ``data`` (default: A's test set). Every argument, the data set and both runs'
    combinations (features the lists must have) are checked before a model loads; ``perturbation`` None
    compares clean lists only (no NPRR). ``on_start(dataset, utterances, passes)`` before scoring, ``on_pass()``
    after each scoring pass."""
    from lorascope.core.perturbation.perturb import MODES, check_p
    from lorascope.store.provenance import data_role

    if mode not in MODES:
        raise InputError("--mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
    if perturbation is not None:
        check_p(p)
        if not seeds:
            raise InputError("--seeds", "give at least one perturbation seed")
    if not 0 < confidence < 1:
        raise InputError("--confidence", f"must be between 0 and 1, got {confidence}")
    if resamples < 10:
        raise InputError("--resamples", f"must be at least 10, got {resamples}")
    with Store(db_path) as store:
        runs = {rid: run_with_adapter(store, rid) for rid in (run_a, run_b)}
        target = data or runs[run_a].test_dataset
        if target is None:
            raise InputError(f"run {run_a}", "has no test set; name the lists to compare on with --data")
        name, utts = resolve_dataset(store, target, need_references="comparing needs WER")
        # each run's combination for this data set (stored for it, else the training's), features checked
        combos = {rid: plan_combination(store, run, name, utts).combination for rid, run in runs.items()}
        model = None
        if perturbation is not None:
            model = perturbation_model(store, perturbation, mined_from=runs[run_a].train_dataset, under_test=name)
    roles = {rid: data_role(run, name, None) for rid, run in runs.items()}
    passes = (1 + (len(seeds) if model is not None else 0)) * (1 if run_a == run_b else 2)
    if on_start is not None:
        on_start(name, len(utts), passes)
    comparison = _score_and_compare(utts, runs, combos, run_a, run_b, model=model, mode=mode, p=p, seeds=seeds,
                                    resamples=resamples, confidence=confidence, bootstrap_seed=bootstrap_seed,
                                    top=top, device=device, engine=engine, on_pass=on_pass)
    from lorascope.store.comparisons import add_comparison

    settings = model.to_dict() if model is not None else None
    with Store(db_path) as store:
        cid = add_comparison(store, run_a, run_b, name, comparison, combination_a=combos[run_a],
                             combination_b=combos[run_b], role_a=roles[run_a], role_b=roles[run_b],
                             perturbation=settings, mode=mode, p=p, bootstrap_seed=bootstrap_seed)
    return CompareJob(run_a, run_b, runs[run_a].strategy, runs[run_b].strategy, name, roles[run_a], roles[run_b],
                      combos[run_a], combos[run_b], comparison, settings, model.spec() if model else None,
                      mode if model else None, p if model else None, list(seeds) if model else [], cid)


def _score_and_compare(utts, runs, combos, run_a, run_b, *, model, mode, p, seeds, resamples, confidence,
                       bootstrap_seed, top, device, engine, on_pass):
    from lorascope.core.scoring.adapter import load_rescorer
    from lorascope.core.combination.model import best_index
    from lorascope.core.analysis.compare import PerturbedChoices, compare_choices
    from lorascope.core.data.metrics import hypothesis_errors, reference_lengths
    from lorascope.core.perturbation.perturb import perturb_utterances
    from lorascope.core.scoring.rescorer import rescore_fn

    scorers = {}
    for rid in dict.fromkeys((run_a, run_b)):
        rescorer = load_rescorer(runs[rid].adapter_path, device=None if device == "auto" else device, engine=engine)
        scorers[rid] = rescore_fn(rescorer, combination=combos[rid])

    def choices(lists) -> dict[int, list[int]]:
        out = {}
        for rid, score in scorers.items():
            out[rid] = [best_index(row) for row in score(lists)]
            if on_pass is not None:
                on_pass()
        return out

    clean = choices(utts)
    perturbed = []
    if model is not None:
        for seed in seeds:
            lists = [x.utterance for x in perturb_utterances(utts, mode, p, seed, model=model)]
            got = choices(lists)
            perturbed.append(PerturbedChoices(seed, hypothesis_errors(lists), got[run_a], got[run_b]))
    return compare_choices(hypothesis_errors(utts), reference_lengths(utts), clean[run_a], clean[run_b],
                           [u.id for u in utts], texts=[u.texts for u in utts], perturbed=perturbed,
                           resamples=resamples, confidence=confidence, seed=bootstrap_seed, top=top)

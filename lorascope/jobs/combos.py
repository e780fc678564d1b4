"""Which combination a run uses on a data set, decided before any scoring: the stored one when the set has
every feature it weighs, else a one-line refusal offering ``--tune-on NAME|FRACTION`` and ``--cross-fit K``;
and the tuning those options ask for, done once the LM scores are in (core/combination/crossfit.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lorascope.core.combination.model import Combination, available_features
from lorascope.core.combination.crossfit import (check_folds, cross_fit, cross_fit_result, missing_feature, parse_tune_on,
                                     prior_kind, split_by_utterance)
from lorascope.core.errors import InputError
from lorascope.core.data.nbest import Utterance
from lorascope.store import Store
from lorascope.store.combinations import add_combination, combinations

from ..datasets import require_references, resolve_dataset

SPLIT_SEED = 0      # the fixed seed of --tune-on FRACTION splits and --cross-fit folds


class IncompatibleData(InputError):
    """The data set lacks a feature the run's combination weighs (or its first pass means something else)."""


@dataclass
class Plan:
    """How the combination for ``dataset`` is had: ``mode`` stored, tune-on, fraction or cross-fit."""

    run_id: int
    dataset: str
    mode: str
    combination: Combination | None = None      # the stored one (mode "stored")
    source: str = ""                            # where the stored one comes from, in words
    tuned_on: str | None = None                 # the set the stored one was tuned on
    tune_name: str | None = None
    tune_utts: list[Utterance] | None = None
    fraction: float | None = None
    folds: int | None = None
    lam: float | None = None
    features: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def split(self) -> str:
        """The metric row's split: what the WER was measured on."""
        return {"stored": "eval", "tune-on": "eval", "fraction": "eval held-out",
                "cross-fit": "eval out-of-fold"}[self.mode]


def _stored(store: Store, run, dataset: str):
    """The combination stored for (run, dataset) that applies to all of it, else the training's."""
    rows = combinations(store, run.id)
    mine = [c for c in rows if c.dataset == dataset and (c.how == "training dev" or c.how.startswith("tune-on "))]
    training = [c for c in rows if c.how == "training dev"]
    if mine:
        return mine[-1]
    return training[0] if training else None


def plan_combination(store: Store, run, dataset: str, utts: Sequence[Utterance], *, tune_on: str | None = None,
                     cross_fit_k: int | None = None, lam: float | None = None, first_pass: str | None = None,
                     need_references: bool = True) -> Plan:
    """The combination ``run`` will use on ``utts`` (or how it will be tuned); every check before scoring."""
    if tune_on is not None and cross_fit_k is not None:
        raise InputError("--tune-on", "give --tune-on or --cross-fit, not both")
    if lam is not None and (tune_on is not None or cross_fit_k is not None):
        raise InputError("--lam", "is tuned with --tune-on / --cross-fit; give one or the other")
    plan = Plan(run_id=run.id, dataset=dataset, mode="stored", lam=lam)
    if cross_fit_k is not None:
        require_references(dataset, utts, "--cross-fit tunes on it")
        plan.mode, plan.folds = "cross-fit", check_folds(cross_fit_k, len(utts))
        plan.features = available_features(utts)
        return plan
    if tune_on is not None:
        target = parse_tune_on(tune_on)
        if isinstance(target, float):
            require_references(dataset, utts, "--tune-on FRACTION tunes on part of it")
            split_by_utterance(utts, target, SPLIT_SEED)        # fails now on a set too small to split
            plan.mode, plan.fraction, plan.features = "fraction", target, available_features(utts)
            return plan
        name, tune_utts = resolve_dataset(store, target, need_references="--tune-on tunes on it",
                                          first_pass=first_pass)
        if name == dataset:
            raise InputError("--tune-on", f"{name} is the set under evaluation; tune on a fraction of it "
                                          f"(--tune-on 0.3) or cross-fit (--cross-fit 5)")
        have = set(available_features(utts))
        plan.mode, plan.tune_name, plan.tune_utts = "tune-on", name, tune_utts
        plan.features = tuple(f for f in available_features(tune_utts) if f in have)
        return plan
    stored = _stored(store, run, dataset)
    if stored is not None:
        combination, prior, src = stored.combination, stored.prior, f"tuned on {stored.tuned_on} ({stored.how})"
        plan.tuned_on = stored.tuned_on
    else:
        from lorascope.core.scoring.adapter_config import adapter_combination, read_adapter_config

        combination = adapter_combination(read_adapter_config(run.adapter_path))
        prior, src = None, f"tuned on {run.dev_dataset} (training dev)"
        plan.tuned_on = run.dev_dataset
        if combination is None:
            raise InputError(f"run {run.id}", "its adapter holds no tuned combination; use --tune-on or --cross-fit")
    missing = missing_feature(combination, utts, tuned_prior=prior)
    if missing is not None:
        raise IncompatibleData(
            f"data {dataset}", f"has no {missing} values, which run {run.id}'s combination weighs ({src}: "
                               f"{combination.describe()}); tune one for it with --tune-on NAME|FRACTION or "
                               f"--cross-fit K")
    plan.combination, plan.source = combination, src
    return plan


@dataclass
class Applied:
    """The outcome of a plan on the LM-scored lists: what to report and how it was made."""

    result: Any                         # core.combine.EvalResult over ``utterances``
    utterances: list[Utterance]         # the lists the figure is on (the rest, for a fraction)
    combination: Combination
    how: str                            # one line: which combination, tuned where, on which lists the WER is
    combination_id: int | None = None
    per_list: list[Combination] | None = None   # cross-fit: the combination that chose each list


def apply_plan(plan: Plan, utts: Sequence[Utterance], score: Callable[[Sequence[Utterance]], list[list[float]]],
               *, db_path=None, gate: float | None = None) -> Applied:
    """Score the lists once (``score``: utterances -> LM scores), tune as the plan says, and evaluate; a tuned
    combination is stored for (run, data set) when ``db_path`` is given."""
    from lorascope.core.combination.tune import evaluate_scores, tune_combination

    utts = list(utts)
    lm = score(utts)
    if plan.mode == "stored":
        combination = plan.combination if plan.lam is None else plan.combination.with_lam(plan.lam)
        return Applied(evaluate_scores(utts, lm, combination), utts, combination,
                       f"combination {plan.source}{'' if plan.lam is None else f', λ set to {plan.lam:g}'}")
    if plan.mode == "cross-fit":
        fit = cross_fit(utts, lm, plan.folds, features=plan.features, seed=SPLIT_SEED)
        whole = tune_combination(utts, lm, features=plan.features).combination
        result = cross_fit_result(utts, lm, fit, whole)
        how = (f"out-of-fold: {plan.folds} folds by utterance (seed {SPLIT_SEED}), each list chosen by a combination "
               f"tuned on the other folds ({', '.join(('rank', *fit.features))} + λ)")
        details = {"oof_wer": fit.wer, "folds": plan.folds, "seed": SPLIT_SEED,
                   "fold_combinations": [c.to_dict() for c in fit.combinations]}
        cid = _keep(db_path, plan, whole, plan.dataset, f"cross-fit {plan.folds} (seed {SPLIT_SEED})", utts, details)
        per_list = [fit.combination_of(k) for k in range(len(utts))]
        return Applied(result, utts, whole, how, cid, per_list)
    if plan.mode == "fraction":
        tune_idx, rest_idx = split_by_utterance(utts, plan.fraction, SPLIT_SEED)
        tune_utts, rest = [utts[i] for i in tune_idx], [utts[i] for i in rest_idx]
        search = _tune(tune_utts, [lm[i] for i in tune_idx], plan.features, gate)
        how = (f"combination tuned on {len(tune_utts)} of {len(utts)} utterances ({plan.fraction:g}, seed "
               f"{SPLIT_SEED}); WER on the other {len(rest)} only (held out)")
        cid = _keep(db_path, plan, search.combination, f"{plan.dataset} ({plan.fraction:g}, seed {SPLIT_SEED})",
                    f"fraction {plan.fraction:g} (seed {SPLIT_SEED})", tune_utts,
                    {"tuned_utterances": len(tune_utts), "held_out_utterances": len(rest)})
        return Applied(evaluate_scores(rest, [lm[i] for i in rest_idx], search.combination), rest,
                       search.combination, how, cid)
    tune_lm = score(plan.tune_utts)
    search = _tune(plan.tune_utts, tune_lm, plan.features, gate)
    how = f"combination tuned on {plan.tune_name} ({', '.join(('rank', *search.features))} + λ)"
    cid = _keep(db_path, plan, search.combination, plan.tune_name, f"tune-on {plan.tune_name}", plan.tune_utts,
                {"tuned_utterances": len(plan.tune_utts)})
    return Applied(evaluate_scores(utts, lm, search.combination), utts, search.combination, how, cid)


def _tune(utts, lm, features, gate):
    """The combination tuned on ``utts``, behind the out-of-fold gate (as at training) when ``gate`` is set."""
    from lorascope.core.combination.tune import tune_combination
    from lorascope.core.combination.crossfit import gated_search

    if not gate:
        return tune_combination(utts, lm, features=features)
    return gated_search(utts, lm, min_p_better=gate, features=features).search


def _keep(db_path, plan: Plan, combination: Combination, tuned_on: str, how: str, tuned: Sequence[Utterance],
          details: dict[str, Any]) -> int | None:
    if db_path is None:
        return None
    with Store(db_path) as store:
        return add_combination(store, plan.run_id, dataset=plan.dataset, tuned_on=tuned_on, how=how,
                               combination=combination, features=plan.features, prior=prior_kind(tuned),
                               details=details)


def training_features(sets: dict[str, Sequence[Utterance]]) -> tuple[tuple[str, ...], str | None]:
    """The features a training's combination may weigh: those every set it is applied to (dev, test) has; and
    one line naming what is dropped and why (None when nothing is)."""
    from lorascope.core.combination.crossfit import features_for

    features, lacking = features_for({k: v for k, v in sets.items() if k in ("dev", "test")})
    if not lacking:
        return features, None
    dropped = sorted({f for fs in lacking.values() for f in fs})
    why = "; ".join(f"the {split} set has no {', '.join(fs)}" for split, fs in lacking.items())
    return features, (f"combination: drops {', '.join(dropped)} ({why}); it weighs "
                      f"{', '.join(('rank', *features))} and λ")


def store_training_combination(store: Store, run_id: int, dev_name: str, dev_utts: Sequence[Utterance],
                               result) -> dict[str, Any]:
    """The training's combination as the run's stored combination for its dev set; returns the gate's
    figures for the run's config."""
    search, gate = result.combination_search, result.gate
    figures = {"combination_gate": "out-of-fold dev" if gate is not None and gate.folds else "dev",
               "combination_gate_folds": getattr(gate, "folds", None),
               "combination_oof_dev_wer": getattr(gate, "oof_wer", None),
               "combination_in_sample_p_better": getattr(gate, "in_sample_p_better", None),
               "combination_features": list(search.features)}
    if result.eval_errors:
        figures["eval_errors"] = dict(result.eval_errors)
    add_combination(store, run_id, dataset=dev_name, tuned_on=dev_name, how="training dev",
                    combination=search.combination, features=search.features, prior=prior_kind(dev_utts),
                    details={"p_better": search.p_better, "min_p_better": search.min_p_better,
                             "best": search.best.to_dict(), **figures})
    return figures

"""The combination away from the set it was tuned on: compatibility, held-out tuning and cross-fitting.

An adapter (its LM score) applies to any N-best set; the combination tuned with it weighs first-pass features
of the set it was tuned on. :func:`missing_feature` says whether another set has what a combination weighs.
Where it does not, two honest ways on:

- :func:`split_by_utterance`: tune on a fixed-seed share of the set's utterances, report on the rest only;
- :func:`cross_fit`: K folds by utterance; each fold's lists are chosen by a combination tuned on the other
  K-1 folds, so every list is scored out of fold. The LM scores are computed once, by the caller, and reused.

:func:`gated_search` is the training gate on the same footing: the tuned combination is kept only if its
out-of-fold decisions on dev beat the first pass in ``min_p_better`` of paired-bootstrap resamples, so
"passed" means it won on lists it was not tuned on (the in-sample check is optimistic).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from lorascope.core.combination.model import FIRST_PASS_COMBINATION, Combination, available_features, feature_values, new_ranks
from lorascope.core.combination.tune import CombinationSearch, EvalResult, ScoreTable, tune_combination
from lorascope.core.errors import InputError
from lorascope.core.data.metrics import first_pass_and_oracle_wer, hypothesis_errors, paired_bootstrap, reference_lengths
from lorascope.core.data.nbest import Utterance


def prior_kind(utterances: Sequence[Utterance]) -> str:
    """What the ``prior`` feature means on these lists: ``"score"`` when every list has scores, else ``"rank"``."""
    return "score" if utterances and all(u.has_scores for u in utterances) else "rank"


def missing_feature(combination: Combination, utterances: Sequence[Utterance], *,
                    tuned_prior: str | None = None) -> str | None:
    """The first feature ``combination`` weighs that some list of ``utterances`` lacks (None: compatible).

    ``prior`` is the first-pass score on scored lists and the rank on rank-only ones; with ``tuned_prior`` (what
    it meant where the combination was tuned) a set where it means the other thing is incompatible too.
    """
    for name, _ in combination.weights:
        if name == "prior":
            if tuned_prior is not None and prior_kind(utterances) != tuned_prior:
                return f"prior (tuned as the first-pass {tuned_prior}, here the {prior_kind(utterances)})"
            continue
        if any(feature_values(u, name) is None for u in utterances):
            return name
    return None


def parse_tune_on(value: str) -> str | float:
    """``--tune-on``: a fraction in (0, 1) of the set itself, or a data set name."""
    try:
        x = float(value)
    except ValueError:
        return value
    if not 0 < x < 1:
        raise InputError("--tune-on", f"a fraction must lie strictly between 0 and 1, got {value}")
    return x


def check_folds(k: int, n: int | None = None) -> int:
    if k < 2:
        raise InputError("--cross-fit", f"needs at least 2 folds, got {k}")
    if n is not None and n < k:
        raise InputError("--cross-fit", f"{k} folds need at least {k} utterances, the set has {n}")
    return k


def split_by_utterance(utterances: Sequence[Utterance], fraction: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """Indices (tuning part, the rest) of a fixed-seed split by utterance: ``fraction`` of them to tune on."""
    if len(utterances) < 2:
        raise InputError("--tune-on", "a held-out split needs at least 2 utterances")
    order = sorted(range(len(utterances)), key=lambda i: utterances[i].id)
    random.Random(seed).shuffle(order)
    cut = min(len(order) - 1, max(1, round(fraction * len(order))))
    return sorted(order[:cut]), sorted(order[cut:])


def fold_of(utterances: Sequence[Utterance], k: int, seed: int = 0) -> list[int]:
    """The fold (0..k-1) of every utterance: a fixed-seed shuffle by utterance id, dealt round-robin."""
    check_folds(k, len(utterances))
    order = sorted(range(len(utterances)), key=lambda i: utterances[i].id)
    random.Random(seed).shuffle(order)
    folds = [0] * len(utterances)
    for pos, i in enumerate(order):
        folds[i] = pos % k
    return folds


@dataclass(frozen=True)
class CrossFit:
    """Out-of-fold choices of a set: each list chosen by the combination tuned on the other folds."""

    folds: tuple[int, ...]                      # fold of every utterance
    combinations: tuple[Combination, ...]       # the combination applied to each fold
    choices: tuple[int, ...]
    combined: list[list[float]]
    features: tuple[str, ...]
    wer: float | None                           # out-of-fold WER (None without references)
    first_pass_wer: float | None

    def combination_of(self, k: int) -> Combination:
        return self.combinations[self.folds[k]]


def _subset(seq, idx):
    return None if seq is None else [seq[i] for i in idx]


def cross_fit(utterances: Sequence[Utterance], lm_scores: Sequence[Sequence[float]] | None, k: int, *,
              features: Sequence[str] | None = None, seed: int = 0,
              error_table: Sequence[Sequence[int]] | None = None,
              ref_lengths: Sequence[int] | None = None) -> CrossFit:
    """Tune on K-1 folds, apply to the held-out one, for each fold (module docstring). Needs references."""
    utts = list(utterances)
    folds = fold_of(utts, k, seed)
    table = hypothesis_errors(utts) if error_table is None else error_table
    lens = reference_lengths(utts) if ref_lengths is None else ref_lengths
    chosen = tuple(available_features(utts) if features is None else features)
    combos: list[Combination] = []
    combined: list[list[float]] = [[] for _ in utts]
    for f in range(k):
        inside = [i for i in range(len(utts)) if folds[i] != f]
        search = tune_combination(_subset(utts, inside), _subset(lm_scores, inside), features=chosen,
                                  error_table=_subset(table, inside), ref_lengths=_subset(lens, inside))
        combos.append(search.combination)
        for i in (i for i in range(len(utts)) if folds[i] == f):
            combined[i] = search.combination.scores(utts[i], None if lm_scores is None else lm_scores[i])
    choices = tuple(new_ranks(c).index(0) for c in combined)
    total = sum(lens)
    wer = sum(table[i][c] for i, c in enumerate(choices)) / total if total else None
    first = first_pass_and_oracle_wer(table, lens)[0] if total else None
    return CrossFit(folds=tuple(folds), combinations=tuple(combos), choices=choices, combined=combined,
                    features=chosen, wer=wer, first_pass_wer=first)


def cross_fit_result(utterances: Sequence[Utterance], lm_scores: Sequence[Sequence[float]], fit: CrossFit,
                     combination: Combination) -> EvalResult:
    """An :class:`EvalResult` whose choices are ``fit``'s out-of-fold ones (``combination``: the one tuned on
    the whole set, stored for reference; it made none of these choices)."""
    table = hypothesis_errors(utterances)
    lens = reference_lengths(utterances)
    one_best, oracle = first_pass_and_oracle_wer(table, lens)
    ranks = [new_ranks(c) for c in fit.combined]
    return EvalResult(combination=combination, utterance_ids=tuple(u.id for u in utterances),
                      lm_scores=[list(map(float, s)) for s in lm_scores], combined=fit.combined, ranks=ranks,
                      choices=list(fit.choices), errors=table, reference_words=sum(lens), one_best_wer=one_best,
                      oracle_wer=oracle, rescored_wer=fit.wer)


@dataclass(frozen=True)
class GatedSearch:
    """The dev-tuned combination and the out-of-fold gate's verdict on it."""

    search: CombinationSearch       # ``combination``: kept, or the first pass when the gate refused
    in_sample_p_better: float | None    # the old gate: the tuned combination judged on the lists it was tuned on
    oof_p_better: float | None          # the gate: out-of-fold decisions against the first pass
    oof_wer: float | None               # the out-of-fold dev WER estimate
    folds: int


def gated_search(utterances: Sequence[Utterance], lm_scores: Sequence[Sequence[float]] | None, *,
                 min_p_better: float | None, folds: int = 5, features: Sequence[str] | None = None,
                 seed: int = 0, resamples: int = 1000, error_table: Sequence[Sequence[int]] | None = None,
                 ref_lengths: Sequence[int] | None = None) -> GatedSearch:
    """Tune on all of dev; keep the result only if the out-of-fold decisions beat the first pass in at least
    ``min_p_better`` of paired-bootstrap resamples (None: no gate, the estimate is still made)."""
    table = hypothesis_errors(utterances) if error_table is None else error_table
    lens = reference_lengths(utterances) if ref_lengths is None else ref_lengths
    full = tune_combination(utterances, lm_scores, features=features, error_table=table, ref_lengths=lens,
                            min_p_better=None, resamples=resamples, seed=seed)
    k = min(folds, len(utterances))
    if k < 2:
        return GatedSearch(full, None, None, None, 0)
    fit = cross_fit(utterances, lm_scores, k, features=full.features or (), seed=seed, error_table=table,
                    ref_lengths=lens)
    first = [row[0] for row in table]
    oof = [table[i][c] for i, c in enumerate(fit.choices)]
    oof_p = paired_bootstrap(first, oof, lens, resamples=resamples, seed=seed).p_b_better
    in_p = None
    if not full.best.is_first_pass:
        scored = ScoreTable(utterances, lm_scores, error_table=table, ref_lengths=lens, features=full.features)
        in_p = paired_bootstrap(first, scored.chosen_errors(full.best), lens, resamples=resamples,
                                seed=seed).p_b_better
    search = full
    if min_p_better is not None and not full.best.is_first_pass:
        keep = oof_p >= min_p_better
        combination = full.best if keep else FIRST_PASS_COMBINATION
        wer = full.best_wer if keep else full.first_pass_wer
        search = replace(full, combination=combination, wer=wer, p_better=oof_p, min_p_better=min_p_better)
    return GatedSearch(search=search, in_sample_p_better=in_p, oof_p_better=oof_p, oof_wer=fit.wer, folds=k)


def features_for(sets: dict[str, Sequence[Utterance]]) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """The tunable features every set has, and per set the features it lacks that another set offers."""
    have = {name: set(available_features(utts)) for name, utts in sets.items() if utts}
    common = set.intersection(*have.values()) if have else set()
    union = set.union(*have.values()) if have else set()
    lacking = {name: tuple(sorted(union - h)) for name, h in have.items() if union - h}
    from lorascope.core.combination.model import TUNED_FEATURES

    return tuple(f for f in TUNED_FEATURES if f in common), lacking

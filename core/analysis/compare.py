"""Two rescorers on the same lists: the WER difference with a paired-bootstrap interval, the NPRR difference with
an interval over lists and perturbation seeds, who is right where the other is wrong, and where they disagree.

Plain values in and out: per list, each system's chosen hypothesis and the word errors of every hypothesis.
Differences are A minus B (negative: A has the lower WER, or the smaller NPRR). A list counts as *right* for a
system when its choice has the fewest word errors of the list (an oracle hypothesis; ties count as right).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lorascope.core.analysis.stats import Interval
from lorascope.core.data.metrics import corpus_wer, paired_bootstrap

RIGHT_MEANS = "chose a hypothesis with the fewest word errors of its list (an oracle hypothesis; ties count)"


@dataclass(frozen=True)
class Disagreement:
    """One list where A and B chose different hypotheses (indices in first-pass order) and their word errors."""

    position: int
    utterance_id: str
    choice_a: int
    choice_b: int
    errors_a: int
    errors_b: int
    oracle_errors: int
    text_a: str = ""
    text_b: str = ""


@dataclass(frozen=True)
class RightCounts:
    a_right_b_wrong: int
    b_right_a_wrong: int
    both_right: int
    both_wrong: int
    disagreements: int                  # lists with different choices (right or wrong)


@dataclass(frozen=True)
class PerturbedChoices:
    """Both systems on one perturbed version of the lists (one seed): choices and per-hypothesis word errors."""

    seed: int
    errors: Sequence[Sequence[int]]
    choices_a: Sequence[int]
    choices_b: Sequence[int]


@dataclass(frozen=True)
class Comparison:
    """Everything :func:`compare_choices` measured."""

    utterances: int
    reference_words: int
    wer_a: float
    wer_b: float
    wer: Interval
    counts: RightCounts
    top: tuple[Disagreement, ...]
    nprr_a: float | None = None
    nprr_b: float | None = None
    nprr: Interval | None = None
    seeds: tuple[int, ...] = ()
    right_means: str = RIGHT_MEANS


def _chosen(errors: Sequence[Sequence[int]], choices: Sequence[int]) -> list[int]:
    if len(errors) != len(choices):
        raise ValueError(f"{len(errors)} lists but {len(choices)} choices")
    return [row[c] for row, c in zip(errors, choices)]


def wer_difference(errors: Sequence[Sequence[int]], lengths: Sequence[int], choices_a: Sequence[int],
                   choices_b: Sequence[int], *, resamples: int = 1000, confidence: float = 0.95,
                   seed: int = 0) -> Interval:
    """WER(A) - WER(B) with a paired bootstrap over lists (:func:`.metrics.paired_bootstrap`)."""
    boot = paired_bootstrap(_chosen(errors, choices_b), _chosen(errors, choices_a), lengths, resamples=resamples,
                            confidence=confidence, seed=seed)
    return Interval(boot.difference, boot.low, boot.high, confidence, resamples, boot.p_b_better)


def right_counts(errors: Sequence[Sequence[int]], choices_a: Sequence[int], choices_b: Sequence[int]) -> RightCounts:
    """How many lists each system gets right where the other is wrong (module docstring: right)."""
    a_only = b_only = both = neither = differ = 0
    for row, a, b in zip(errors, choices_a, choices_b):
        best = min(row)
        ra, rb = row[a] == best, row[b] == best
        a_only += ra and not rb
        b_only += rb and not ra
        both += ra and rb
        neither += not ra and not rb
        differ += a != b
    return RightCounts(a_only, b_only, both, neither, differ)


def disagreements(errors: Sequence[Sequence[int]], choices_a: Sequence[int], choices_b: Sequence[int],
                  utterance_ids: Sequence[str], texts: Sequence[Sequence[str]] | None = None,
                  top: int | None = 10) -> tuple[Disagreement, ...]:
    """Lists where A and B chose differently, the largest difference in word errors first (then list order)."""
    found = [Disagreement(k, utterance_ids[k], a, b, row[a], row[b], min(row),
                          texts[k][a] if texts else "", texts[k][b] if texts else "")
             for k, (row, a, b) in enumerate(zip(errors, choices_a, choices_b)) if a != b]
    found.sort(key=lambda d: (-abs(d.errors_a - d.errors_b), d.position))
    return tuple(found if top is None else found[:top])


def _nprr(clean_delta: np.ndarray, perturbed_delta: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (perturbed_delta - clean_delta) / clean_delta


def nprr_difference(errors: Sequence[Sequence[int]], lengths: Sequence[int], choices_a: Sequence[int],
                    choices_b: Sequence[int], perturbed: Sequence[PerturbedChoices], *, resamples: int = 1000,
                    confidence: float = 0.95, seed: int = 0) -> tuple[float, float, Interval]:
    """NPRR(A), NPRR(B) and NPRR(A) - NPRR(B) with a bootstrap over lists and perturbation seeds.

    NPRR = (ΔWER' - ΔWER) / ΔWER, ΔWER' the mean over seeds of the perturbed lists' ΔWER (with one clean
    denominator this equals the mean of the per-seed NPRRs that ``lorascope robustness`` reports). Each resample
    draws the lists with replacement (the same lists for A and B, and for the clean and perturbed versions) and the
    seeds with replacement; a resample where a system's clean ΔWER is 0 is left out (its NPRR is undefined).
    """
    if not perturbed:
        raise ValueError("nprr_difference needs at least one perturbed version of the lists")
    n = len(lengths)
    lens = np.asarray(lengths, dtype=np.float64)
    oracle = np.array([min(r) for r in errors], dtype=np.float64)
    clean_a = np.asarray(_chosen(errors, choices_a), dtype=np.float64) - oracle
    clean_b = np.asarray(_chosen(errors, choices_b), dtype=np.float64) - oracle
    pert_a = np.array([np.asarray(_chosen(s.errors, s.choices_a)) - [min(r) for r in s.errors] for s in perturbed],
                      dtype=np.float64)                       # seeds x lists: excess errors over the oracle
    pert_b = np.array([np.asarray(_chosen(s.errors, s.choices_b)) - [min(r) for r in s.errors] for s in perturbed],
                      dtype=np.float64)

    def both(idx: np.ndarray, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        words = lens[idx].sum(axis=-1)
        ca, cb = clean_a[idx].sum(axis=-1) / words, clean_b[idx].sum(axis=-1) / words
        pa = pert_a[seeds[..., :, None], idx[..., None, :]].sum(axis=-1).mean(axis=-1) / words
        pb = pert_b[seeds[..., :, None], idx[..., None, :]].sum(axis=-1).mean(axis=-1) / words
        return _nprr(ca, pa), _nprr(cb, pb)

    all_lists, all_seeds = np.arange(n), np.arange(len(perturbed))
    point_a, point_b = (float(x) for x in both(all_lists, all_seeds))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    seeds = rng.integers(0, len(perturbed), size=(resamples, len(perturbed)))
    va, vb = both(idx, seeds)
    with np.errstate(invalid="ignore"):
        diffs = va - vb
    ok = np.isfinite(diffs)
    tail = (1 - confidence) / 2
    if ok.any():
        low, high = (float(x) for x in np.quantile(diffs[ok], [tail, 1 - tail]))
        p_lower = float((va[ok] < vb[ok]).mean())
    else:
        low = high = math.nan
        p_lower = None
    return point_a, point_b, Interval(point_a - point_b, low, high, confidence, int(ok.sum()), p_lower)


def compare_choices(errors: Sequence[Sequence[int]], lengths: Sequence[int], choices_a: Sequence[int],
                    choices_b: Sequence[int], utterance_ids: Sequence[str], *,
                    texts: Sequence[Sequence[str]] | None = None, perturbed: Sequence[PerturbedChoices] = (),
                    resamples: int = 1000, confidence: float = 0.95, seed: int = 0, top: int = 10) -> Comparison:
    """A and B on the same lists (``errors``: word errors of every hypothesis of every list, first-pass order;
    ``choices_*``: each system's chosen hypothesis per list; ``perturbed``: both on perturbed lists, per seed)."""
    if not (len(errors) == len(lengths) == len(choices_a) == len(choices_b) == len(utterance_ids)) or not errors:
        raise ValueError("compare_choices needs equally long, non-empty per-list sequences")
    wer = wer_difference(errors, lengths, choices_a, choices_b, resamples=resamples, confidence=confidence, seed=seed)
    nprr_a = nprr_b = nprr = None
    if perturbed:
        nprr_a, nprr_b, nprr = nprr_difference(errors, lengths, choices_a, choices_b, perturbed,
                                               resamples=resamples, confidence=confidence, seed=seed)
    return Comparison(
        utterances=len(errors), reference_words=int(sum(lengths)),
        wer_a=corpus_wer(_chosen(errors, choices_a), lengths), wer_b=corpus_wer(_chosen(errors, choices_b), lengths),
        wer=wer, counts=right_counts(errors, choices_a, choices_b),
        top=disagreements(errors, choices_a, choices_b, utterance_ids, texts, top),
        nprr_a=nprr_a, nprr_b=nprr_b, nprr=nprr, seeds=tuple(s.seed for s in perturbed))


__all__ = ["RIGHT_MEANS", "Comparison", "Disagreement", "Interval", "PerturbedChoices", "RightCounts",
           "compare_choices", "disagreements", "nprr_difference", "right_counts", "wer_difference"]

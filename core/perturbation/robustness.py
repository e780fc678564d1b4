"""Robustness of a rescorer to phonetic perturbation: WER, oracle WER, ΔWER and NPRR on clean and perturbed lists.

For every condition (clean, perturb-1, perturb-N; the perturbed ones once per seed) the rescorer scores the
lists, its choice per utterance is the argmax of its scores (:func:`.combine.best_index`: ties go to the
earlier hypothesis in first-pass order), and (arXiv 2401.10447, Eq. 2-3)::

    ΔWER(f, X', Y) = WER(f, X', Y) - OracleWER(X', Y)
    NPRR           = (ΔWER(f, X', Y) - ΔWER(f, X, Y)) / ΔWER(f, X, Y)

The oracle WER is that of the perturbed lists themselves. Per utterance, the rescorer's rank of every
hypothesis before and after perturbation shows where a choice flipped. WER values and NPRR are fractions.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lorascope.core.combination.tune import best_index, new_ranks
from lorascope.core.errors import InputError
from lorascope.core.data.metrics import (corpus_wer, delta_wer, first_pass_and_oracle_wer, hypothesis_errors, nprr,
                                        reference_length, selected_wer)
from lorascope.core.data.nbest import Utterance
from lorascope.core.perturbation.perturb import MODES, Model, Perturbation, check_p, perturb_utterances
from lorascope.core.perturbation.models import LexiconConfig, PerturbationConfig, resolve_perturbation
from lorascope.core.perturbation.phonetic_cache import load_index
from lorascope.core.perturbation.phonetic_index import INDEX_VERSION, PhoneticIndex

#: A rescorer as seen here: utterances in, one combined score per hypothesis out (higher is better).
Rescore = Callable[[list[Utterance]], Sequence[Sequence[float]]]


@dataclass(frozen=True)
class UtteranceRanks:
    """How one utterance's ranking moved under perturbation.

    ``ranks_before[i]`` is the rescorer's rank (0 = chosen) of hypothesis ``i`` on the clean list,
    ``ranks_after[i]`` on the perturbed one.
    """

    utterance_id: str
    ranks_before: tuple[int, ...]
    ranks_after: tuple[int, ...]
    choice_before: int
    choice_after: int
    errors_before: int
    errors_after: int
    edits: int

    @property
    def flipped(self) -> bool:
        """True when the rescorer chose a different hypothesis after perturbation."""
        return self.choice_before != self.choice_after

    @property
    def rank_changes(self) -> int:
        """How many hypotheses changed rank."""
        return sum(a != b for a, b in zip(self.ranks_before, self.ranks_after))


@dataclass(frozen=True)
class ConditionResult:
    """The rescorer on one version of the lists: ``condition`` is ``clean``, ``perturb-1`` or ``perturb-N``.

    ``nprr``, ``seed``, ``utterances`` and ``perturbations`` are empty (None or ``()``) for the clean lists.
    """

    condition: str
    seed: int | None
    wer: float
    oracle_wer: float
    delta_wer: float
    nprr: float | None
    choices: tuple[int, ...]
    utterances: tuple[UtteranceRanks, ...] = ()
    perturbations: tuple[Perturbation, ...] = ()

    @property
    def flips(self) -> int:
        """Utterances whose chosen hypothesis changed."""
        return sum(u.flipped for u in self.utterances)

    @property
    def flip_rate(self) -> float:
        return self.flips / len(self.utterances) if self.utterances else 0.0

    @property
    def edits(self) -> int:
        return sum(len(p.edits) for p in self.perturbations)


@dataclass(frozen=True)
class ModeSummary:
    """One perturbation mode over its seeds: means, and the sample standard deviation of NPRR (0 for one seed)."""

    mode: str
    condition: str
    seeds: tuple[int, ...]
    wer_mean: float
    oracle_wer_mean: float
    delta_wer_mean: float
    nprr_mean: float
    nprr_std: float
    flip_rate_mean: float


@dataclass(frozen=True)
class RobustnessReport:
    """Everything :func:`evaluate_robustness` measured, as plain data."""

    clean: ConditionResult
    runs: tuple[ConditionResult, ...]  # every (mode, seed), modes in the order asked, then seeds
    summaries: tuple[ModeSummary, ...]
    modes: tuple[str, ...]
    seeds: tuple[int, ...]
    p: float
    perturbation: dict[str, Any] = field(default_factory=dict)  # the model's to_dict(): name and settings
    index_version: int = INDEX_VERSION  # the phonetic index's rules the perturbations came from

    def runs_of(self, mode: str) -> tuple[ConditionResult, ...]:
        condition = _condition(_mode(mode))
        return tuple(r for r in self.runs if r.condition == condition)

    def summary(self, mode: str) -> ModeSummary:
        condition = _condition(_mode(mode))
        for s in self.summaries:
            if s.condition == condition:
                return s
        raise KeyError(mode)


def _mode(mode: str) -> str:
    name = str(mode).removeprefix("perturb-")
    if name not in MODES:
        raise InputError("perturbation mode", f"must be one of 1, N (perturb-1, perturb-N), got {mode!r}")
    return name


def _condition(mode: str) -> str:
    return f"perturb-{mode}"


def _ranks(scores: Sequence[float]) -> tuple[int, ...]:
    return tuple(new_ranks(scores))


def _scores(rescore: Rescore, utterances: list[Utterance], condition: str) -> list[list[float]]:
    got = rescore(utterances)
    rows = [list(map(float, row)) for row in got]
    if len(rows) != len(utterances):
        raise ValueError(f"rescore returned {len(rows)} score lists for {len(utterances)} utterances ({condition})")
    for u, row in zip(utterances, rows):
        if len(row) != len(u.hypotheses):
            raise ValueError(f"rescore gave {len(row)} scores for the {len(u.hypotheses)} hypotheses "
                             f"of utterance {u.id} ({condition})")
        if any(math.isnan(x) for x in row):
            raise ValueError(f"rescore gave a NaN score for utterance {u.id} ({condition})")
    return rows


def _measure(rows: list[list[float]], errors: list[list[int]],
             lengths: list[int]) -> tuple[float, float, tuple[int, ...]]:
    """WER of the rescorer's choices, oracle WER of the lists, and the choices."""
    choices = tuple(best_index(r) for r in rows)
    return selected_wer(errors, lengths, choices), first_pass_and_oracle_wer(errors, lengths)[1], choices


def _check(utterances: Sequence[Utterance]) -> None:
    if not utterances:
        raise InputError("robustness", "no utterances to evaluate")
    for u in utterances:
        if u.reference is None:
            raise InputError(f"utterance {u.id}", "has no reference transcript, so WER cannot be computed")
        if not u.hypotheses:
            raise InputError(f"utterance {u.id}", "has no hypotheses")


def _model(model: Model, top_k: int | None, max_distance: float | None) -> PerturbationConfig:
    if top_k is None and max_distance is None:
        return resolve_perturbation(model)
    if model is not None:
        raise InputError("robustness", "top_k and max_distance are lexicon settings: give them in the model "
                                       "(lexicon:max_distance=0), not beside it")
    return LexiconConfig(**({} if top_k is None else {"top_k": top_k}), max_distance=max_distance)


def evaluate_robustness(utterances: Sequence[Utterance], rescore: Rescore, modes: Sequence[str] = ("1", "N"),
                        p: float = 0.5, seeds: Sequence[int] = (0,), *, model: Model = None,
                        index: PhoneticIndex | None = None, top_k: int | None = None,
                        max_distance: float | None = None) -> RobustnessReport:
    """WER, oracle WER, ΔWER and NPRR of ``rescore`` on clean, perturb-1 and perturb-N lists.

    ``rescore`` takes a list of utterances and returns, per utterance, one score per hypothesis (higher is
    better). It is called once on the clean lists and once per (mode, seed). Every utterance needs a reference.
    ``model`` is the perturbation model (a config or a spec such as ``"lexicon:max_distance=0"``; default
    ``paper``); its ``to_dict()`` is kept in the report. ``top_k`` / ``max_distance`` are the older way to ask
    for ``lexicon`` with those settings, for callers that predate the models.
    """
    utterances = list(utterances)
    _check(utterances)
    modes = tuple(_mode(m) for m in modes)
    seeds = tuple(int(s) for s in seeds)
    p = check_p(p)
    if modes and not seeds:
        raise InputError("robustness", "needs at least one seed")
    model = _model(model, top_k, max_distance)
    index = index or (load_index() if modes else None)
    lengths = [reference_length(u.reference or "") for u in utterances]

    clean_rows = _scores(rescore, utterances, "clean")
    clean_errors = hypothesis_errors(utterances)  # metrics caches each (reference, text) pair
    wer, oracle, clean_choices = _measure(clean_rows, clean_errors, lengths)
    clean_delta = delta_wer(wer, oracle)
    clean = ConditionResult("clean", None, wer, oracle, clean_delta, None, clean_choices)
    clean_ranks = [_ranks(r) for r in clean_rows]

    runs: list[ConditionResult] = []
    summaries: list[ModeSummary] = []
    for mode in modes:
        condition = _condition(mode)
        mode_runs = []
        for seed in seeds:
            perturbed = perturb_utterances(utterances, mode, p, seed, model=model, index=index)
            lists = [x.utterance for x in perturbed]
            rows = _scores(rescore, lists, f"{condition}, seed {seed}")
            table = hypothesis_errors(lists)
            wer, oracle, choices = _measure(rows, table, lengths)
            delta = delta_wer(wer, oracle)
            per_utt = tuple(
                UtteranceRanks(u.id, clean_ranks[k], _ranks(rows[k]), clean_choices[k], choices[k],
                               clean_errors[k][clean_choices[k]], table[k][choices[k]], len(perturbed[k].edits))
                for k, u in enumerate(utterances))
            mode_runs.append(ConditionResult(condition, seed, wer, oracle, delta, nprr(clean_delta, delta), choices,
                                             per_utt, tuple(perturbed)))
        runs.extend(mode_runs)
        summaries.append(_summarise(mode, condition, seeds, mode_runs))
    return RobustnessReport(clean, tuple(runs), tuple(summaries), modes, seeds, p, model.to_dict())


def _summarise(mode: str, condition: str, seeds: tuple[int, ...], runs: list[ConditionResult]) -> ModeSummary:
    values = [r.nprr for r in runs if r.nprr is not None]
    if len(values) < 2:
        spread = 0.0
    elif all(math.isfinite(v) for v in values):
        spread = statistics.stdev(values)
    else:
        spread = math.nan  # a clean ΔWER of 0 makes NPRR infinite; its spread is undefined
    return ModeSummary(
        mode=mode, condition=condition, seeds=seeds,
        wer_mean=statistics.fmean(r.wer for r in runs),
        oracle_wer_mean=statistics.fmean(r.oracle_wer for r in runs),
        delta_wer_mean=statistics.fmean(r.delta_wer for r in runs),
        nprr_mean=statistics.fmean(values),
        nprr_std=spread,
        flip_rate_mean=statistics.fmean(r.flip_rate for r in runs),
    )


def _errors(wer: float, words: int) -> int:
    """A page's word errors from its corpus WER (errors / words): exact, since errors are whole numbers."""
    return round(wer * words) if words else 0


def merge_page_reports(parts: Sequence[tuple[RobustnessReport, int]]) -> RobustnessReport:
    """One report from the reports of consecutive pages of a data set, each with its reference words.

    Every part of the evaluation is per list except the corpus WERs, which are sums of word errors over sums of
    reference words: a page's WER times its words gives back its errors exactly, so the merged figures equal
    those of the whole set at once. The per-utterance results are joined; ΔWER and NPRR follow from the merged
    WERs. The perturbed lists themselves are not kept. One seed per mode (each page's run ``k`` is mode ``k``).
    """
    first = parts[0][0]
    if len(first.seeds) != 1:
        raise ValueError("merge_page_reports takes reports of one seed")
    words = [w for _, w in parts]

    def figures(pick: Callable[[RobustnessReport], ConditionResult]) -> tuple[float, float]:
        runs = [pick(r) for r, _ in parts]
        return (corpus_wer([_errors(c.wer, w) for c, w in zip(runs, words)], words),
                corpus_wer([_errors(c.oracle_wer, w) for c, w in zip(runs, words)], words))

    wer, oracle = figures(lambda r: r.clean)
    clean_delta = delta_wer(wer, oracle)
    clean = ConditionResult("clean", None, wer, oracle, clean_delta, None,
                            tuple(c for r, _ in parts for c in r.clean.choices))
    runs, summaries = [], []
    for k, mode in enumerate(first.modes):
        wer, oracle = figures(lambda r: r.runs[k])
        delta = delta_wer(wer, oracle)
        run = ConditionResult(first.runs[k].condition, first.runs[k].seed, wer, oracle, delta, nprr(clean_delta, delta),
                              tuple(c for r, _ in parts for c in r.runs[k].choices),
                              tuple(u for r, _ in parts for u in r.runs[k].utterances))
        runs.append(run)
        summaries.append(ModeSummary(mode=mode, condition=run.condition, seeds=first.seeds, wer_mean=run.wer,
                                     oracle_wer_mean=run.oracle_wer, delta_wer_mean=run.delta_wer,
                                     nprr_mean=run.nprr, nprr_std=0.0, flip_rate_mean=run.flip_rate))
    return replace(first, clean=clean, runs=tuple(runs), summaries=tuple(summaries))


__all__ = ["ConditionResult", "ModeSummary", "Rescore", "RobustnessReport", "UtteranceRanks", "evaluate_robustness",
           "merge_page_reports"]

"""Tuning a :class:`~.combination.Combination` on dev, and evaluating one on lists.

Tuning (:func:`tune_combination`) is a coordinate line search on dev WER. The features are normalised by their
mean within-list spread on dev, ``rank``'s weight is held at 1 (the scale of a combination does not change its
choices), and each other weight in turn (λ first) takes the best value of its grid, a few sweeps until nothing
moves; a tie keeps the current value, then the one nearest 0. It starts from the first pass and, where the lists
have scores, also from the score dominating the rank, and keeps the better end. λ's grid is :data:`LAMBDA_MULTIPLES` times the
first-pass weight in normalised units, so λ = 1 there is the LM's weight during training (the prior then had
unit within-list spread; see :mod:`.train`). Every grid holds 0, so the search never leaves the first pass for
a worse dev WER. Because a combination that wins on dev by a handful of words can still lose on unseen data,
``min_p_better`` keeps it only if it beats the first pass in at least that share of paired-bootstrap resamples
of the dev utterances (Bisani & Ney), else the first pass. The check runs on the same dev set the weights were
tuned on, so it is optimistic; it screens out gains that are noise even there. It protects lists like dev
only: a rescorer tuned on one domain can still hurt another.

WER here is computed from a table of word errors per hypothesis (:func:`.metrics.hypothesis_errors`) with
numpy, in the same order of operations as :meth:`Combination.scores`, so both give identical choices.

The combination itself (features, scores, the first pass) is :mod:`.combination`; its names are importable from
here too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from lorascope.core.combination.model import (EXTRA_FEATURES, FEATURES, FIRST_PASS_COMBINATION, TUNED_FEATURES, Combination,
                          available_features, best_index, combined_scores, feature_values, new_ranks,
                          training_combination)
from lorascope.core.errors import InputError
from lorascope.core.data.metrics import (delta_wer, first_pass_and_oracle_wer, hypothesis_errors, paired_bootstrap, reference_lengths,
                      selected_wer)
from lorascope.core.data.nbest import Utterance

__all__ = ["EXTRA_FEATURES", "FEATURES", "FIRST_PASS_COMBINATION", "LAMBDA_MULTIPLES", "TUNED_FEATURES", "Combination",
           "CombinationSearch", "EvalResult", "LambdaSearch", "ScoreTable", "SearchStep", "available_features",
           "best_index", "combined_scores", "evaluate_scores", "feature_values", "lambda_grid", "new_ranks",
           "search_lambda", "training_combination", "tune_combination"]

# Multiples of the training-time LM weight; 0 is added in front.
LAMBDA_MULTIPLES = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0,
                    2.5, 3.0, 4.0, 5.0, 7.0, 10.0, 20.0)
# Normalised weight grids (relative to rank's weight 1). A first-pass score or log-probability can count for
# little next to the list order or dominate it; a cost counts against; a length term is small either way.
_SCORE_GRID = (0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
_WORDS_GRID = (0.0, 0.03, -0.03, 0.06, -0.06, 0.125, -0.125, 0.25, -0.25, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0)
_GRIDS = {"score": _SCORE_GRID, "total_logprob": _SCORE_GRID, "ac_cost": tuple(-g for g in _SCORE_GRID),
          "lm_cost": tuple(-g for g in _SCORE_GRID), "words": _WORDS_GRID}

def lambda_grid(scale: float = 1.0) -> list[float]:
    """0 followed by :data:`LAMBDA_MULTIPLES` times ``scale`` (the λ the model was trained at)."""
    return [0.0] + [scale * m for m in LAMBDA_MULTIPLES]


# ------------------------------------------------------------------------------------------------ the table


class ScoreTable:
    """Features, LM scores and word errors of a set of lists as padded arrays, for fast WER of combinations."""

    def __init__(self, utterances: Sequence[Utterance], lm_scores: Sequence[Sequence[float]] | None, *,
                 error_table: Sequence[Sequence[int]] | None = None, ref_lengths: Sequence[int] | None = None,
                 features: Sequence[str] = ()):
        if not utterances:
            raise InputError("combination", "no utterances to combine")
        if lm_scores is not None and len(lm_scores) != len(utterances):
            raise ValueError(f"{len(utterances)} utterances but {len(lm_scores)} score lists")
        sizes = [len(u.hypotheses) for u in utterances]
        self.n, self.width = len(utterances), max(sizes)
        self.mask = np.arange(self.width)[None, :] < np.asarray(sizes)[:, None]
        self.utterances = utterances
        table = hypothesis_errors(utterances) if error_table is None else error_table
        self.errors = self._pad(table, fill=0).astype(np.int64)
        self.lengths = list(reference_lengths(utterances) if ref_lengths is None else ref_lengths)
        self.total_words = sum(self.lengths)
        self.lm = None if lm_scores is None else self._pad(lm_scores)
        if self.lm is not None:
            for u, row in zip(utterances, lm_scores):  # type: ignore[arg-type]
                if len(row) != len(u.hypotheses):
                    raise ValueError(f"utterance {u.id}: {len(u.hypotheses)} hypotheses but {len(row)} LM scores")
        self._features: dict[str, np.ndarray] = {}
        for name in ("rank", *features):
            self.feature(name)

    def _pad(self, rows: Sequence[Sequence[float]], fill: float = 0.0) -> np.ndarray:
        out = np.full((self.n, self.width), fill, dtype=np.float64)
        for k, row in enumerate(rows):
            out[k, :len(row)] = row
        return out

    def feature(self, name: str) -> np.ndarray:
        if name not in self._features:
            rows = []
            for u in self.utterances:
                values = feature_values(u, name)
                if values is None:
                    raise InputError(f"utterance {u.id}", f"has no {name} values, which the combination weighs")
                rows.append(values)
            self._features[name] = self._pad(rows)
        return self._features[name]

    def spread(self, name: str) -> float:
        """Mean within-list population standard deviation of feature ``name`` (lists of 2+ hypotheses)."""
        f = self.feature(name)
        sizes = self.mask.sum(axis=1)
        multi = sizes > 1
        if not multi.any():
            return 0.0
        mean = (f * self.mask).sum(axis=1) / np.maximum(sizes, 1)
        var = (((f - mean[:, None]) ** 2) * self.mask).sum(axis=1) / np.maximum(sizes, 1)
        return float(np.sqrt(var[multi]).mean())

    def combined(self, combination: Combination) -> np.ndarray:
        total = np.zeros((self.n, self.width))
        for name, w in combination.weights:
            total = total + w * self.feature(name)
        if combination.lam != 0:
            if self.lm is None:
                raise ValueError("a combination with λ ≠ 0 needs LM scores")
            total = total + combination.lam * self.lm
        return np.where(self.mask, total, -np.inf)

    def choices(self, combination: Combination) -> np.ndarray:
        return np.argmax(self.combined(combination), axis=1)

    def chosen_errors(self, combination: Combination) -> list[int]:
        picks = self.choices(combination)
        return self.errors[np.arange(self.n), picks].tolist()

    def wer(self, combination: Combination) -> float:
        picks = self.choices(combination)
        errors = int(self.errors[np.arange(self.n), picks].sum())
        return errors / self.total_words if self.total_words else math.nan


# ------------------------------------------------------------------------------------------------ tuning


@dataclass(frozen=True)
class LambdaSearch:
    """Dev WER at every λ of the grid on top of a fixed first-pass part (``base``), and the best λ."""

    grid: tuple[float, ...]
    wers: tuple[float, ...]
    lam: float
    wer: float
    first_pass_wer: float               # WER at λ = 0 with the base
    base: Combination = FIRST_PASS_COMBINATION

    @property
    def combination(self) -> Combination:
        return self.base.with_lam(self.lam)


def search_lambda(utterances: Sequence[Utterance], lm_scores: Sequence[Sequence[float]], grid: Sequence[float], *,
                  base: Combination = FIRST_PASS_COMBINATION, table: ScoreTable | None = None,
                  error_table: Sequence[Sequence[int]] | None = None,
                  ref_lengths: Sequence[int] | None = None) -> LambdaSearch:
    """Line search of λ over ``grid`` (0 added) on top of ``base``: the smallest λ among the lowest dev WERs."""
    grid = sorted(set(float(g) for g in grid) | {0.0})
    table = table or ScoreTable(utterances, lm_scores, error_table=error_table, ref_lengths=ref_lengths)
    wers = [table.wer(base.with_lam(lam)) for lam in grid]
    best = min(range(len(grid)), key=lambda k: (wers[k], grid[k]))
    return LambdaSearch(grid=tuple(grid), wers=tuple(wers), lam=grid[best], wer=wers[best],
                        first_pass_wer=wers[grid.index(0.0)], base=base)


@dataclass(frozen=True)
class SearchStep:
    """One line search: ``feature`` (``"lm"`` for λ) set to ``weight``, giving dev WER ``wer``."""

    sweep: int
    feature: str
    weight: float
    wer: float


@dataclass(frozen=True)
class CombinationSearch:
    """The tuned combination, how it was found, and the bootstrap gate's verdict."""

    combination: Combination        # what the search chose: ``best``, or the first pass after the gate
    wer: float                      # dev WER of ``combination``
    first_pass_wer: float
    best: Combination               # the best dev combination before the gate
    best_wer: float
    p_better: float | None          # share of dev resamples in which ``best`` beats the first pass
    min_p_better: float | None
    features: tuple[str, ...]       # the tuned features the dev lists offered (λ besides)
    spreads: dict[str, float] = field(default_factory=dict)
    steps: tuple[SearchStep, ...] = ()

    @property
    def lam(self) -> float:
        return self.combination.lam

    @property
    def fell_back(self) -> bool:
        """True when the gate kept the first pass instead of a better-on-dev combination."""
        return self.combination.is_first_pass and not self.best.is_first_pass

    @property
    def fell_back_from(self) -> Combination | None:
        return self.best if self.fell_back else None


def tune_combination(utterances: Sequence[Utterance], lm_scores: Sequence[Sequence[float]] | None, *,
                     features: Sequence[str] | None = None,
                     error_table: Sequence[Sequence[int]] | None = None, ref_lengths: Sequence[int] | None = None,
                     min_p_better: float | None = None, resamples: int = 1000, seed: int = 0,
                     sweeps: int = 3) -> CombinationSearch:
    """Tune the combination's weights on ``utterances`` (dev) by coordinate line search (module docstring).

    ``features``: which of :data:`TUNED_FEATURES` to tune (default: all the lists have); ``lm_scores`` None
    tunes the first-pass evidence alone.
    """
    offered = available_features(utterances)
    chosen = offered if features is None else tuple(f for f in features if f in offered)
    table = ScoreTable(utterances, lm_scores, error_table=error_table, ref_lengths=ref_lengths, features=chosen)
    spreads = {name: table.spread(name) for name in ("rank", *chosen)}
    chosen = tuple(f for f in chosen if spreads[f] > 0)
    rank_spread = spreads["rank"] or 1.0
    # normalised weights g (rank's is 1) -> raw weights: w_k = g_k * rank_spread / spread_k, λ = γ * rank_spread
    def raw(g: dict[str, float], gamma: float) -> Combination:
        weights = {"rank": 1.0, **{f: g[f] * rank_spread / spreads[f] for f in chosen}}
        return Combination.of(weights, gamma * rank_spread)

    def line(current: float, grid: Sequence[float], make) -> tuple[float, float]:
        scored = [(table.wer(make(v)), abs(v) if v != current else -1.0, v) for v in dict.fromkeys([current, *grid])]
        wer, _, value = min(scored)
        return value, wer

    def descend(g: dict[str, float], start: int) -> tuple[dict[str, float], float, float, list[SearchStep]]:
        """Coordinate descent from normalised weights ``g`` (λ 0); returns weights, γ, dev WER and the steps."""
        g, gamma, wer, steps = dict(g), 0.0, table.wer(raw(g, 0.0)), []
        for sweep in range(start, start + sweeps):
            moved = False
            for name in coordinates:
                if name == "lm":
                    mass = sum(abs(v) for v in g.values())
                    grid = [0.0] + [m * mass for m in LAMBDA_MULTIPLES]
                    value, wer = line(gamma, grid, lambda v: raw(g, v))
                    moved |= value != gamma
                    gamma = value
                    steps.append(SearchStep(sweep, "lm", raw(g, gamma).lam, wer))
                else:
                    value, wer = line(g[name], _GRIDS[name], lambda v, name=name: raw({**g, name: v}, gamma))
                    moved |= value != g[name]
                    g[name] = value
                    steps.append(SearchStep(sweep, name, raw(g, gamma).weight(name), wer))
            if not moved:
                break
        return g, gamma, wer, steps

    first_pass_wer = table.wer(FIRST_PASS_COMBINATION)
    coordinates = (["lm"] if lm_scores is not None else []) + list(chosen)
    # Two starts. From the first pass itself; and, where the lists have scores, from the score dominating the
    # rank (the rank then only breaks ties): rank moves in whole steps, so beside it a small weight on another
    # feature changes nothing, while beside the score it interpolates (a length penalty, say).
    starts = [{"rank": 1.0, **{f: 0.0 for f in chosen}}]
    if "score" in chosen:
        starts.append({**starts[0], "score": _SCORE_GRID[-1]})
    found = [descend(start, k * sweeps) for k, start in enumerate(starts)]
    g, gamma, _, _ = min(found, key=lambda r: r[2])   # ties: the first start
    steps = [step for r in found for step in r[3]]
    best = raw(g, gamma)
    best_wer = table.wer(best)
    combination, p_better = best, None
    if min_p_better is not None and not best.is_first_pass:
        lens = table.lengths
        p_better = paired_bootstrap(table.chosen_errors(FIRST_PASS_COMBINATION), table.chosen_errors(best), lens,
                                    resamples=resamples, seed=seed).p_b_better
        if p_better < min_p_better:
            combination = FIRST_PASS_COMBINATION
    return CombinationSearch(
        combination=combination, wer=table.wer(combination), first_pass_wer=first_pass_wer, best=best,
        best_wer=best_wer, p_better=p_better, min_p_better=min_p_better, features=chosen, spreads=spreads,
        steps=tuple(steps))


# ------------------------------------------------------------------------------------------------ evaluation


@dataclass(frozen=True)
class EvalResult:
    """Rescoring of a set of N-best lists with one combination: per-hypothesis values and, with references, WERs.

    ``lm_scores``, ``combined`` and ``ranks`` are per utterance, per hypothesis in first-pass order;
    ``ranks[k][i]`` is hypothesis i's place under the combined score (0 = chosen). WERs are fractions and
    ``None`` when any utterance lacks a reference.
    """

    combination: Combination
    utterance_ids: tuple[str, ...]
    lm_scores: list[list[float]]
    combined: list[list[float]]
    ranks: list[list[int]]
    choices: list[int]
    errors: list[list[int]] | None
    reference_words: int | None
    one_best_wer: float | None
    oracle_wer: float | None
    rescored_wer: float | None

    @property
    def lam(self) -> float:
        return self.combination.lam

    @property
    def delta_wer(self) -> float | None:
        """Rescored WER minus oracle WER (the paper's ΔWER)."""
        if self.rescored_wer is None or self.oracle_wer is None:
            return None
        return delta_wer(self.rescored_wer, self.oracle_wer)

    @property
    def selected_errors(self) -> list[int] | None:
        """Word errors of the rescored choice per utterance (pair with ``first_pass_errors`` for a bootstrap)."""
        return None if self.errors is None else [row[c] for row, c in zip(self.errors, self.choices)]

    @property
    def first_pass_errors(self) -> list[int] | None:
        return None if self.errors is None else [row[0] for row in self.errors]


def evaluate_scores(utterances: Sequence[Utterance], lm_scores: Sequence[Sequence[float]],
                    combination: Combination) -> EvalResult:
    """:class:`EvalResult` of ``utterances`` rescored with the given LM scores and ``combination``."""
    combined = combined_scores(utterances, lm_scores, combination)
    ranks = [new_ranks(c) for c in combined]
    choices = [r.index(0) for r in ranks]
    table = lens = None
    one_best = oracle = rescored = None
    if utterances and all(u.reference is not None for u in utterances):
        table = hypothesis_errors(utterances)
        lens = reference_lengths(utterances)
        one_best, oracle = first_pass_and_oracle_wer(table, lens)
        rescored = selected_wer(table, lens, choices)
    return EvalResult(
        combination=combination, utterance_ids=tuple(u.id for u in utterances),
        lm_scores=[list(map(float, s)) for s in lm_scores], combined=combined, ranks=ranks, choices=choices,
        errors=table, reference_words=sum(lens) if lens is not None else None,
        one_best_wer=one_best, oracle_wer=oracle, rescored_wer=rescored,
    )

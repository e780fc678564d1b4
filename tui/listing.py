"""The utterance list's figures for a whole data set (rank flips, the rescored choice, its WER change) and its
order (sorted, searched), computed on flat per-hypothesis arrays instead of Utterance objects.

A :class:`DatasetTable` holds the data set's hypotheses in list order (store/browse.py reads them) and
combines them the way :meth:`lorascope.core.combination.tune.Combination.scores` does, feature by feature in the same
order of floating-point operations, so the list and the N-best table always agree on a choice. The first pass
is the list order (core/data/nbest.py FIRST_PASS): hypothesis 0 of every list.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lorascope.core.combination.tune import EXTRA_FEATURES, Combination
from lorascope.core.data.text import words

SORTS = ("order", "flips", "wer-up", "wer-down")
SORT_NAMES = {"order": "data-set order", "flips": "rank flips, most first", "wer-up": "WER change, most improved first",
              "wer-down": "WER change, most harmed first"}


@dataclass(frozen=True)
class ListFigures:
    """Per utterance (by position): hypotheses whose rank moved, the chosen hypothesis (-1: not known yet) and the
    chosen one's WER minus the first pass's (NaN: unknown or no reference); and the data set's WERs."""

    flips: np.ndarray
    chosen: np.ndarray
    wer_change: np.ndarray
    first_pass_wer: float | None
    oracle_wer: float | None
    rescored_wer: float | None   # None until every utterance is known

    @property
    def known(self) -> int:
        return int((self.chosen >= 0).sum())


class TextIndex:
    """Every distinct hypothesis text of a data set once, and which one each hypothesis (in list order) is."""

    def __init__(self, chunks: Iterable[list[str]]):
        ids: dict[str, int] = {}
        self.texts: list[str] = []
        parts = []
        for chunk in chunks:
            part = np.empty(len(chunk), dtype=np.int64)
            for k, t in enumerate(chunk):
                i = ids.get(t)
                if i is None:
                    i = ids[t] = len(self.texts)
                    self.texts.append(t)
                part[k] = i
            parts.append(part)
        self.ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def values(self, by_text: dict[str, float]) -> np.ndarray:
        """``by_text[text]`` for every hypothesis (NaN where the dict has none)."""
        per_text = np.fromiter((by_text.get(t, math.nan) for t in self.texts), dtype=np.float64, count=len(self.texts))
        return per_text[self.ids]

    def word_counts(self) -> np.ndarray:
        """The combination's ``words`` feature (normalised words) of every hypothesis."""
        per_text = np.fromiter((len(words(t)) for t in self.texts), dtype=np.float64, count=len(self.texts))
        return per_text[self.ids]


class DatasetTable:
    """One data set's hypotheses in list order, flat; list ``k`` is ``offsets[k]:offsets[k + 1]``."""

    def __init__(self, offsets: np.ndarray, scores: np.ndarray, errors: np.ndarray, ref_words: np.ndarray):
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.n = len(self.offsets) - 1
        sizes = np.diff(self.offsets)
        self.sizes = sizes
        self.utt = np.repeat(np.arange(self.n, dtype=np.int64), sizes)
        self.index = np.arange(int(self.offsets[-1]), dtype=np.int64) - self.offsets[:-1][self.utt]
        self.scores = np.asarray(scores, dtype=np.float64)
        self.errors = np.asarray(errors, dtype=np.int64)
        self.ref_words = np.asarray(ref_words, dtype=np.int64)
        unscored = np.bincount(self.utt, weights=np.isnan(self.scores), minlength=self.n)
        self.has_scores = (unscored == 0) & (sizes > 0)
        self._features: dict[str, np.ndarray] = {"rank": -self.index.astype(np.float64)}
        self._features["score"] = self.scores
        self._features["prior"] = np.where(self.has_scores[self.utt], self.scores, self._features["rank"])

    @classmethod
    def from_columns(cls, columns, ref_words: np.ndarray) -> "DatasetTable":
        """From store/browse.py's :class:`HypothesisColumns`."""
        return cls(columns.offsets, columns.scores, columns.errors, ref_words)

    @property
    def hypotheses(self) -> int:
        return len(self.utt)

    def missing_features(self, combination: Combination) -> list[str]:
        """Features ``combination`` weighs that must be read first (:meth:`set_feature`): words and kept values."""
        return [name for name, _ in combination.weights if name not in self._features]

    def set_feature(self, name: str, values: np.ndarray) -> None:
        if name != "words" and name not in EXTRA_FEATURES:
            raise ValueError(f"not a feature read from the store: {name}")
        self._features[name] = np.asarray(values, dtype=np.float64)

    def combined(self, combination: Combination, lm: np.ndarray | None) -> np.ndarray:
        """The combined score of every hypothesis (NaN where a weighed value or the LM score is missing)."""
        total = np.zeros(self.hypotheses)
        for name, w in combination.weights:
            total = total + w * self._features[name]
        if combination.lam != 0:
            if lm is None:
                raise ValueError("a combination with λ ≠ 0 needs LM scores")
            total = total + combination.lam * lm
        return total

    def _corpus_wer(self, errors: np.ndarray) -> float | None:
        """Total errors over total reference words, as core.metrics.corpus_wer; None if any is unknown."""
        total = int(self.ref_words.sum())
        if not total or (errors < 0).any():
            return None
        return int(errors.sum()) / total

    def figures(self, combination: Combination, lm: np.ndarray | None) -> ListFigures:
        """Flips, choice and WER change of every utterance under ``combination`` (rank ties: list order)."""
        n, h = self.n, self.hypotheses
        if h == 0:
            empty = np.full(n, -1, dtype=np.int64)
            return ListFigures(empty, empty.copy(), np.full(n, np.nan), None, None, None)
        combined = self.combined(combination, lm)
        known = (np.bincount(self.utt, weights=np.isnan(combined), minlength=n) == 0) & (self.sizes > 0)
        key = np.where(np.isnan(combined), -np.inf, combined)
        order = np.lexsort((self.index, -key, self.utt))    # per list: best first, ties in list order
        rank = np.empty(h, dtype=np.int64)
        rank[order] = np.arange(h) - self.offsets[:-1][self.utt[order]]
        flips = np.bincount(self.utt, weights=rank != self.index, minlength=n).astype(np.int64)
        chosen = np.full(n, -1, dtype=np.int64)
        top = rank == 0
        chosen[self.utt[top]] = self.index[top]
        flips[~known] = -1
        chosen[~known] = -1
        first = np.minimum(self.offsets[:-1], h - 1)          # hypothesis 0: the first pass
        first_errors = np.where(self.sizes > 0, self.errors[first], -1)
        chosen_errors = np.where(known, self.errors[np.minimum(first + np.maximum(chosen, 0), h - 1)], -1)
        ok = known & (self.ref_words > 0) & (first_errors >= 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.where(ok, (chosen_errors - first_errors) / np.maximum(self.ref_words, 1), np.nan)
        oracle = np.full(n, -1, dtype=np.int64)
        nonempty = self.sizes > 0
        oracle[nonempty] = np.minimum.reduceat(self.errors, self.offsets[:-1][nonempty])
        return ListFigures(flips=flips, chosen=chosen, wer_change=change,
                           first_pass_wer=self._corpus_wer(first_errors), oracle_wer=self._corpus_wer(oracle),
                           rescored_wer=self._corpus_wer(chosen_errors))


def sorted_positions(n: int, sort: str, figures: ListFigures | None) -> np.ndarray:
    """Positions in one of :data:`SORTS`; utterances not known yet go last, ties keep data-set order."""
    positions = np.arange(n, dtype=np.int64)
    if sort == "order" or figures is None:
        return positions
    if sort == "flips":
        unknown = figures.flips < 0
        return np.lexsort((positions, -figures.flips, unknown))
    change = figures.wer_change
    unknown = np.isnan(change)
    value = np.where(unknown, 0.0, change if sort == "wer-up" else -change)
    return np.lexsort((positions, value, unknown))


def filtered(order: np.ndarray, matches: np.ndarray | None, n: int) -> np.ndarray:
    """``order`` restricted to the positions in ``matches`` (None: no search), keeping the order."""
    if matches is None:
        return order
    keep = np.zeros(n, dtype=bool)
    keep[matches] = True
    return order[keep[order]]

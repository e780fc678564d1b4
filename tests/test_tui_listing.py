"""The utterance list's whole-data-set figures (tui/listing.py) against core's per-utterance combination, on
columns read from a real store."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from lorascope.core.combination.tune import Combination, new_ranks
from lorascope.core.data.metrics import corpus_wer, reference_length, word_errors
from lorascope.core.data.nbest import Hypothesis as H
from lorascope.core.data.nbest import Utterance as U
from lorascope.store import Store
from lorascope.store import browse
from lorascope.tui.listing import DatasetTable, TextIndex, filtered, sorted_positions

from .nbest_fixtures import make_utterances


def kept_values(utts, seed=1):
    """The lists with a per-hypothesis ``total_logprob`` kept, as a reader keeps Whisper's."""
    rng = random.Random(seed)
    return [U(u.id, tuple(H(h.text, h.score, {"total_logprob": round(rng.uniform(-9, -1), 3)}) for h in u.hypotheses),
              u.reference) for u in utts]


@pytest.fixture
def stored(db_path):
    utts = kept_values(make_utterances(60, seed=3, nbest=5))
    with Store(db_path) as store:
        store.add_dataset("set", utts)
        ds = store.dataset("set").id
        table = DatasetTable.from_columns(browse.hypothesis_columns(store, ds), browse.reference_words(store, ds))
        texts = TextIndex(browse.hypothesis_texts(store, ds))
        table.set_feature("words", texts.word_counts())
        table.set_feature("total_logprob", browse.extra_values(store, ds, "total_logprob"))
    return utts, table, texts


COMBINATIONS = [
    Combination(),                                                      # the first pass itself
    Combination.of({"prior": 1.0}, 0.7),
    Combination.of({"rank": 1.0, "score": 2.5, "words": -0.06}, 1.3),
    Combination.of({"rank": 1.0, "total_logprob": 0.25}, 0.05),
    Combination.of({"rank": 1.0}, 1.0),                                 # the bare backbone's
]


@pytest.mark.parametrize("combination", COMBINATIONS, ids=lambda c: c.describe())
def test_figures_equal_core_combination_list_by_list(stored, combination):
    utts, table, texts = stored
    rng = random.Random(7)
    lm = {t: round(rng.uniform(-2, 2), 2) for t in texts.texts}   # ties happen: two places of precision
    figures = table.figures(combination, texts.values(lm))
    for k, u in enumerate(utts):
        ranks = new_ranks(combination.scores(u, [lm[t] for t in u.texts]))
        chosen = ranks.index(0)
        assert figures.chosen[k] == chosen, u.id
        assert figures.flips[k] == sum(r != i for i, r in enumerate(ranks))
        n = reference_length(u.reference)
        change = (word_errors(u.reference, u.texts[chosen]) - word_errors(u.reference, u.texts[0])) / n
        assert figures.wer_change[k] == pytest.approx(change)
    lens = [reference_length(u.reference) for u in utts]
    assert figures.first_pass_wer == corpus_wer([word_errors(u.reference, u.texts[0]) for u in utts], lens)
    assert figures.oracle_wer == corpus_wer([min(word_errors(u.reference, t) for t in u.texts) for u in utts], lens)
    assert figures.rescored_wer == corpus_wer(
        [word_errors(u.reference, u.texts[int(c)]) for u, c in zip(utts, figures.chosen)], lens)


def test_unknown_lm_scores_leave_their_lists_unknown(stored):
    utts, table, texts = stored
    lm = {t: 0.0 for t in utts[0].texts + utts[5].texts}   # only two lists scored so far
    figures = table.figures(Combination.of({"prior": 1.0}, 1.0), texts.values(lm))
    known = {k for k in range(len(utts)) if figures.chosen[k] >= 0}
    assert known >= {0, 5} and figures.known == len(known)
    assert all(set(u.texts) <= set(lm) for k, u in enumerate(utts) if k in known)
    assert figures.rescored_wer is None and figures.first_pass_wer is not None
    assert all(math.isnan(figures.wer_change[k]) and figures.flips[k] == -1 for k in range(len(utts)) if k not in known)


def test_sorts_put_unknown_last_and_keep_data_set_order_on_ties(stored):
    utts, table, texts = stored
    rng = random.Random(2)
    lm = {t: rng.uniform(-2, 2) for t in texts.texts}
    figures = table.figures(Combination.of({"prior": 1.0}, 3.0), texts.values(lm))
    flips = sorted_positions(len(utts), "flips", figures)
    keys = [(-int(figures.flips[p]), int(p)) for p in flips]
    assert keys == sorted(keys)
    up = sorted_positions(len(utts), "wer-up", figures)
    assert [figures.wer_change[p] for p in up] == sorted(figures.wer_change)
    down = sorted_positions(len(utts), "wer-down", figures)
    assert figures.wer_change[down[0]] == figures.wer_change.max()
    assert list(sorted_positions(len(utts), "order", figures)) == list(range(len(utts)))
    assert list(filtered(flips, np.array([3, 1]), len(utts))) == [p for p in flips if p in (1, 3)]


def test_lists_without_references_have_no_wer_figures(db_path):
    utts = [U("a", (H("x y", -1.0), H("x z", -0.5))), U("b", (H("p", -1.0),))]
    with Store(db_path) as store:
        store.add_dataset("noref", utts)
        ds = store.dataset("noref").id
        table = DatasetTable.from_columns(browse.hypothesis_columns(store, ds), browse.reference_words(store, ds))
    figures = table.figures(Combination.of({"score": 1.0}), None)
    assert list(figures.chosen) == [1, 0] and list(figures.flips) == [2, 0]   # the scores rank the other way
    assert figures.first_pass_wer is None and np.isnan(figures.wer_change).all()

"""store/browse.py on real SQLite files: pages, one utterance, columns and stored LM scores, full-text search."""

from __future__ import annotations

import numpy as np
import pytest

from lorascope.core.combination.tune import Combination, evaluate_scores
from lorascope.core.data.metrics import hypothesis_errors, reference_length
from lorascope.core.data.nbest import Hypothesis as H
from lorascope.core.data.nbest import Utterance as U
from lorascope.store import Store
from lorascope.store import browse
from lorascope.store.schema import SCHEMA_VERSION

from .nbest_fixtures import make_utterances

LISTS = [
    U("a-1", (H("he hoped there would be stew for dinner", -1.0), H("he hoped their would be stew", -2.0)),
      "he hoped there would be stew for dinner"),
    U("a-2", (H("the knight's horse was tired", -0.5), H("the night's horse was tired", -0.7),
              H("a knight horse was tired", -0.9)), "the knight's horse was tired"),
    U("b-3", (H("we went to sea", None), H("we want to see", None)), "we went to see"),
    U("b-4", (H("no reference here", -0.1),), None),
]


@pytest.fixture
def store(db_path):
    with Store(db_path) as s:
        s.add_dataset("toy", LISTS, source="fixture")
        s.add_dataset("other", make_utterances(30, prefix="o"), source="fixture")
        yield s


def dataset_id(store, name="toy") -> int:
    return store.dataset(name).id


def test_pages_and_one_utterance_read_only_what_is_asked(store):
    ds = dataset_id(store)
    rows = browse.page(store, ds, [3, 1, 99])
    assert [(r.position, r.utt_id) for r in rows] == [(1, "a-2"), (3, "b-4")]
    assert rows[1].reference is None
    rowid, utt = browse.utterance(store, ds, 1)
    assert utt == LISTS[1] and utt.hypotheses[1].score == -0.7
    assert browse.utterance(store, ds, 4) is None
    assert list(browse.row_ids(store, ds)) == sorted(browse.row_ids(store, ds))


def test_columns_hold_every_hypothesis_in_list_order(store):
    ds = dataset_id(store)
    cols = browse.hypothesis_columns(store, ds)
    assert list(cols.offsets) == [0, 2, 5, 7, 8]
    assert cols.scores[0] == -1.0 and np.isnan(cols.scores[5]) and np.isnan(cols.scores[6])
    assert list(cols.errors[:2]) == [0, 3] and cols.errors[7] == -1      # stored errors; -1: no reference
    other = browse.hypothesis_columns(store, dataset_id(store, "other"))
    assert list(other.errors) == [e for row in hypothesis_errors(make_utterances(30, prefix="o")) for e in row]
    assert list(browse.reference_words(store, ds)) == [reference_length(u.reference) if u.reference else 0
                                                       for u in LISTS]


def test_stored_lm_scores_come_back_per_hypothesis_and_per_utterance(store):
    ds = dataset_id(store)
    rid = store.create_run(strategy="lora", config={})
    lm = [[0.5, -0.5], [0.1, 0.2, 0.3], [1.0, 2.0], [0.0]]
    store.add_evaluation(rid, "toy", "test", evaluate_scores(LISTS, lm, Combination.of({"prior": 1.0}, 1.0)))
    assert list(browse.stored_lm_scores(store, rid, ds)) == [x for row in lm for x in row]
    rowid, _ = browse.utterance(store, ds, 1)
    assert browse.stored_lm(store, rid, rowid) == [0.1, 0.2, 0.3]
    assert browse.scored_runs(store, ds, [rid, rid + 1]) == [rid]
    assert browse.scored_runs(store, dataset_id(store, "other"), [rid]) == []
    assert np.isnan(browse.stored_lm_scores(store, rid + 1, ds)).all()


def test_extra_values_and_texts_in_list_order(db_path):
    utts = [U("x", (H("a b", -1.0, {"total_logprob": -3.5}), H("a c", -2.0, {"total_logprob": -4})), "a b"),
            U("y", (H("d", -1.0),), "d")]
    with Store(db_path) as store:
        store.add_dataset("kept", utts)
        ds = dataset_id(store, "kept")
        values = browse.extra_values(store, ds, "total_logprob")
        assert list(values[:2]) == [-3.5, -4.0] and np.isnan(values[2])
        assert [t for chunk in browse.hypothesis_texts(store, ds) for t in chunk] == ["a b", "a c", "d"]


def test_search_index_is_built_lazily_and_finds_whole_words(store):
    ds = dataset_id(store)
    rows = browse.row_ids(store, ds)
    assert SCHEMA_VERSION >= 3
    assert not browse.search_state(store, ds).ready  # `add_dataset` does not index
    substring = browse.search(store, ds, "knight", rows)
    assert list(substring) == [1]                     # the scan, before the index exists
    assert list(browse.search(store, ds, "the", rows)) == [0, 1]    # "the" inside "there": a substring
    steps = []
    state = browse.build_search_index(store, ds, chunk=3, on_progress=lambda d, t: steps.append((d, t)))
    assert state.ready and steps == [(3, 4), (4, 4)]
    assert list(browse.search(store, ds, "the", rows)) == [1]       # whole words now: "the knight's"
    assert list(browse.search(store, ds, "knight", rows)) == [1]    # "knight's" is "knight" + "s"
    assert list(browse.search(store, ds, "would be", rows)) == [0]
    assert list(browse.search(store, ds, "be stew", rows)) == [0]
    assert list(browse.search(store, ds, "B-", rows)) == [2, 3]     # ids: a substring, any case
    assert list(browse.search(store, ds, "dinner he", rows)) == []  # no phrase across two hypotheses
    assert list(browse.search(store, ds, '"', rows)) == []          # nothing FTS can read: no match, no error
    assert len(browse.search(store, ds, "  ", rows)) == 4           # an empty query matches everything


def test_search_index_resumes_and_forgets_a_replaced_data_set(store):
    ds = dataset_id(store)
    stopped = browse.build_search_index(store, ds, chunk=2, should_stop=lambda: True)
    assert stopped.indexed == 0
    calls = []
    browse.build_search_index(store, ds, chunk=2, on_progress=lambda d, t: calls.append(d),
                              should_stop=lambda: len(calls) >= 1)
    assert browse.search_state(store, ds).indexed == 2
    assert browse.build_search_index(store, ds, chunk=2).ready
    (indexed,) = store.db.execute("SELECT count(*) FROM utterance_search").fetchone()
    assert indexed == len(LISTS)
    store.add_dataset("toy", LISTS[:2], replace=True)  # the trigger drops the old rows with the data set
    (left,) = store.db.execute("SELECT count(*) FROM utterance_search").fetchone()
    assert left == 0
    new = dataset_id(store)
    assert not browse.search_state(store, new).ready
    assert browse.build_search_index(store, new).ready
    assert list(browse.search(store, new, "knight", browse.row_ids(store, new))) == [1]


def test_search_of_one_data_set_ignores_the_others(store):
    for name in ("toy", "other"):
        browse.build_search_index(store, dataset_id(store, name))
    other = dataset_id(store, "other")
    found = browse.search(store, other, "the cat sat", browse.row_ids(store, other))
    expected = [k for k, u in enumerate(make_utterances(30, prefix="o"))
                if any("the cat sat" in t for t in [u.reference] + u.texts)]
    assert list(found) == expected and expected

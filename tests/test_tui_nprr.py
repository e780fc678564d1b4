"""The inspector's data-set NPRR page by page: the merged report equals core's evaluation of the whole set at once,
and the pages it reads (store/browse.py) are the set in order."""

from __future__ import annotations

import pytest

from lorascope.core.combination.tune import Combination, combined_scores
from lorascope.core.perturbation.models import LexiconConfig
from lorascope.core.perturbation.robustness import evaluate_robustness
from lorascope.store import Store
from lorascope.store import browse
from lorascope.tui import store_reads
from lorascope.tui.adapters import BARE, Scorer
from lorascope.tui.nprr import dataset_robustness
from lorascope.tui.perturbation import PerturbSettings, index_loader

from .nbest_fixtures import make_utterances
from .test_tui import STORED_LM, UTTERANCES, _phonetic_cache, phonetic_cache  # noqa: F401


class FixedScorer(Scorer):
    """LM scores from a table, 0 for texts it does not hold (the perturbed ones): no model needed."""

    def __init__(self, table: dict[str, float]):
        super().__init__(BARE)
        self.table = table

    def score(self, texts, *, on_chunk=None, should_stop=None):
        if on_chunk:
            on_chunk(len(texts))
        return [self.table.get(t, 0.0) for t in texts]


def test_pages_are_the_data_set_in_order(db_path):
    utts = make_utterances(23, seed=3)
    with Store(db_path) as store:
        store.add_dataset("set", utts, source="fixture")
        info = store.dataset("set")
        whole = store.load_dataset("set")
        assert [u for _, u in browse.utterances(store, info.id, 5, 9)] == whole[5:9]
        assert browse.utterances(store, info.id, 23, 30) == []
    pages = list(store_reads.read_pages(db_path, info.id, size=5))
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [u for p in pages for u in p] == whole == utts


@pytest.mark.parametrize("mode", ["off", "N"])
def test_paged_nprr_equals_core_on_the_whole_set(mode):
    """Pages of 2 lists, merged, give core's figures, choices and rank changes for the 5 lists at once."""
    scores = {t: s for u in UTTERANCES for t, s in zip(u.texts, STORED_LM[u.id])}
    scorer = FixedScorer(scores)
    combination = Combination.of({"rank": 1.0}, 2.0)   # λ 2: the LM scores move choices in lists 2 and 3
    settings = PerturbSettings(mode, 0.6, 4, "lexicon")
    index = index_loader()
    pages = [UTTERANCES[k:k + 2] for k in range(0, len(UTTERANCES), 2)]
    hyps = sum(len(u.hypotheses) for u in UTTERANCES)
    progress = []
    paged = dataset_robustness("toy", pages, hyps, scorer, {}, 2.0, settings, index, base=combination,
                               on_progress=lambda done, total: progress.append((done, total))).report

    def rescore(lists):
        return combined_scores(lists, [[scores.get(t, 0.0) for t in u.texts] for u in lists], combination)

    modes = ("1", "N") if mode == "off" else ("N",)
    whole = evaluate_robustness(UTTERANCES, rescore, modes=modes, p=0.6, seeds=(4,), model=LexiconConfig(),
                                index=index)
    assert paged.perturbation == whole.perturbation == {"name": "lexicon", "top_k": 5, "max_distance": None}
    assert (paged.modes, paged.seeds, paged.p) == (whole.modes, whole.seeds, whole.p)
    assert paged.clean == whole.clean
    for a, b in zip(paged.runs, whole.runs, strict=True):
        assert (a.condition, a.seed, a.wer, a.oracle_wer, a.delta_wer, a.nprr, a.choices, a.utterances) == (
            b.condition, b.seed, b.wer, b.oracle_wer, b.delta_wer, b.nprr, b.choices, b.utterances)
        assert a.flips == b.flips
    perturb_n = paged.runs[-1]
    assert perturb_n.flips > 0 and perturb_n.nprr != 0   # something to compare: choices moved
    assert paged.summaries == whole.summaries
    assert progress[-1] == (hyps * (1 + len(modes)),) * 2

"""Robustness evaluation: WER, oracle WER, ΔWER and NPRR under perturb-1 / perturb-N, checked by hand."""

from __future__ import annotations

import math
import statistics

import pytest

from lorascope.core.errors import InputError
from lorascope.core.data.metrics import corpus_wer, delta_wer, hypothesis_errors, nprr, reference_lengths
from lorascope.core.data.nbest import Hypothesis, Utterance
from lorascope.core.perturbation.phonetics import PhoneticIndex
from lorascope.core.combination.tune import best_index, new_ranks
from lorascope.core.perturbation.robustness import evaluate_robustness, merge_page_reports
from lorascope.core.data.text import words


# A lexicon small enough to know every candidate: cat <-> kat and there <-> their are the only pairs; "a" has no
# pronunciation. With p = 1 and top_k = 1 every word that has a candidate becomes it, so perturbation is certain.
# These hand-computed tests use the lexicon model, whose candidates TINY fixes; the others use every model.
TINY = PhoneticIndex.from_lexicon({
    "the": ["DH AH0"], "cat": ["K AE1 T"], "kat": ["K AE1 T"], "is": ["IH1 Z"],
    "there": ["DH EH1 R"], "their": ["DH EH1 R"], "dog": ["D AO1 G"],
})
KNOWN = {"the", "cat", "is", "there", "dog", "a"}


def known_words(utterances):
    """Toy rescorer: how many words of a hypothesis it knows (ties go to first-pass order)."""
    return [[sum(w in KNOWN for w in words(h.text)) for h in u.hypotheses] for u in utterances]


def fewest_words(utterances):
    """Toy rescorer that prefers short hypotheses: on the clean lists below it drops a word every time."""
    return [[-len(words(h.text)) for h in u.hypotheses] for u in utterances]


def prior_only(utterances):
    """Rescorer that keeps the first-pass order: it cannot see the text at all."""
    return [u.prior_scores() for u in utterances]


def utt(uid, ref, *hyps):
    return Utterance(uid, tuple(Hypothesis(t, s) for t, s in hyps), reference=ref)


HAND = [
    utt("u1", "the cat is there", ("the cat is there", -1), ("the dog is there", -2), ("the cat is their", -3)),
    utt("u2", "there is a dog", ("there is a dog", -1), ("there is a cat", -2), ("their is a dog", -4)),
    utt("u3", "the kat is there", ("the cat is there", -1), ("the kat is there", -2)),
]


def test_choices_and_ranks_break_ties_in_first_pass_order():
    # robustness chooses and ranks with combine's best_index / new_ranks, as rescoring does everywhere else.
    assert best_index([3, 5, 5, 1]) == 1
    assert new_ranks([3, 5, 5, 1]) == [2, 0, 1, 3]
    assert best_index([-math.inf, -1.0]) == 1
    report = evaluate_robustness(HAND, lambda us: [[3, 5, 5, 1][:len(u.hypotheses)] for u in us], modes=(),
                                 index=TINY)
    assert report.clean.choices == (1, 1, 1)


def test_hand_computed_example():
    report = evaluate_robustness(HAND, known_words, modes=("1", "N"), p=1.0, seeds=(0,), index=TINY,
                                 model="lexicon:top_k=1")
    # Clean: the scorer picks u1 h0 (0 errors, tie with h1), u2 h0 (0), u3 h0 (1: "cat" for "kat"); 12 words.
    assert report.clean.choices == (0, 0, 0)
    assert report.clean.wer == pytest.approx(1 / 12)
    assert report.clean.oracle_wer == 0.0
    assert report.clean.delta_wer == pytest.approx(1 / 12)
    assert report.clean.nprr is None

    one, = report.runs_of("1")
    # perturb-1 rewrites only the worst hypotheses: u1 h2 -> "the kat is there", u2 h2 -> "there is a dog",
    # u3 h1 -> "the cat is their". The choices stay; u3's oracle rises to 1 error.
    assert [u.texts[u.worst_index()] for u in (p.utterance for p in one.perturbations)] == [
        "the kat is there", "there is a dog", "the cat is their"]
    assert one.choices == (0, 0, 0)
    assert one.wer == pytest.approx(1 / 12) and one.oracle_wer == pytest.approx(1 / 12)
    assert one.delta_wer == pytest.approx(0.0)
    assert one.nprr == pytest.approx(-1.0)
    assert one.flips == 0

    n, = report.runs_of("N")
    # perturb-N: u1 -> h1 "the dog is their" (2 errors, oracle 1), u2 -> h2 "there is a dog" (0, oracle 0),
    # u3 -> h1 "the cat is their" (2, oracle 1).
    assert n.choices == (1, 2, 1)
    assert n.perturbations[0].utterance.texts == ["the kat is their", "the dog is their", "the kat is there"]
    assert n.wer == pytest.approx(4 / 12) and n.oracle_wer == pytest.approx(2 / 12)
    assert n.delta_wer == pytest.approx(2 / 12)
    assert n.nprr == pytest.approx(1.0) == pytest.approx(nprr(1 / 12, 2 / 12))
    assert n.flips == 3 and n.flip_rate == 1.0
    u1 = n.utterances[0]
    assert u1.ranks_before == (0, 1, 2) and u1.ranks_after == (2, 0, 1)
    assert (u1.choice_before, u1.choice_after, u1.errors_before, u1.errors_after) == (0, 1, 0, 2)
    assert u1.flipped and u1.rank_changes == 3 and u1.edits == 5

    assert report.summary("N").nprr_mean == pytest.approx(1.0) and report.summary("N").nprr_std == 0.0
    assert report.summary("perturb-1").nprr_mean == pytest.approx(-1.0)


def test_p_zero_leaves_every_figure_as_clean():
    report = evaluate_robustness(HAND, known_words, p=0.0, seeds=(0, 1), index=TINY, model="lexicon")
    for run in report.runs:
        assert run.wer == report.clean.wer and run.oracle_wer == report.clean.oracle_wer
        assert run.nprr == 0.0 and run.flips == 0 and run.edits == 0


def recomputed(run):
    """WER, oracle WER and ΔWER of a run from its stored perturbed lists and choices, through core.metrics."""
    lists = [p.utterance for p in run.perturbations]
    table = hypothesis_errors(lists)
    lengths = reference_lengths(lists)
    wer = corpus_wer([row[c] for row, c in zip(table, run.choices)], lengths)
    oracle = corpus_wer([min(row) for row in table], lengths)
    return wer, oracle, delta_wer(wer, oracle)


def real_lists():
    """Lists with a reference, first-pass scores and ordinary words, so the real index has plenty to do."""
    refs = ["there is no way to know the right answer", "maybe we should write it down before the meeting",
            "i think their idea was too early for anything", "the cat sat on the mat by the door",
            "we need two more days to see the whole sea"]
    out = []
    for k, ref in enumerate(refs):
        w = ref.split()
        hyps = [(ref, -1.0), (" ".join(w[:-1]), -2.0), (" ".join(w[1:] + ["now"]), -3.5),
                (" ".join(reversed(w[:3])) + " " + " ".join(w[3:]), -2.5)]
        out.append(utt(f"r{k}", ref, *hyps))
    return out


def test_stored_values_agree_with_core_metrics_over_several_seeds(index):
    lists = real_lists()
    report = evaluate_robustness(lists, fewest_words, modes=("1", "N"), p=0.5, seeds=(0, 1, 2), index=index,
                                 model="lexicon")
    assert report.clean.choices == (1,) * len(lists) and report.clean.delta_wer > 0
    assert [r.condition for r in report.runs] == ["perturb-1"] * 3 + ["perturb-N"] * 3
    assert [r.seed for r in report.runs] == [0, 1, 2, 0, 1, 2]
    for run in report.runs:
        wer, oracle, delta = recomputed(run)
        assert run.wer == pytest.approx(wer) and run.oracle_wer == pytest.approx(oracle)
        assert run.delta_wer == pytest.approx(delta)
        assert run.nprr == pytest.approx(nprr(report.clean.delta_wer, delta))
        assert run.choices == tuple(best_index(s) for s in fewest_words([p.utterance for p in run.perturbations]))
    for mode in ("1", "N"):
        values = [r.nprr for r in report.runs_of(mode)]
        summary = report.summary(mode)
        assert summary.seeds == (0, 1, 2)
        assert summary.nprr_mean == pytest.approx(statistics.fmean(values))
        assert summary.nprr_std == pytest.approx(statistics.stdev(values))
        assert summary.wer_mean == pytest.approx(statistics.fmean(r.wer for r in report.runs_of(mode)))
    # Something was perturbed, and perturb-N touched more hypotheses than perturb-1.
    assert sum(r.edits for r in report.runs_of("N")) > sum(r.edits for r in report.runs_of("1")) > 0


def test_page_by_page_reports_merge_into_the_whole_sets_figures(index):
    """The inspector evaluates a data set a page at a time; core's merge gives the figures of the whole set."""
    lists = real_lists()
    whole = evaluate_robustness(lists, fewest_words, modes=("1", "N"), p=0.5, seeds=(1,), index=index,
                                model="lexicon")
    pages = [lists[:2], lists[2:3], lists[3:]]
    parts = [(evaluate_robustness(page, fewest_words, modes=("1", "N"), p=0.5, seeds=(1,), index=index,
                                  model="lexicon"), sum(reference_lengths(page))) for page in pages]
    merged = merge_page_reports(parts)
    for got, want in zip((merged.clean, *merged.runs), (whole.clean, *whole.runs)):
        assert got.condition == want.condition and got.choices == want.choices
        assert (got.wer, got.oracle_wer, got.delta_wer) == pytest.approx((want.wer, want.oracle_wer, want.delta_wer))
        assert (got.nprr is None) == (want.nprr is None) and got.nprr == pytest.approx(want.nprr)
    assert [s.nprr_mean for s in merged.summaries] == pytest.approx([s.nprr_mean for s in whole.summaries])
    with pytest.raises(ValueError, match="one seed"):
        merge_page_reports([(evaluate_robustness(lists, fewest_words, seeds=(0, 1), index=index, model="lexicon"), 40)])


def test_prior_only_rescorer_never_changes_its_choice(index):
    lists = real_lists()
    report = evaluate_robustness(lists, prior_only, p=1.0, seeds=(3,), index=index, model="lexicon")
    assert report.clean.choices == (0,) * len(lists)
    for run in report.runs:
        assert run.choices == report.clean.choices and run.flips == 0
        assert all(u.ranks_before == u.ranks_after for u in run.utterances)
    # perturb-1 touches only the first pass's worst hypothesis, the last in list order (index 3 here, though
    # index 2 scores lower), never the chosen one: WER unchanged.
    one, = report.runs_of("1")
    assert one.wer == report.clean.wer
    assert all(p.changed_hypotheses in ((), (3,)) for p in one.perturbations)
    n, = report.runs_of("N")
    assert n.wer > report.clean.wer  # at p = 1 the chosen first hypothesis is rewritten too


def test_missing_reference_names_the_utterance():
    lists = HAND + [Utterance("no-ref", (Hypothesis("the cat", -1.0),))]
    with pytest.raises(InputError, match="utterance no-ref"):
        evaluate_robustness(lists, known_words, index=TINY)


def test_bad_arguments():
    with pytest.raises(InputError, match="p"):
        evaluate_robustness(HAND, known_words, p=1.5, index=TINY)
    with pytest.raises(InputError, match="mode"):
        evaluate_robustness(HAND, known_words, modes=("2",), index=TINY)
    with pytest.raises(InputError):
        evaluate_robustness([], known_words, index=TINY)
    with pytest.raises(ValueError, match="utterance u1"):
        evaluate_robustness(HAND, lambda us: [[0.0] for _ in us], index=TINY)
    with pytest.raises(ValueError, match="score lists"):
        evaluate_robustness(HAND, lambda us: [], index=TINY)

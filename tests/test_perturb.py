"""perturb-1 / perturb-N on real N-best lists with the real phonetic index, and edits made by hand."""

from __future__ import annotations

import math

import pytest

from lorascope.core.errors import InputError
from lorascope.core.data.nbest import Hypothesis, Utterance
from lorascope.core.perturbation.perturb import (apply_candidate, hypothesis_rng, perturb_all, perturb_one, perturb_utterances,
                                    token_candidates)
from lorascope.core.perturbation.models import LexiconConfig
from lorascope.core.perturbation.phonetics import Candidate

# These tests pin today's all-kinds sound-alikes: the lexicon model (tests/test_perturbation_models.py has the others).
LEXICON = LexiconConfig()


# The lowest first-pass score is the middle hypothesis, not the last one.
SCORED = Utterance("scored", (
    Hypothesis("i think there is maybe a right way to know", -1.0),
    Hypothesis("i think their is may be a write way to no", -7.5),
    Hypothesis("i think there's maybe a right way to know", -3.0),
), reference="i think there is maybe a right way to know")

RANK_ONLY = Utterance("rank-only", (
    Hypothesis("the cat sat on the mat"),
    Hypothesis("the cat sat on a mat"),
    Hypothesis("a cat sat on the mat"),
), reference="the cat sat on the mat")

PUNCTUATED = Utterance("punct", (Hypothesis("THERE, I SAID IT: ANY THING TO WRITE.", -2.0),), reference="x")


def covered(edits, hypothesis):
    """Token positions of one hypothesis that some edit replaced."""
    out = set()
    for e in edits:
        if e.hypothesis == hypothesis:
            out.update(range(e.position, e.position + len(e.old.split())))
    return out


def test_perturb_one_touches_only_the_first_passs_worst_hypothesis_the_last_in_list_order(index):
    # SCORED's scores disagree with its order (the middle one scores lowest); the first pass is the list order,
    # so its worst hypothesis, perturb-1's target, is the last one.
    assert SCORED.scores_disagree and SCORED.worst_index() == 2
    result = perturb_one(SCORED, p=1.0, seed=0, index=index, model=LEXICON)
    assert result.mode == "1" and result.changed_hypotheses == (2,)
    assert result.utterance.hypotheses[:2] == SCORED.hypotheses[:2]
    assert result.utterance.hypotheses[2].text != SCORED.hypotheses[2].text


def test_perturb_one_on_rank_only_lists_takes_the_last(index):
    result = perturb_one(RANK_ONLY, p=1.0, seed=3, index=index, model=LEXICON)
    assert result.changed_hypotheses == (2,)
    assert result.utterance.texts[:2] == RANK_ONLY.texts[:2]


def test_perturb_all_can_touch_every_hypothesis(index):
    result = perturb_all(SCORED, p=1.0, seed=0, index=index, model=LEXICON)
    assert result.mode == "N" and result.changed_hypotheses == (0, 1, 2)


def test_perturbation_keeps_scores_reference_and_order(index):
    for result in (perturb_all(SCORED, p=1.0, seed=1, index=index, model=LEXICON), perturb_one(SCORED, p=1.0, index=index, model=LEXICON)):
        u = result.utterance
        assert u.id == SCORED.id and u.reference == SCORED.reference
        assert [h.score for h in u.hypotheses] == [h.score for h in SCORED.hypotheses]
        assert len(u.hypotheses) == len(SCORED.hypotheses)


def test_p_zero_changes_nothing(index):
    for fn in (perturb_one, perturb_all):
        result = fn(SCORED, p=0.0, seed=5, index=index, model=LEXICON)
        assert result.utterance == SCORED and result.edits == ()


def test_p_one_changes_every_word_that_has_a_candidate(index):
    result = perturb_all(SCORED, p=1.0, seed=2, index=index, model=LEXICON)
    for j, hyp in enumerate(SCORED.hypotheses):
        with_candidates = {i for i in range(len(hyp.text.split())) if token_candidates(SCORED, j, i, index=index, model=LEXICON)}
        assert with_candidates, hyp.text
        assert with_candidates <= covered(result.edits, j)


@pytest.mark.parametrize("p", [-0.1, 1.5, math.nan, "0.5", True])
def test_p_outside_unit_interval_is_an_input_error(index, p):
    with pytest.raises(InputError, match="p"):
        perturb_all(SCORED, p=p, index=index, model=LEXICON)
    with pytest.raises(InputError):
        perturb_one(SCORED, p=p, index=index, model=LEXICON)


def test_seeded_results_are_reproducible_and_independent_of_other_utterances(index):
    a = perturb_all(SCORED, p=0.5, seed=11, index=index, model=LEXICON)
    b = perturb_all(SCORED, p=0.5, seed=11, index=index, model=LEXICON)
    assert a == b
    # The same utterance perturbed inside a batch, after others, comes out the same.
    batch = perturb_utterances([RANK_ONLY, PUNCTUATED, SCORED], "N", 0.5, 11, index=index, model=LEXICON)
    assert batch[2] == a
    # Different seeds give different perturbations (over a few seeds, at least one differs).
    assert any(perturb_all(SCORED, p=0.5, seed=s, index=index, model=LEXICON).utterance != a.utterance for s in range(12, 16))


def test_random_stream_does_not_depend_on_python_hash_seed():
    # A fixed number, the same in every process: Python's hash() of a str is salted per process.
    assert hypothesis_rng(0, "utt-1", 2).getrandbits(32) == 2814008968
    assert hypothesis_rng(0, "utt-1", 2).random() != hypothesis_rng(0, "utt-2", 2).random()


def test_perturb_one_edits_equal_perturb_all_edits_of_that_hypothesis(index):
    one = perturb_one(SCORED, p=0.5, seed=4, index=index, model=LEXICON)
    every = perturb_all(SCORED, p=0.5, seed=4, index=index, model=LEXICON)
    assert one.edits == tuple(e for e in every.edits if e.hypothesis == SCORED.worst_index())


def test_edits_describe_the_change(index):
    result = perturb_all(SCORED, p=1.0, seed=9, index=index, model=LEXICON)
    assert result.edits
    for e in result.edits:
        tokens = SCORED.hypotheses[e.hypothesis].text.split()
        span = len(e.old.split())
        assert " ".join(tokens[e.position:e.position + span]) == e.old
        assert e.kind in {"homophone", "near", "split", "merge", "spelling"}
        assert e.new != e.old and e.distance >= 0
        assert (span == 2) == (e.kind == "merge")
        assert (len(e.new.split()) == 2) == (e.kind == "split")
    # Rebuilding each hypothesis from its edits gives the perturbed text.
    for j, hyp in enumerate(SCORED.hypotheses):
        tokens = hyp.text.split()
        for e in sorted((e for e in result.edits if e.hypothesis == j), key=lambda e: -e.position):
            tokens[e.position:e.position + len(e.old.split())] = [e.new]
        assert " ".join(tokens) == result.utterance.hypotheses[j].text


def test_words_without_pronunciation_are_left_alone_and_counted(index):
    u = Utterance("nums", (Hypothesis("we have 25 cats and 3 well-known zqxv dogs", -1.0),), reference="x")
    result = perturb_all(u, p=1.0, seed=0, index=index, model=LEXICON)
    assert result.unpronounceable == 4  # 25, 3, well-known, zqxv (no g2p in this index)
    tokens = u.hypotheses[0].text.split()
    for pos in (2, 5, 6, 7):
        assert pos not in covered(result.edits, 0), tokens[pos]
    assert "25" in result.utterance.hypotheses[0].text and "well-known" in result.utterance.hypotheses[0].text


def test_case_and_punctuation_survive_replacement(index):
    result = perturb_all(PUNCTUATED, p=1.0, seed=0, index=index, model=LEXICON)
    assert result.edits
    for e in result.edits:
        assert e.new == e.new.upper()  # the hypothesis is in capitals, so are its replacements
    first = [e for e in result.edits if e.position == 0]
    if first:
        assert first[0].new.endswith(",")
    text = result.utterance.hypotheses[0].text
    assert text.endswith(".") and ":" in text


def test_merges_need_no_punctuation_between_the_two_words(index):
    u = Utterance("m", (Hypothesis("any, thing", -1.0),), reference="x")
    assert all(c.kind != "merge" for c in token_candidates(u, 0, 0, index=index, model=LEXICON))
    u = Utterance("m", (Hypothesis("any thing", -1.0),), reference="x")
    assert Candidate("anything", "merge", 0.0, span=2) in token_candidates(u, 0, 0, index=index, model=LEXICON)


def test_apply_candidate_by_hand(index):
    cands = token_candidates(SCORED, 0, 2, index=index, model=LEXICON)  # "there"
    assert cands[0].kind == "homophone"
    their = next(c for c in cands if c.text == "their")
    result = apply_candidate(SCORED, 0, 2, their, index=index)
    assert result.utterance.hypotheses[0].text == "i think their is maybe a right way to know"
    assert result.edits[0].old == "there" and result.edits[0].kind == "homophone" and result.mode == "manual"
    assert result.utterance.hypotheses[1:] == SCORED.hypotheses[1:]
    # A merge replaces two tokens, a split makes two from one.
    merged = apply_candidate(SCORED, 1, 4, Candidate("maybe", "merge", 0.0, span=2), index=index)
    assert merged.utterance.hypotheses[1].text == "i think their is maybe a write way to no"
    split = apply_candidate(SCORED, 0, 4, Candidate("may be", "split", 0.0), index=index)
    assert split.utterance.hypotheses[0].text == "i think there is may be a right way to know"
    # A plain string is a manual edit with its phonetic distance.
    manual = apply_candidate(SCORED, 0, 6, "write", index=index)
    assert manual.edits[0].kind == "manual" and manual.edits[0].distance == 0.0


def test_apply_candidate_rejects_bad_places(index):
    with pytest.raises(InputError, match="hypothesis 5"):
        apply_candidate(SCORED, 5, 0, "x", index=index)
    with pytest.raises(InputError, match="position 40"):
        apply_candidate(SCORED, 0, 40, "x", index=index)
    with pytest.raises(InputError, match="following word"):
        apply_candidate(SCORED, 0, 9, Candidate("knows", "merge", 0.0, span=2), index=index)


def test_unknown_mode_is_an_input_error(index):
    with pytest.raises(InputError, match="mode"):
        perturb_utterances([SCORED], "2", index=index, model=LEXICON)


def test_max_distance_and_top_k_narrow_the_choice(index):
    exact = perturb_all(SCORED, p=1.0, seed=0, index=index, model=LexiconConfig(max_distance=0.0))
    assert exact.edits and all(e.distance == 0.0 for e in exact.edits)
    assert {e.kind for e in exact.edits} <= {"homophone", "split", "merge"}
    # top_k=1 always takes the best candidate, whatever the seed.
    best = [perturb_all(SCORED, p=1.0, seed=s, index=index, model=LexiconConfig(top_k=1)).utterance for s in range(3)]
    assert best[0] == best[1] == best[2]
    with pytest.raises(InputError, match="top_k"):
        perturb_all(SCORED, index=index, model=LexiconConfig(top_k=0))
    with pytest.raises(InputError, match="max_distance"):
        perturb_one(SCORED, index=index, model=LexiconConfig(max_distance=-1))

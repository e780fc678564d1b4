"""The tuned combination, the λ line search and the bootstrap gate (core/combination/tune.py)."""

from __future__ import annotations

import pytest

from lorascope.core.combination.tune import (FIRST_PASS_COMBINATION, Combination, ScoreTable, best_index, evaluate_scores,
                                    tune_combination)
from lorascope.core.data.nbest import Hypothesis, Utterance


def utterance(k: int, lm_fixes: bool) -> Utterance:
    """Two hypotheses; the first-pass one has one wrong word. ``lm_fixes``: the LM prefers the right one."""
    ref = f"the cat number {k} sat on the mat"
    wrong = ref.replace("sat", "sad")
    return Utterance(id=f"u{k}", reference=ref,
                     hypotheses=(Hypothesis(wrong, score=0.0), Hypothesis(ref, score=-1.0)))


def lm_scores(fixes: list[bool]) -> list[list[float]]:
    # where the LM "fixes", it prefers the second hypothesis by 2 (so λ >= 0.5 flips it); elsewhere it
    # prefers the first, so raising λ never breaks a list the first pass got right
    return [[0.0, 2.0] if f else [0.0, -2.0] for f in fixes]


def test_a_clear_dev_gain_keeps_its_lambda_and_reports_its_bootstrap_share():
    fixes = [k % 2 == 0 for k in range(40)]            # half the lists fixed by the LM
    utts = [utterance(k, f) for k, f in enumerate(fixes)]
    search = tune_combination(utts, lm_scores(fixes), min_p_better=0.95)
    assert search.lam > 0 and search.fell_back_from is None
    assert search.p_better == pytest.approx(1.0)
    assert search.wer < search.first_pass_wer


def test_a_one_list_dev_gain_is_noise_and_falls_back_to_the_first_pass():
    # 200 lists; the LM fixes one and breaks none: a real but tiny gain that the bootstrap cannot trust
    fixes = [k == 0 for k in range(200)]
    utts = [utterance(k, f) for k, f in enumerate(fixes)]
    ungated = tune_combination(utts, lm_scores(fixes))
    assert ungated.lam > 0 and ungated.wer < ungated.first_pass_wer and ungated.p_better is None
    gated = tune_combination(utts, lm_scores(fixes), min_p_better=0.95)
    assert gated.lam == 0.0 and gated.wer == gated.first_pass_wer
    assert gated.combination == FIRST_PASS_COMBINATION
    assert gated.fell_back_from == ungated.combination
    assert 0.5 < gated.p_better < 0.95           # the one list is drawn in about 63% of resamples


def test_no_gain_needs_no_bootstrap():
    fixes = [False] * 10
    utts = [utterance(k, f) for k, f in enumerate(fixes)]
    search = tune_combination(utts, lm_scores(fixes), min_p_better=0.95)
    assert search.lam == 0.0 and search.p_better is None and search.fell_back_from is None


def test_lambda_confidence_outside_zero_one_is_an_input_error():
    from lorascope.core.errors import InputError
    from lorascope.core.training.train import TrainConfig

    with pytest.raises(InputError, match="lambda_confidence must be in"):
        TrainConfig(lambda_confidence=1.5)


# -- the log-linear combination ------------------------------------------------------------------------


def disagreeing(k: int) -> Utterance:
    """Beam order puts the wrong hypothesis first; the first-pass scores (total log-probs) rank it second."""
    ref = f"the dog number {k} ran to the park"
    return Utterance(id=f"d{k}", reference=ref,
                     hypotheses=(Hypothesis(ref.replace("ran", "ram"), score=-3.0), Hypothesis(ref, score=-2.0),
                                 Hypothesis(ref.replace("park", "bark"), score=-4.0)))


def test_the_first_pass_combination_is_the_list_order_even_where_the_scores_disagree():
    utts = [disagreeing(k) for k in range(20)]
    assert all(u.scores_disagree for u in utts)
    table = ScoreTable(utts, None)
    assert table.choices(FIRST_PASS_COMBINATION).tolist() == [0] * 20
    assert FIRST_PASS_COMBINATION.is_first_pass and not Combination.of({"score": 1.0}).is_first_pass
    # with no tuning data worth trusting, the gate keeps exactly that first pass
    few = utts[:1] + [utterance(k, False) for k in range(199)]
    search = tune_combination(few, None, min_p_better=0.95)
    assert search.combination == FIRST_PASS_COMBINATION
    assert search.wer == search.first_pass_wer


def test_tuning_finds_the_first_pass_score_where_it_knows_better_than_the_order():
    utts = [disagreeing(k) for k in range(40)]
    search = tune_combination(utts, None, min_p_better=0.95)
    assert "score" in search.features and search.combination.weight("score") > 0
    assert search.wer == 0.0 < search.first_pass_wer and search.p_better == pytest.approx(1.0)


def test_tuning_finds_a_length_reward_where_the_first_pass_drops_words():
    def dropped(k: int) -> Utterance:
        ref = f"we went {k} times to see the play last night"
        return Utterance(id=f"w{k}", reference=ref,
                         hypotheses=(Hypothesis(ref.replace(" the play", " play")), Hypothesis(ref)))

    utts = [dropped(k) for k in range(30)]
    search = tune_combination(utts, None)
    assert search.features == ("words",) and search.combination.weight("words") > 0
    assert search.wer == 0.0


def test_python_and_table_scores_choose_the_same_hypotheses():
    utts = [disagreeing(k) for k in range(5)] + [utterance(k, k % 2 == 0) for k in range(5)]
    lm = [[0.3, -0.1, 0.2] for _ in range(5)] + lm_scores([k % 2 == 0 for k in range(5)])
    comb = Combination.of({"rank": 1.0, "score": 0.7, "words": -0.05}, lam=0.9)
    table = ScoreTable(utts, lm, features=("score", "words"))
    assert table.choices(comb).tolist() == [best_index(comb.scores(u, s)) for u, s in zip(utts, lm)]
    result = evaluate_scores(utts, lm, comb)
    assert result.choices == table.choices(comb).tolist() and result.lam == 0.9


def test_combination_round_trips_and_rejects_unknown_features():
    comb = Combination.of({"words": 0.1, "rank": 1.0, "score": 0.0}, lam=0.25)
    assert comb.weights == (("rank", 1.0), ("words", 0.1))         # canonical order, zero weights dropped
    assert Combination.from_dict(comb.to_dict()) == comb
    assert comb.describe() == "1·rank + 0.1·words + 0.25·LM"
    from lorascope.core.errors import InputError

    with pytest.raises(InputError, match="unknown feature 'loudness'"):
        Combination.of({"loudness": 1.0})
    with pytest.raises(InputError, match="has no score values"):
        Combination.of({"score": 1.0}).scores(Utterance("r", (Hypothesis("a"), Hypothesis("b"))))

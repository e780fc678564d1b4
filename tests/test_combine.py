"""The λ line search and its bootstrap gate (core/combine.py)."""

from __future__ import annotations

import pytest

from lorascope.core.combine import lambda_grid, search_lambda
from lorascope.core.nbest import Hypothesis, Utterance


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
    search = search_lambda(utts, lm_scores(fixes), lambda_grid(1.0), min_p_better=0.95)
    assert search.lam > 0 and search.fell_back_from is None
    assert search.p_better == pytest.approx(1.0)
    assert search.wer < search.first_pass_wer


def test_a_one_list_dev_gain_is_noise_and_falls_back_to_the_first_pass():
    # 200 lists; the LM fixes one and breaks none: a real but tiny gain that the bootstrap cannot trust
    fixes = [k == 0 for k in range(200)]
    utts = [utterance(k, f) for k, f in enumerate(fixes)]
    ungated = search_lambda(utts, lm_scores(fixes), lambda_grid(1.0))
    assert ungated.lam > 0 and ungated.wer < ungated.first_pass_wer and ungated.p_better is None
    gated = search_lambda(utts, lm_scores(fixes), lambda_grid(1.0), min_p_better=0.95)
    assert gated.lam == 0.0 and gated.wer == gated.first_pass_wer
    assert gated.fell_back_from == ungated.lam
    assert 0.5 < gated.p_better < 0.95           # the one list is drawn in about 63% of resamples


def test_no_gain_needs_no_bootstrap():
    fixes = [False] * 10
    utts = [utterance(k, f) for k, f in enumerate(fixes)]
    search = search_lambda(utts, lm_scores(fixes), lambda_grid(1.0), min_p_better=0.95)
    assert search.lam == 0.0 and search.p_better is None and search.fell_back_from is None


def test_lambda_confidence_outside_zero_one_is_an_input_error():
    from lorascope.core.errors import InputError
    from lorascope.core.train import TrainConfig

    with pytest.raises(InputError, match="lambda_confidence must be in"):
        TrainConfig(lambda_confidence=1.5)

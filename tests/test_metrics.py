"""WER, oracle WER, ΔWER, NPRR (checked against the paper's Table 3) and the paired bootstrap."""

from __future__ import annotations

import pytest

from lorascope.core.data.metrics import (corpus_wer, delta_wer, nprr, paired_bootstrap, summarize, word_errors)
from lorascope.core.data.nbest import Hypothesis, Utterance

from .conftest import HYPORADISE


def test_word_errors_counts_sub_del_ins_on_normalised_text():
    assert word_errors("the cat sat", "The cat, sat!") == 0
    assert word_errors("the cat sat", "the bat sat") == 1
    assert word_errors("the cat sat", "the cat") == 1
    assert word_errors("the cat sat", "the cat sat down now") == 2
    assert word_errors("", "noise") == 1
    assert word_errors("two words", "") == 2


def test_corpus_wer_is_total_errors_over_total_words():
    # Not the mean of per-utterance WERs: 1/1 and 0/9 give 10%, not 50%.
    assert corpus_wer([1, 0], [1, 9]) == pytest.approx(0.1)


def test_summarize_one_best_and_oracle():
    utts = [
        Utterance("a", (Hypothesis("a b c"), Hypothesis("a b d")), "a b d"),
        Utterance("b", (Hypothesis("x y"), Hypothesis("x z")), "x y"),
    ]
    s = summarize(utts)
    assert s.one_best_wer == pytest.approx(1 / 5)
    assert s.oracle_wer == 0.0
    assert s.delta_wer == pytest.approx(0.2)


# Paper (arXiv 2401.10447) Table 3, LibriSpeech test-clean: WER / Oracle / ΔWER / NPRR%.
FT_CLEAN = (4.87, 3.59, 1.28)
FT_P1 = (5.10, 3.60, 1.50, 17.18)
FT_PN = (5.37, 3.56, 1.81, 41.40)


@pytest.mark.parametrize("row", [FT_P1, FT_PN])
def test_nprr_reproduces_table3_fine_tuned_rows(row):
    wer, oracle, dwer, nprr_pct = row
    assert delta_wer(wer, oracle) == pytest.approx(dwer, abs=1e-9)
    clean = delta_wer(FT_CLEAN[0], FT_CLEAN[1])
    assert clean == pytest.approx(FT_CLEAN[2])
    # The table's ΔWER are rounded to 0.01, so NPRR from them matches to about 0.02 points.
    assert 100 * nprr(clean, dwer) == pytest.approx(nprr_pct, abs=0.02)


def test_nprr_vanilla_lora_perturb_n_within_table_rounding():
    # Vanilla LoRA perturb-N: ΔWER 2.87, NPRR 112.76%. The clean ΔWER it implies, 2.87 / 2.1276 = 1.349,
    # must lie within rounding of a two-decimal table value, and NPRR from that value must round back.
    implied_clean = 2.87 / (1 + 1.1276)
    clean_rounded = round(implied_clean, 2)
    assert abs(implied_clean - clean_rounded) <= 0.005
    lo = 100 * nprr(clean_rounded + 0.005, 2.87 - 0.005)
    hi = 100 * nprr(clean_rounded - 0.005, 2.87 + 0.005)
    assert lo <= 112.76 <= hi


def test_nprr_edge_cases():
    assert nprr(1.0, 1.0) == 0.0
    assert nprr(2.0, 1.0) == pytest.approx(-0.5)
    assert nprr(0.0, 0.0) == 0.0
    assert nprr(0.0, 0.5) == float("inf")


def test_paired_bootstrap_detects_a_real_difference_and_not_a_null_one():
    lens = [10] * 200
    a = [2] * 200
    b = [1] * 200  # b is better on every utterance
    res = paired_bootstrap(a, b, lens, resamples=300, seed=1)
    assert res.difference == pytest.approx(-0.1)
    assert res.high < 0 and res.p_b_better == 1.0
    same = paired_bootstrap(a, a, lens, resamples=300, seed=1)
    assert same.low == same.high == 0.0
    noisy_b = [2 + (1 if i % 2 else -1) for i in range(200)]
    res2 = paired_bootstrap(a, noisy_b, lens, resamples=500, seed=3)
    assert res2.low < 0 < res2.high


@pytest.mark.skipif(not HYPORADISE.exists(), reason="needs ../shared/data beside the checkout")
def test_librispeech_test_other_first_pass_figures():
    from lorascope.core.data.formats import read_nbest

    s = summarize(read_nbest(HYPORADISE))
    assert s.utterances == 2939
    assert s.one_best_wer == pytest.approx(0.0367, abs=0.001)
    assert s.oracle_wer == pytest.approx(0.0227, abs=0.001)

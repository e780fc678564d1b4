"""Word errors: the fast counter equals jiwer's S + D + I on every real hypothesis, and its token cache equals
normalising whole texts."""

from __future__ import annotations

import random

import jiwer
import pytest

from lorascope.core.data.alignment import WordErrorCounter
from lorascope.core.data.formats import read_nbest
from lorascope.core.data.metrics import hypothesis_errors, word_errors
from lorascope.core.data.text import normalize, words

from .conftest import HYPORADISE, REPO

SAMPLE_SETS = [REPO / "sample_data" / f"{s}.jsonl" for s in ("train", "dev", "test")]


def jiwer_errors(reference: str, hypothesis: str) -> int:
    ref, hyp = " ".join(words(reference)), " ".join(words(hypothesis))
    if not ref:
        return len(hyp.split())
    if not hyp:
        return len(ref.split())
    out = jiwer.process_words(ref, hyp)
    return out.substitutions + out.deletions + out.insertions


def _check_against_jiwer(utts) -> int:
    table = hypothesis_errors(utts)
    fresh = WordErrorCounter(max_tokens=64, max_pairs=16)  # tiny caches: cleared again and again on the way
    n = 0
    for u, row in zip(utts, table):
        want = [jiwer_errors(u.reference, h.text) for h in u.hypotheses]
        assert row == want, u.id
        assert fresh.list_errors(u.reference, u.texts) == want, u.id
        n += len(row)
    return n


def test_every_hypothesis_of_the_sample_sets_counts_as_jiwer_does():
    assert _check_against_jiwer([u for p in SAMPLE_SETS for u in read_nbest(p)]) > 5000


@pytest.mark.skipif(not HYPORADISE.exists(), reason="needs ../shared/data beside the checkout")
def test_every_hypothesis_of_the_librispeech_lists_counts_as_jiwer_does():
    assert _check_against_jiwer(read_nbest(HYPORADISE)) == 14695


def test_edge_pairs_count_as_jiwer_does():
    pairs = [("", ""), ("", "a b"), ("a b", ""), ("!!", "a"), ("a a a", "a"), ("a b c", "c b a"),
             ("Don't STOP", "dont stop"), ("x", "x x x x")]
    for ref, hyp in pairs:
        assert word_errors(ref, hyp) == jiwer_errors(ref, hyp), (ref, hyp)


def test_cached_pairs_give_the_same_count():
    c = WordErrorCounter()
    assert c.errors("the cat sat", "the bat sat") == c.errors("the cat sat", "the bat sat") == 1
    assert c.errors("The cat sat.", "the bat sat") == 1  # another key, the same words


def test_token_cache_equals_normalising_the_whole_text_on_random_unicode():
    rng = random.Random(7)
    pool = ([chr(c) for c in range(0x20, 0x3000) if not 0xD800 <= c < 0xE000]
            + list(" \t\n\xa0\u2028\u3000'\u2019`-.") * 30 + ["\u0301", "\u0308", "\u03a3", "\u0130", "\ufb01"] * 30)
    counter = WordErrorCounter(max_tokens=500)
    for _ in range(20000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 14)))
        assert counter.words(text) == normalize(text).split(), repr(text)


@pytest.mark.skipif(not HYPORADISE.exists(), reason="needs ../shared/data beside the checkout")
def test_token_cache_equals_normalising_the_whole_text_on_real_lists():
    counter = WordErrorCounter()
    for u in read_nbest(HYPORADISE)[:500] + read_nbest(SAMPLE_SETS[2]):
        for text in [u.reference, *u.texts]:
            assert counter.words(text) == words(text)

"""Pronunciations, the phonetic distance, and sound-alike candidates from the real CMUdict-based index."""

from __future__ import annotations

import json
import random
import socket
import string
import sys

import pytest

from lorascope.core.perturbation import g2p
from lorascope.core.perturbation import phonetics
from lorascope.core.perturbation.phonemes import is_phone
from lorascope.core.perturbation.phonetics import (INDEX_VERSION, Candidate, index_path, near_limit,
                                      phonetic_distance, strip_stress)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_cmudict_pronunciations_and_stress_stripping(g2p_index):
    assert g2p_index.pronunciations("maybe") == (("M", "EY1", "B", "IY0"),)
    assert strip_stress(("M", "EY1", "B", "IY0")) == ("M", "EY", "B", "IY")
    assert len(g2p_index.pronunciations("read")) == 2  # R IY D and R EH D
    assert g2p_index.pronunciations("x25") == ()
    assert g2p_index.pronunciations("") == ()


@pytest.mark.parametrize("word, other", [
    ("there", "their"), ("there", "they're"), ("their", "there"), ("to", "too"), ("to", "two"), ("two", "too"),
    ("know", "no"), ("no", "know"), ("right", "write"), ("right", "rite"), ("write", "right"), ("eight", "ate"),
    ("sea", "see"), ("its", "it's"), ("knight", "night"), ("i", "eye"),
])
def test_known_homophones(g2p_index, word, other):
    assert other in g2p_index.homophones(word)


def test_homophones_are_exact_and_listed_first(g2p_index):
    found = g2p_index.candidates("there")
    assert found[0].kind == "homophone" and found[0].distance == 0.0
    assert "dare" not in g2p_index.homophones("there")
    assert "there" not in g2p_index.homophones("there")  # never the word itself


def test_splits_and_merges(g2p_index):
    assert Candidate("may be", "split", 0.0) in g2p_index.candidates("maybe")
    assert Candidate("any thing", "split", 0.0) in g2p_index.candidates("anything")
    assert Candidate("some thing", "split", 0.0) in g2p_index.candidates("something")
    assert Candidate("maybe", "merge", 0.0, span=2) in g2p_index.merge_candidates("may", "be")
    assert Candidate("anything", "merge", 0.0, span=2) in g2p_index.merge_candidates("any", "thing")
    assert g2p_index.merge_candidates("the", "maybe") == ()
    # Short words do not split into interjections and letter names.
    assert not [c for c in g2p_index.candidates("any") if c.kind == "split"]


def test_phonetic_distance_prefers_similar_sounds():
    assert phonetic_distance(["T"], ["D"]) < phonetic_distance(["T"], ["K"]) < phonetic_distance(["T"], ["M"])
    assert phonetic_distance(["IH1"], ["IY0"]) < phonetic_distance(["IH"], ["UW"]) < phonetic_distance(["IH"], ["T"])
    assert phonetic_distance(["K", "AE1", "T"], ["K", "AE0", "T"]) == 0.0  # stress is ignored
    # Dropping a weak schwa costs less than dropping a stop.
    assert phonetic_distance(["K", "AH", "T"], ["K", "T"]) < phonetic_distance(["K", "AE", "T"], ["K", "AE"])
    assert phonetic_distance(["B", "AE", "T"], ["P", "AE", "D"]) == pytest.approx(0.5)  # two voicing swaps


def test_near_homophones_and_spellings(g2p_index):
    then = {c.text: c for c in g2p_index.candidates("then")}
    assert then["than"].kind == "near" and then["than"].distance <= near_limit(3)
    accept = {c.text: c for c in g2p_index.candidates("accept")}
    assert accept["except"].kind == "near"
    quiet = {c.text: c for c in g2p_index.candidates("quiet")}
    assert quiet["quite"].kind == "near"
    assert any(c.kind == "spelling" for c in g2p_index.candidates("quiet"))
    # Two cheap substitutions (both voicing) are still near: found through the coarse key.
    assert "pad" in {c.text for c in g2p_index.candidates("bat")}


def test_candidates_are_ranked_by_distance_and_come_from_the_vocabulary(g2p_index):
    for word in ["there", "right", "cat", "then", "maybe", "anything", "the", "quiet"]:
        found = g2p_index.candidates(word)
        assert found, word
        keys = [c.distance for c in found]
        assert keys == sorted(keys), word
        for c in found:
            assert c.text != word
            assert c.kind in {"homophone", "split", "near", "spelling"}
            for part in c.text.split():
                assert g2p_index.in_vocabulary(part), (word, c)
    assert g2p_index.candidates("cat", limit=3) == g2p_index.candidates("cat")[:3]


def test_vocabulary_is_restricted_to_ordinary_words(g2p_index):
    vocab = set(g2p_index.vocabulary)
    assert {"the", "maybe", "they're", "don't", "a", "i"} <= vocab
    assert len(vocab) > 15000
    for odd in ["b", "mm", "ing", "tv", "de", "but's", "company'll", "aalborg"]:
        assert odd not in vocab, odd
    assert all(len(w) > 1 or w in ("a", "i") for w in vocab)
    assert all(w.replace("'", "").isalpha() and w.islower() for w in vocab)


def test_index_is_cached_on_disk_and_reloads_the_same(g2p_index, tmp_path_factory):
    path = index_path(tmp_path_factory.getbasetemp() / "lorascope-cache")
    assert path.exists() and f"v{INDEX_VERSION}" in path.name
    payload = phonetics.read_payload(path)
    reloaded = phonetics.PhoneticIndex(payload)
    assert reloaded.vocabulary == g2p_index.vocabulary
    assert reloaded.candidates("there") == g2p_index.candidates("there")


def test_default_cache_folder_follows_the_environment(g2p_index, monkeypatch, tmp_path):
    monkeypatch.setenv("LORASCOPE_CACHE_DIR", str(tmp_path))
    assert phonetics.cache_dir() == tmp_path
    assert index_path().parent == tmp_path


def test_stale_or_broken_cache_files_are_not_trusted(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"format": "lorascope-phonetic-index", "vers')
    assert phonetics.read_payload(broken) is None
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"format": "lorascope-phonetic-index", "version": INDEX_VERSION - 1}))
    assert phonetics.read_payload(old) is None
    assert phonetics.read_payload(tmp_path / "missing.json") is None


def test_out_of_vocabulary_words_use_g2p_without_network(g2p_index, no_network, monkeypatch):
    # lorascope runs g2p-en's model from its shipped weights: neither g2p_en nor NLTK is imported for it.
    before = set(sys.modules)
    monkeypatch.setattr(g2p, "_model", None)  # load the weights afresh, with every connection refused
    phones = phonetics.predict_pronunciation("lorascope")
    assert not [m for m in set(sys.modules) - before if m.split(".")[0] in ("g2p_en", "nltk")]
    assert phones and all(is_phone(p) for p in phones)
    assert strip_stress(phones)[:3] == ("L", "AO", "R")
    payload = phonetics.read_payload(index_path())  # the session's cache folder
    fresh = phonetics.PhoneticIndex(payload)
    assert fresh.pronunciations("lorascope") == (phones,)
    assert fresh.candidates("lorascope")  # e.g. "laura scope"
    assert phonetics.PhoneticIndex(payload, use_g2p=False).pronunciations("lorascope") == ()


def test_g2p_port_predicts_exactly_what_g2p_en_predicts(monkeypatch):
    """The numpy port against g2p-en's own G2p.predict, on real and made-up words."""
    import nltk

    # Only to import the real package here: its import asks NLTK for data that predict() never uses.
    monkeypatch.setattr(nltk, "download", lambda *args, **kwargs: False)
    g2p_en = pytest.importorskip("g2p_en.g2p")

    class NoLexicon:  # G2p() reads NLTK's cmudict corpus for __call__, which is not installed
        @staticmethod
        def dict():
            return {}

    monkeypatch.setattr(g2p_en, "cmudict", NoLexicon)
    theirs = g2p_en.G2p()
    ours = g2p.LetterToSound()
    rng = random.Random(0)
    made_up = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(1, 14))) for _ in range(150)]
    for word in ["lorascope", "hrothgar", "qwerty", "antidisestablishmentarianism", "a", "zz", *made_up]:
        assert ours.predict(word) == list(theirs.predict(word)), word

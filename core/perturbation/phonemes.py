"""Phoneme costs: the weighted phoneme edit distance between ARPAbet pronunciations, stress ignored.

Pronunciations are ARPAbet as in CMUdict (``M EY1 B IY0``); every comparison drops the stress digits first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

_STRESS = str.maketrans("", "", "012")

VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
CONSONANTS = frozenset("B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH".split())
#: Every stress-free ARPAbet phoneme.
PHONES = frozenset(VOWELS | CONSONANTS)

_MANNER = {
    **{p: "stop" for p in "P B T D K G".split()},
    **{p: "affricate" for p in "CH JH".split()},
    **{p: "fricative" for p in "F V TH DH S Z SH ZH HH".split()},
    **{p: "nasal" for p in "M N NG".split()},
    **{p: "liquid" for p in "L R".split()},
    **{p: "glide" for p in "W Y".split()},
}
_VOICING_PAIRS = ["P B", "T D", "K G", "F V", "TH DH", "S Z", "SH ZH", "CH JH"]
_CLOSE_VOWELS = ["IH IY", "UH UW", "AA AO", "AA AH", "AH UH", "AH IH", "EH AE", "EH IH", "EY EH", "OW AO",
                 "OW UW", "AO AH"]
# Pairs that are not voicing pairs but are commonly confused (place of articulation close, or vowel ~ glide).
_CLOSE_OTHER = {"TH F": 0.4, "DH V": 0.5, "S SH": 0.4, "Z ZH": 0.4, "CH SH": 0.4, "JH ZH": 0.4, "TH S": 0.5,
                "DH Z": 0.5, "DH D": 0.5, "TH T": 0.5, "L R": 0.5, "ER R": 0.4, "UW W": 0.6, "IY Y": 0.6}
# Insertion/deletion: weak sounds (schwa, short i, h, glides) come and go more easily than others.
_WEAK = {"AH": 0.5, "IH": 0.5, "HH": 0.5, "Y": 0.5, "W": 0.5}
_INDEL = 0.8


def _substitution_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    pair = {a, b}
    for spec, cost in _CLOSE_OTHER.items():
        if pair == set(spec.split()):
            return cost
    if any(pair == set(p.split()) for p in _VOICING_PAIRS):
        return 0.25
    if a in VOWELS and b in VOWELS:
        return 0.3 if any(pair == set(p.split()) for p in _CLOSE_VOWELS) else 0.5
    if a in CONSONANTS and b in CONSONANTS:
        if _MANNER[a] == _MANNER[b]:
            return 0.4 if _MANNER[a] == "nasal" else 0.6
        return 0.9
    return 1.0


_SUB = {a: {b: _substitution_cost(a, b) for b in sorted(PHONES)} for a in sorted(PHONES)}
_UNKNOWN_ROW: dict[str, float] = {}
_INDEL_COST = {p: _WEAK.get(p, _INDEL) for p in PHONES}
# Several cheap substitutions keep this key: voicing and vowel quality are dropped, nasals merged.
_COARSE = {p: "V" for p in VOWELS}
_COARSE.update({p: p for p in CONSONANTS})
_COARSE.update({"B": "P", "D": "T", "G": "K", "V": "F", "DH": "TH", "Z": "S", "ZH": "SH", "JH": "CH",
                "N": "M", "NG": "M"})


def strip_stress(phones: Iterable[str]) -> tuple[str, ...]:
    """ARPAbet phonemes without their stress digits (``AH0`` -> ``AH``)."""
    return tuple(p.translate(_STRESS) for p in phones)


def is_phone(phone: str) -> bool:
    """True for an ARPAbet phoneme, with or without a stress digit."""
    return phone.translate(_STRESS) in PHONES


def phonetic_distance(a: Sequence[str], b: Sequence[str]) -> float:
    """Weighted edit distance between two phoneme sequences, stress ignored.

    Substitutions cost 0.25 for voiced/unvoiced pairs (T/D), 0.3 between close vowels (IH/IY), 0.4 between
    nasals and a few close consonants (TH/F, S/SH), 0.5 for other vowel pairs, 0.6 within a manner class
    (stops, fricatives), 0.9 across consonant classes and 1.0 between a vowel and a consonant. Inserting or
    deleting a phoneme costs 0.8, or 0.5 for weak sounds (AH, IH, HH, W, Y).
    """
    return distance(strip_stress(a), strip_stress(b))


def distance(a: Sequence[str], b: Sequence[str]) -> float:
    """:func:`phonetic_distance` of two phoneme sequences that carry no stress digits (the fast path)."""
    # Plain dynamic programme, written for speed: lookups run it a few dozen times per word.
    indel_b = [_INDEL_COST.get(y, _INDEL) for y in b]
    prev = [0.0]
    total = 0.0
    for cost in indel_b:
        total += cost
        prev.append(total)
    span = range(len(b))
    for x in a:
        dx = _INDEL_COST.get(x, _INDEL)
        sx = _SUB.get(x, _UNKNOWN_ROW)
        left = prev[0] + dx
        cur = [left]
        for j in span:
            best = prev[j] + (0.0 if x == b[j] else sx.get(b[j], 1.0))
            other = prev[j + 1] + dx
            if other < best:
                best = other
            other = left + indel_b[j]
            if other < best:
                best = other
            cur.append(best)
            left = best
        prev = cur
    return prev[-1]


def near_limit(length: int) -> float:
    """The largest distance still called ``near`` for words of ``length`` phonemes (short words: stricter)."""
    return min(0.8, 0.3 * max(length, 1))


def coarse_key(phones: Sequence[str]) -> str:
    """The phonemes with voicing and vowel quality dropped and nasals merged: several cheap substitutions agree."""
    return " ".join(_COARSE.get(p, p) for p in phones)


__all__ = ["CONSONANTS", "PHONES", "VOWELS", "coarse_key", "distance", "is_phone", "near_limit",
           "phonetic_distance", "strip_stress"]

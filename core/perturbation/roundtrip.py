"""The paper's sound-alikes: a word's pronunciation, then the most likely spelling of that pronunciation.

arXiv 2401.10447 (section 3.2.2) perturbs a word by a round trip through two seq2seq models, spelling to
pronunciation and pronunciation back to the most likely spelling, with a Siamese network checking that the
two sound alike. lorascope has none of those models offline; what stands in for each:

- spelling -> pronunciation: CMUdict's first (primary) pronunciation, g2p-en's model for a word CMUdict
  lacks (:class:`.phonetic_index.PhoneticIndex`), stress ignored;
- pronunciation -> most likely spelling: among the candidate vocabulary (:mod:`.vocabulary`), the words
  whose primary pronunciation is exactly that one, ranked by word frequency from the ``wordfreq`` package
  (its English list, shipped inside the package, offline); a two-word spelling (a split, maybe -> may be)
  competes too, and so, for two adjacent words, does a one-word spelling of their joined pronunciations
  (a merge, any thing -> anything). A phrase's frequency is wordfreq's estimate for it (which assumes the
  rarer word nearly always brings the other along) times ``phrase_weight``, since a spelling model rarely
  writes a space;
- the Siamese check: exact phoneme identity. Every round-trip spelling is pronounced exactly as the word
  was, so the check always passes and no threshold is needed.

The word itself takes part: a word comes back as itself unless another spelling is at least ``margin``
times as frequent, so a common word mostly survives (we, are, a) and a rare spelling comes back as the
common one (thee -> the, ore -> or). A word without a pronunciation has no round trip.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from lorascope.core.perturbation.phonetic_index import Candidate, PhoneticIndex

SOURCE = "round trip"


@functools.lru_cache(maxsize=1)
def _frequencies() -> dict[str, float]:
    import wordfreq

    return wordfreq.get_frequency_dict("en", wordlist="best")


@functools.lru_cache(maxsize=1 << 16)
def word_frequency(text: str) -> float:
    """wordfreq's English frequency of a word, or its estimate for a phrase of several words (0 if unseen)."""
    if " " not in text:
        return _frequencies().get(text, 0.0)
    import wordfreq

    return wordfreq.word_frequency(text, "en")


class RoundTrip:
    """The round trip over one :class:`PhoneticIndex`: :meth:`word` and :meth:`pair` give the changed spelling.

    Results are memoised per word and per pair, so one instance is meant to be shared (:func:`round_trip`).
    """

    def __init__(self, index: PhoneticIndex, *, margin: float, phrase_weight: float):
        self.index = index
        self.margin = margin
        self.phrase_weight = phrase_weight
        self._spelling: dict[tuple[str, ...], tuple[str, float] | None] = {}
        self._words: dict[str, Candidate | None] = {}
        self._pairs: dict[tuple[str, str], Candidate | None] = {}

    def primary(self, word: str) -> tuple[str, ...] | None:
        """The word's first pronunciation without stress, or None."""
        prons = self.index.stress_free(word)
        return prons[0] if prons else None

    def spelling(self, phones: Sequence[str]) -> tuple[str, float] | None:
        """The most frequent vocabulary word whose primary pronunciation is ``phones``, with its frequency."""
        key = tuple(phones)
        if key not in self._spelling:
            best = None
            for text in self.index.spellings(key):
                if self.primary(text) == key:
                    f = word_frequency(text)
                    if best is None or f > best[1]:
                        best = (text, f)
            self._spelling[key] = best
        return self._spelling[key]

    def _phrase(self, first: str, second: str) -> float:
        return self.phrase_weight * word_frequency(f"{first} {second}")

    def word(self, word: str) -> Candidate | None:
        """The round trip of one word when it comes back as another spelling (one word, or two: a split)."""
        if word in self._words:
            return self._words[word]
        found = None
        phones = self.primary(word)
        if phones is not None:
            own = word_frequency(word)
            best: tuple[float, str, str] | None = None
            single = self.spelling(phones)
            if single is not None and single[0] != word:
                best = (single[1], single[0], "homophone")
            for cut in range(1, len(phones)):
                left, right = self.spelling(phones[:cut]), self.spelling(phones[cut:])
                if left is not None and right is not None:
                    f = self._phrase(left[0], right[0])
                    if best is None or f > best[0]:
                        best = (f, f"{left[0]} {right[0]}", "split")
            if best is not None and best[0] > own and best[0] >= self.margin * own:
                found = Candidate(best[1], best[2], 0.0, source=SOURCE)
        self._words[word] = found
        return found

    def pair(self, first: str, second: str) -> Candidate | None:
        """The round trip of two adjacent words when one word is spelled so (a merge, span 2)."""
        key = (first, second)
        if key in self._pairs:
            return self._pairs[key]
        found = None
        a, b = self.primary(first), self.primary(second)
        if a is not None and b is not None:
            single = self.spelling(a + b)
            if single is not None and single[0] not in key:
                own = self._phrase(first, second)
                if single[1] > own and single[1] >= self.margin * own:
                    found = Candidate(single[0], "merge", 0.0, span=2, source=SOURCE)
        self._pairs[key] = found
        return found


@functools.lru_cache(maxsize=8)
def round_trip(index: PhoneticIndex, margin: float, phrase_weight: float) -> RoundTrip:
    """The shared :class:`RoundTrip` of an index and settings."""
    return RoundTrip(index, margin=margin, phrase_weight=phrase_weight)


__all__ = ["SOURCE", "RoundTrip", "round_trip", "word_frequency"]

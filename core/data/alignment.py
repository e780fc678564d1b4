"""Word errors of many (reference, hypothesis) pairs, counted exactly as jiwer counts them, at import speed.

jiwer's S + D + I for a pair is the number of edits in a minimum unit-cost alignment of the two word sequences
(it maps words to integers and sums the lengths of rapidfuzz's Levenshtein opcodes), which is the Levenshtein
distance of the sequences. :class:`WordErrorCounter` computes that distance directly (rapidfuzz on lists of
words) and saves the two costs around it:

- normalisation (:func:`lorascope.core.data.text.normalize`) is done once per distinct whitespace-separated token
  and cached: every rule of the normalisation acts within such a token (NFKC, lower case and the character
  classes never join or split across whitespace), so joining the tokens' words equals normalising the whole
  text (tests check it on real lists and random Unicode);
- the errors of a (reference, hypothesis) pair already counted are cached.

Both caches are bounded (cleared when full, about 40 MB at most), so memory stays flat over any number of pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

from rapidfuzz.distance import Levenshtein

from lorascope.core.data.text import normalize


class _TokenWords(dict):
    """Normalised words of a whitespace-separated token, computed on first use."""

    def __missing__(self, token: str) -> list[str]:
        got = self[token] = normalize(token).split()
        return got


class WordErrorCounter:
    """Word errors (substitutions + deletions + insertions) on normalised text, with bounded caches."""

    def __init__(self, max_tokens: int = 2**17, max_pairs: int = 2**15):
        self._tokens = _TokenWords()
        self._pairs: dict[tuple[str, str], int] = {}
        self.max_tokens, self.max_pairs = max_tokens, max_pairs

    def words(self, text: str) -> list[str]:
        """The normalised words of ``text`` (equal to :func:`lorascope.core.data.text.words`)."""
        if len(self._tokens) >= self.max_tokens:
            self._tokens.clear()
        return list(chain.from_iterable(map(self._tokens.__getitem__, text.split())))

    def errors(self, reference: str, hypothesis: str) -> int:
        """Word errors of ``hypothesis`` against ``reference``."""
        return self.list_errors(reference, (hypothesis,))[0]

    def list_errors(self, reference: str, hypotheses: Sequence[str]) -> list[int]:
        """Word errors of each of ``hypotheses`` against one ``reference`` (normalised once)."""
        pairs = self._pairs
        ref_words: list[str] | None = None
        out = []
        for hyp in hypotheses:
            key = (reference, hyp)
            n = pairs.get(key)
            if n is None:
                if ref_words is None:
                    ref_words = self.words(reference)
                n = Levenshtein.distance(ref_words, self.words(hyp))
                if len(pairs) >= self.max_pairs:
                    pairs.clear()
                pairs[key] = n
            out.append(n)
        return out


#: The counter that :func:`lorascope.core.data.metrics.word_errors` and ``hypothesis_errors`` share.
COUNTER = WordErrorCounter()

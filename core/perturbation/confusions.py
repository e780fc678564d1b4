"""The recogniser's own confusions, mined from N-best lists aligned against their references.

Each hypothesis is aligned with its reference by jiwer (normalised words, :mod:`.text`). jiwer counts words,
not sounds, so inside each stretch of errors between two agreeing words the words are aligned again, by
pronunciation: a small dynamic programme over one word for one (a substitution), one for two (a split:
maybe -> may be), two for one (a merge: any thing -> anything), or a word left out or added, each costing
its weighted phoneme distance (:func:`.phonemes.distance`; a word alone costs its phonemes' deletions).
Every substitution, split and merge found is counted; pairs with a word that has no pronunciation, and
pairs farther apart than ``max_distance``, are dropped, so what is kept is the recogniser's sound-alike
errors, weighted by how often it made them. Each pair also records how often its two sides occurred in
the mined references and hypotheses, so its rate (how typical the confusion is of the word) is known.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lorascope.core.data.nbest import Utterance
from lorascope.core.perturbation.phonemes import distance
from lorascope.core.perturbation.phonetic_index import PhoneticIndex
from lorascope.core.data.text import words

#: The default largest weighted phoneme distance of a kept pair (about two cheap substitutions).
MAX_DISTANCE = 1.0

# A word without a pronunciation is aligned by spelling only: free against itself, dear against anything else.
_UNKNOWN_SUBSTITUTION = 3.0
_UNKNOWN_INDEL = 1.5


@dataclass(frozen=True)
class ConfusionPair:
    """The recogniser wrote ``hypothesis`` where the reference said ``reference``, ``count`` times.

    Either side is one word, or two (space-separated) for a split (two hypothesis words) or a merge (two
    reference words). ``distance`` is the weighted phoneme distance between the two sides.
    """

    reference: str
    hypothesis: str
    count: int
    distance: float
    reference_seen: int = 0   # how often the reference side occurred in the mined references (per hypothesis)
    hypothesis_seen: int = 0  # how often the hypothesis side occurred in the mined hypotheses

    @property
    def rate_to_hypothesis(self) -> float:
        """The share of the reference side's occurrences that the recogniser wrote as the hypothesis side."""
        return self.count / self.reference_seen if self.reference_seen else 0.0

    @property
    def rate_to_reference(self) -> float:
        """The share of the hypothesis side's occurrences where the reference said the reference side."""
        return self.count / self.hypothesis_seen if self.hypothesis_seen else 0.0

    @property
    def kind(self) -> str:
        """``substitution``, ``split`` (one reference word written as two) or ``merge`` (two written as one)."""
        ref, hyp = len(self.reference.split()), len(self.hypothesis.split())
        return "split" if hyp > ref else "merge" if ref > hyp else "substitution"


@dataclass(frozen=True)
class Confusions:
    """Mined confusion pairs, most frequent first, and what they were mined from."""

    pairs: tuple[ConfusionPair, ...]
    utterances: int
    hypotheses: int
    max_distance: float

    def top(self, n: int | None = None) -> tuple[ConfusionPair, ...]:
        return self.pairs if n is None else self.pairs[:n]

    @functools.cached_property
    def _by_side(self) -> dict[tuple[str, str], tuple[ConfusionPair, ...]]:
        table: dict[tuple[str, str], list[ConfusionPair]] = {}
        for pair in self.pairs:
            table.setdefault(("reference", pair.reference), []).append(pair)
            table.setdefault(("hypothesis", pair.hypothesis), []).append(pair)
        return {key: tuple(found) for key, found in table.items()}

    def with_reference(self, text: str) -> tuple[ConfusionPair, ...]:
        """Pairs whose reference side is ``text`` (one word, or two space-separated), most frequent first."""
        return self._by_side.get(("reference", text), ())

    def with_hypothesis(self, text: str) -> tuple[ConfusionPair, ...]:
        """Pairs whose hypothesis side is ``text``, most frequent first."""
        return self._by_side.get(("hypothesis", text), ())


class _Sounds:
    """Stress-free pronunciations of words and word pairs, and distances between them, memoised."""

    def __init__(self, index: PhoneticIndex):
        self.index = index
        self._cost: dict[tuple[str, str], float] = {}

    def prons(self, text: str) -> tuple[tuple[str, ...], ...]:
        parts = [self.index.stress_free(w) for w in text.split()]
        if not all(parts):
            return ()
        return tuple(tuple(itertools.chain.from_iterable(combo)) for combo in itertools.product(*parts))

    def cost(self, a: str, b: str) -> float:
        """Distance between two word sequences; ``b`` empty: the cost of ``a`` alone (left out or added)."""
        key = (a, b)
        if key not in self._cost:
            pa = self.prons(a)
            if not b:
                value = min((distance(p, ()) for p in pa), default=_UNKNOWN_INDEL)
            elif a == b:
                value = 0.0
            else:
                pb = self.prons(b)
                value = (min(distance(x, y) for x in pa for y in pb) if pa and pb
                         else _UNKNOWN_SUBSTITUTION)
            self._cost[key] = value
        return self._cost[key]

    def pronounceable(self, text: str) -> bool:
        return bool(self.prons(text))


def _realign(ref: Sequence[str], hyp: Sequence[str], sounds: _Sounds) -> list[tuple[str, str]]:
    """The (reference, hypothesis) pairs of the cheapest phonetic alignment of one stretch of errors.

    Steps: 1:1, 1:2, 2:1, 1:0 and 0:1 words. Only pairs with words on both sides come back.
    """
    n, m = len(ref), len(hyp)
    best = [[math.inf] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple[int, int] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    best[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            here = best[i][j]
            if here == math.inf:
                continue
            for di, dj in ((1, 1), (1, 2), (2, 1), (1, 0), (0, 1)):
                ni, nj = i + di, j + dj
                if ni > n or nj > m:
                    continue
                r, h = " ".join(ref[i:ni]), " ".join(hyp[j:nj])
                step = sounds.cost(r or h, "") if not (r and h) else sounds.cost(r, h)
                if here + step < best[ni][nj]:
                    best[ni][nj] = here + step
                    back[ni][nj] = (i, j)
    pairs = []
    i, j = n, m
    while (i, j) != (0, 0):
        pi, pj = back[i][j]  # type: ignore[misc]
        if i > pi and j > pj:
            pairs.append((" ".join(ref[pi:i]), " ".join(hyp[pj:j])))
        i, j = pi, pj
    return pairs[::-1]


def _error_stretches(ref: list[str], hyp: list[str], chunks) -> Iterable[tuple[list[str], list[str]]]:
    """Maximal runs of jiwer's non-equal chunks, as (reference words, hypothesis words)."""
    run: list = []
    for chunk in [*chunks, None]:
        if chunk is not None and chunk.type != "equal":
            run.append(chunk)
            continue
        if run:
            yield (ref[run[0].ref_start_idx:run[-1].ref_end_idx], hyp[run[0].hyp_start_idx:run[-1].hyp_end_idx])
            run = []


def _occurrences(seen: Counter[str], tokens: Sequence[str]) -> None:
    """Count the words and adjacent word pairs of one side (a pair side may be two words)."""
    seen.update(tokens)
    seen.update(f"{a} {b}" for a, b in zip(tokens, tokens[1:]))


def mine_confusions(utterances: Sequence[Utterance], *, index: PhoneticIndex | None = None,
                    max_distance: float = MAX_DISTANCE) -> Confusions:
    """Count the substitutions, splits and merges of every hypothesis against its reference (module docstring).

    Utterances without a reference are skipped. ``index`` (default: :func:`.phonetic_cache.load_index`) gives
    the pronunciations.
    """
    import jiwer

    if index is None:
        from lorascope.core.perturbation.phonetic_cache import load_index

        index = load_index()
    sounds = _Sounds(index)
    refs, hyps = [], []
    used = 0
    for u in utterances:
        ref = " ".join(words(u.reference or ""))
        if not ref:
            continue
        used += 1
        for h in u.hypotheses:
            text = " ".join(words(h.text))
            if text:  # correct hypotheses too: they count how often each word occurs
                refs.append(ref)
                hyps.append(text)
    counts: Counter[tuple[str, str]] = Counter()
    seen_ref: Counter[str] = Counter()
    seen_hyp: Counter[str] = Counter()
    if refs:
        out = jiwer.process_words(refs, hyps)
        for ref_words, hyp_words, chunks in zip(out.references, out.hypotheses, out.alignments):
            _occurrences(seen_ref, ref_words)
            _occurrences(seen_hyp, hyp_words)
            for r, h in _error_stretches(ref_words, hyp_words, chunks):
                if r and h:
                    counts.update(p for p in _realign(r, h, sounds) if p[0] != p[1])
    pairs = []
    for (r, h), count in counts.items():
        if sounds.pronounceable(r) and sounds.pronounceable(h):
            d = sounds.cost(r, h)
            if d <= max_distance:
                pairs.append(ConfusionPair(r, h, count, round(d, 4), seen_ref[r], seen_hyp[h]))
    pairs.sort(key=lambda p: (-p.count, p.distance, p.reference, p.hypothesis))
    return Confusions(tuple(pairs), used, sum(len(u.hypotheses) for u in utterances if u.reference), max_distance)


__all__ = ["MAX_DISTANCE", "ConfusionPair", "Confusions", "mine_confusions"]

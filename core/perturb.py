"""Phonetic perturbation of N-best lists: perturb-1 (the lowest-scored hypothesis) and perturb-N (every one).

Following arXiv 2401.10447, each word of a perturbed hypothesis is replaced, with probability ``p`` (0.5 in
the paper), by a phonetically similar word or phrase from :mod:`.phonetics`: a homophone, a near-homophone,
a split into two words, a merge with the next word, or a close spelling. Only the text changes: first-pass
scores, the other hypotheses and the reference stay as they were.

Words are the whitespace tokens of a hypothesis. A token's punctuation and letter case are kept around its
replacement (``There,`` -> ``Their,``); a merge needs no punctuation between its two tokens. Tokens that are
not one pronounceable word after :func:`.text.normalize` (numbers, ``well-known``, words without a
pronunciation) are left alone and counted.

Randomness is per hypothesis: a ``random.Random`` seeded from a BLAKE2 hash of (seed, utterance id,
hypothesis index), so a result does not depend on which other utterances are perturbed, in what order, or on
Python's hash randomisation; and perturb-1's edits are exactly perturb-N's edits of the same hypothesis.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from .errors import InputError
from .nbest import Utterance
from .phonetics import KINDS, Candidate, PhoneticIndex, load_index, phonetic_distance
from .text import normalize

MODES = ("1", "N")

#: How many of a word's best candidates a random replacement chooses among.
TOP_K = 5
#: Candidate weight is exp(-SHARPNESS * distance): homophones 1, a voicing change (0.25) 0.37, 0.5 -> 0.14.
SHARPNESS = 4.0

_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}
_EDGES = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)
_SINGLE_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


@dataclass(frozen=True)
class Edit:
    """One replacement in one hypothesis.

    ``position`` is the index of the first replaced token among the whitespace tokens of the hypothesis
    *before* this perturbation; ``old`` is the replaced token(s) as written (two for a ``merge``) and ``new``
    what replaced them (two words for a ``split``).
    """

    hypothesis: int
    position: int
    old: str
    new: str
    kind: str
    distance: float


@dataclass(frozen=True)
class Perturbation:
    """A perturbed utterance and what was done to it.

    ``mode`` is ``"1"`` (perturb-1), ``"N"`` (perturb-N) or ``"manual"`` (:func:`apply_candidate`).
    ``unpronounceable`` counts tokens of the visited hypotheses left alone for want of a pronunciation.
    """

    utterance: Utterance
    edits: tuple[Edit, ...]
    unpronounceable: int
    mode: str
    p: float
    seed: int | None

    @property
    def changed_hypotheses(self) -> tuple[int, ...]:
        """Indices of the hypotheses whose text changed, ascending."""
        return tuple(sorted({e.hypothesis for e in self.edits}))


def check_p(p: float) -> float:
    """``p`` as a float, or :class:`InputError` unless it lies in [0, 1]."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not (0.0 <= p <= 1.0):
        raise InputError("perturbation probability p", f"must be a number from 0 to 1, got {p!r}")
    return float(p)


def _check_settings(top_k: int, max_distance: float | None) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InputError("perturbation top_k", f"must be a whole number of at least 1, got {top_k!r}")
    if max_distance is not None and not (isinstance(max_distance, (int, float)) and max_distance >= 0):
        raise InputError("perturbation max_distance", f"must be a number of at least 0, got {max_distance!r}")


def hypothesis_rng(seed: int, utterance_id: str, hypothesis: int) -> random.Random:
    """The random stream for one hypothesis: stable across runs, processes and machines."""
    digest = hashlib.blake2b(f"{seed}\x1f{utterance_id}\x1f{hypothesis}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


@functools.lru_cache(maxsize=1 << 16)
def _parse_token(token: str) -> tuple[str, str, str, str | None]:
    """A token's leading punctuation, body, trailing punctuation, and the one normalised word it stands for.

    The word is None when the token is not exactly one word (``25``, ``well-known``). Cached: the same
    tokens recur across the hypotheses of a list and across lists.
    """
    m = _EDGES.match(token)
    assert m is not None  # the pattern matches any string
    prefix, body, suffix = m.groups()
    word = normalize(body)
    return prefix, body, suffix, (word if _SINGLE_WORD.fullmatch(word) else None)


def _word_of(token: str) -> str | None:
    return _parse_token(token)[3]


def _all_capitals(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and all(ch.isupper() for ch in letters)


def _styled(text: str, like: str, capitals: bool) -> str:
    """``text`` in the letter case of ``like``: all capitals, a leading capital, or as given (lower).

    ``capitals`` says the whole hypothesis is in capitals (LibriSpeech style), which a one-letter
    token such as ``I`` cannot show by itself.
    """
    if capitals or (len(like) > 1 and _all_capitals(like)):
        return text.upper()
    if like[:1].isupper():
        return text[:1].upper() + text[1:]
    return text


def _render(tokens: Sequence[str], position: int, cand: Candidate, capitals: bool) -> str:
    """The replacement text for ``tokens[position:position + cand.span]``, with outer punctuation kept."""
    prefix, body, suffix, _ = _parse_token(tokens[position])
    if cand.span == 2:
        suffix = _parse_token(tokens[position + 1])[2]
    return prefix + _styled(cand.text, body, capitals) + suffix


def _options(index: PhoneticIndex, tokens: Sequence[str], position: int, limit: int | None,
             max_distance: float | None = None) -> tuple[Candidate, ...] | None:
    """Candidates for the token at ``position`` (merges with the next one included), best first.

    None when the token has no pronunciation (so it is counted as left alone).
    """
    _, _, suffix, word = _parse_token(tokens[position])
    if word is None or not index.has_pronunciation(word):
        return None
    found = list(index.candidates(word, None if max_distance is not None else limit))
    if position + 1 < len(tokens):
        prefix, _, _, nxt = _parse_token(tokens[position + 1])
        if nxt is not None and not suffix and not prefix:  # no punctuation between the two words
            found.extend(index.merge_candidates(word, nxt, limit))
    found.sort(key=lambda c: (c.distance, _KIND_ORDER[c.kind]))  # stable: keeps each list's own order
    if max_distance is not None:
        found = [c for c in found if c.distance <= max_distance]
    return tuple(found if limit is None else found[:limit])


def _perturb_text(text: str, hypothesis: int, index: PhoneticIndex, p: float, rng: random.Random,
                  top_k: int, max_distance: float | None) -> tuple[str, list[Edit], int]:
    tokens = text.split()
    capitals = _all_capitals(text)
    out: list[str] = []
    edits: list[Edit] = []
    unpronounceable = 0
    i = 0
    while i < len(tokens):
        options = _options(index, tokens, i, top_k, max_distance)
        if options is None:
            unpronounceable += 1
        elif options and rng.random() < p:
            weights = [math.exp(-SHARPNESS * c.distance) for c in options]
            cand = rng.choices(options, weights=weights)[0]
            new = _render(tokens, i, cand, capitals)
            old = " ".join(tokens[i:i + cand.span])
            edits.append(Edit(hypothesis, i, old, new, cand.kind, cand.distance))
            out.append(new)
            i += cand.span
            continue
        out.append(tokens[i])
        i += 1
    return " ".join(out), edits, unpronounceable


def _perturb(utt: Utterance, targets: Iterable[int], mode: str, p: float, seed: int,
             index: PhoneticIndex | None, top_k: int, max_distance: float | None) -> Perturbation:
    p = check_p(p)
    _check_settings(top_k, max_distance)
    index = index or load_index()
    hyps = list(utt.hypotheses)
    edits: list[Edit] = []
    unpronounceable = 0
    for j in targets:
        rng = hypothesis_rng(seed, utt.id, j)
        text, found, missing = _perturb_text(hyps[j].text, j, index, p, rng, top_k, max_distance)
        unpronounceable += missing
        if found:
            hyps[j] = replace(hyps[j], text=text)
            edits.extend(found)
    return Perturbation(replace(utt, hypotheses=tuple(hyps)), tuple(edits), unpronounceable, mode, p, seed)


def perturb_one(utt: Utterance, p: float = 0.5, seed: int = 0, *, index: PhoneticIndex | None = None,
                top_k: int = TOP_K, max_distance: float | None = None) -> Perturbation:
    """perturb-1: perturb only the hypothesis with the lowest first-pass score (rank-only lists: the last).

    Each token with a candidate is replaced with probability ``p`` by one of its ``top_k`` best candidates,
    drawn with weight exp(-SHARPNESS * distance); ``max_distance`` (e.g. 0: homophones, splits and merges
    only) leaves out farther candidates.
    """
    targets = [utt.worst_index()] if utt.hypotheses else []
    return _perturb(utt, targets, "1", p, seed, index, top_k, max_distance)


def perturb_all(utt: Utterance, p: float = 0.5, seed: int = 0, *, index: PhoneticIndex | None = None,
                top_k: int = TOP_K, max_distance: float | None = None) -> Perturbation:
    """perturb-N: perturb every hypothesis, each with its own random stream (arguments as :func:`perturb_one`)."""
    return _perturb(utt, range(len(utt.hypotheses)), "N", p, seed, index, top_k, max_distance)


def perturb_utterances(utterances: Sequence[Utterance], mode: str = "N", p: float = 0.5, seed: int = 0, *,
                       index: PhoneticIndex | None = None, top_k: int = TOP_K,
                       max_distance: float | None = None) -> list[Perturbation]:
    """perturb-1 (``mode="1"``) or perturb-N (``mode="N"``) applied to every utterance."""
    if mode not in MODES:
        raise InputError("perturbation mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
    check_p(p)
    _check_settings(top_k, max_distance)
    index = index or load_index()
    fn = perturb_one if mode == "1" else perturb_all
    return [fn(u, p, seed, index=index, top_k=top_k, max_distance=max_distance) for u in utterances]


def _locate(utt: Utterance, hypothesis: int, position: int) -> list[str]:
    if not 0 <= hypothesis < len(utt.hypotheses):
        raise InputError(f"utterance {utt.id}", f"has no hypothesis {hypothesis}")
    tokens = utt.hypotheses[hypothesis].text.split()
    if not 0 <= position < len(tokens):
        raise InputError(f"utterance {utt.id}", f"hypothesis {hypothesis} has no word at position {position}")
    return tokens


def token_candidates(utt: Utterance, hypothesis: int, position: int, *, index: PhoneticIndex | None = None,
                     limit: int | None = None) -> tuple[Candidate, ...]:
    """Candidates for one token of one hypothesis (merges with the next token included), best first."""
    tokens = _locate(utt, hypothesis, position)
    return _options(index or load_index(), tokens, position, limit) or ()


def apply_candidate(utt: Utterance, hypothesis: int, position: int, candidate: Candidate | str, *,
                    index: PhoneticIndex | None = None) -> Perturbation:
    """Replace the token at ``position`` of hypothesis ``hypothesis`` by ``candidate``, by hand.

    ``candidate`` is a :class:`Candidate` (one from :func:`token_candidates`; a ``merge`` also replaces the
    next token) or a plain string, which replaces one token and is recorded as kind ``"manual"`` with the
    phonetic distance between the two words (NaN when either has no pronunciation).
    """
    tokens = _locate(utt, hypothesis, position)
    if isinstance(candidate, str):
        text = candidate.strip()
        if not text:
            raise InputError(f"utterance {utt.id}", "a replacement must not be empty")
        index = index or load_index()
        old_word, new_word = _word_of(tokens[position]), _word_of(text)
        old_p = index.pronunciations(old_word) if old_word else ()
        new_p = index.pronunciations(new_word) if new_word else ()
        dist = min((phonetic_distance(a, b) for a in old_p for b in new_p), default=math.nan)
        candidate = Candidate(normalize(text) or text, "manual", dist if math.isnan(dist) else round(dist, 4))
    if candidate.span == 2 and position + 1 >= len(tokens):
        raise InputError(f"utterance {utt.id}", f"a merge at position {position} needs a following word")
    new = _render(tokens, position, candidate, _all_capitals(" ".join(tokens)))
    old = " ".join(tokens[position:position + candidate.span])
    tokens[position:position + candidate.span] = [new]
    hyps = list(utt.hypotheses)
    hyps[hypothesis] = replace(hyps[hypothesis], text=" ".join(tokens))
    edit = Edit(hypothesis, position, old, new, candidate.kind, candidate.distance)
    return Perturbation(replace(utt, hypotheses=tuple(hyps)), (edit,), 0, "manual", 1.0, None)


__all__ = ["MODES", "SHARPNESS", "TOP_K", "Edit", "Perturbation", "apply_candidate", "check_p",
           "hypothesis_rng", "perturb_all", "perturb_one", "perturb_utterances", "token_candidates"]

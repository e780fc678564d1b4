"""Phonetic perturbation of N-best lists: perturb-1 (the first pass's worst hypothesis) and perturb-N (every one).

Following arXiv 2401.10447, each word of a perturbed hypothesis is replaced, with probability ``p`` (0.5 in
the paper), by a sound-alike word or phrase. Where the sound-alikes come from is the perturbation model
(:mod:`.perturbation_models`): ``paper`` (the default, the paper's round trip), ``mined`` (the recogniser's
own confusions) or ``lexicon`` (every kind of sound-alike, the stress test). Only the text changes:
first-pass scores, the other hypotheses and the reference stay as they were.

Words are the whitespace tokens of a hypothesis. A token's punctuation and letter case are kept around its
replacement (``There,`` -> ``Their,``); a merge needs no punctuation between its two tokens. Tokens that are
not one pronounceable word after :func:`.text.normalize` (numbers, ``well-known``, words without a
pronunciation) are left alone and counted.

Randomness is per hypothesis: a ``random.Random`` seeded from a BLAKE2 hash of (seed, utterance id,
hypothesis index), so a result does not depend on which other utterances are perturbed, in what order, or on
Python's hash randomisation; and perturb-1's edits are exactly perturb-N's edits of the same hypothesis.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from lorascope.core.errors import InputError
from lorascope.core.data.nbest import Utterance
from lorascope.core.perturbation.models import SHARPNESS, TOP_K, PerturbationConfig, resolve_perturbation
from lorascope.core.perturbation.phonemes import phonetic_distance
from lorascope.core.perturbation.phonetic_cache import load_index
from lorascope.core.perturbation.phonetic_index import Candidate, PhoneticIndex
from lorascope.core.data.text import normalize
from lorascope.core.data.tokens import all_capitals, render, word_of

MODES = ("1", "N")

#: A perturbation model as the functions here take it: a config, a spec (``"lexicon:max_distance=0"``), or None
#: for the default (``paper``).
Model = PerturbationConfig | str | None


@dataclass(frozen=True)
class Edit:
    """One replacement in one hypothesis.

    ``position`` is the index of the first replaced token among the whitespace tokens of the hypothesis
    *before* this perturbation; ``old`` is the replaced token(s) as written (two for a ``merge``) and ``new``
    what replaced them (two words for a ``split``). ``source`` is the model the replacement came from
    (``round trip``, ``mined``, ``lexicon``, or ``manual``).
    """

    hypothesis: int
    position: int
    old: str
    new: str
    kind: str
    distance: float
    source: str = "lexicon"


@dataclass(frozen=True)
class Perturbation:
    """A perturbed utterance and what was done to it.

    ``mode`` is ``"1"`` (perturb-1), ``"N"`` (perturb-N) or ``"manual"`` (:func:`apply_candidate`).
    ``unpronounceable`` counts tokens of the visited hypotheses left alone for want of a pronunciation.
    ``model`` is the perturbation model's ``to_dict()`` (None for a manual edit).
    """

    utterance: Utterance
    edits: tuple[Edit, ...]
    unpronounceable: int
    mode: str
    p: float
    seed: int | None
    model: dict | None = None

    @property
    def changed_hypotheses(self) -> tuple[int, ...]:
        """Indices of the hypotheses whose text changed, ascending."""
        return tuple(sorted({e.hypothesis for e in self.edits}))


def check_p(p: float) -> float:
    """``p`` as a float, or :class:`InputError` unless it lies in [0, 1]."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not (0.0 <= p <= 1.0):
        raise InputError("perturbation probability p", f"must be a number from 0 to 1, got {p!r}")
    return float(p)


def hypothesis_rng(seed: int, utterance_id: str, hypothesis: int) -> random.Random:
    """The random stream for one hypothesis: stable across runs, processes and machines."""
    digest = hashlib.blake2b(f"{seed}\x1f{utterance_id}\x1f{hypothesis}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def _perturb_text(text: str, hypothesis: int, index: PhoneticIndex, p: float, rng: random.Random,
                  model: PerturbationConfig) -> tuple[str, list[Edit], int]:
    tokens = text.split()
    capitals = all_capitals(text)
    limit = model.draw_limit()
    out: list[str] = []
    edits: list[Edit] = []
    unpronounceable = 0
    i = 0
    while i < len(tokens):
        options = model.candidates(index, tokens, i, limit)
        if options is None:
            unpronounceable += 1
        elif options and rng.random() < p:
            cand = rng.choices(options, weights=[model.weight(c) for c in options])[0]
            new = render(tokens, i, cand, capitals)
            old = " ".join(tokens[i:i + cand.span])
            edits.append(Edit(hypothesis, i, old, new, cand.kind, cand.distance, cand.source))
            out.append(new)
            i += cand.span
            continue
        out.append(tokens[i])
        i += 1
    return " ".join(out), edits, unpronounceable


def _perturb(utt: Utterance, targets: Iterable[int], mode: str, p: float, seed: int,
             index: PhoneticIndex | None, model: Model) -> Perturbation:
    p = check_p(p)
    model = resolve_perturbation(model)
    index = index or load_index()
    hyps = list(utt.hypotheses)
    edits: list[Edit] = []
    unpronounceable = 0
    for j in targets:
        rng = hypothesis_rng(seed, utt.id, j)
        text, found, missing = _perturb_text(hyps[j].text, j, index, p, rng, model)
        unpronounceable += missing
        if found:
            hyps[j] = replace(hyps[j], text=text)
            edits.extend(found)
    return Perturbation(replace(utt, hypotheses=tuple(hyps)), tuple(edits), unpronounceable, mode, p, seed,
                        model.to_dict())


def perturb_one(utt: Utterance, p: float = 0.5, seed: int = 0, *, model: Model = None,
                index: PhoneticIndex | None = None) -> Perturbation:
    """perturb-1: perturb only the first pass's worst hypothesis (:meth:`.nbest.Utterance.worst_index`).

    Each token with a candidate under ``model`` (default ``paper``) is replaced with probability ``p`` by one
    of them, drawn as the model weighs them.
    """
    targets = [utt.worst_index()] if utt.hypotheses else []
    return _perturb(utt, targets, "1", p, seed, index, model)


def perturb_all(utt: Utterance, p: float = 0.5, seed: int = 0, *, model: Model = None,
                index: PhoneticIndex | None = None) -> Perturbation:
    """perturb-N: perturb every hypothesis, each with its own random stream (arguments as :func:`perturb_one`)."""
    return _perturb(utt, range(len(utt.hypotheses)), "N", p, seed, index, model)


def perturb_utterances(utterances: Sequence[Utterance], mode: str = "N", p: float = 0.5, seed: int = 0, *,
                       model: Model = None, index: PhoneticIndex | None = None) -> list[Perturbation]:
    """perturb-1 (``mode="1"``) or perturb-N (``mode="N"``) applied to every utterance."""
    if mode not in MODES:
        raise InputError("perturbation mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
    check_p(p)
    model = resolve_perturbation(model)
    index = index or load_index()
    fn = perturb_one if mode == "1" else perturb_all
    return [fn(u, p, seed, model=model, index=index) for u in utterances]


def _locate(utt: Utterance, hypothesis: int, position: int) -> list[str]:
    if not 0 <= hypothesis < len(utt.hypotheses):
        raise InputError(f"utterance {utt.id}", f"has no hypothesis {hypothesis}")
    tokens = utt.hypotheses[hypothesis].text.split()
    if not 0 <= position < len(tokens):
        raise InputError(f"utterance {utt.id}", f"hypothesis {hypothesis} has no word at position {position}")
    return tokens


def token_candidates(utt: Utterance, hypothesis: int, position: int, *, model: Model = None,
                     index: PhoneticIndex | None = None, limit: int | None = None) -> tuple[Candidate, ...]:
    """The model's candidates for one token of one hypothesis (merges with the next token included), best first.

    Each carries its ``source`` (and ``count`` for ``mined``) for labelling (:attr:`.Candidate.label`).
    """
    tokens = _locate(utt, hypothesis, position)
    return resolve_perturbation(model).candidates(index or load_index(), tokens, position, limit) or ()


def apply_candidate(utt: Utterance, hypothesis: int, position: int, candidate: Candidate | str, *,
                    index: PhoneticIndex | None = None) -> Perturbation:
    """Replace the token at ``position`` of hypothesis ``hypothesis`` by ``candidate``, by hand.

    ``candidate`` is a :class:`Candidate` (one from :func:`token_candidates`, whatever its model; a ``merge``
    also replaces the next token) or a plain string, which replaces one token and is recorded as kind and
    source ``"manual"`` with the phonetic distance between the two words (NaN when either has no
    pronunciation). No model is involved: a candidate carries its own source.
    """
    tokens = _locate(utt, hypothesis, position)
    if isinstance(candidate, str):
        text = candidate.strip()
        if not text:
            raise InputError(f"utterance {utt.id}", "a replacement must not be empty")
        index = index or load_index()
        old_word, new_word = word_of(tokens[position]), word_of(text)
        old_p = index.pronunciations(old_word) if old_word else ()
        new_p = index.pronunciations(new_word) if new_word else ()
        dist = min((phonetic_distance(a, b) for a in old_p for b in new_p), default=math.nan)
        candidate = Candidate(normalize(text) or text, "manual", dist if math.isnan(dist) else round(dist, 4),
                              source="manual")
    if candidate.span == 2 and position + 1 >= len(tokens):
        raise InputError(f"utterance {utt.id}", f"a merge at position {position} needs a following word")
    new = render(tokens, position, candidate, all_capitals(" ".join(tokens)))
    old = " ".join(tokens[position:position + candidate.span])
    tokens[position:position + candidate.span] = [new]
    hyps = list(utt.hypotheses)
    hyps[hypothesis] = replace(hyps[hypothesis], text=" ".join(tokens))
    edit = Edit(hypothesis, position, old, new, candidate.kind, candidate.distance, candidate.source)
    return Perturbation(replace(utt, hypotheses=tuple(hyps)), (edit,), 0, "manual", 1.0, None)


__all__ = ["MODES", "SHARPNESS", "TOP_K", "Edit", "Model", "Perturbation", "apply_candidate", "check_p",
           "hypothesis_rng", "perturb_all", "perturb_one", "perturb_utterances", "token_candidates"]

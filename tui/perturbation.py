"""What the perturb bar sets (off / perturb-1 / perturb-N, p, seed), hand-made word swaps, and applying both.

The perturbation itself is core's (:mod:`lorascope.core.perturb`): perturb-1 changes the first pass's worst
hypothesis (the last in list order), perturb-N every hypothesis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lorascope.core.nbest import Utterance

PERTURB_MODES = ("off", "1", "N")
MODE_NAMES = {"off": "off", "1": "perturb-1", "N": "perturb-N"}


@dataclass(frozen=True)
class PerturbSettings:
    mode: str = "off"   # "off", "1" (perturb-1) or "N" (perturb-N)
    p: float = 0.5
    seed: int = 0
    model: str = "lexicon"   # the perturbation model spec (core/perturbation_models.py)

    def describe(self) -> str:
        if self.mode == "off":
            return "off"
        return f"{MODE_NAMES[self.mode]} p {self.p:.2f} seed {self.seed}"


@dataclass(frozen=True)
class ManualEdit:
    """A sound-alike candidate applied by hand to word ``position`` of hypothesis ``hypothesis``."""

    hypothesis: int
    position: int
    candidate: Any  # lorascope.core.phonetics.Candidate


@dataclass(frozen=True)
class Perturbed:
    """The utterance as shown: after the automatic perturbation and the manual edits on top."""

    utterance: Utterance
    edits: tuple[Any, ...]  # lorascope.core.perturb.Edit

    @property
    def changed(self) -> bool:
        return bool(self.edits)


def perturb_key(utt_id: str, settings: PerturbSettings, manual: Sequence[ManualEdit]) -> tuple | None:
    """What the shown version of an utterance depends on; None when it is shown unperturbed."""
    if settings.mode == "off" and not manual:
        return None
    return (utt_id, settings, tuple(manual))


def perturb_utterance(utt: Utterance, settings: PerturbSettings, manual: Sequence[ManualEdit],
                      index: Any) -> Perturbed:
    """Apply ``settings`` (perturb-1 or perturb-N with p and seed), then the manual edits in order."""
    if settings.mode == "off" and not manual:
        return Perturbed(utt, ())
    from lorascope.core.perturb import apply_candidate, perturb_all, perturb_one

    edits: list[Any] = []
    current = utt
    if settings.mode != "off":
        fn = perturb_one if settings.mode == "1" else perturb_all
        result = fn(utt, settings.p, settings.seed, model=settings.model, index=index)
        current, edits = result.utterance, list(result.edits)
    for m in manual:
        result = apply_candidate(current, m.hypothesis, m.position, m.candidate, index=index)
        current = result.utterance
        edits.extend(result.edits)
    return Perturbed(current, tuple(edits))


def index_loader():
    """The phonetic index (built into the user cache on first use)."""
    from lorascope.core.phonetics import load_index

    return load_index()

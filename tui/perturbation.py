"""What the perturb bar sets (perturbation model, off / perturb-1 / perturb-N, p, seed), hand-made word swaps,
the mined models the inspector holds, and applying them.

The perturbation itself is core's (:mod:`lorascope.core.perturbation.perturb`): perturb-1 changes the first pass's worst
hypothesis (the last in list order), perturb-N every hypothesis; where the sound-alikes come from is the
perturbation model (:mod:`lorascope.core.perturbation.models`): ``paper`` (the default, as on the command line),
``mined`` (the recogniser's confusions in the current run's training set) or ``lexicon``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lorascope.core.data.nbest import Utterance
from lorascope.core.names import DEFAULT_PERTURBATION, PERTURBATION_NAMES

PERTURB_MODES = ("off", "1", "N")
MODE_NAMES = {"off": "off", "1": "perturb-1", "N": "perturb-N"}
#: The perturbation models and the default, from the torch-free names module, so that drawing the bar imports no
#: phonetics.
MODELS = PERTURBATION_NAMES
DEFAULT_MODEL = DEFAULT_PERTURBATION


def model_name(spec: str) -> str:
    """``mined:dataset=sample-train`` -> ``mined``."""
    return spec.partition(":")[0].strip()


@dataclass(frozen=True)
class PerturbSettings:
    mode: str = "off"   # "off", "1" (perturb-1) or "N" (perturb-N)
    p: float = 0.5
    seed: int = 0
    model: str = DEFAULT_MODEL   # the perturbation model's spec: paper, lexicon, mined:dataset=NAME

    def describe(self) -> str:
        if self.mode == "off":
            return "off"
        return f"{MODE_NAMES[self.mode]} p {self.p:.2f} seed {self.seed}"


class MinedModels:
    """The mined models the inspector has made, one per data set mined (confusions attached), by spec.

    ``config(spec)`` is what core's functions take for a spec: the mined config with its confusions, or the spec
    itself for the models that need nothing loaded (core parses it).
    """

    def __init__(self) -> None:
        self._by_dataset: dict[str, Any] = {}

    def add(self, config: Any) -> str:
        """Keep a mined config (``core.perturbation_models.MinedConfig`` with confusions); returns its spec."""
        self._by_dataset[config.dataset] = config
        return config.spec()

    def of(self, dataset: str) -> Any | None:
        return self._by_dataset.get(dataset)

    def config(self, spec: str) -> Any:
        for config in self._by_dataset.values():
            if config.spec() == spec:
                return config
        return spec


@dataclass(frozen=True)
class ManualEdit:
    """A sound-alike candidate applied by hand to word ``position`` of hypothesis ``hypothesis``."""

    hypothesis: int
    position: int
    candidate: Any  # lorascope.core.perturbation.phonetics.Candidate


@dataclass(frozen=True)
class Perturbed:
    """The utterance as shown: after the automatic perturbation and the manual edits on top."""

    utterance: Utterance
    edits: tuple[Any, ...]  # lorascope.core.perturbation.perturb.Edit
    #: when the automatic perturbation changed nothing: how many words of the hypotheses it may change have a
    #: sound-alike under the model (0: the model knows none here; more: the seed's draw left them all)
    eligible: int | None = None

    @property
    def changed(self) -> bool:
        return bool(self.edits)


def perturb_key(utt_id: str, settings: PerturbSettings, manual: Sequence[ManualEdit]) -> tuple | None:
    """What the shown version of an utterance depends on; None when it is shown unperturbed."""
    if settings.mode == "off" and not manual:
        return None
    return (utt_id, settings, tuple(manual))


def perturb_utterance(utt: Utterance, settings: PerturbSettings, manual: Sequence[ManualEdit],
                      index: Any, model: Any = None) -> Perturbed:
    """Apply ``settings`` (perturb-1 or perturb-N with p and seed, drawn from ``model``: the settings' model as
    :meth:`MinedModels.config` gives it; default the spec itself), then the manual edits in order."""
    if settings.mode == "off" and not manual:
        return Perturbed(utt, ())
    from lorascope.core.perturbation.perturb import perturb_all, perturb_one

    edits: list[Any] = []
    current = utt
    if settings.mode != "off":
        fn = perturb_one if settings.mode == "1" else perturb_all
        result = fn(utt, settings.p, settings.seed, model=model or settings.model, index=index)
        current, edits = result.utterance, list(result.edits)
        if not edits:
            return _with_manual(Perturbed(utt, (), eligible_words(utt, settings.mode, model or settings.model,
                                                                  index)), manual, index)
    return _with_manual(Perturbed(current, tuple(edits)), manual, index)


def _with_manual(shown: Perturbed, manual: Sequence[ManualEdit], index: Any) -> Perturbed:
    if not manual:
        return shown
    from lorascope.core.perturbation.perturb import apply_candidate

    current, edits = shown.utterance, list(shown.edits)
    for m in manual:
        result = apply_candidate(current, m.hypothesis, m.position, m.candidate, index=index)
        current = result.utterance
        edits.extend(result.edits)
    return Perturbed(current, tuple(edits), shown.eligible)


def eligible_words(utt: Utterance, mode: str, model: Any, index: Any) -> int:
    """Words of the hypotheses ``mode`` perturbs (perturb-1: the worst; perturb-N: all) that have at least one
    sound-alike under ``model``: why a perturbation changed nothing."""
    from lorascope.core.perturbation.models import resolve_perturbation

    config = resolve_perturbation(model)
    targets = [utt.worst_index()] if mode == "1" else range(len(utt.hypotheses))
    count = 0
    for j in targets:
        tokens = utt.hypotheses[j].text.split()
        count += sum(1 for i in range(len(tokens)) if config.candidates(index, tokens, i, config.draw_limit()))
    return count


def index_loader():
    """The phonetic index (built into the user cache on first use)."""
    from lorascope.core.perturbation.phonetics import load_index

    return load_index()

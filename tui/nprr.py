"""A data set's NPRR for the adapter, λ and perturbation the inspector shows: core's robustness evaluation with the
app's cached LM scores, returned as a plain dataclass (ready for ``Store.add_robustness``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lorascope.core.combine import Combination
from lorascope.core.nbest import Utterance

from .adapters import Scorer
from .perturbation import PerturbSettings


@dataclass(frozen=True)
class DatasetRobustness:
    """The data set's WER, oracle WER, ΔWER and NPRR for one adapter, λ and perturbation setting."""

    dataset: str
    adapter_key: str
    lam: float
    settings: PerturbSettings
    modes: tuple[str, ...]
    report: Any                 # lorascope.core.robustness.RobustnessReport
    new_scores: dict[str, float]

    def matches(self, adapter_key: str, lam: float, settings: PerturbSettings) -> bool:
        """Computed with this adapter, λ, p, seed and mode (perturbation off: both modes)."""
        if self.adapter_key != adapter_key or abs(self.lam - lam) > 1e-12:
            return False
        if (self.settings.p, self.settings.seed) != (settings.p, settings.seed):
            return False
        return settings.mode in self.modes if settings.mode != "off" else len(self.modes) == 2


def dataset_robustness(dataset: str, utterances: Sequence[Utterance], scorer: Scorer, known: dict[str, float],
                       lam: float, settings: PerturbSettings, index: Any, *, base: Combination | None = None,
                       on_progress: Callable[[int, int], None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> DatasetRobustness:
    """Run core's robustness evaluation with cached LM scores; perturbation off means both perturb-1 and perturb-N."""
    from lorascope.core.combine import combined_scores
    from lorascope.core.robustness import evaluate_robustness

    combination = (base or scorer.tuned_combination).with_lam(lam)
    modes = ("1", "N") if settings.mode == "off" else (settings.mode,)
    scores = dict(known)
    new: dict[str, float] = {}
    hyps = sum(len(u.hypotheses) for u in utterances)
    total = hyps * (1 + len(modes))
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if on_progress:
            on_progress(min(done, total), total)

    def rescore(lists: list[Utterance]) -> list[list[float]]:
        texts = [t for u in lists for t in u.texts]
        missing = list(dict.fromkeys(t for t in texts if t not in scores))
        advance(len(texts) - len(missing))
        got = scorer.score(missing, on_chunk=advance, should_stop=should_stop)
        fresh = dict(zip(missing, got))
        scores.update(fresh)
        new.update(fresh)
        return combined_scores(lists, [[scores[t] for t in u.texts] for u in lists], combination)

    report = evaluate_robustness(list(utterances), rescore, modes=modes, p=settings.p, seeds=(settings.seed,),
                                 model=settings.model, index=index)
    return DatasetRobustness(dataset, scorer.choice.key, lam, settings, modes, report, new)

"""A data set's NPRR for the adapter, λ and perturbation the inspector shows: core's robustness evaluation with the
app's cached LM scores, one page of lists at a time, merged into one report (ready for ``Store.add_robustness``).

Every part of core's evaluation is per list (the perturbation draws from a stream per hypothesis, the choice is
each list's best combined score), except the corpus WERs; those are sums of word errors over sums of reference
words, so core's :func:`~lorascope.core.perturbation.robustness.merge_page_reports` joins the pages' reports into
figures equal to what core computes on the whole set at once (tests/test_tui_nprr.py checks it). Only one page of
lists is held at a time, with the per-utterance rank changes the store keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lorascope.core.combination.tune import Combination
from lorascope.core.data.nbest import Utterance

from .adapters import Cancelled, Scorer
from .perturbation import PerturbSettings


@dataclass(frozen=True)
class DatasetRobustness:
    """The data set's WER, oracle WER, ΔWER and NPRR for one adapter, λ and perturbation setting.

    ``metric_ids`` are the store's rows for it under run ``run_id`` (empty when not stored: ``not_stored`` says
    why).
    """

    dataset: str
    adapter_key: str
    run_id: int | None
    lam: float
    settings: PerturbSettings
    modes: tuple[str, ...]
    report: Any                 # lorascope.core.perturbation.robustness.RobustnessReport
    new_scores: dict[str, float]
    metric_ids: tuple[int, ...] = ()
    not_stored: str = ""
    combination: Any = None     # the core Combination whose choices were scored (stored with every row)

    def matches(self, adapter_key: str, lam: float, settings: PerturbSettings) -> bool:
        """Computed with this adapter, λ, model, p, seed and mode (perturbation off: both modes)."""
        if self.adapter_key != adapter_key or abs(self.lam - lam) > 1e-12:
            return False
        if (self.settings.p, self.settings.seed, self.settings.model) != (settings.p, settings.seed, settings.model):
            return False
        return settings.mode in self.modes if settings.mode != "off" else len(self.modes) == 2


def dataset_robustness(dataset: str, pages: Iterable[Sequence[Utterance]], hypotheses: int, scorer: Scorer,
                       known: dict[str, float], lam: float, settings: PerturbSettings, index: Any, *,
                       model: Any = None, base: Combination | None = None,
                       on_progress: Callable[[int, int], None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> DatasetRobustness:
    """Run core's robustness evaluation page by page with cached LM scores (``hypotheses``: the set's count, for
    progress); perturbation off means both perturb-1 and perturb-N. ``model`` is the settings' model ready to use
    (a mined config with its confusions; default the spec)."""
    from lorascope.core.combination.tune import combined_scores
    from lorascope.core.data.metrics import reference_length
    from lorascope.core.perturbation.models import resolve_perturbation
    from lorascope.core.perturbation.robustness import evaluate_robustness, merge_page_reports

    combination = (base or scorer.tuned_combination).with_lam(lam)
    modes = ("1", "N") if settings.mode == "off" else (settings.mode,)
    config = resolve_perturbation(model or settings.model)
    scores = dict(known)
    new: dict[str, float] = {}
    total = hypotheses * (1 + len(modes))
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

    parts = []
    for page in pages:
        if should_stop is not None and should_stop():
            raise Cancelled()
        report = evaluate_robustness(list(page), rescore, modes=modes, p=settings.p, seeds=(settings.seed,),
                                     model=config, index=index)
        # the page's perturbed lists go with the page
        report = replace(report, runs=tuple(replace(r, perturbations=()) for r in report.runs))
        parts.append((report, sum(reference_length(u.reference or "") for u in page)))
    if not parts:
        from lorascope.core.errors import InputError

        raise InputError(f"data set {dataset}", "has no utterances to evaluate")
    return DatasetRobustness(dataset, scorer.choice.key, scorer.choice.run_id, lam, settings, modes,
                             merge_page_reports(parts), new, combination=combination)

"""A data set's NPRR for the adapter, λ and perturbation the inspector shows: core's robustness evaluation with the
app's cached LM scores, one page of lists at a time, merged into one report (ready for ``Store.add_robustness``).

Every part of core's evaluation is per list (the perturbation draws from a stream per hypothesis, the choice is
each list's best combined score), except the corpus WERs; those are sums of word errors over sums of reference
words, so a page's WER times its reference words gives back its errors exactly (whole numbers), and the merged
figures equal what core computes on the whole set at once (tests/test_tui_nprr.py checks it). Only one page of
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


def _errors(wer: float, words: int) -> int:
    """A page's word errors from its corpus WER (errors / words): exact, since errors are whole numbers."""
    return round(wer * words) if words else 0


def merge_reports(parts: Sequence[tuple[Any, int]]) -> Any:
    """One RobustnessReport from the reports of consecutive pages of a data set, each with its reference words.

    The per-utterance results are joined; WER and oracle WER are total errors over total words; ΔWER and NPRR
    follow from them as in core. The perturbed lists themselves are not kept (nothing downstream reads them).
    One seed per mode, as the inspector runs it.
    """
    from lorascope.core.data.metrics import corpus_wer, delta_wer, nprr
    from lorascope.core.perturbation.robustness import ConditionResult, ModeSummary

    first = parts[0][0]
    if len(first.seeds) != 1:
        raise ValueError("merge_reports takes reports of one seed")
    words = [w for _, w in parts]

    def figures(pick: Callable[[Any], ConditionResult]) -> tuple[float, float]:
        runs = [pick(r) for r, _ in parts]
        return (corpus_wer([_errors(c.wer, w) for c, w in zip(runs, words)], words),
                corpus_wer([_errors(c.oracle_wer, w) for c, w in zip(runs, words)], words))

    wer, oracle = figures(lambda r: r.clean)
    clean_delta = delta_wer(wer, oracle)
    clean = ConditionResult("clean", None, wer, oracle, clean_delta, None,
                            tuple(c for r, _ in parts for c in r.clean.choices))
    runs, summaries = [], []
    for k, mode in enumerate(first.modes):
        wer, oracle = figures(lambda r: r.runs[k])
        delta = delta_wer(wer, oracle)
        run = ConditionResult(first.runs[k].condition, first.runs[k].seed, wer, oracle, delta, nprr(clean_delta, delta),
                              tuple(c for r, _ in parts for c in r.runs[k].choices),
                              tuple(u for r, _ in parts for u in r.runs[k].utterances))
        runs.append(run)
        summaries.append(ModeSummary(mode=mode, condition=run.condition, seeds=first.seeds, wer_mean=run.wer,
                                     oracle_wer_mean=run.oracle_wer, delta_wer_mean=run.delta_wer,
                                     nprr_mean=run.nprr, nprr_std=0.0, flip_rate_mean=run.flip_rate))
    return replace(first, clean=clean, runs=tuple(runs), summaries=tuple(summaries))


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
    from lorascope.core.perturbation.robustness import evaluate_robustness

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
                             merge_reports(parts), new, combination=combination)

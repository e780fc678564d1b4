"""A combination for the open data set when the adapter's own does not fit it (the inspector's T and K keys).

The adapter's combination was tuned on another set; where this set lacks a feature it weighs, the inspector
offers what ``lorascope eval`` offers: tune on a fixed-seed fraction of this set's utterances (the figures of
the other utterances are the honest ones), or cross-fit (each utterance shown with the combination tuned on
the other folds). No Textual here: the screen runs :func:`tune_here` in a worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lorascope.core.combination.model import Combination, available_features
from lorascope.core.combination.crossfit import cross_fit, missing_feature, split_by_utterance
from lorascope.core.combination.tune import tune_combination
from lorascope.core.data.nbest import Utterance

FRACTION = 0.3      # T: tune on this share of the set
FOLDS = 5           # K: cross-fit folds
SEED = 0            # the split's and folds' seed (as `lorascope eval`)


@dataclass(frozen=True)
class TunedHere:
    """A combination tuned on (part of) the open data set, for one adapter."""

    dataset: str
    adapter_key: str
    label: str                                  # how it was made, shown in the notice
    combination: Combination                    # for utterances without their own
    per_utterance: dict[str, Combination] = field(default_factory=dict)   # cross-fit: the out-of-fold one
    tuned_ids: frozenset[str] = frozenset()     # fraction: the utterances it was tuned on (in-sample there)

    def for_utterance(self, utt_id: str) -> Combination:
        return self.per_utterance.get(utt_id, self.combination)


def incompatibility(dataset: str, run_label: str, combination: Combination, utt: Utterance) -> str | None:
    """The notice for an utterance that lacks a feature ``combination`` weighs (None when it has them all)."""
    missing = missing_feature(combination, [utt])
    if missing is None:
        return None
    return (f"{dataset} has no {missing} values, which {run_label}'s combination weighs "
            f"({combination.describe()}); T: tune on {FRACTION:g} of this set, K: cross-fit {FOLDS} folds")


def tune_here(dataset: str, adapter_key: str, utts: Sequence[Utterance], lm: Sequence[Sequence[float]],
              mode: str) -> TunedHere:
    """``mode`` "fraction" or "cross-fit" on the whole set's lists and LM scores (module docstring)."""
    utts = [u for u in utts if u.reference is not None]
    lm_by_id = dict(zip((u.id for u in utts), lm))
    features = available_features(utts)
    if mode == "fraction":
        part, rest = split_by_utterance(utts, FRACTION, SEED)
        tuned = [utts[i] for i in part]
        search = tune_combination(tuned, [lm_by_id[u.id] for u in tuned], features=features)
        label = (f"combination tuned on {len(tuned)} of {len(utts)} utterances of {dataset} ({FRACTION:g}, seed "
                 f"{SEED}): {search.combination.describe()}; the other {len(rest)} are held out")
        return TunedHere(dataset, adapter_key, label, search.combination, tuned_ids=frozenset(u.id for u in tuned))
    k = min(FOLDS, len(utts))
    fit = cross_fit(utts, [lm_by_id[u.id] for u in utts], k, features=features, seed=SEED)
    whole = tune_combination(utts, [lm_by_id[u.id] for u in utts], features=features).combination
    label = (f"out-of-fold: each utterance of {dataset} shown with the combination tuned on the other {k - 1} of "
             f"{k} folds (seed {SEED}); out-of-fold WER {100 * fit.wer:.2f}%" if fit.wer is not None else "")
    return TunedHere(dataset, adapter_key, label, whole,
                     per_utterance={u.id: fit.combination_of(i) for i, u in enumerate(utts)})

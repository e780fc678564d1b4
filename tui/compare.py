"""Adapter B beside adapter A in the inspector, without Textual: each hypothesis's rank under B, and the lists of a
data set where the two choose differently (core.compare on every list, LM scores cached per adapter)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from lorascope.core.combination.tune import Combination, best_index, new_ranks
from lorascope.core.analysis.compare import RIGHT_MEANS, Disagreement, disagreements
from lorascope.core.data.metrics import hypothesis_errors
from lorascope.core.data.nbest import Utterance

from .adapters import AdapterChoice, Cancelled, Scorer


def ranks_under(utt: Utterance, scores: dict[str, float], combination: Combination) -> list[int] | None:
    """Each hypothesis's rank (0 = chosen) under ``combination`` with the LM scores known in ``scores``; None
    while any is missing."""
    lm = [scores.get(t) for t in utt.texts]
    if any(s is None for s in lm):
        return None
    return new_ranks(combination.scores(utt, lm))  # type: ignore[arg-type]


@dataclass(frozen=True)
class SecondAdapter:
    """Adapter B as the inspector holds it: the choice, its scorer once loaded, and its combination."""

    choice: AdapterChoice
    scorer: Scorer | None = None

    @property
    def combination(self) -> Combination | None:
        """B's tuned combination at its own tuned λ (the store's, else its adapter folder's once loaded)."""
        if self.scorer is not None:
            return self.scorer.tuned_combination
        return self.choice.stored_combination()


@dataclass(frozen=True)
class SetDisagreements:
    """The lists of ``dataset`` where A (``key_a`` at ``combination_a``) and B choose differently, in list order
    (``rows``), and how many lists were compared."""

    dataset: str
    key_a: str
    key_b: str
    combination_a: Combination
    combination_b: Combination
    lists: int
    rows: tuple[Disagreement, ...]
    new_scores: dict[str, dict[str, float]]        # adapter key -> LM scores computed here (for the cache)
    right_means: str = RIGHT_MEANS


def find_disagreements(dataset: str, pages: Iterable[Sequence[Utterance]],
                       sides: Sequence[tuple[Scorer, dict[str, float], Combination]], *,
                       on_progress: Callable[[int], None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> SetDisagreements:
    """Score every list with A and B (``sides``: each one's scorer, known LM scores and combination; only texts
    not known are scored) and keep the lists where their choices differ, with both choices' word errors where
    the lists have references."""
    (scorer_a, known_a, comb_a), (scorer_b, known_b, comb_b) = sides
    new: dict[str, dict[str, float]] = {scorer_a.choice.key: {}, scorer_b.choice.key: {}}
    known = {scorer_a.choice.key: dict(known_a), scorer_b.choice.key: dict(known_b)}
    found: list[Disagreement] = []
    done = 0
    for page in pages:
        if should_stop is not None and should_stop():
            raise Cancelled()
        choices = []
        for scorer, comb in ((scorer_a, comb_a), (scorer_b, comb_b)):
            scores = known[scorer.choice.key]
            missing = list(dict.fromkeys(t for u in page for t in u.texts if t not in scores))
            if missing:
                got = dict(zip(missing, scorer.score(missing, should_stop=should_stop)))
                scores.update(got)
                new[scorer.choice.key].update(got)
            choices.append([best_index(comb.scores(u, [scores[t] for t in u.texts])) for u in page])
        if all(u.reference is not None for u in page):
            errors = hypothesis_errors(page)
        else:   # no references: the choices still differ, their errors are unknown (-1)
            errors = [[-1] * len(u.hypotheses) for u in page]
        rows = disagreements(errors, choices[0], choices[1], [u.id for u in page], [u.texts for u in page], top=None)
        found.extend(Disagreement(done + d.position, d.utterance_id, d.choice_a, d.choice_b, d.errors_a, d.errors_b,
                                  d.oracle_errors, d.text_a, d.text_b) for d in rows)
        done += len(page)
        if on_progress is not None:
            on_progress(done)
    found.sort(key=lambda d: d.position)
    return SetDisagreements(dataset, scorer_a.choice.key, scorer_b.choice.key, comb_a, comb_b, done, tuple(found),
                            new)

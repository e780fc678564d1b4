"""The N-best data model: an utterance with its hypotheses in first-pass order, and what "first pass" means."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from collections.abc import Iterable, Iterator
from typing import Any

from lorascope.core.errors import InputError


@dataclass(frozen=True)
class Hypothesis:
    """One first-pass hypothesis.

    ``score`` is the first-pass score the recogniser ranked by, higher is better (a log-probability);
    ``None`` when the list carries rank order only. ``extra`` keeps further per-hypothesis values
    (for example Whisper's total log-probability) without interpreting them.
    """

    text: str
    score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Utterance:
    """An utterance: its id, optional reference transcript and hypotheses in first-pass order (best first)."""

    id: str
    hypotheses: tuple[Hypothesis, ...]
    reference: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.hypotheses, tuple):
            object.__setattr__(self, "hypotheses", tuple(self.hypotheses))

    @property
    def has_scores(self) -> bool:
        """True when every hypothesis carries a first-pass score."""
        return bool(self.hypotheses) and all(h.score is not None for h in self.hypotheses)

    @property
    def texts(self) -> list[str]:
        return [h.text for h in self.hypotheses]

    @property
    def first_pass_index(self) -> int:
        """The first pass's choice: the first hypothesis in list order (see :data:`FIRST_PASS`)."""
        return 0

    def worst_index(self) -> int:
        """The first pass's worst hypothesis, perturb-1's target: the last in list order."""
        return len(self.hypotheses) - 1

    def rank_prior(self) -> list[float]:
        """``-rank`` (0, -1, -2, ...): the first-pass order as a score; its argmax is the first pass."""
        return [-float(i) for i in range(len(self.hypotheses))]

    def prior_scores(self) -> list[float]:
        """First-pass scores where the list has them, else :meth:`rank_prior`: the prior feature of training.

        A feature, not the first pass's decision: where the scores disagree with the list order, their argmax
        is not the first pass (:func:`order_disagreements`).
        """
        if self.has_scores:
            return [float(h.score) for h in self.hypotheses]  # type: ignore[arg-type]
        return self.rank_prior()

    @property
    def scores_disagree(self) -> bool:
        """True when the list carries scores and they are not in non-increasing list order."""
        if not self.has_scores:
            return False
        scores = [float(h.score) for h in self.hypotheses]  # type: ignore[arg-type]
        return any(b > a for a, b in zip(scores, scores[1:]))

    def sorted_by_score(self) -> "Utterance":
        """This utterance with its hypotheses sorted by first-pass score, best first (stable; rank-only: as is)."""
        if not self.has_scores:
            return self
        order = sorted(range(len(self.hypotheses)), key=lambda i: -float(self.hypotheses[i].score))  # type: ignore[arg-type]
        return Utterance(self.id, tuple(self.hypotheses[i] for i in order), self.reference, self.meta)


#: What "the first pass" means everywhere in lorascope: the recogniser's decision, i.e. each list's order as
#: given (the first hypothesis is the 1-best, the last is the worst). Every 1-best figure, the fallback of a
#: tuned combination, perturb-1's target and the inspector's first-pass column follow it. A file whose scores
#: rank the hypotheses differently can be imported with ``first_pass="score"``, which sorts each list by its
#: scores once, at import (:func:`apply_first_pass`); the choice is stored with the dataset.
FIRST_PASS = "order"
FIRST_PASS_CHOICES = ("order", "score")


@dataclass(frozen=True)
class OrderDisagreements:
    """How many scored lists have scores that disagree with their order."""

    lists: int          # lists with scores
    unsorted: int       # scores not in non-increasing list order
    top_differs: int    # the highest score is not on the first hypothesis (strictly higher elsewhere)


def order_disagreements(utterances: "Iterable[Utterance]") -> OrderDisagreements:
    """Count the lists whose first-pass scores disagree with the list order (see :data:`FIRST_PASS`)."""
    lists = unsorted = top = 0
    for u in utterances:
        if not u.has_scores:
            continue
        lists += 1
        if u.scores_disagree:
            unsorted += 1
            scores = [float(h.score) for h in u.hypotheses]  # type: ignore[arg-type]
            top += max(scores) > scores[0]
    return OrderDisagreements(lists, unsorted, top)


def apply_first_pass(utterances: "Iterable[Utterance]", first_pass: str = FIRST_PASS) -> "list[Utterance]":
    """The lists in the order that defines their first pass: as given (``"order"``) or sorted by score (``"score"``)."""
    if first_pass not in FIRST_PASS_CHOICES:
        raise InputError("first pass", f"must be one of {', '.join(FIRST_PASS_CHOICES)}, got {first_pass!r}")
    if first_pass == "order":
        return list(utterances)
    return [u.sorted_by_score() for u in utterances]


def is_finite_number(value: Any) -> bool:
    """True for an int or float (not bool) that is finite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def scores_state(utterances: list[Utterance]) -> str:
    """``"scored"``, ``"rank-only"`` or ``"mixed"``: whether the lists carry first-pass scores."""
    flags = {u.has_scores for u in utterances}
    if flags == {True}:
        return "scored"
    if flags == {False} or not flags:
        return "rank-only"
    return "mixed"


class OrderTally:
    """Running :func:`order_disagreements` of lists that stream past once (an import reads its file once)."""

    def __init__(self) -> None:
        self.lists = self.unsorted = self.top_differs = 0

    def add(self, u: Utterance) -> None:
        d = order_disagreements((u,))
        self.lists += d.lists
        self.unsorted += d.unsorted
        self.top_differs += d.top_differs

    def result(self) -> OrderDisagreements:
        return OrderDisagreements(self.lists, self.unsorted, self.top_differs)


def iter_first_pass(utterances: "Iterable[Utterance]", first_pass: str = FIRST_PASS,
                    tally: OrderTally | None = None) -> "Iterator[Utterance]":
    """:func:`apply_first_pass` one utterance at a time; ``tally`` counts disagreements of the order as given."""
    apply_first_pass((), first_pass)  # refuses an unknown choice now, not at the first utterance

    def stream() -> "Iterator[Utterance]":
        for u in utterances:
            if tally is not None:
                tally.add(u)
            yield u.sorted_by_score() if first_pass == "score" else u

    return stream()

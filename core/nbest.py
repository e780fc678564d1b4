"""The N-best data model: an utterance with its hypotheses in first-pass order."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


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

    def prior_scores(self) -> list[float]:
        """First-pass scores, or for rank-only lists a rank prior ``-rank`` (0, -1, -2, ...).

        The rank prior keeps the first-pass order as the tie-breaker the recogniser intended.
        """
        if self.has_scores:
            return [float(h.score) for h in self.hypotheses]  # type: ignore[arg-type]
        return [-float(i) for i in range(len(self.hypotheses))]

    def worst_index(self) -> int:
        """Index of the hypothesis with the lowest first-pass score (rank-only lists: the last)."""
        if self.has_scores:
            scores = self.prior_scores()
            return min(range(len(scores)), key=lambda i: (scores[i], -i))
        return len(self.hypotheses) - 1


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

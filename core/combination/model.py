"""The log-linear combination of first-pass evidence and the LM score: what it is and how it scores a list.

A :class:`Combination` scores hypothesis ``i`` of a list as ``Σ_k w_k · feature_k(i) + λ · LM(i)`` over the
features a list has (:data:`FEATURES`):

- ``rank``: ``-rank`` in list order (0, -1, -2, ...), the first pass itself (:data:`.nbest.FIRST_PASS`);
- ``score``: the first-pass score, where the lists carry one;
- ``words``: the number of (normalised) words, NeMo's β·length term;
- ``total_logprob``, ``ac_cost``, ``lm_cost``: further first-pass values a reader kept per hypothesis;
- ``prior``: the prior the rescorer was trained against (``score`` where present, else ``rank``).

The choice is the highest combined score, ties to the earlier hypothesis in list order.
:data:`FIRST_PASS_COMBINATION` (``rank`` alone, λ = 0) always chooses the first hypothesis: it is the first
pass, exactly, and every tuned combination falls back to it.

Its tuning on dev and evaluation on lists live in :mod:`.combine`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lorascope.core.errors import InputError
from lorascope.core.data.nbest import Utterance, is_finite_number
from lorascope.core.data.text import words

#: Per-hypothesis values a reader may keep in ``Hypothesis.extra`` that the combination can weigh.
EXTRA_FEATURES = ("total_logprob", "ac_cost", "lm_cost")
FEATURES = ("rank", "prior", "score", "words") + EXTRA_FEATURES
_ORDER = {name: i for i, name in enumerate(FEATURES)}

TUNED_FEATURES = ("score", "total_logprob", "ac_cost", "lm_cost", "words")


def feature_values(utt: Utterance, name: str) -> list[float] | None:
    """Feature ``name`` of every hypothesis of ``utt`` (None when the list does not have it)."""
    if name == "rank":
        return utt.rank_prior()
    if name == "prior":
        return utt.prior_scores()
    if name == "score":
        return [float(h.score) for h in utt.hypotheses] if utt.has_scores else None  # type: ignore[arg-type]
    if name == "words":
        return [float(len(words(h.text))) for h in utt.hypotheses]
    if name in EXTRA_FEATURES:
        values = [h.extra.get(name) for h in utt.hypotheses]
        if values and all(is_finite_number(v) for v in values):
            return [float(v) for v in values]  # type: ignore[arg-type]
        return None
    raise InputError("combination", f"unknown feature {name!r} (known: {', '.join(FEATURES)})")


def available_features(utterances: Sequence[Utterance]) -> tuple[str, ...]:
    """The tunable features (:data:`TUNED_FEATURES`) that every one of ``utterances`` has."""
    return tuple(name for name in TUNED_FEATURES
                 if utterances and all(feature_values(u, name) is not None for u in utterances))


@dataclass(frozen=True)
class Combination:
    """``Σ w_k · feature_k + λ · LM`` (module docstring). Build with :meth:`of`; zero weights are dropped."""

    weights: tuple[tuple[str, float], ...] = (("rank", 1.0),)
    lam: float = 0.0

    def __post_init__(self) -> None:
        items = dict(self.weights)
        for name, w in items.items():
            if name not in _ORDER:
                raise InputError("combination", f"unknown feature {name!r} (known: {', '.join(FEATURES)})")
            if not is_finite_number(w):
                raise InputError("combination", f"weight of {name} must be a finite number, got {w!r}")
        if not is_finite_number(self.lam):
            raise InputError("combination", f"λ must be a finite number, got {self.lam!r}")
        canonical = tuple((k, float(items[k])) for k in sorted(items, key=_ORDER.__getitem__) if items[k] != 0)
        object.__setattr__(self, "weights", canonical)
        object.__setattr__(self, "lam", float(self.lam))

    @classmethod
    def of(cls, weights: Mapping[str, float], lam: float = 0.0) -> "Combination":
        return cls(tuple(weights.items()), lam)

    def weight(self, name: str) -> float:
        return dict(self.weights).get(name, 0.0)

    @property
    def is_first_pass(self) -> bool:
        """True when the combination always chooses the first hypothesis: ``rank`` alone, λ = 0."""
        return self.lam == 0 and len(self.weights) == 1 and self.weights[0][0] == "rank" and self.weights[0][1] > 0

    @property
    def needs_lm(self) -> bool:
        return self.lam != 0

    def with_lam(self, lam: float) -> "Combination":
        return replace(self, lam=float(lam))

    def scores(self, utt: Utterance, lm: Sequence[float] | None = None) -> list[float]:
        """The combined score of every hypothesis of ``utt`` (``lm``: its LM scores, needed when λ ≠ 0)."""
        n = len(utt.hypotheses)
        total = [0.0] * n
        for name, w in self.weights:
            values = feature_values(utt, name)
            if values is None:
                raise InputError(f"utterance {utt.id}", f"has no {name} values, which the combination weighs "
                                                        f"({self.describe()})")
            total = [t + w * v for t, v in zip(total, values)]
        if self.lam != 0:
            if lm is None or len(lm) != n:
                raise ValueError(f"utterance {utt.id}: {n} hypotheses but "
                                 f"{'no' if lm is None else len(lm)} LM scores")
            total = [t + self.lam * float(s) for t, s in zip(total, lm)]
        return total

    def describe(self) -> str:
        """``1·rank + 0.31·score - 0.02·words + 0.056·LM``."""
        parts = [f"{w:.3g}·{name}" for name, w in self.weights]
        if self.lam != 0:
            parts.append(f"{self.lam:.4g}·LM")
        return " + ".join(parts).replace("+ -", "- ") or "0"

    def to_dict(self) -> dict[str, Any]:
        return {"weights": dict(self.weights), "lam": self.lam}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Combination":
        if not isinstance(data, Mapping) or not isinstance(data.get("weights"), Mapping):
            raise InputError("combination", f"expected {{'weights': {{...}}, 'lam': x}}, got {data!r}")
        return cls.of(data["weights"], data.get("lam", 0.0))


#: The first pass as a combination: the list order, no LM.
FIRST_PASS_COMBINATION = Combination()


def training_combination(prior_weight: float) -> Combination:
    """The combination a rescorer trains with: ``prior_weight · prior + LM`` (as ``prior + LM / prior_weight``)."""
    return Combination.of({"prior": 1.0}, 1.0 / prior_weight)


def combined_scores(utterances: Sequence[Utterance], lm_scores: Sequence[Sequence[float]] | None,
                    combination: Combination) -> list[list[float]]:
    """``combination``'s score for every hypothesis of every utterance."""
    if lm_scores is not None and len(utterances) != len(lm_scores):
        raise ValueError(f"{len(utterances)} utterances but {len(lm_scores)} score lists")
    return [combination.scores(u, None if lm_scores is None else lm_scores[k]) for k, u in enumerate(utterances)]


def best_index(scores: Sequence[float]) -> int:
    """Index of the highest score; ties go to the earlier (first-pass better) hypothesis."""
    return min(range(len(scores)), key=lambda i: (-scores[i], i))


def new_ranks(scores: Sequence[float]) -> list[int]:
    """Rank of each hypothesis under ``scores`` (0 = chosen), ties broken by first-pass order."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    ranks = [0] * len(scores)
    for rank, i in enumerate(order):
        ranks[i] = rank
    return ranks

"""Score combination ``prior + λ·LM``, new ranks, the λ line search on dev, and evaluation from given scores.

``prior`` is :meth:`Utterance.prior_scores` (first-pass scores, or ``-rank`` for rank-only lists). The λ grid
always holds 0, where the combination is the first pass itself; the search keeps the smallest λ among the
best, so a tuned rescorer is never worse than the first pass on the set it was tuned on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .metrics import corpus_wer, hypothesis_errors, reference_lengths
from .nbest import Utterance

# Multiples of the training-time λ (1 / prior weight); 0 is added in front.
LAMBDA_MULTIPLES = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0,
                    2.5, 3.0, 4.0, 5.0, 7.0, 10.0, 20.0)


def combined_scores(utterances: Sequence[Utterance], lm_scores: Sequence[Sequence[float]],
                    lam: float) -> list[list[float]]:
    """``prior + lam * lm`` for every hypothesis of every utterance."""
    if len(utterances) != len(lm_scores):
        raise ValueError(f"{len(utterances)} utterances but {len(lm_scores)} score lists")
    out = []
    for u, lm in zip(utterances, lm_scores):
        prior = u.prior_scores()
        if len(prior) != len(lm):
            raise ValueError(f"utterance {u.id}: {len(prior)} hypotheses but {len(lm)} LM scores")
        out.append([p + lam * s for p, s in zip(prior, lm)])
    return out


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


def lambda_grid(scale: float = 1.0) -> list[float]:
    """0 followed by :data:`LAMBDA_MULTIPLES` times ``scale`` (the λ the model was trained at)."""
    return [0.0] + [scale * m for m in LAMBDA_MULTIPLES]


@dataclass(frozen=True)
class LambdaSearch:
    """Dev WER at every λ of the grid and the λ chosen (the smallest among the lowest WERs)."""

    grid: tuple[float, ...]
    wers: tuple[float, ...]
    lam: float
    wer: float
    first_pass_wer: float  # WER at λ = 0


def search_lambda(utterances: Sequence[Utterance], lm_scores: Sequence[Sequence[float]],
                  grid: Sequence[float], *, error_table: Sequence[Sequence[int]] | None = None,
                  ref_lengths: Sequence[int] | None = None) -> LambdaSearch:
    """Line search of λ over ``grid`` (0 is added when missing) by corpus WER of the rescored choices."""
    grid = sorted(set(float(g) for g in grid) | {0.0})
    table = hypothesis_errors(utterances) if error_table is None else error_table
    lens = reference_lengths(utterances) if ref_lengths is None else ref_lengths
    priors = [u.prior_scores() for u in utterances]
    wers = []
    for lam in grid:
        choices = [best_index([p + lam * s for p, s in zip(prior, lm)]) for prior, lm in zip(priors, lm_scores)]
        wers.append(corpus_wer([row[c] for row, c in zip(table, choices)], lens))
    best = min(range(len(grid)), key=lambda k: (wers[k], grid[k]))
    return LambdaSearch(grid=tuple(grid), wers=tuple(wers), lam=grid[best], wer=wers[best],
                        first_pass_wer=wers[grid.index(0.0)])


@dataclass(frozen=True)
class EvalResult:
    """Rescoring of a set of N-best lists at one λ: per-hypothesis values and, with references, WERs.

    ``lm_scores``, ``combined`` and ``ranks`` are per utterance, per hypothesis in first-pass order;
    ``ranks[k][i]`` is hypothesis i's place under the combined score (0 = chosen). WERs are fractions and
    ``None`` when any utterance lacks a reference.
    """

    lam: float
    utterance_ids: tuple[str, ...]
    lm_scores: list[list[float]]
    combined: list[list[float]]
    ranks: list[list[int]]
    choices: list[int]
    errors: list[list[int]] | None
    reference_words: int | None
    one_best_wer: float | None
    oracle_wer: float | None
    rescored_wer: float | None

    @property
    def delta_wer(self) -> float | None:
        """Rescored WER minus oracle WER (the paper's ΔWER)."""
        if self.rescored_wer is None or self.oracle_wer is None:
            return None
        return self.rescored_wer - self.oracle_wer

    @property
    def selected_errors(self) -> list[int] | None:
        """Word errors of the rescored choice per utterance (pair with ``first_pass_errors`` for a bootstrap)."""
        return None if self.errors is None else [row[c] for row, c in zip(self.errors, self.choices)]

    @property
    def first_pass_errors(self) -> list[int] | None:
        return None if self.errors is None else [row[0] for row in self.errors]


def evaluate_scores(utterances: Sequence[Utterance], lm_scores: Sequence[Sequence[float]],
                    lam: float) -> EvalResult:
    """:class:`EvalResult` of ``utterances`` rescored with the given LM scores at ``lam``."""
    combined = combined_scores(utterances, lm_scores, lam)
    ranks = [new_ranks(c) for c in combined]
    choices = [r.index(0) for r in ranks]
    table = lens = None
    one_best = oracle = rescored = None
    if utterances and all(u.reference is not None for u in utterances):
        table = hypothesis_errors(utterances)
        lens = reference_lengths(utterances)
        one_best = corpus_wer([row[0] for row in table], lens)
        oracle = corpus_wer([min(row) for row in table], lens)
        rescored = corpus_wer([row[c] for row, c in zip(table, choices)], lens)
    return EvalResult(
        lam=lam, utterance_ids=tuple(u.id for u in utterances), lm_scores=[list(map(float, s)) for s in lm_scores],
        combined=combined, ranks=ranks, choices=choices, errors=table,
        reference_words=sum(lens) if lens is not None else None,
        one_best_wer=one_best, oracle_wer=oracle, rescored_wer=rescored,
    )

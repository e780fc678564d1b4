"""Score combination ``prior + λ·LM``, new ranks, the λ line search on dev, and evaluation from given scores.

``prior`` is :meth:`Utterance.prior_scores` (first-pass scores, or ``-rank`` for rank-only lists). The λ grid
always holds 0, where the combination is the first pass itself; the search keeps the smallest λ among the
best, so a tuned rescorer is never worse than the first pass on the set it was tuned on.

That guarantee is about the tuning set only: a λ that wins on dev by a handful of words can lose on unseen
data. With ``min_p_better`` the search also asks a paired bootstrap over the dev utterances (Bisani & Ney)
how often the chosen λ beats the first pass, and falls back to λ = 0 unless that share reaches
``min_p_better`` (training uses 0.95). The check runs on the same dev set the λ was picked on, so it is
optimistic; it screens out gains that are noise even there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .metrics import corpus_wer, hypothesis_errors, paired_bootstrap, reference_lengths
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
    """Dev WER at every λ of the grid and the λ chosen (the smallest among the lowest WERs, or 0 after the gate)."""

    grid: tuple[float, ...]
    wers: tuple[float, ...]
    lam: float
    wer: float
    first_pass_wer: float               # WER at λ = 0
    p_better: float | None = None       # bootstrap share of dev resamples where the best λ beats λ = 0
    fell_back_from: float | None = None  # the best grid λ when the gate chose 0 instead


def search_lambda(utterances: Sequence[Utterance], lm_scores: Sequence[Sequence[float]],
                  grid: Sequence[float], *, error_table: Sequence[Sequence[int]] | None = None,
                  ref_lengths: Sequence[int] | None = None, min_p_better: float | None = None,
                  resamples: int = 1000, seed: int = 0) -> LambdaSearch:
    """Line search of λ over ``grid`` (0 is added when missing) by corpus WER of the rescored choices.

    ``min_p_better`` (0 to 1, or None for no check): keep the best λ only when it beats λ = 0 in at least
    this share of ``resamples`` paired-bootstrap resamples of the utterances (module docstring).
    """
    grid = sorted(set(float(g) for g in grid) | {0.0})
    table = hypothesis_errors(utterances) if error_table is None else error_table
    lens = reference_lengths(utterances) if ref_lengths is None else ref_lengths
    priors = [u.prior_scores() for u in utterances]
    wers, errors = [], []
    for lam in grid:
        choices = [best_index([p + lam * s for p, s in zip(prior, lm)]) for prior, lm in zip(priors, lm_scores)]
        errors.append([row[c] for row, c in zip(table, choices)])
        wers.append(corpus_wer(errors[-1], lens))
    best = min(range(len(grid)), key=lambda k: (wers[k], grid[k]))
    zero = grid.index(0.0)
    p_better = fell_back_from = None
    if min_p_better is not None and best != zero:
        p_better = paired_bootstrap(errors[zero], errors[best], lens, resamples=resamples, seed=seed).p_b_better
        if p_better < min_p_better:
            fell_back_from, best = grid[best], zero
    return LambdaSearch(grid=tuple(grid), wers=tuple(wers), lam=grid[best], wer=wers[best],
                        first_pass_wer=wers[zero], p_better=p_better, fell_back_from=fell_back_from)


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

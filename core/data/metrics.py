"""Corpus-level WER, oracle WER, ΔWER, NPRR and a paired bootstrap, on normalised text.

WER values are fractions (0.037 is 3.7%). Corpus WER is total word errors over total reference words.
Paper definitions (arXiv 2401.10447, Eq. 2-3)::

    ΔWER(f, X, Y)      = WER(f, X, Y) - OracleWER(X, Y)
    NPRR(f, X, X', Y)  = (ΔWER(f, X', Y) - ΔWER(f, X, Y)) / ΔWER(f, X, Y)
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from lorascope.core.data.alignment import COUNTER
from lorascope.core.data.nbest import Utterance
from lorascope.core.data.text import words


def word_errors(reference: str, hypothesis: str) -> int:
    """Substitutions + deletions + insertions between normalised ``reference`` and ``hypothesis`` (jiwer's count)."""
    return COUNTER.errors(reference, hypothesis)


def reference_length(reference: str) -> int:
    return len(words(reference))


def _require_reference(u: Utterance) -> str:
    if u.reference is None:
        from lorascope.core.errors import InputError

        raise InputError(f"utterance {u.id}", "has no reference transcript, so WER cannot be computed")
    return u.reference


def hypothesis_errors(utterances: Sequence[Utterance]) -> list[list[int]]:
    """Word errors of every hypothesis of every utterance, in first-pass order."""
    return [COUNTER.list_errors(_require_reference(u), [h.text for h in u.hypotheses]) for u in utterances]


def reference_lengths(utterances: Sequence[Utterance]) -> list[int]:
    return [reference_length(_require_reference(u)) for u in utterances]


def corpus_wer(errors: Sequence[int], ref_lengths: Sequence[int]) -> float:
    """Total errors over total reference words (NaN when there are no reference words)."""
    total = sum(ref_lengths)
    return sum(errors) / total if total else math.nan


def selected_wer(error_table: Sequence[Sequence[int]], ref_lengths: Sequence[int], choices: Sequence[int]) -> float:
    """Corpus WER when utterance ``k`` is transcribed by its hypothesis ``choices[k]``."""
    return corpus_wer([row[c] for row, c in zip(error_table, choices)], ref_lengths)


def first_pass_and_oracle_wer(error_table: Sequence[Sequence[int]], ref_lengths: Sequence[int]) -> tuple[float, float]:
    """The 1-best WER (the first pass: each list's first hypothesis) and the oracle WER (each list's best)."""
    return (selected_wer(error_table, ref_lengths, [0] * len(error_table)),
            corpus_wer([min(row) for row in error_table], ref_lengths))


@dataclass(frozen=True)
class NbestSummary:
    """Counts and first-pass WERs of a set of N-best lists."""

    utterances: int
    hypotheses: int
    reference_words: int
    one_best_wer: float
    oracle_wer: float

    @property
    def delta_wer(self) -> float:
        return delta_wer(self.one_best_wer, self.oracle_wer)


def summarize(utterances: Sequence[Utterance]) -> NbestSummary:
    """1-best and oracle WER of N-best lists that carry references."""
    table = hypothesis_errors(utterances)
    lens = reference_lengths(utterances)
    one_best, oracle = first_pass_and_oracle_wer(table, lens)
    return NbestSummary(utterances=len(utterances), hypotheses=sum(len(u.hypotheses) for u in utterances),
                        reference_words=sum(lens), one_best_wer=one_best, oracle_wer=oracle)


def one_best_wer(utterances: Sequence[Utterance]) -> float:
    return summarize(utterances).one_best_wer


def oracle_wer(utterances: Sequence[Utterance]) -> float:
    """WER when each utterance takes its best hypothesis (the lowest achievable by reranking)."""
    return summarize(utterances).oracle_wer


def delta_wer(wer: float, oracle: float) -> float:
    """ΔWER = WER - OracleWER: how far a rescorer stays from the best its lists allow."""
    return wer - oracle


def nprr(clean_delta: float, perturbed_delta: float) -> float:
    """N-best Perturbation-based Rescoring Robustness: relative growth of ΔWER under perturbation.

    ``nprr(1.28, 1.50)`` is 0.1719 (the paper's fine-tuned perturb-1 row, 17.18%). A rescorer that reaches
    the oracle on clean lists (ΔWER 0) gives ``inf`` if the perturbed ΔWER is positive, else 0.
    """
    if clean_delta == 0:
        return 0.0 if perturbed_delta == 0 else math.copysign(math.inf, perturbed_delta)
    return (perturbed_delta - clean_delta) / clean_delta


@dataclass(frozen=True)
class BootstrapResult:
    """WER(b) - WER(a) with a percentile interval from a paired bootstrap over utterances."""

    difference: float
    low: float
    high: float
    confidence: float
    resamples: int
    p_b_better: float  # share of resamples where b has the lower WER


def paired_bootstrap(errors_a: Sequence[int], errors_b: Sequence[int], ref_lengths: Sequence[int], *,
                     resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> BootstrapResult:
    """Paired bootstrap (Bisani & Ney 2004) of the corpus WER difference of two systems on the same utterances."""
    n = len(ref_lengths)
    if not (len(errors_a) == len(errors_b) == n) or n == 0:
        raise ValueError("paired_bootstrap needs equally long, non-empty per-utterance lists")
    rng = random.Random(seed)
    diffs = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        words_total = sum(ref_lengths[i] for i in idx) or 1
        diffs.append(sum(errors_b[i] - errors_a[i] for i in idx) / words_total)
    diffs.sort()
    tail = (1 - confidence) / 2
    lo = diffs[min(resamples - 1, int(math.floor(tail * resamples)))]
    hi = diffs[min(resamples - 1, int(math.ceil((1 - tail) * resamples)) - 1)]
    return BootstrapResult(
        difference=corpus_wer(errors_b, ref_lengths) - corpus_wer(errors_a, ref_lengths),
        low=lo, high=hi, confidence=confidence, resamples=resamples,
        p_b_better=sum(d < 0 for d in diffs) / resamples,
    )

"""Statistics a study report needs: mean and sample sd, bootstrap intervals of differences, and the power law
WER(n) = a + b * n^-c of a learning curve (least squares, no scipy)."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from lorascope.core.data.metrics import BootstrapResult, paired_bootstrap


def mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for fewer than two values)."""
    if not values:
        return math.nan, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def pooled_paired_bootstrap(reference: Sequence[Sequence[int]], system: Sequence[Sequence[int]],
                            ref_lengths: Sequence[int], *, resamples: int = 1000, seed: int = 0) -> BootstrapResult:
    """Paired bootstrap of the corpus WER difference (system - reference) pooled over training seeds.

    ``reference`` and ``system`` hold one per-utterance error list per training seed (any number each); each
    utterance's errors are averaged over the seeds first, so the utterances are resampled once and the seeds'
    spread enters as part of each utterance's mean."""
    if not reference or not system:
        raise ValueError("pooled_paired_bootstrap needs at least one seed on each side")

    def mean_errors(table: Sequence[Sequence[int]]) -> list[float]:
        return [sum(col) / len(table) for col in zip(*table)]

    return paired_bootstrap(mean_errors(reference), mean_errors(system), ref_lengths, resamples=resamples,
                            seed=seed)


@dataclass(frozen=True)
class Interval:
    """A difference (A minus B) and its percentile interval, with how it was drawn where known."""

    difference: float
    low: float
    high: float
    confidence: float | None = None
    resamples: int | None = None
    p_a_lower: float | None = None      # share of resamples where A's value is the lower one

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def bootstrap_mean_difference(a: Sequence[float], b: Sequence[float], *, resamples: int = 2000,
                              confidence: float = 0.95, seed: int = 0) -> Interval:
    """mean(a) - mean(b) with a percentile bootstrap interval, each side resampled on its own (the values are
    NPRRs over training x perturbation seeds of two strategies: no pairing between them)."""
    if not a or not b:
        raise ValueError("bootstrap_mean_difference needs values on both sides")
    rng = random.Random(seed)
    diffs = sorted(statistics.fmean(rng.choices(a, k=len(a))) - statistics.fmean(rng.choices(b, k=len(b)))
                   for _ in range(resamples))
    tail = (1 - confidence) / 2
    low = diffs[int(tail * (resamples - 1))]
    high = diffs[int(math.ceil((1 - tail) * (resamples - 1)))]
    return Interval(statistics.fmean(a) - statistics.fmean(b), low, high, confidence, resamples)


# ------------------------------------------------------------------------------------------------ power law


@dataclass(frozen=True)
class PowerLaw:
    """WER(n) = a + b * n^-c, fitted by least squares."""

    a: float
    b: float
    c: float
    rss: float

    def __call__(self, n: float) -> float:
        return self.a + self.b * n ** -self.c

    def describe(self) -> str:
        return f"WER(n) = {self.a:.4f} + {self.b:.4g}·n^-{self.c:.3f}"


def _linear_fit(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, float]:
    """Least squares y = a + b x: (a, b, residual sum of squares)."""
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((xi - mx) ** 2 for xi in x)
    b = sum((xi - mx) * (yi - my) for xi, yi in zip(x, y)) / sxx if sxx > 0 else 0.0
    a = my - b * mx
    return a, b, sum((yi - a - b * xi) ** 2 for xi, yi in zip(x, y))


def fit_power_law(n: Sequence[float], wer: Sequence[float], *, c_range: tuple[float, float] = (1e-3, 4.0)) -> PowerLaw:
    """Fit WER(n) = a + b n^-c: for a fixed c the fit is linear in (a, b), so c is searched (a log grid, then
    golden-section refinement around the best grid point) and a, b solved exactly. Needs three or more distinct n."""
    if len(set(n)) < 3 or len(n) != len(wer):
        raise ValueError("a power law needs points at three or more training sizes")

    def rss(c: float) -> float:
        return _linear_fit([v ** -c for v in n], wer)[2]

    lo, hi = math.log(c_range[0]), math.log(c_range[1])
    grid = [math.exp(lo + (hi - lo) * i / 400) for i in range(401)]
    best = min(range(len(grid)), key=lambda i: rss(grid[i]))
    left, right = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(100):
        m1, m2 = right - ratio * (right - left), left + ratio * (right - left)
        if rss(m1) < rss(m2):
            right = m2
        else:
            left = m1
    c = (left + right) / 2
    a, b, r = _linear_fit([v ** -c for v in n], wer)
    return PowerLaw(a, b, c, r)

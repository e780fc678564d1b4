"""The S3 mixed-rank staging schedule r(t) of arXiv 2401.10447, Eq. 1, and the rank budget it implies.

Eq. 1, with warm-up end ``t_w``, decay start ``t_i``, final-phase length ``t_f`` and total steps ``T``::

    r(t) = r_f                                         t < t_w           (full-rank warm-up)
           r_i                                         t_w <= t < t_i    (initial rank, r_i = 1.5 r_T)
           r_T + (r_i - r_T) * (1 - u(t)) ** 3         t_i <= t < T - t_f
           r_T                                         t >= T - t_f

The paper prints ``u(t) = (t - t_i - t_f) / (T - t_i - t_f)``. With that ``u``, r(t_i) exceeds r_i (a jump up
when the decay starts) and r(T - t_f) stays above r_T (a jump down when it ends). AdaLoRA's own budget
scheduler, which S3 builds on, uses ``u(t) = (t - t_i) / (T - t_i - t_f)``: the curve then starts at r_i and
lands on r_T, continuous at both ends. We take AdaLoRA's form by default because the rank of a
masked AdaLoRA model cannot rise above r_i anyway (the printed overshoot could never be carried out), and a
jump at the end would cut ranks in one step at the point where training is meant to settle. The printed form
stays available (``printed=True``) so the two can be compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lorascope.core.errors import InputError


@dataclass(frozen=True)
class RankSchedule:
    """r(t) of Eq. 1. Steps count completed optimizer steps from 0; ``t_init`` is absolute (not relative to warm-up)."""

    r_full: float
    r_init: float
    r_target: float
    t_warmup: int
    t_init: int
    t_final: int
    total: int
    printed: bool = False

    def __post_init__(self) -> None:
        where = "rank schedule"
        if not (self.r_init >= self.r_target >= 0):
            raise InputError(where, f"needs r_i >= r_T >= 0, got r_i={self.r_init}, r_T={self.r_target}")
        if self.r_full < self.r_init:
            raise InputError(where, f"full rank r_f={self.r_full} is below the initial rank r_i={self.r_init}")
        if not (0 <= self.t_warmup <= self.t_init):
            raise InputError(where, f"needs 0 <= t_w <= t_i, got t_w={self.t_warmup}, t_i={self.t_init}")
        if self.t_final < 0 or self.t_init >= self.total - self.t_final:
            raise InputError(where, f"no decay phase: t_i={self.t_init} must be below T - t_f = "
                                    f"{self.total} - {self.t_final}")

    @property
    def decay_end(self) -> int:
        """T - t_f: the step from which the target rank holds."""
        return self.total - self.t_final

    def phase(self, t: int) -> str:
        """``"warmup"``, ``"initial"``, ``"decay"`` or ``"final"``."""
        if t < self.t_warmup:
            return "warmup"
        if t < self.t_init:
            return "initial"
        if t < self.decay_end:
            return "decay"
        return "final"

    def rank(self, t: int) -> float:
        """r(t), unrounded."""
        phase = self.phase(t)
        if phase == "warmup":
            return float(self.r_full)
        if phase == "initial":
            return float(self.r_init)
        if phase == "final":
            return float(self.r_target)
        span = self.total - self.t_init - self.t_final
        u = (t - self.t_init - self.t_final) / span if self.printed else (t - self.t_init) / span
        return self.r_target + (self.r_init - self.r_target) * (1.0 - u) ** 3

    def budget(self, t: int, matrices: int) -> int:
        """Total rank over ``matrices`` adapted matrices after warm-up, floored like AdaLoRA's scheduler and
        kept within [r_T, r_i] per matrix (a masked AdaLoRA model holds at most r_i per matrix)."""
        r = min(max(self.rank(t), self.r_target), self.r_init)
        return int(math.floor(r * matrices + 1e-9))

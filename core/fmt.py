"""Number formatting shared by the command line and the inspector: fractions shown as percentages."""

from __future__ import annotations

import math


def pct(x: float | None, digits: int = 2, *, signed: bool = False, missing: str = "-", infinity: str = "inf") -> str:
    """A fraction as a percentage (``0.0367`` -> ``"3.67"``); ``missing`` for None or NaN, ``infinity`` for ±inf."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return missing
    if math.isinf(x):
        return infinity if x > 0 else f"-{infinity}"
    return f"{100 * x:+.{digits}f}" if signed else f"{100 * x:.{digits}f}"

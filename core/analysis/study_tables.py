"""A study's report as plain values (Table 2, Table 3, the learning curve) and its Markdown and CSV renderings."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

from lorascope.core.analysis.stats import Interval, PowerLaw

EXTRAPOLATE = (2, 4, 10)      # the learning curve's extrapolation: these multiples of the largest training size


@dataclass(frozen=True)
class Table2Row:
    backbone: str
    strategy: str
    seeds: int
    wer: float
    wer_sd: float | None
    one_best: float
    oracle: float
    rel_one_best: float                     # (WER - 1-best) / 1-best
    rel_reference: float | None             # (WER - ft) / ft; None for ft itself or without ft
    vs_reference: Interval | None           # pooled paired bootstrap of WER - reference WER (points as fractions)


@dataclass(frozen=True)
class Table3Row:
    backbone: str
    strategy: str
    model: str
    p: float
    condition: str                          # clean, perturb-1, perturb-N
    values: int                             # training seeds x perturbation seeds behind the means
    wer: float
    oracle: float
    delta_wer: float
    nprr: float | None
    nprr_sd: float | None


@dataclass(frozen=True)
class Difference:
    backbone: str
    model: str
    p: float
    condition: str
    a: str
    b: str
    interval: Interval                      # NPRR(a) - NPRR(b), fractions


@dataclass(frozen=True)
class CurvePoint:
    backbone: str
    strategy: str
    n: int
    wer: float
    wer_sd: float | None
    seeds: int


@dataclass(frozen=True)
class CurveFit:
    backbone: str
    strategy: str
    law: PowerLaw
    largest: int


@dataclass
class StudyReport:
    name: str
    described: str                          # how the figures were made (data, split, length, seeds)
    cells_done: int
    cells_total: int
    reference: str                          # "ft" or "1-best": what Table 2's differences are against
    table2: list[Table2Row] = field(default_factory=list)
    table3: list[Table3Row] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    curve: list[CurvePoint] = field(default_factory=list)
    fits: list[CurveFit] = field(default_factory=list)


def _pct(x: float | None, digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}"


def _pm(mean: float | None, sd: float | None, digits: int = 2) -> str:
    return _pct(mean, digits) + ("" if sd is None else f" ± {_pct(sd, digits)}")


def _interval(i: Interval, digits: int = 2) -> str:
    return f"{100 * i.difference:+.{digits}f} [{100 * i.low:+.{digits}f}, {100 * i.high:+.{digits}f}]"


def table2_rows(r: StudyReport) -> tuple[list[str], list[list[str]]]:
    head = ["backbone", "strategy", "seeds", "test WER% (mean ± sd)", "1-best%", "oracle%", "vs 1-best", "vs ft", f"Δ to {r.reference} [95%] (points)", "excludes 0"]
    rows = [[x.backbone, x.strategy, str(x.seeds), _pm(x.wer, x.wer_sd), _pct(x.one_best), _pct(x.oracle),
             f"{100 * x.rel_one_best:+.1f}%", "-" if x.rel_reference is None else f"{100 * x.rel_reference:+.1f}%",
             "-" if x.vs_reference is None else _interval(x.vs_reference),
             "" if x.vs_reference is None else ("*" if x.vs_reference.excludes_zero else "")] for x in r.table2]
    return head, rows


def table3_rows(r: StudyReport) -> tuple[list[str], list[list[str]]]:
    head = ["backbone", "strategy", "model", "p", "condition", "n", "WER%", "oracle%", "ΔWER", "NPRR% (mean ± sd)"]
    rows = [[x.backbone, x.strategy, x.model, f"{x.p:g}", x.condition, str(x.values), _pct(x.wer), _pct(x.oracle),
             _pct(x.delta_wer), "-" if x.nprr is None else _pm(x.nprr, x.nprr_sd)] for x in r.table3]
    return head, rows


def difference_lines(r: StudyReport) -> list[str]:
    return [f"{d.a} - {d.b} {d.condition} ({d.model}, p {d.p:g}, {d.backbone}): "
            f"{100 * d.interval.difference:.1f} [{100 * d.interval.low:.1f}, {100 * d.interval.high:.1f}]"
            f"{' *' if d.interval.excludes_zero else ''}" for d in r.differences]


def curve_rows(r: StudyReport) -> tuple[list[str], list[list[str]]]:
    head = ["backbone", "strategy", "training lists", "test WER% (mean ± sd)", "seeds", "kind"]
    rows = [[c.backbone, c.strategy, str(c.n), _pm(c.wer, c.wer_sd), str(c.seeds), "measured"] for c in r.curve]
    for f in r.fits:
        rows += [[f.backbone, f.strategy, str(k * f.largest), _pct(f.law(k * f.largest)), "-", "extrapolated (fit)"]
                 for k in EXTRAPOLATE]
    return head, rows


def _edge(law: PowerLaw) -> str:
    """A warning where the exponent sits at the edge of the fit's search range (the points set no power law)."""
    if law.c >= 3.99 or law.c <= 0.0011:
        return ("; the exponent sits at the edge of the search range: these points do not determine a power law, "
                "so the extrapolation means nothing")
    return ""


def _md(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render_md(r: StudyReport) -> str:
    out = [f"# Study {r.name}", "", r.described + ".", "",
           f"Cells done: {r.cells_done} of {r.cells_total}" +
           ("" if r.cells_done == r.cells_total else " (the figures below cover the done cells only)") + "."]
    if r.table2:
        out += ["", "## Table 2: test WER", "",
                f"Mean ± sample sd over training seeds; Δ to {r.reference}: paired bootstrap (1000 resamples of "
                f"the test utterances, each utterance's errors averaged over the seeds), 95% interval in WER "
                f"points; * where it excludes zero.", "", _md(*table2_rows(r))]
    if r.table3:
        out += ["", "## Table 3: robustness", "",
                "Means over training seeds x perturbation seeds; NPRR mean ± sample sd over the same.", "",
                _md(*table3_rows(r))]
    if r.differences:
        out += ["", "Differences of NPRR (points) between strategies, mean and 95% bootstrap interval (each "
                "strategy's NPRRs resampled on their own, 2000 resamples); * where it excludes zero:", ""]
        out += [f"- {line}" for line in difference_lines(r)]
    if r.curve:
        out += ["", "## Learning curve", "", "Test WER against training-set size (nested subsets); rows marked "
                "extrapolated come from the fitted power law, not from training.", "", _md(*curve_rows(r))]
        out += [""] + [f"- {f.strategy} ({f.backbone}): {f.law.describe()} (WER as a fraction, n lists; residual "
                       f"sum of squares {f.law.rss:.3g}){_edge(f.law)}" for f in r.fits]
    return "\n".join(out) + "\n"


def render_csv(r: StudyReport) -> dict[str, str]:
    """One CSV text per table: table2, table3, differences, learning_curve (only those with rows)."""
    out = {}
    diffs = (["backbone", "model", "p", "condition", "a", "b", "difference", "low", "high"],
             [[d.backbone, d.model, f"{d.p:g}", d.condition, d.a, d.b, f"{100 * d.interval.difference:.3f}",
               f"{100 * d.interval.low:.3f}", f"{100 * d.interval.high:.3f}"] for d in r.differences])
    for name, (head, rows) in (("table2", table2_rows(r)), ("table3", table3_rows(r)), ("differences", diffs),
                               ("learning_curve", curve_rows(r))):
        if rows:
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(head)
            writer.writerows(rows)
            out[name] = buf.getvalue()
    return out

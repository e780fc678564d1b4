"""``lorascope compare RUN_A RUN_B``: two runs' adapters on the same lists, a thin shell over jobs.compare_job."""

from __future__ import annotations

import csv
import io

import click

from lorascope.core.fmt import pct

from . import console
from .options import db_option, device_option, perturbation_option

MEASURES = ("wer", "nprr", "right_where_other_wrong", "disagreements")


def _interval(low: float | None, high: float | None) -> str:
    return "-" if low is None or high is None else f"[{pct(low, signed=True)}, {pct(high, signed=True)}]"


def markdown(job) -> str:
    """The comparison as it prints: how it was made, the table of differences, the top disagreements."""
    c = job.comparison
    roles = job.role_a if job.role_a == job.role_b else f"{job.role_a} for A, {job.role_b} for B"
    lines = [f"A = run {job.run_a} ({job.strategy_a}), B = run {job.run_b} ({job.strategy_b}) on {job.dataset} "
             f"({roles} set): {c.utterances} lists, {c.reference_words} reference words",
             f"combinations: A {job.combination_a.describe()}; B {job.combination_b.describe()}",
             f"perturbation: {job.model_spec}, perturb-{job.mode}, p {job.p:g}, seeds {','.join(map(str, job.seeds))}"
             if job.perturbation else "perturbation: none (no NPRR)",
             f"intervals: {100 * c.wer.confidence:g}% percentile, {c.wer.resamples} paired-bootstrap resamples of the "
             "lists (NPRR: of the lists and the seeds); differences are A - B", "",
             f"| measure | A | B | A - B | {100 * c.wer.confidence:g}% interval |", "|---|---:|---:|---:|---|",
             f"| WER % | {pct(c.wer_a)} | {pct(c.wer_b)} | {pct(c.wer.difference, signed=True)} | "
             f"{_interval(c.wer.low, c.wer.high)} |"]
    if c.nprr is not None:
        lines.append(f"| NPRR % | {pct(c.nprr_a)} | {pct(c.nprr_b)} | {pct(c.nprr.difference, signed=True)} | "
                     f"{_interval(c.nprr.low, c.nprr.high)} |")
    n = c.counts
    lines += [f"| lists right where the other is wrong | {n.a_right_b_wrong} | {n.b_right_a_wrong} | "
              f"{n.a_right_b_wrong - n.b_right_a_wrong:+d} | - |", "",
              f"right = {c.right_means}; both right {n.both_right}, both wrong {n.both_wrong}; "
              f"the two choose differently on {n.disagreements} of {c.utterances} lists"]
    if c.top:
        lines += ["", f"top {len(c.top)} disagreements (largest difference in word errors first; choice = first-pass "
                  "rank):", "", "| list | utterance | A's choice | A errors | B's choice | B errors | oracle errors |",
                  "|---:|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {d.position} | {d.utterance_id} | {d.choice_a} | {d.errors_a} | {d.choice_b} | {d.errors_b} | "
                  f"{d.oracle_errors} |" for d in c.top]
    if job.comparison_id is not None:
        lines += ["", f"stored as comparison {job.comparison_id} (`lorascope export` includes it)"]
    return "\n".join(lines) + "\n"


def csv_text(job) -> str:
    """One row per measure, every row with the settings it was made under (WERs and NPRRs as fractions)."""
    c, n = job.comparison, job.comparison.counts
    common = {"run_a": job.run_a, "run_b": job.run_b, "dataset": job.dataset, "role_a": job.role_a,
              "role_b": job.role_b, "combination_a": job.combination_a.describe(),
              "combination_b": job.combination_b.describe(), "lam_a": job.combination_a.lam,
              "lam_b": job.combination_b.lam, "perturbation": job.model_spec or "none", "mode": job.mode,
              "p": job.p, "seeds": ",".join(map(str, job.seeds)), "lists": c.utterances,
              "confidence": c.wer.confidence, "resamples": c.wer.resamples}
    rows = [dict(common, measure="wer", a=c.wer_a, b=c.wer_b, difference=c.wer.difference, low=c.wer.low,
                 high=c.wer.high)]
    if c.nprr is not None:
        rows.append(dict(common, measure="nprr", a=c.nprr_a, b=c.nprr_b, difference=c.nprr.difference,
                         low=c.nprr.low, high=c.nprr.high))
    rows.append(dict(common, measure="right_where_other_wrong", a=n.a_right_b_wrong, b=n.b_right_a_wrong,
                     difference=n.a_right_b_wrong - n.b_right_a_wrong, low=None, high=None))
    rows.append(dict(common, measure="disagreements", a=n.disagreements, b=n.disagreements, difference=0,
                     low=None, high=None))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


@click.command("compare")
@click.argument("run_a", type=int)
@click.argument("run_b", type=int)
@click.option("--data", help="Dataset name in the store or an N-best file. Default: run A's test set.")
@perturbation_option("The perturbation model for the NPRR difference", allow_none=True)
@click.option("--mode", type=click.Choice(["1", "N"]), default="N", show_default=True,
              help="perturb-1 (only the worst hypothesis of each list) or perturb-N (every hypothesis).")
@click.option("--p", "p", type=float, default=0.5, show_default=True,
              help="Probability that a word with a sound-alike candidate is replaced.")
@click.option("--seed", "seeds", type=int, multiple=True, help="Perturbation seed (repeatable). Default: 0.")
@click.option("--seeds", "n_seeds", type=click.IntRange(min=1), help="Use seeds 0..N-1.")
@click.option("--resamples", type=click.IntRange(min=10), default=1000, show_default=True,
              help="Bootstrap resamples for the intervals.")
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many disagreements to show and store.")
@click.option("--format", "fmt", type=click.Choice(["md", "csv"]), default="md", show_default=True,
              help="Markdown (how it was made, the table, the top disagreements) or CSV (one row per measure).")
@device_option
@db_option
@click.pass_context
def compare_cmd(ctx: click.Context, run_a: int, run_b: int, data: str | None, perturbation: str, mode: str, p: float,
                seeds: tuple[int, ...], n_seeds: int | None, resamples: int, top: int, fmt: str, device: str) -> None:
    """Compare two runs' adapters on the same lists, each with its stored combination.

    Prints the WER difference (A - B) with a paired-bootstrap 95% interval over lists, the NPRR difference with
    an interval over lists and perturbation seeds, how many lists each gets right where the other is wrong
    (right: chose a hypothesis with the fewest word errors of its list), and the lists where they choose
    differently. Every argument is checked before a model loads; the comparison is stored for `lorascope export`.
    """
    import contextlib

    from .jobs.compare import compare_job

    if seeds and n_seeds:
        raise click.UsageError("give --seed or --seeds, not both")
    seed_list = list(seeds) or list(range(n_seeds or 1))
    with contextlib.ExitStack() as stack:
        state = {}

        def started(name: str, lists: int, passes: int) -> None:
            bar = stack.enter_context(console.progress(transient=True))
            state["bar"], state["task"] = bar, bar.add_task("score", total=passes, status=f"{name}, {lists} lists")

        def advanced() -> None:
            state["bar"].advance(state["task"])

        job = compare_job(ctx.obj["db"], run_a, run_b, data=data,
                          perturbation=None if perturbation.strip().lower() == "none" else perturbation, mode=mode, p=p,
                          seeds=seed_list, resamples=resamples, top=top, device=device, on_start=started,
                          on_pass=advanced)
    click.echo(csv_text(job) if fmt == "csv" else markdown(job), nl=False)

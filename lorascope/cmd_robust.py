"""``lorascope robustness`` and ``lorascope report``: core.robustness plus store writes, and the Table 3 layout."""

from __future__ import annotations

import csv
import io

import click

from lorascope.core.errors import InputError

from . import console
from .batchlog import line_log
from .console import pct
from .options import db_option, device_option, first_pass_option, perturbation_option, tune_options

@click.command("robustness")
@click.option("--run", "run_id", type=int, required=True, help="A finished run whose adapter is evaluated.")
@click.option("--data", help="Dataset name in the store or an N-best file. Default: the run's test set (a run "
              "without one needs --data; the set the combination was tuned on is used only when named).")
@click.option("--mode", type=click.Choice(["1", "N", "both"]), default="both", show_default=True,
              help="perturb-1 (only the first pass's worst hypothesis, the last in the list), perturb-N (every "
                   "hypothesis), or both.")
@click.option("--p", "p", type=float, default=0.5, show_default=True,
              help="Probability that a word with a sound-alike candidate is replaced (the paper's 0.5).")
@click.option("--seed", "seeds", type=int, multiple=True, help="Perturbation seed (repeatable). Default: 0.")
@click.option("--seeds", "n_seeds", type=click.IntRange(min=1),
              help="Use seeds 0..N-1, so NPRR comes with its spread over N perturbations.")
@perturbation_option("The perturbation model")
@click.option("--lam", type=float, help="The LM weight λ of the combination. Default: the run's dev-tuned one.")
@tune_options
@device_option
@first_pass_option
@db_option
@click.pass_context
def robustness_cmd(ctx: click.Context, run_id: int, data: str | None, mode: str, p: float, seeds: tuple[int, ...],
                   n_seeds: int | None, perturbation: str, lam: float | None, tune_on: str | None,
                   cross_fit: int | None, device: str, first_pass: str | None) -> None:
    """Perturb the N-best lists with sound-alike words and measure WER, oracle WER, ΔWER and NPRR.

    Stores one metric row per condition and seed, and the per-utterance rank changes, in one transaction.
    """
    from .jobs.robustness import prepare_robustness, robustness_job

    if seeds and n_seeds:
        raise click.UsageError("give --seed or --seeds, not both")
    seed_list = list(seeds) or list(range(n_seeds or 1))
    modes = ("1", "N") if mode == "both" else (mode,)
    passes = 1 + len(modes) * len(seed_list)
    log = line_log("robustness", f"torch, the adapter of run {run_id} and the phonetic index")
    try:   # every check before a model loads or a bar is drawn
        prepared = prepare_robustness(ctx.obj["db"], run_id, data=data, modes=modes, p=p, seeds=seed_list,
                                      perturbation=perturbation, lam=lam, device=device, first_pass=first_pass,
                                      tune_on=tune_on, cross_fit=cross_fit)
    except BaseException:
        if log is not None:
            log.close()
        raise

    bar = console.progress(disable=log is not None)     # shown once the job's checks passed: errors stay one line
    task = bar.add_task("score", total=passes, status="", start=False)

    def started(name: str, utterances: int) -> None:
        console.err.print(f"run {run_id} on {name}: {utterances} utterances, perturb-{'/'.join(modes)}, p {p}, "
                          f"seeds {', '.join(map(str, seed_list))}")
        bar.start()
        bar.start_task(task)
        if log is not None:
            log.start(passes, unit="scoring pass")

    def rescored() -> None:
        bar.advance(task)
        if log is not None:
            log.update(int(bar.tasks[0].completed))

    try:
        job = robustness_job(ctx.obj["db"], run_id, data=data, modes=modes, p=p, seeds=seed_list,
                             perturbation=perturbation, lam=lam, device=device, first_pass=first_pass,
                             prepared=prepared, on_start=started, on_rescore=rescored)
    finally:
        if bar.live.is_started:
            bar.stop()
        if log is not None:
            log.close()
    report, name = job.report, job.dataset
    if job.tuning_set:
        name = f"{name} (tuning set: the combination was tuned on these lists)"
    elif job.how.startswith("out-of-fold"):
        name = f"{name} (out-of-fold combinations)"
    elif "(held out)" in job.how:
        name = f"{name} (held-out part: {job.utterances} lists)"
    console.err.print(job.how, soft_wrap=True)
    rows = [("clean", pct(report.clean.wer), pct(report.clean.oracle_wer), pct(report.clean.delta_wer), "-", "-")]
    for s in report.summaries:
        spread = f" ± {100 * s.nprr_std:.2f}" if len(s.seeds) > 1 else ""
        rows.append((s.condition, pct(s.wer_mean), pct(s.oracle_wer_mean), pct(s.delta_wer_mean),
                     f"{100 * s.nprr_mean:.2f}{spread}", f"{100 * s.flip_rate_mean:.1f}"))
    console.out.print(console.table(f"run {run_id} ({job.strategy}) on {name}, p {p}, {job.model_spec}, seeds "
                                    f"{','.join(map(str, seed_list))}, {job.combination.describe()}",
                                    ["perturbation", "WER%", "oracle WER%", "ΔWER", "NPRR%", "flips%"], rows))


@click.command("report")
@click.option("--runs", "run_ids", type=int, multiple=True, help="Only these runs (repeatable). Default: all.")
@click.option("--data", "dataset", help="Only this dataset.")
@perturbation_option("Only this perturbation model, a name or a full spec (lexicon:max_distance=0.0)", default=None,
                     filter_only=True)
@click.option("--p", "p", type=float, help="Only results measured at this replacement probability.")
@click.option("--lam", type=float, help="Only results whose combination has this LM weight λ.")
@click.option("--format", "fmt", type=click.Choice(["md", "csv"]), default="md", show_default=True,
              help="Markdown table or CSV (CSV adds the combination as JSON).")
@db_option
@click.pass_context
def report_cmd(ctx: click.Context, run_ids: tuple[int, ...], dataset: str | None, perturbation: str | None,
               p: float | None, lam: float | None, fmt: str) -> None:
    """Print the paper's Table 3 layout (WER, oracle WER, ΔWER, NPRR) for stored robustness results.

    One row per run, data set, measurement settings (role of the data set, perturbation model and its settings,
    p, seeds, combination) and condition: results made under different settings are never averaged together,
    and the columns that tell them apart are always shown.
    """
    from lorascope.store import Store
    from lorascope.store.reports import table3_markdown, table3_rows

    with Store(ctx.obj["db"], readonly=True) as store:
        rows = table3_rows(store, list(run_ids) or None, dataset, perturbation, p=p, lam=lam)
    if not rows:
        asked = any(x is not None for x in (dataset, perturbation, p, lam)) or run_ids
        raise InputError("report", "no robustness results match those filters" if asked else
                         "no robustness results stored yet; run `lorascope robustness --run ID` first")
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        click.echo(buf.getvalue(), nl=False)
        return
    click.echo(table3_markdown(rows), nl=False)

"""``lorascope train`` and ``lorascope eval``: options -> one :mod:`lorascope.jobs` call -> a progress bar and tables."""

from __future__ import annotations

from typing import Any

import click

from lorascope.core.names import ENGINE_NAMES, STRATEGY_NAMES   # torch-free, so --help loads no torch

from . import console
from .batchlog import LineLog, line_log
from .console import pct
from .options import db_option, device_option, first_pass_option, tune_options
from .train_options import options_values, train_options


class _Bar:
    """Training events as one rich progress bar on standard error (or, into a log, plain lines at an interval:
    lorascope/batchlog.py), and the lines worth keeping."""

    def __init__(self, log: LineLog | None = None) -> None:
        self.log = log
        self.progress = console.progress()
        self.task = None
        self.dev = "-"
        self.resumed = self.restarted = self.has_test = False

    def __enter__(self) -> "_Bar":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.task is not None:      # shown from the first step on: an early error stays one line
            self.progress.stop()
        if self.log is not None:
            self.log.close()

    def __call__(self, event: Any) -> None:
        from lorascope.core.training import train as t

        from .jobs import RunStarted

        say = console.err.print
        if isinstance(event, RunStarted):
            if event.takeover:
                say(event.takeover)
            sets = f"dev {event.names['dev']}" + (f", test {event.names['test']}" if "test" in event.names else "")
            say(f"run {event.run_id}: {event.strategy} on {event.names['train']} ({event.train_lists} lists), {sets}")
            self.resumed, self.restarted, self.run_id = event.resumed, event.restarted, event.run_id
            self.has_test = "test" in event.names
            if self.log is not None:
                self.log.now(f"loading the backbone and preparing the lists of run {event.run_id}")
            if event.dropped:
                say(event.dropped, soft_wrap=True)
        elif isinstance(event, t.CheckpointLoaded):
            for name, why in event.skipped:
                say(f"checkpoint {name} cannot be used: {why}; falling back to the one before it")
            say(f"resuming from the checkpoint of step {event.step} ({event.path})")
        elif isinstance(event, t.TrainStarted):
            scaled = ", ".join(f"{k} {v}" for k, v in event.scaled_steps.items()) or "none"
            procs = f", {event.processes} processes" if event.processes > 1 else ""
            say(f"scorer family {event.family}" + (f"; adapted per role: {event.adapted_roles}"
                                                   if event.adapted_roles else ""))
            say(f"{event.strategy}: {event.trainable.trainable:,} trainable of {event.trainable.total:,} parameters "
                f"({100 * event.trainable.share:.3f}%, head included) on {event.device} ({event.engine} engine{procs}); "
                f"{event.train_utterances} training lists ({event.skipped_utterances} skipped: all hypotheses "
                f"equally wrong); length: {event.steps_rule}; scaled steps: {scaled}")
            if self.restarted:
                say(f"run {self.run_id}: it stopped before its first checkpoint, so it starts again from step 0 "
                    f"of {event.total_steps}")
            elif self.resumed:
                say(f"run {self.run_id}: resumed from step {event.start_step} of {event.total_steps} (its newest "
                    f"checkpoint)")
            if self.log is not None:
                self.log.start(event.total_steps, event.start_step)
                return
            self.progress.start()
            self.task = self.progress.add_task("train", total=event.total_steps, completed=event.start_step, status="")
        elif isinstance(event, t.PhaseChanged):
            say(f"step {event.step}: {event.phase} phase, {event.trainable.trainable:,} trainable")
        elif isinstance(event, t.StepDone):
            r = event.record
            budget = f" rank budget {r.rank_budget}" if r.rank_budget is not None else ""
            if self.log is not None:
                self.log.update(r.step, loss=f"{r.loss:.4f}", dev_WER=None if self.dev == "-" else self.dev,
                                rank_budget=r.rank_budget)
                if r.step == event.total_steps:
                    self.log.phase("running the final dev evaluation and the combination search" +
                                   (", then scoring the test set" if self.has_test else ""))
                return
            self.progress.update(self.task, completed=r.step, status=f"loss {r.loss:.4f} dev WER {self.dev}{budget}")
        elif isinstance(event, t.DevEvaluated):
            self.dev = f"{pct(event.best_wer)}% (step {event.step})"
        elif isinstance(event, t.BestRestored):
            say(f"kept the weights of step {event.step} (dev WER {pct(event.dev_wer)}%, final step "
                f"{pct(event.final_dev_wer)}%)")


def _print_summary(job) -> None:
    result, names = job.result, job.names
    boot = job.test_bootstrap
    if boot is not None:
        console.out.print(f"test: rescored - 1-best WER {100 * boot.difference:+.2f} points, 95% interval "
                          f"[{100 * boot.low:+.2f}, {100 * boot.high:+.2f}] (paired bootstrap, 1000 resamples)")
    rows = []
    for split, res in [("dev", result.dev), *result.evals.items()]:
        if res is None or res.rescored_wer is None:
            continue
        rel = (res.rescored_wer - res.one_best_wer) / res.one_best_wer if res.one_best_wer else float("nan")
        rows.append((split, names[split], len(res.choices), pct(res.one_best_wer), pct(res.oracle_wer),
                     pct(res.rescored_wer), f"{100 * rel:+.1f}%"))
    kept = "" if result.kept_step == result.steps_done else f" (weights of step {result.kept_step})"
    console.out.print(console.table(
        f"run {job.run_id}: {result.config.strategy}, λ = {result.lam:.4g}, {result.steps_done} steps{kept}, "
        f"{result.wall_time_s:.0f} s, {result.trainable.trainable:,} trainable ({100 * result.trainable.share:.3f}%)",
        ["split", "dataset", "utts", "1-best WER%", "oracle WER%", "rescored WER%", "relative"], rows))
    search, gate = result.combination_search, result.gate
    oof = "out-of-fold dev decisions" if gate is not None and gate.folds else "dev"
    if search.fell_back:
        console.out.print(f"combination: the best on dev ({search.best.describe()}) beat the first pass in only "
                          f"{100 * search.p_better:.1f}% of bootstrap resamples of {oof} (needs "
                          f"{100 * result.config.lambda_confidence:.0f}%), so the first pass is kept")
    else:
        console.out.print(f"combination: {search.combination.describe()}")
        if search.p_better is not None:
            console.out.print(f"combination: the dev gain over the first pass holds in {100 * search.p_better:.1f}% "
                              f"of bootstrap resamples of {oof}")
    if gate is not None and gate.oof_wer is not None:
        test = result.evals.get("test")
        beside = "" if test is None or test.rescored_wer is None else f"; test {pct(test.rescored_wer)}%"
        console.out.print(f"estimate: out-of-fold dev WER {pct(gate.oof_wer)}% ({gate.folds} folds, each tuned on "
                          f"the others; 1-best {pct(search.first_pass_wer)}%){beside}")
    for split, why in result.eval_errors.items():
        console.out.print(f"{split} not evaluated: {why}; the adapter is kept: `lorascope eval --run {job.run_id} "
                          f"--data {names[split]}` (with --tune-on or --cross-fit)", soft_wrap=True)
    if result.final_ranks:
        ranks = sorted(set(result.final_ranks.values()))
        console.out.print(f"final ranks over {len(result.final_ranks)} adapted matrices: {ranks[0]}..{ranks[-1]}, "
                          f"total {sum(result.final_ranks.values())}")
    console.out.print(f"adapter: {result.adapter_dir}")


@click.command("train")
@train_options
@click.option("--resume", "resume", type=int, metavar="RUN", help="Continue an interrupted or stale run.")
@click.option("--convert-old-checkpoint", is_flag=True,
              help="With --resume: rewrite the run's checkpoint from the old pickle format (checkpoint.pt) in the "
              "current one first; loads tensors and plain values only. Use it only for a file you trust.")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Training processes on this machine (data parallel; the same as `torchrun --nproc-per-node N -m "
              "lorascope train ...`). Each takes its share of every step's lists.")
@db_option
@click.pass_context
def train_cmd(ctx: click.Context, resume: int | None, convert_old_checkpoint: bool, nproc: int,
              **values: Any) -> None:
    """Train a rescorer on N-best lists with one of the papers' strategies, headless.

    Tunes the combination of first-pass evidence and the LM on the dev set, evaluates dev and test, saves the
    adapter beside the store and records the run, its metrics and per-hypothesis scores. Ctrl-C or SIGTERM
    marks the run interrupted; `--resume RUN` continues it (or takes over a run whose process died).
    """
    backbone = values["backbone"] or "MiniLM-L6"
    what = f"run {resume}" if resume is not None else f"the data sets and the backbone ({backbone})"
    log = line_log("train", f"torch and transformers, then {what}")   # in a log: at once, before torch loads
    from lorascope.core.training.distributed import from_environment

    from .jobs import TrainOptions, train_job

    dist = from_environment()
    if nproc > 1 and not dist.enabled:
        from .launch import launch, strip_nproc

        if log is not None:
            log.close()
        ctx.exit(launch(nproc, strip_nproc(ctx.find_root().meta["lorascope.args"])))
    options = None
    if convert_old_checkpoint and resume is None:
        raise click.UsageError("--convert-old-checkpoint goes with --resume RUN")
    if resume is None:
        if values["strategy"] is None:
            raise click.UsageError(f"--strategy is required ({', '.join(STRATEGY_NAMES[:-1])} or {STRATEGY_NAMES[-1]}) "
                                   "unless --resume RUN")
        options = TrainOptions(**options_values(values))
    device = values["device"]
    with _Bar(log) as bar:   # on resume only the device may change
        job = train_job(ctx.obj["db"], options, resume=resume, device=None if device == "auto" else device,
                        on_event=bar, distributed=dist, convert_old_checkpoint=convert_old_checkpoint)
    if not dist.is_main:
        ctx.exit(130 if job.status == "interrupted" else 0)   # rank 0 reports
    if job.status == "interrupted":
        console.err.print(f"run {job.run_id} interrupted; continue it with `lorascope train --resume {job.run_id}`")
        ctx.exit(130)
    _print_summary(job)


@click.command("eval")
@click.option("--run", "run_id", type=int, required=True, help="A finished run whose adapter scores the data.")
@click.option("--data", required=True, help="A dataset name in the store or an N-best file (imported on first use).")
@click.option("--lam", type=float, help="The LM weight λ of the combination. Default: the run's dev-tuned one.")
@tune_options
@device_option
@click.option("--engine", type=click.Choice(ENGINE_NAMES), default="auto", show_default=True,
              help="Scoring engine: hf (padded, sorted by length), packed (no padding), auto (packed for BERT "
              "backbones).")
@first_pass_option
@db_option
@click.pass_context
def eval_cmd(ctx: click.Context, run_id: int, data: str, lam: float | None, tune_on: str | None,
             cross_fit: int | None, device: str, engine: str, first_pass: str | None) -> None:
    """Score a data set with a stored adapter; store and print 1-best, oracle and rescored WER."""
    log = line_log("eval", f"torch, the adapter of run {run_id} and {data}")

    def scoring(event: Any) -> None:   # core.rescorer.ScoringProgress, into the log's lines
        if log.total is None:
            log.start(event.total, unit="hypothesis")
        log.update(event.done)

    from .jobs import eval_job

    try:
        job = eval_job(ctx.obj["db"], run_id, data, lam=lam, device=device, engine=engine, first_pass=first_pass,
                       tune_on=tune_on, cross_fit=cross_fit, on_event=scoring if log is not None else None)
    finally:
        if log is not None:
            log.close()
    res = job.result
    console.err.print(job.how, soft_wrap=True)
    if res.rescored_wer is None:
        console.out.print(f"scored {job.utterances} utterances of {job.dataset} (no references: no WER)")
    else:
        kind = {"eval out-of-fold": "out-of-fold ", "eval held-out": "held-out "}.get(job.split, "")
        console.out.print(f"{job.dataset}: {job.utterances} utterances, {res.combination.describe()}: 1-best WER "
                          f"{pct(res.one_best_wer)}%, oracle {pct(res.oracle_wer)}%, {kind}rescored "
                          f"{pct(res.rescored_wer)}%")

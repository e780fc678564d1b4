"""``lorascope datasets`` and ``lorascope runs`` (list; rm, rename, note) and ``lorascope export``: the store's
contents, managed one transaction per command."""

from __future__ import annotations

import shutil
import sys
from datetime import datetime
from pathlib import Path

import click

from . import console
from .console import pct
from .options import db_option


def open_store(ctx: click.Context, *, readonly: bool = False):
    from lorascope.store import Store

    return Store(ctx.find_root().obj["db"], readonly=readonly)


# ------------------------------------------------------------------------------------------------ datasets


@click.group("datasets", invoke_without_command=True)
@db_option
@click.pass_context
def datasets_cmd(ctx: click.Context) -> None:
    """List the datasets in the store with their sizes, first pass and first-pass WERs (`datasets rm NAME`
    deletes one)."""
    if ctx.invoked_subcommand is not None:
        return
    with open_store(ctx) as store:
        rows = store.datasets()
    if not rows:
        console.out.print("no datasets yet: `lorascope import FILE` adds one")
        return
    console.out.print(console.table(
        None, ["name", "utts", "hyps", "scores", "first pass", "1-best WER%", "oracle WER%", "source"],
        [(d.name, d.utterances, d.hypotheses, d.scores, d.first_pass, pct(d.one_best_wer), pct(d.oracle_wer),
          d.source) for d in rows]))


@datasets_cmd.command("rm")
@click.argument("name")
@click.option("--force", is_flag=True, help="Delete it even when runs use it (their metric rows stay; their "
              "per-hypothesis scores and rank changes on it go).")
@db_option
@click.pass_context
def datasets_rm(ctx: click.Context, name: str, force: bool) -> None:
    """Delete data set NAME with its lists (one transaction); refused while a run uses it, unless --force."""
    from lorascope.store.manage import delete_dataset

    with open_store(ctx, readonly=False) as store:
        info, use = delete_dataset(store, name, force=force)
    used = f"; it was used by {use.describe()}" if use.roles else ""
    console.out.print(f"deleted dataset {info.name!r} ({info.utterances} utterances, {info.hypotheses} "
                      f"hypotheses){used}")


# ------------------------------------------------------------------------------------------------ runs


def _duration(start: str | None, end: str | None) -> str | None:
    if not start or not end:
        return None
    seconds = int((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())
    h, rest = divmod(max(seconds, 0), 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


def _clean_wer(metrics: list[dict], split: str) -> dict[int, float]:
    """run id -> its latest clean WER on ``split`` (dev or test), as the training run stored it."""
    return {m["run_id"]: m["wer"] for m in metrics
            if m["split"] == split and m["perturbation"] == "clean" and m["run_id"] is not None}


@click.group("runs", invoke_without_command=True)
@db_option
@click.pass_context
def runs_cmd(ctx: click.Context) -> None:
    """List training runs: data sets, status, steps done of total, dev/test WER, λ, duration, name and note
    (`runs rm|rename|note` manage them)."""
    if ctx.invoked_subcommand is not None:
        return
    with open_store(ctx) as store:
        runs = store.runs()
        metrics = store.metrics()
    if not runs:
        console.out.print("no runs yet: `lorascope train --strategy lora` makes one")
        return
    dev, test = _clean_wer(metrics, "dev"), _clean_wer(metrics, "test")
    rows = []
    for r in runs:
        total = r.total_steps or r.config.get("total_steps")
        sets = " / ".join(s or "-" for s in (r.train_dataset, r.dev_dataset)) + (f" / {r.test_dataset}"
                                                                                 if r.test_dataset else "")
        end = r.finished_at or (r.heartbeat_at if r.status == "running" else None)
        rows.append((r.id, r.name, r.strategy, r.shown_status, Path(r.backbone).name if r.backbone else None, sets,
                     f"{r.steps_done}/{total or '?'}", pct(dev.get(r.id)), pct(test.get(r.id)),
                     None if r.lam is None else f"{r.lam:.3g}", pct(r.trainable_share, 3), r.started_at,
                     _duration(r.started_at, end), (r.note or "").replace("\n", " / ") or None))
    console.out.print(console.table(
        None, ["id", "name", "strategy", "status", "backbone", "train / dev / test", "steps", "dev WER%",
               "test WER%", "λ", "share%", "started", "duration", "note"], rows))


@runs_cmd.command("rm")
@click.argument("run")
@click.option("--force", is_flag=True, help="Delete a run even while its training process is alive.")
@click.option("--keep-files", is_flag=True, help="Keep the run's folder (adapter and checkpoints) on disk.")
@db_option
@click.pass_context
def runs_rm(ctx: click.Context, run: str, force: bool, keep_files: bool) -> None:
    """Delete RUN (an id or a name) with its metrics, scores, curve and rank changes in one transaction, then its
    folder beside the store (adapters/run-ID)."""
    from lorascope.store.manage import delete_run, find_run

    from .jobs import run_folder

    db = ctx.find_root().obj["db"]
    with open_store(ctx) as store:
        info = find_run(store, run)
        delete_run(store, info, force=force)
    folder = run_folder(db, info.id)
    gone = ""
    if folder.is_dir() and keep_files:   # SQLite gives the next run the highest id + 1: perhaps this one's
        gone = f"; its folder {folder} is kept (move it away before a new run may take id {info.id})"
    elif folder.is_dir():
        shutil.rmtree(folder)
        gone = f" and its folder {folder}"
    console.out.print(f"deleted run {info.id} ({info.strategy} on {info.train_dataset}, {info.status}){gone}")


@runs_cmd.command("rename")
@click.argument("run")
@click.argument("name")
@db_option
@click.pass_context
def runs_rename(ctx: click.Context, run: str, name: str) -> None:
    """Name RUN (an id or its current name) NAME; `runs rm` and `runs note` take the name too. "" clears it."""
    from lorascope.store.manage import find_run, rename_run

    with open_store(ctx) as store:
        info = find_run(store, run)
        rename_run(store, info, name)
    console.out.print(f"run {info.id} is now named {name.strip()!r}" if name.strip() else
                      f"run {info.id} has no name now")


@runs_cmd.command("note")
@click.argument("run")
@click.argument("text")
@click.option("--append", is_flag=True, help="Add TEXT as a new line of the note instead of replacing it.")
@db_option
@click.pass_context
def runs_note(ctx: click.Context, run: str, text: str, append: bool) -> None:
    """Set RUN's note to TEXT ("" clears it); `lorascope runs` shows it, exports carry it."""
    from lorascope.store.manage import find_run, note_run

    with open_store(ctx) as store:
        info = find_run(store, run)
        note = note_run(store, info, text, append=append)
    console.out.print(f"run {info.id} note: {note}" if note else f"run {info.id} has no note now")


# ------------------------------------------------------------------------------------------------ export


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="json", show_default=True,
              help="JSON: one document with a list per table. CSV: one file per table in the --out folder.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Output file (JSON; default standard output; an existing folder: export.json inside it) or "
              "folder (CSV; default ./lorascope-export).")
@click.option("--scores", is_flag=True, help="Include the per-hypothesis scores of every run, with the reference, "
              "word errors and WER of each hypothesis.")
@click.option("--run", "runs", type=int, multiple=True, help="Only this run (repeatable). Default: all runs.")
@db_option
@click.pass_context
def export_cmd(ctx: click.Context, fmt: str, out: Path | None, scores: bool, runs: tuple[int, ...]) -> None:
    """Write datasets, runs, metrics, training curves and robustness rank changes (and per-hypothesis scores on
    request) as CSV or JSON; docs/how-to/export.md reads them into pandas."""
    from lorascope.store.export import export

    with open_store(ctx, readonly=True) as store:
        result = export(store, fmt, out, scores=scores, runs=list(runs) or None)
    if isinstance(result, str):
        sys.stdout.write(result)
    else:
        for path in result:
            console.err.print(f"wrote {path}")

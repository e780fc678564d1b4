"""The ``lorascope`` command: a thin shell over core and store library calls (sqlite-utils style)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from lorascope.core.errors import LorascopeError

from . import console
from .console import pct

SAMPLE_SETS = ("train", "dev", "test")

# Defaults that work offline: never ask a model hub unless the user sets HF_HUB_OFFLINE=0 themselves.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def sample_data_dir() -> Path:
    """The bundled sample sets: ``$LORASCOPE_SAMPLE_DATA`` or the repository's sample_data/."""
    env = os.environ.get("LORASCOPE_SAMPLE_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "sample_data"


class UserError(click.ClickException):
    """A LorascopeError shown as one line: ``lorascope: <place>: <problem>``."""

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(f"lorascope: {self.message}", err=True)


class OneLineUsageError(click.ClickException):
    """Click's usage errors, shown as one line naming the command: ``lorascope train: Invalid value ...``."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(self.message, err=True)


class LorascopeGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "lorascope"
            raise OneLineUsageError(f"{where}: {exc.format_message()}") from exc
        except LorascopeError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise UserError(str(exc)) from exc
        except KeyboardInterrupt:
            click.echo("lorascope: interrupted", err=True)
            ctx.exit(130)


def open_store(ctx: click.Context, *, readonly: bool = False):
    from lorascope.store import Store

    return Store(ctx.obj["db"], readonly=readonly)


@click.group(name="lorascope", cls=LorascopeGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), envvar="LORASCOPE_DB", show_envvar=True,
              help="The SQLite result store. Default: lorascope.db in your user data directory.")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="lorascope", prog_name="lorascope")
@click.pass_context
def cli(ctx: click.Context, db: Path | None, debug: bool) -> None:
    """Train, store and inspect LoRA-adapted N-best rescorers for speech recognition.

    With no command, opens the interactive inspector (importing the bundled sample sets into the store on
    first use).
    """
    from lorascope.store import default_db_path

    ctx.ensure_object(dict)
    ctx.obj["db"] = db or default_db_path()
    ctx.obj["debug"] = debug
    if ctx.invoked_subcommand is None:
        with open_store(ctx) as store:
            imported = ensure_sample_sets(store)
        for name in imported:
            console.err.print(f"added {name}")
        from lorascope.tui.app import run_app

        run_app(ctx.obj["db"])


def ensure_sample_sets(store, *, demo: bool = True) -> list[str]:
    """Import the bundled sample sets (and register the demo adapter) that the store lacks; returns what was added."""
    from lorascope.core.formats import read_nbest

    added = []
    folder = sample_data_dir()
    for split in SAMPLE_SETS:
        name = f"sample-{split}"
        path = folder / f"{split}.jsonl"
        if path.exists() and not store.has_dataset(name):
            store.add_dataset(name, read_nbest(path, "jsonl"), source=str(path), format="jsonl")
            added.append(name)
    shipped = folder / DEMO_ADAPTER / "lorascope.json"
    if demo and shipped.exists() and not any(r.config.get("demo") for r in store.runs()):
        register_adapter(store, folder / DEMO_ADAPTER, demo=True)
        added.append(f"demo adapter {folder / DEMO_ADAPTER}")
    return added


DEMO_ADAPTER = "demo-adapter"


def register_adapter(store, folder: Path, *, demo: bool = False) -> int:
    """Record a saved adapter folder as a finished run, so the inspector and `eval` can use it."""
    import json

    info = json.loads((folder / "lorascope.json").read_text())
    config = dict(info.get("train_config") or {}, demo=demo, registered_from=str(folder))
    run_id = store.create_run(strategy=info.get("strategy", "?"), config=config, seed=info.get("seed"),
                              backbone=info.get("backbone"), versions=info.get("versions"),
                              train_dataset=info.get("train_dataset"), dev_dataset=info.get("dev_dataset"),
                              test_dataset=info.get("test_dataset"))
    store.add_adapter(run_id, path=str(folder.resolve()), trainable_params=int(info.get("trainable_params", 0)),
                      total_params=int(info.get("total_params", 0)), ranks=info.get("final_ranks"))
    store.update_run(run_id, status="done", lam=info.get("lam"), steps_done=int(info.get("steps", 0)))
    if info.get("metrics"):
        store.add_metrics(run_id, info["metrics"])
    return run_id


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", help="Dataset name in the store. Default: the file name without its extension.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "hyporadise", "mlm", "nemo"]),
              help="Input format. Default: sniffed from the content.")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path),
              help="NeMo TSV only: the JSONL manifest whose 'text' fields are the references.")
@click.option("--beam-size", type=click.IntRange(min=1),
              help="NeMo TSV only: hypotheses per utterance. Default: lines / manifest entries.")
@click.option("--replace", is_flag=True, help="Replace a stored dataset of the same name.")
@click.pass_context
def import_cmd(ctx: click.Context, file: Path, name: str | None, fmt: str | None, manifest: Path | None,
               beam_size: int | None, replace: bool) -> None:
    """Load N-best lists from FILE into the store and print counts, 1-best and oracle WER.

    Formats: native JSONL, HyPoradise JSON, mlm-scoring JSON, NeMo rescorer TSV (with --manifest).
    """
    from lorascope.core.formats import read_nbest, sniff_format
    from lorascope.core.nbest import scores_state

    fmt = fmt or sniff_format(file)
    utts = read_nbest(file, fmt, manifest=manifest, beam_size=beam_size)  # parse fully before touching the store
    name = name or file.stem
    with open_store(ctx) as store:
        info = store.add_dataset(name, utts, source=str(file), format=fmt, replace=replace)
    state = scores_state(utts)
    console.out.print(f"imported {info.name!r} ({fmt}): {info.utterances} utterances, {info.hypotheses} hypotheses")
    if state != "scored":
        console.out.print(f"first-pass scores: {state} (rank order serves as the first-pass prior)")
    if info.one_best_wer is None:
        console.out.print("no references: WER not computed")
    else:
        console.out.print(f"1-best WER {pct(info.one_best_wer)}%  oracle WER {pct(info.oracle_wer)}%  "
                          f"({info.reference_words} reference words)")


@cli.command("datasets")
@click.pass_context
def datasets_cmd(ctx: click.Context) -> None:
    """List the datasets in the store with their sizes and first-pass WERs."""
    with open_store(ctx) as store:
        rows = store.datasets()
    if not rows:
        console.out.print("no datasets yet: `lorascope import FILE` adds one")
        return
    console.out.print(console.table(None, ["name", "utts", "hyps", "scores", "1-best WER%", "oracle WER%", "source"],
                                    [(d.name, d.utterances, d.hypotheses, d.scores, pct(d.one_best_wer),
                                      pct(d.oracle_wer), d.source) for d in rows]))


@cli.command("runs")
@click.pass_context
def runs_cmd(ctx: click.Context) -> None:
    """List training runs with their status, adapter size and test WER."""
    with open_store(ctx) as store:
        runs = store.runs()
        metrics = store.metrics()
    if not runs:
        console.out.print("no runs yet: `lorascope train --strategy lora` makes one")
        return
    test_wer = {}
    for m in metrics:
        if m["split"] == "test" and m["perturbation"] == "clean" and m["run_id"] is not None:
            test_wer[m["run_id"]] = m["wer"]
    console.out.print(console.table(
        None, ["id", "strategy", "status", "backbone", "seed", "steps", "trainable", "share%", "λ", "test WER%",
               "started"],
        [(r.id, r.strategy, r.status, Path(r.backbone).name if r.backbone else None, r.seed, r.steps_done,
          r.trainable_params, pct(r.trainable_share, 3), None if r.lam is None else f"{r.lam:.3g}",
          pct(test_wer.get(r.id)), r.started_at) for r in runs]))


@cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="json", show_default=True,
              help="JSON: one document with a list per table. CSV: one file per table in the --out folder.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Output file (JSON; default standard output) or folder (CSV; default ./lorascope-export).")
@click.option("--scores", is_flag=True, help="Include the per-hypothesis scores of every run.")
@click.option("--run", "runs", type=int, multiple=True, help="Only this run (repeatable). Default: all runs.")
@click.pass_context
def export_cmd(ctx: click.Context, fmt: str, out: Path | None, scores: bool, runs: tuple[int, ...]) -> None:
    """Write datasets, runs and metrics (and per-hypothesis scores on request) as CSV or JSON."""
    from lorascope.store.export import export

    with open_store(ctx, readonly=True) as store:
        result = export(store, fmt, out, scores=scores, runs=list(runs) or None)
    if isinstance(result, str):
        sys.stdout.write(result)
    else:
        for path in result:
            console.err.print(f"wrote {path}")


from .cmd_train import eval_cmd, train_cmd  # noqa: E402

cli.add_command(train_cmd)
cli.add_command(eval_cmd)
from .cmd_robust import report_cmd, robustness_cmd  # noqa: E402

cli.add_command(robustness_cmd)
cli.add_command(report_cmd)
from .cmd_confusions import confusions_cmd  # noqa: E402

cli.add_command(confusions_cmd)
from .cmd_synth import synth  # noqa: E402

cli.add_command(synth)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``lorascope`` script."""
    cli.main(args=argv, prog_name="lorascope")


if __name__ == "__main__":
    main()

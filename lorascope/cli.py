"""The ``lorascope`` command: a thin shell over core and store library calls (sqlite-utils style)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from lorascope.core.errors import LorascopeError, PeerFailed
from lorascope.core.data.formats import FORMATS, KALDI_DEFAULT_ACOUSTIC_SCALE
from lorascope.core.data.nbest import FIRST_PASS, FIRST_PASS_CHOICES

from . import console
from .cmd_compare import compare_cmd
from .cmd_confusions import confusions_cmd
from .cmd_robust import report_cmd, robustness_cmd
from .cmd_store import datasets_cmd, export_cmd, open_store, runs_cmd
from .cmd_study import merge_cmd, study_group
from .cmd_synth import synth
from .cmd_train import eval_cmd, train_cmd
from .console import pct
from .options import check_db, db_option

# Defaults that work offline: never ask a model hub unless the user sets HF_HUB_OFFLINE=0 themselves.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


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
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["lorascope.args"] = list(args)   # `train --nproc` starts its processes with the same arguments
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:           # an option before the command: one line too
            raise OneLineUsageError(f"lorascope: {exc.format_message()}") from exc

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "lorascope"
            raise OneLineUsageError(f"{where}: {exc.format_message()}") from exc
        except PeerFailed:
            from .launch import PEER_FAILED

            ctx.exit(PEER_FAILED)          # rank 0 reports the error; this training process only stops
        except LorascopeError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise (exc.__cause__ or exc)   # a crashed run's own traceback
            raise UserError(str(exc)) from exc
        except KeyboardInterrupt:
            click.echo("lorascope: interrupted", err=True)
            ctx.exit(130)


def _set_log_every(value: float | None) -> None:
    if value is not None:   # lorascope/batchlog.py reads it where the progress lines start
        os.environ["LORASCOPE_LOG_EVERY"] = repr(value)


@click.group(name="lorascope", cls=LorascopeGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), envvar="LORASCOPE_DB", show_envvar=True,
              callback=check_db, help="The SQLite result store (its folder must exist). Default: lorascope.db in "
              "your user data directory (created on first use).")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.option("--log-every", type=click.FloatRange(min=0), envvar="LORASCOPE_LOG_EVERY", show_envvar=True,
              expose_value=False, callback=lambda ctx, param, value: _set_log_every(value),
              help="When standard error is a file or pipe (a batch job's log): seconds between plain progress "
              "lines of train, eval, robustness and import. Default: 30; 0: none.")
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
        from .samples import ensure_sample_sets

        with open_store(ctx) as store:
            imported = ensure_sample_sets(store)
        for name in imported:
            console.err.print(f"added {name}")
        from lorascope.tui.app import run_app

        ctx.exit(run_app(ctx.obj["db"]))


@cli.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--name", help="Dataset name in the store. Default: the file name without its extension (a Kaldi "
              "or ESPnet folder: its name).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Input format. Default: sniffed from the content.")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path),
              help="NeMo TSV only: the JSONL manifest whose 'text' fields are the references.")
@click.option("--beam-size", type=click.IntRange(min=1),
              help="NeMo TSV only: hypotheses per utterance. Default: lines / manifest entries.")
@click.option("--reference", type=click.Path(dir_okay=False, path_type=Path),
              help="Kaldi and ESPnet only: the references, a Kaldi text file (uttid words).")
@click.option("--acoustic-scale", type=click.FloatRange(min=0), default=KALDI_DEFAULT_ACOUSTIC_SCALE,
              show_default=True, help="Kaldi only: the first-pass score is -(lm_cost + scale * ac_cost).")
@click.option("--first-pass", type=click.Choice(FIRST_PASS_CHOICES), default=FIRST_PASS, show_default=True,
              help="order: the list order as given is the first pass; score: sort each list by its scores.")
@click.option("--replace", is_flag=True, help="Replace a stored dataset of the same name.")
@db_option
@click.pass_context
def import_cmd(ctx: click.Context, file: Path, name: str | None, fmt: str | None, manifest: Path | None,
               beam_size: int | None, reference: Path | None, acoustic_scale: float, first_pass: str,
               replace: bool) -> None:
    """Load N-best lists from FILE into the store and print counts, 1-best and oracle WER.

    Formats: native JSONL, HyPoradise JSON, mlm-scoring JSON, NeMo rescorer TSV (with --manifest), a Kaldi
    N-best folder or its text file (uttid-N words, with ac_cost and lm_cost beside it), an ESPnet decode folder
    (1best_recog/, 2best_recog/, ...). The file is streamed into one transaction: any problem leaves the store
    as it was.
    """
    from lorascope.core.data.formats import sniff_format

    from .datasets import disagreement_line, import_file

    fmt = fmt or sniff_format(file)
    with open_store(ctx) as store:
        done = import_file(store, file, name=name, fmt=fmt, first_pass=first_pass, replace=replace,
                           manifest=manifest, beam_size=beam_size, reference=reference,
                           acoustic_scale=acoustic_scale)
    info = done.info
    console.out.print(f"imported {info.name!r} ({fmt}): {info.utterances} utterances, {info.hypotheses} hypotheses")
    if info.scores != "scored":
        console.out.print(f"first-pass scores: {info.scores} (rank order serves as the first-pass prior)")
    line = disagreement_line(done.disagreements, info.first_pass)
    if line:
        console.out.print(line, soft_wrap=True)
    if info.one_best_wer is None:
        console.out.print("no references: WER not computed")
    else:
        console.out.print(f"1-best WER {pct(info.one_best_wer)}%  oracle WER {pct(info.oracle_wer)}%  "
                          f"({info.reference_words} reference words)")


for command in (datasets_cmd, runs_cmd, export_cmd, train_cmd, eval_cmd, robustness_cmd, report_cmd, compare_cmd,
                confusions_cmd,
                synth, study_group, merge_cmd):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``lorascope`` script."""
    cli.main(args=argv, prog_name="lorascope")


if __name__ == "__main__":
    main()

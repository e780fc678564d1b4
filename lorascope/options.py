"""Options every command takes: ``--db`` before or after the command name (sqlite-utils takes it on every command)."""

from __future__ import annotations

from pathlib import Path

import click


def _set_db(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(dict)
        root = ctx.find_root()
        root.ensure_object(dict)
        root.obj["db"] = value
        ctx.obj["db"] = value


def db_option(command):
    """``--db PATH`` on a subcommand; it wins over one given before the command name."""
    return click.option("--db", type=click.Path(dir_okay=False, path_type=Path), expose_value=False,
                        callback=_set_db, is_eager=False,
                        help="The SQLite result store (as before the command name).")(command)


def device_option(command):
    return click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")(command)


def first_pass_option(command):
    """``--first-pass`` for commands that take an N-best file on the way (train, eval, robustness)."""
    return click.option("--first-pass", type=click.Choice(["order", "score"]),
                        help="For an N-best file imported on the way: order (default) takes each list's order as the "
                        "first pass, score sorts each list by its scores. A stored dataset keeps the first pass it "
                        "was imported with.")(command)


def tune_options(command):
    """``--tune-on NAME|FRACTION`` and ``--cross-fit K``: a combination for a set the run's one does not fit."""
    command = click.option("--cross-fit", "cross_fit", type=int, metavar="K",
                           help="Tune the combination on K-1 folds of this set (by utterance, fixed seed) and apply "
                           "it to the held-out fold, for each fold: every list is scored out of fold, and the WER "
                           "says so. The LM scores are computed once.")(command)
    return click.option("--tune-on", "tune_on", metavar="NAME|FRACTION",
                        help="Tune the combination (the features this set has, plus λ) on another data set NAME, or "
                        "on a FRACTION (e.g. 0.3) of this set's utterances (fixed seed), reporting on the rest "
                        "only.")(command)

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

"""Options every command takes: ``--db`` and ``--debug`` before or after the command name (sqlite-utils takes
``--db`` on every command)."""

from __future__ import annotations

from pathlib import Path

import click


def check_db(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """A store named on the command line (``--db``) must be in a folder that exists: a typo'd folder is an error,
    not a new empty store. The default store's folder (and ``$LORASCOPE_DB``'s, set once in a job script) is
    created for the user."""
    typed = ctx.get_parameter_source(param.name) == click.core.ParameterSource.COMMANDLINE
    if value is not None and typed and not value.parent.is_dir():
        raise click.BadParameter(f"{value}: the folder {value.parent} does not exist (create it first; only the "
                                 f"default store's folder is made for you)", ctx=ctx,
                                 param_hint="'--db'")
    return value


def _set_db(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        check_db(ctx, param, value)
        ctx.ensure_object(dict)
        root = ctx.find_root()
        root.ensure_object(dict)
        root.obj["db"] = value
        ctx.obj["db"] = value


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        root = ctx.find_root()
        root.ensure_object(dict)
        root.obj["debug"] = True


def debug_option(command):
    """``--debug`` on a subcommand, as before the command name."""
    return click.option("--debug", is_flag=True, expose_value=False, callback=_set_debug, is_eager=True,
                        help="Show full tracebacks instead of one-line errors (as before the command name).")(command)


def db_option(command):
    """``--db PATH`` and ``--debug`` on a subcommand; a ``--db`` here wins over one given before the command name."""
    command = debug_option(command)
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

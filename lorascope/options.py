"""Options every command takes: ``--db`` and ``--debug`` before or after the command name (sqlite-utils takes
``--db`` on every command)."""

from __future__ import annotations

from pathlib import Path

import click

from lorascope.core.names import DEFAULT_PERTURBATION, PERTURBATION_NAMES


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


#: What each perturbation model is, for every command's ``--perturbation`` help (names from core/names.py).
PERTURBATION_HELP = {
    "paper": "the round trip: most likely spelling of the pronunciation",
    "mined": "the recogniser's own confusions; mined:from=DATASET, default the run's training set, never the set "
             "under test",
    "lexicon": "every kind of sound-alike: the stress test; lexicon:max_distance=0 keeps homophones, splits and "
               "merges",
}


def perturbation_option(what: str, *, default: str | None = DEFAULT_PERTURBATION, allow_none: bool = False,
                        multiple: bool = False, dest: str = "perturbation", filter_only: bool = False):
    """``--perturbation NAME[:KEY=VALUE,...]``, the perturbation model, alike on every command (``--model`` is
    always the backbone). ``what`` says what the model is for on this command; ``default`` None: the command
    decides (train: paper, mined from its own training set); ``filter_only``: a filter (report), no default."""
    if set(PERTURBATION_HELP) != set(PERTURBATION_NAMES):   # a new model needs its line here
        raise RuntimeError(f"options.PERTURBATION_HELP names {sorted(PERTURBATION_HELP)}, not {PERTURBATION_NAMES}")
    models = ", ".join(f"{name} ({PERTURBATION_HELP[name]})" for name in PERTURBATION_NAMES)
    fallback = "" if default is not None or multiple or filter_only else f" Default: {DEFAULT_PERTURBATION}."
    extra = "; none: clean lists only" if allow_none else ""
    return click.option("--perturbation", dest, default=default if not multiple else None, multiple=multiple,
                        show_default=default is not None and not multiple,
                        metavar="NAME[:KEY=VALUE,...]" + ("|none" if allow_none else ""),
                        help=f"{what}: {models}{extra}.{fallback}")

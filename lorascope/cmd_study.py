"""``lorascope study run|status|cells|report`` and ``lorascope merge``: the papers' grids as one resumable command."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from lorascope.core.errors import InputError
from lorascope.core.names import TRAINED_STRATEGY_NAMES

from . import console
from .options import db_option, device_option, perturbation_option


def _spec(spec_path: str | None, from_store: Path | None, overrides: dict):
    from lorascope.core.analysis.study import StudySpec, read_spec, spec_from_mapping

    if from_store is not None:
        from lorascope.store import Store
        from lorascope.store.study import study

        if spec_path is None:
            raise InputError("--from", "name the study to take from that store")
        with Store(from_store, readonly=True) as store:
            spec = study(store, spec_path).spec
        if overrides:
            raise InputError("--from", "takes the stored spec as it is; give no grid options with it")
        return spec
    if spec_path is None and not overrides:
        raise InputError("study run", "give a SPEC.toml or the study's options (--name, --strategy, ...)")
    spec = read_spec(spec_path, overrides)
    return spec if isinstance(spec, StudySpec) else spec_from_mapping(spec)


def _fmt_seconds(s: float | None) -> str:
    if s is None:
        return "unknown (no cell done yet)"
    h, rest = divmod(int(round(s)), 3600)
    return f"{h} h {rest // 60:02d} min" if h else f"{rest // 60} min {rest % 60:02d} s"


@click.group("study")
def study_group() -> None:
    """A grid of runs (strategies x backbones x training seeds x sizes, then perturbation models x p x seeds)
    as one resumable study, its status, its cells for a scheduler, and its report."""


@study_group.command("run")
@click.argument("spec_path", metavar="[SPEC.toml]", required=False)
@click.option("--name", help="The study's name (unique in the store; overrides the spec's).")
@click.option("--train", help="Training set: a dataset name or N-best file.")
@click.option("--dev", help="Dev set.")
@click.option("--test", help="Test set.")
@click.option("--model", "--backbone", "backbones", multiple=True,
              help="A backbone (repeatable; --model as on train). Default: minilm-l6.")
@click.option("--strategy", "strategies", multiple=True,
              help=f"{', '.join(TRAINED_STRATEGY_NAMES[:-1])} or {TRAINED_STRATEGY_NAMES[-1]} (repeatable).")
@click.option("--seed", "seeds", type=int, multiple=True, help="A training seed (repeatable). Default: 0.")
@click.option("--size", "sizes", type=int, multiple=True, help="A training-set size: nested subsets (repeatable).")
@click.option("--size-seed", type=int, help="The seed of the nested subsets' order. Default: 0.")
@click.option("--steps", type=int, help="Training length: optimizer steps of every run.")
@click.option("--epochs", type=float, help="Training length: passes over the informative lists (default rule: 3).")
@click.option("--batch-size", type=int, help="Lists per step.")
@click.option("--lr", type=float, help="Learning rate.")
@perturbation_option("A perturbation model (repeatable)", multiple=True, dest="models")
@click.option("--p", "p", type=float, multiple=True, help="A perturbation probability (repeatable). Default: 0.5.")
@click.option("--perturbation-seed", "perturbation_seeds", type=int, multiple=True,
              help="A perturbation seed (repeatable). Default: 0, 1, 2.")
@click.option("--cell", "positions", type=int, multiple=True,
              help="Run only cell K (repeatable; `study cells` lists them), e.g. into its own store with --db.")
@click.option("--from", "from_store", type=click.Path(dir_okay=False, path_type=Path),
              help="Take the spec of study SPEC (a name) from this store (read only).")
@click.option("--retry-failed", is_flag=True, help="Run failed cells again (default: they keep their error).")
@device_option
@db_option
@click.pass_context
def run_cmd(ctx: click.Context, spec_path: str | None, from_store: Path | None, positions: tuple[int, ...],
            retry_failed: bool, device: str, **options) -> None:
    """Run (or continue) a study: every cell not yet done, each an ordinary training run with its test WER and
    robustness results. A killed study continues where it stopped; a failed cell keeps its error and the study
    goes on."""
    from lorascope.core.analysis.study import cells, overrides_from_options

    from .study.runner import CellEvent, run_study

    spec = _spec(spec_path, from_store, overrides_from_options(**options))
    total = len(cells(spec))

    def shown(event) -> None:
        if isinstance(event, CellEvent):
            where = f"cell {event.cell.position} of {total} ({event.cell.key})"
            if event.stage == "train":
                console.err.print(f"{where}: training{' (taking it up again)' if event.detail else ''}")
            elif event.stage == "robustness":
                console.err.print(f"{where}: robustness {event.detail}")
            elif event.stage in ("done", "failed"):
                console.err.print(f"{where}: {event.stage} {event.detail}")

    outcome = run_study(ctx.obj["db"], spec, positions=list(positions) or None, retry_failed=retry_failed,
                        device=device, on_event=shown)
    state = "interrupted" if outcome.interrupted else "finished"
    console.out.print(f"study {spec.name} {state}: {len(outcome.done)} cells done now, {len(outcome.failed)} failed, "
                      f"{len(outcome.skipped)} skipped (done, failed before, or another process's); "
                      f"`lorascope study status {spec.name}`")
    if outcome.failed:
        ctx.exit(1)


@study_group.command("status")
@click.argument("name")
@db_option
@click.pass_context
def status_cmd(ctx: click.Context, name: str) -> None:
    """Done / running / failed / to-do cells of study NAME, with an estimate of the time left."""
    from lorascope.store import Store
    from lorascope.store.study import study, study_status

    with Store(ctx.obj["db"], readonly=True) as store:
        info = study(store, name)
        st = study_status(store, info.id)
    c = st.counts
    console.out.print(f"study {name}: {len(st.cells)} cells: {c['done']} done, {c['running']} running, "
                      f"{c['stale']} stale, {c['failed']} failed, {c['todo']} to do; time left about "
                      f"{_fmt_seconds(st.seconds_left)} (mean of the done cells, one process)")
    console.out.print(info.spec.describe())
    console.out.print(console.table(None, ["cell", "what", "status", "run", "seconds", "error"], [
        (r.position, r.key, r.shown_status, r.run_id, None if r.seconds is None else f"{r.seconds:.0f}", r.error)
        for r in st.cells]))


@study_group.command("cells")
@click.argument("spec_or_name")
@click.option("--folder", default="cells", show_default=True,
              help="Where the per-cell stores go: FOLDER/cell-K/store.db (each cell its own folder, made here: "
                   "adapters live beside their store).")
@db_option
@click.pass_context
def cells_cmd(ctx: click.Context, spec_or_name: str, folder: str) -> None:
    """Print one command per cell (a SPEC.toml, or a study stored in --db), for a SLURM array or any scheduler;
    merge the cells' stores afterwards with `lorascope merge`."""
    from lorascope.core.analysis.study import cells, read_spec

    if Path(spec_or_name).is_file():
        spec = read_spec(spec_or_name)
        source = shlex.quote(spec_or_name)
    else:
        spec = _spec(spec_or_name, Path(ctx.obj["db"]), {})
        source = f"--from {shlex.quote(str(ctx.obj['db']))} {shlex.quote(spec_or_name)}"
    planned = cells(spec)
    for cell in planned:    # --db refuses a folder that does not exist (a typo would scatter stores): make them
        Path(folder, f"cell-{cell.position}").mkdir(parents=True, exist_ok=True)
    console.err.print(f"made {len(planned)} cell folders under {folder}/")
    for cell in planned:
        db = shlex.quote(f"{folder}/cell-{cell.position}/store.db")
        click.echo(f"lorascope --db {db} study run {source} --cell {cell.position}   # {cell.key}")


@study_group.command("report")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["md", "csv"]), default="md", show_default=True,
              help="Markdown tables or CSV (one file per table with --out).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Write the tables and the pictures (learning curve, NPRR bars: PNG and SVG) into this folder.")
@db_option
@click.pass_context
def report_cmd(ctx: click.Context, name: str, fmt: str, out: Path | None) -> None:
    """Table 2 (test WER over training seeds, bootstrap Δ to ft), Table 3 (NPRR with differences between
    strategies) and the learning curve with its power law, for study NAME."""
    from lorascope.core.analysis.study_tables import render_csv, render_md
    from lorascope.store import Store
    from lorascope.store.study_report import study_report

    with Store(ctx.obj["db"], readonly=True) as store:
        report = study_report(store, name)
    texts = {"report.md": render_md(report)} if fmt == "md" else {f"{k}.csv": v for k, v in render_csv(report).items()}
    if out is None:
        click.echo("\n".join(texts.values()), nl=False)
        return
    from .study.plots import learning_curve, nprr_bars

    out.mkdir(parents=True, exist_ok=True)
    for file, text in texts.items():
        (out / file).write_text(text)
        console.err.print(f"wrote {out / file}")
    for path in learning_curve(report, out) + nprr_bars(report, out):
        console.err.print(f"wrote {path}")


@click.command("merge")
@click.argument("sources", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--into", "target", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The store to merge into (created if missing).")
def merge_cmd(sources: tuple[Path, ...], target: Path) -> None:
    """Merge result stores (e.g. a study's per-cell stores) into one, in one transaction: datasets matched by
    content, runs and results copied with their provenance; a conflict changes nothing."""
    from lorascope.store.merge import merge_stores

    s = merge_stores(list(sources), target)
    console.out.print(f"merged {len(s.sources)} stores into {target}: {s.runs} runs, {s.metrics} metric rows, "
                      f"{s.cells} study cells; datasets {s.datasets_copied} copied, {s.datasets_matched} matched")

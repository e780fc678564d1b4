"""``lorascope confusions``: the recogniser's own sound-alike confusions in a data set (core.confusions), as a table."""

from __future__ import annotations

import click

from . import console
from .options import db_option


@click.command("confusions")
@click.argument("data")
@click.option("--top", "top", type=click.IntRange(min=1), default=30, show_default=True,
              help="How many of the most frequent pairs to print.")
@click.option("--max-distance", type=click.FloatRange(min=0), help="Keep pairs up to this weighted phoneme "
              "distance. Default: core.confusions.MAX_DISTANCE.")
@db_option
@click.pass_context
def confusions_cmd(ctx: click.Context, data: str, top: int, max_distance: float | None) -> None:
    """Mine DATA's alignments of hypotheses against references and print the most frequent sound-alike confusions.

    DATA is a dataset name in the store or an N-best file (imported on first use). These are the pairs the
    `mined` perturbation model draws from (mined:from=DATA).
    """
    from lorascope.core.perturbation.confusions import MAX_DISTANCE, mine_confusions
    from lorascope.store import Store

    from .datasets import resolve_dataset

    with Store(ctx.obj["db"]) as store:
        name, utts = resolve_dataset(store, data, need_references="confusions need references to align against")
    found = mine_confusions(utts, max_distance=MAX_DISTANCE if max_distance is None else max_distance)
    rows = [(p.reference, p.hypothesis, p.kind, p.count, f"{100 * p.rate_to_hypothesis:.1f}",
             f"{100 * p.rate_to_reference:.1f}", f"{p.distance:.2f}") for p in found.top(top)]
    title = (f"{name}: {len(found.pairs)} confusion pairs from {found.utterances} lists "
             f"({found.hypotheses} hypotheses), distance <= {found.max_distance:g}")
    # The rates: of the reference side's occurrences, how many came out as the hypothesis side; of the
    # hypothesis side's occurrences, how many stood for the reference side (what mined's min_rate reads).
    table = console.table(title, ["reference", "hypothesis", "kind", "count", "ref→hyp %", "hyp→ref %",
                                  "distance"], rows)
    for column in table.columns[:3]:
        column.justify = "left"
    console.out.print(table)

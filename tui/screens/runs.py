"""The runs screen: the paper's Table 3 over stored runs (sortable, exportable), a run's training curves (loss, dev
WER, learning rate, rank budget; exportable) and final ranks, and its fragile lists (:mod:`.fragility`).

The table and the highlighted run's curve and ranks are read from the store in workers and arrive as messages.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from lorascope.core.fmt import pct
from lorascope.store import Store
from lorascope.store.provenance import describe_combination, differing
from lorascope.store.reports import lam_text, table3_rows

from ..export import export_rows
from ..export_views import CURVE_FIELDS, write_csv
from ..widgets.curves import CURVE_KEYS, RunCurves
from ..widgets.rank_grid import RankGrid
from .dialogs import InputScreen
from .fragility import FragilityScreen

# (key, label, width); the table draws no padding of its own: every cell starts with one blank (the width counts
# it), half the table's default padding, so that the model column fits 80 columns
COLUMNS = (("run", "run", 4), ("strategy", "strategy", 9), ("dataset", "data set", 12),
           ("perturbation", "pert.", 6), ("model", "model", 8), ("seeds", "seeds", 6), ("wer", "WER", 7), ("oracle_wer", "Oracle", 7),
           ("delta_wer", "ΔWER", 7), ("nprr", "NPRR%", 11))
#: Shown only when the Table 3 rows differ in them (store/provenance.py): then rows of different settings are
#: told apart on screen, after the seeds column.
SETTING_COLUMNS = (("role", "role", 9), ("p", "p", 5), ("lam", "λ", 8), ("combination", "combination", 30))
TEXT_COLUMNS = ("strategy", "dataset", "model", "perturbation", "role", "combination")
SHORT_CONDITION = {"clean": "clean", "perturb-1": "p-1", "perturb-N": "p-N", "test": "test*"}

NO_RUNS = ("[b]No runs yet.[/b]\n\nTrain a rescorer headless, then look at it here:\n\n"
           "  [b]lorascope train --strategy lora[/b]     (or s1, s2, s3, ft)\n"
           "  [b]lorascope robustness --run ID[/b]       perturb-1 / perturb-N rows of Table 3\n")


def comparison_rows(store: Store) -> list[dict[str, Any]]:
    """Table 3 rows (lorascope.store.reports.table3_rows), plus one row per run that has no robustness results.

    Such a run shows its clean test-set evaluation from training (perturbation ``test``) so that every stored
    run appears; ``source`` says which kind a row is.
    """
    rows = [dict(r, source="robustness") for r in table3_rows(store)]
    covered = {r["run"] for r in rows}
    for run in store.runs():
        if run.id in covered:
            continue
        test = [m for m in store.metrics(run.id) if m["split"] == "test" and m["perturbation"] == "clean"]
        m = test[-1] if test else None
        rows.append({
            "run": run.id, "strategy": run.strategy, "dataset": m["dataset"] if m else (run.test_dataset or "–"),
            "perturbation": "test", "seeds": "–", "wer": m["wer"] if m else None,
            "oracle_wer": m["oracle_wer"] if m else None, "delta_wer": m["delta_wer"] if m else None,
            "nprr": None, "nprr_std": None, "model": "–", "source": f"training test evaluation ({run.status})",
            "role": (m.get("role") or "?") if m else "?", "p": None, "lam": m.get("lam") if m else None,
            "combination": describe_combination(m.get("combination")) if m else "?",
        })
    return rows


def _pct(x: float | None, digits: int = 2) -> str:
    return pct(x, digits, missing="–", infinity="∞")


def _seeds(row: dict[str, Any]) -> str:
    """The measurement's perturbation seeds (``0,1``) where recorded, else how many rows were averaged."""
    if row["perturbation"] in ("clean", "test"):
        return "–"
    recorded = row.get("seeds")
    if recorded and recorded != "?":
        return recorded
    return str(row.get("measured") or "–")


def _cell(value: str, key: str) -> Text:
    """A cell of column ``key``: text on the left after one blank, figures on the right."""
    if key in TEXT_COLUMNS:
        return Text(f" {value}", no_wrap=True, overflow="ellipsis")
    return Text(value, justify="right")


def sort_rows(rows: list[dict[str, Any]], key: str, reverse: bool = False) -> list[dict[str, Any]]:
    """Rows by ``key`` (stable); rows without a value stay last in either direction."""
    def missing(r: dict[str, Any]) -> bool:
        v = r.get(key)
        return v is None or (isinstance(v, float) and math.isnan(v))

    present = sorted((r for r in rows if not missing(r)), key=lambda r: r[key], reverse=reverse)
    return present + [r for r in rows if missing(r)]


class RowsRead(Message):
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self.rows = rows


class RunRead(Message):
    """One run's record, training curve and final ranks (None: not stored)."""

    def __init__(self, run_id: int, run: Any, events: list[dict[str, Any]], ranks: dict[str, int] | None) -> None:
        super().__init__()
        self.run_id = run_id
        self.run = run
        self.events = events
        self.ranks = ranks


class RunsScreen(Screen):
    """Table 3 on top; under it the highlighted run's training curves (v: the next) and its final rank per layer and
    matrix; f: its fragile lists."""

    BINDINGS = [
        Binding("s", "sort_next", "Sort"),
        Binding("S", "sort_reverse", "Reverse", show=False),
        Binding("e", "export", "Export CSV"),
        Binding("g", "reload", "Reload"),
        Binding("v", "next_curve", "Curve"),
        Binding("x", "export_curves", "Export curves", show=False),
        Binding("f", "fragility", "Fragile lists"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []       # as shown
        self.base_rows: list[dict[str, Any]] = []  # as the store gave them (ties keep this order)
        self.sort_key = "run"
        self.reverse = False
        self.run_id: int | None = None
        self.columns: tuple[tuple[str, str, int], ...] = COLUMNS
        self.curve = CURVE_KEYS[0]
        self.shown: tuple[int, Any, list[dict[str, Any]]] | None = None   # run id, record, events of the curves

    def add_columns(self) -> None:
        for key, label, width in self.columns:
            self.table.add_column(_cell(label, key), width=width, key=key)

    def choose_columns(self) -> None:
        """The fixed columns, plus the setting columns in which the Table 3 rows differ."""
        table3 = [r for r in self.base_rows if r.get("source") == "robustness"]
        extra = set(differing(table3, [k for k, _, _ in SETTING_COLUMNS]))
        at = [k for k, _, _ in COLUMNS].index("seeds") + 1
        columns = COLUMNS[:at] + tuple(c for c in SETTING_COLUMNS if c[0] in extra) + COLUMNS[at:]
        if columns != self.columns:
            self.columns = columns
            self.table.clear(columns=True)
            self.add_columns()

    def compose(self) -> ComposeResult:
        yield Static(id="runs-context")
        yield Static(id="runs-empty")
        with Vertical(id="runs-body"):
            yield DataTable(id="table3", cursor_type="row", zebra_stripes=True, cell_padding=0)
            with Horizontal(id="run-detail"):
                yield RunCurves(id="loss")
                with Vertical(id="ranks-pane"):
                    yield Static(id="ranks-title")
                    yield RankGrid(id="ranks")
        yield Footer(compact=True)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in ("sort_next", "sort_reverse", "export", "fragility"):
            return bool(self.rows)
        if action in ("next_curve", "export_curves"):
            return self.shown is not None
        return True

    @property
    def table(self) -> DataTable:
        return self.query_one("#table3", DataTable)

    def on_mount(self) -> None:
        self.columns = COLUMNS
        self.add_columns()
        self.action_reload()
        self.table.focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.read_rows()

    @work(thread=True, exclusive=True, group="rows", exit_on_error=False)
    def read_rows(self) -> None:
        with Store(self.app.db_path) as store:  # type: ignore[attr-defined]
            self.post_message(RowsRead(comparison_rows(store)))

    def on_rows_read(self, message: RowsRead) -> None:
        self.base_rows = message.rows
        self.rows = list(self.base_rows)
        empty = not self.rows
        self.query_one("#runs-body").display = not empty
        self.query_one("#runs-empty").display = empty
        if empty:
            self.query_one("#runs-empty", Static).update(NO_RUNS)
        self.render_table()

    def render_context(self) -> None:
        arrow = "↓" if self.reverse else "↑"
        label = dict((k, l) for k, l, _ in self.columns).get(self.sort_key, self.sort_key)
        runs = len({r["run"] for r in self.rows})
        text = Text.assemble((" Runs ", "bold reverse"), f" Table 3 · {runs} run{'s' if runs != 1 else ''} · "
                             f"sorted by {label} {arrow}", no_wrap=True, overflow="ellipsis")
        if any(r["perturbation"] == "test" for r in self.rows):
            text.append(" · test* = no robustness run yet", style="dim")
        self.query_one("#runs-context", Static).update(text)

    def render_table(self) -> None:
        table = self.table
        keep = self.run_id
        rows = sort_rows(self.base_rows, self.sort_key, self.reverse)
        self.rows = rows
        self.choose_columns()
        table.clear()
        for k, r in enumerate(rows):
            nprr = _pct(r["nprr"])
            if r.get("nprr_std") is not None:
                nprr += f"±{100 * r['nprr_std']:.1f}"
            values = {"run": str(r["run"]), "strategy": r["strategy"], "dataset": r["dataset"], "model": r["model"],
                      "perturbation": SHORT_CONDITION.get(r["perturbation"], r["perturbation"]),
                      "seeds": _seeds(r), "wer": _pct(r["wer"]), "oracle_wer": _pct(r["oracle_wer"]),
                      "delta_wer": _pct(r["delta_wer"]), "nprr": nprr, "role": r.get("role") or "?",
                      "p": "?" if r.get("p") is None else f"{r['p']:g}", "lam": lam_text(r.get("lam")),
                      "combination": r.get("combination") or "?"}
            cells = [_cell(values[key], key) for key, _, _ in self.columns]
            table.add_row(*cells, key=str(k))
        self.render_context()
        if rows:
            target = next((k for k, r in enumerate(rows) if r["run"] == keep), 0)
            table.move_cursor(row=target, animate=False)
            self.show_run(rows[target]["run"], force=True)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is None:
            return
        k = int(event.row_key.value)
        if k < len(self.rows):
            self.show_run(self.rows[k]["run"])

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if key == self.sort_key:
            self.reverse = not self.reverse
        else:
            self.sort_key, self.reverse = key, False
        self.render_table()

    def show_run(self, run_id: int, *, force: bool = False) -> None:
        if run_id == self.run_id and not force:
            return
        self.run_id = run_id
        self.read_run(run_id)

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def read_run(self, run_id: int) -> None:
        with Store(self.app.db_path, readonly=True) as store:  # type: ignore[attr-defined]
            self.post_message(RunRead(run_id, store.run(run_id), store.events(run_id), store.adapter_ranks(run_id)))

    def on_run_read(self, message: RunRead) -> None:
        if message.run_id != self.run_id:
            return  # the cursor moved on
        run_id, run, events, ranks = message.run_id, message.run, message.events, message.ranks
        self.shown = (run_id, run, events)
        self.query_one(RunCurves).show(run_id, run.strategy, events, self.curve)
        self.refresh_bindings()
        title = self.query_one("#ranks-title", Static)
        grid = self.query_one("#ranks", RankGrid)
        if ranks:
            title.update(Text(f"run {run_id} ({run.strategy}) final ranks", style="bold"))
            grid.show_ranks(ranks)
        else:
            title.update(Text(f"run {run_id} ({run.strategy})", style="bold"))
            r = (run.config.get("strategy_options") or {}).get("r") if isinstance(run.config, dict) else None
            fixed = f" r = {r}" if r else ""
            grid.show_ranks(None, f"no rank allocation: S1/S3 runs store the final rank of every matrix; "
                                  f"this {run.strategy} run keeps a fixed rank{fixed}")

    def action_next_curve(self) -> None:
        self.curve = CURVE_KEYS[(CURVE_KEYS.index(self.curve) + 1) % len(CURVE_KEYS)]
        if self.shown is not None:
            run_id, run, events = self.shown
            self.query_one(RunCurves).show(run_id, run.strategy, events, self.curve)

    def action_export_curves(self) -> None:
        if self.shown is None:
            return
        run_id, run, events = self.shown
        default = str(Path(self.app.export_dir) / f"curves-run-{run_id}.csv")  # type: ignore[attr-defined]
        rows = [dict(e, run=run_id, strategy=run.strategy) for e in events]

        def done(path: str | None) -> None:
            if path:
                written = Path(path).expanduser()
                write_csv(written, CURVE_FIELDS, rows)
                self.notify(f"wrote {written} ({len(rows)} steps)", title="export", timeout=4)

        self.app.push_screen(InputScreen(f"export run {run_id}'s training curves to CSV", default,
                                         note="one row per logged step: loss, dev WER (fraction), lr, rank budget"),
                             done)

    def action_fragility(self) -> None:
        if self.shown is not None:
            self.app.push_screen(FragilityScreen(self.shown[0], self.shown[1].strategy))

    def action_sort_next(self) -> None:
        keys = [k for k, _, _ in self.columns]
        self.sort_key = keys[(keys.index(self.sort_key) + 1) % len(keys)]
        self.reverse = False
        self.render_table()

    def action_sort_reverse(self) -> None:
        self.reverse = not self.reverse
        self.render_table()

    def action_export(self) -> None:
        default = str(Path(self.app.export_dir) / "table3.csv")  # type: ignore[attr-defined]

        def done(path: str | None) -> None:
            if path:
                written = export_rows(Path(path).expanduser(), self.rows)
                self.notify(f"wrote {written} ({len(self.rows)} rows)", title="export", timeout=4)

        self.app.push_screen(InputScreen("export the table to CSV", default,
                                         note="rows in the order shown; WERs as fractions"), done)

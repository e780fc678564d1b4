"""The Textual app: composes the screens of the interactive inspector."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Header, Static

from lorascope.store import Store


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


class LorascopeApp(App):
    """lorascope's inspector: the datasets and runs of one store."""

    TITLE = "lorascope"
    CSS_PATH = "lorascope.tcss"
    BINDINGS = [Binding("q", "quit", "Quit"), Binding("r", "refresh", "Refresh")]

    def __init__(self, db_path: str | Path):
        super().__init__()
        self.db_path = Path(db_path)

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="main"):
            yield Static(id="status")
            yield Static("Datasets", classes="section")
            yield DataTable(id="datasets", cursor_type="row", zebra_stripes=True)
            yield Static("Runs", classes="section")
            yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.db_path)
        self.query_one("#datasets", DataTable).add_columns("name", "utts", "hyps", "scores", "1-best WER%",
                                                           "oracle WER%")
        self.query_one("#runs", DataTable).add_columns("id", "strategy", "status", "steps", "λ")
        self.action_refresh()

    def action_refresh(self) -> None:
        with Store(self.db_path) as store:
            datasets = store.datasets()
            runs = store.runs()
        dt = self.query_one("#datasets", DataTable)
        dt.clear()
        for d in datasets:
            dt.add_row(d.name, str(d.utterances), str(d.hypotheses), d.scores, _pct(d.one_best_wer),
                       _pct(d.oracle_wer))
        rt = self.query_one("#runs", DataTable)
        rt.clear()
        for r in runs:
            rt.add_row(str(r.id), r.strategy, r.status, str(r.steps_done), "-" if r.lam is None else f"{r.lam:.3g}")
        status = self.query_one("#status", Static)
        if not datasets:
            status.update("The store is empty. Import N-best lists with `lorascope import FILE`, "
                          "or synthesise some with `lorascope synth TEXT -o OUT.jsonl`.")
        elif not runs:
            status.update("No trained rescorers yet. Train one headless with `lorascope train --strategy lora`.")
        else:
            status.update(f"{len(datasets)} datasets, {len(runs)} runs")


def run_app(db_path: str | Path) -> None:
    LorascopeApp(db_path).run()

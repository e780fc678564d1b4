"""The fragility view: the lists whose rescored choice flips most under a run's stored perturbations (from the
rank changes ``lorascope robustness`` keeps), read in a worker; ``e`` exports them to CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from lorascope.store import Store
from lorascope.store.fragility import fragile_lists

from ..export_views import FRAGILITY_FIELDS, write_csv
from .dialogs import InputScreen

COLUMNS = (("utterance", "utterance", 16), ("flips", "flips", 9), ("delta_errors", "Δerr", 5),
           ("reference", "reference", 40))


class FragilityScreen(ModalScreen[None]):
    """Run ``run_id``'s lists by flips under its stored perturbations, most first."""

    BINDINGS = [Binding("escape,f", "close", "Close"), Binding("e", "export", "Export CSV")]

    class Read(Message):
        def __init__(self, rows: list[dict[str, Any]] | None, error: str | None = None) -> None:
            super().__init__()
            self.rows = rows
            self.error = error

    def __init__(self, run_id: int, strategy: str) -> None:
        super().__init__()
        self.run_id, self.strategy = run_id, strategy
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="fragility"):
            yield Static(f"run {self.run_id} ({self.strategy}): fragile lists", classes="dialog-title")
            yield Static(Text("reading the store…", style="dim"), id="fragility-note", classes="dialog-note")
            yield DataTable(id="fragile", cursor_type="row", zebra_stripes=True)
            yield Static("flips = perturbed versions whose choice changed / stored perturbed versions (conditions "
                         "× seeds); Δerr = word errors of the choice, after minus before, summed",
                         classes="dialog-note")
            yield Static("e export CSV · esc close", classes="dialog-keys")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label, width in COLUMNS:
            table.add_column(label, width=width, key=key)
        table.focus()
        self.read()

    @work(thread=True, exit_on_error=False)
    def read(self) -> None:
        try:
            with Store(self.app.db_path, readonly=True) as store:  # type: ignore[attr-defined]
                self.post_message(self.Read(fragile_lists(store, self.run_id)))
        except Exception as exc:
            self.post_message(self.Read(None, f"{type(exc).__name__}: {exc}"))

    def on_fragility_screen_read(self, message: Read) -> None:
        note = self.query_one("#fragility-note", Static)
        if message.rows is None:
            note.update(Text(message.error or "", style="red"))
            return
        self.rows = message.rows
        if not self.rows:
            note.update(f"no stored perturbation flipped a choice of run {self.run_id} (lorascope robustness "
                        f"--run {self.run_id} stores them; so does c in the inspector)")
            return
        conditions = sorted({c for r in self.rows for c in (r["conditions"] or "").split(",") if c})
        models = sorted({m for r in self.rows for m in (r["model"] or "").split(",") if m})
        datasets = sorted({r["dataset"] for r in self.rows})
        note.update(f"{len(self.rows)} lists of {', '.join(datasets)} flipped under {', '.join(conditions)} "
                    f"({', '.join(models)}), most flips first")
        table = self.query_one(DataTable)
        for k, r in enumerate(self.rows):
            table.add_row(r["utterance"], f"{r['flips']}/{r['perturbations']}",
                          Text(str(r["delta_errors"] if r["delta_errors"] is not None else "–"), justify="right"),
                          Text(r["reference"] or "", style="dim", no_wrap=True, overflow="ellipsis"), key=str(k))

    def action_export(self) -> None:
        if not self.rows:
            self.notify("nothing to export: no flipped lists", timeout=2)
            return
        default = str(Path(self.app.export_dir) / f"fragility-run-{self.run_id}.csv")  # type: ignore[attr-defined]
        rows = list(self.rows)

        def done(path: str | None) -> None:
            if path:
                written = Path(path).expanduser()
                n = write_csv(written, FRAGILITY_FIELDS, rows)
                self.notify(f"wrote {written} ({n} lists)", title="export", timeout=4)

        self.app.push_screen(InputScreen("export the fragile lists to CSV", default,
                                         note="most flips first; one row per list"), done)

    def action_close(self) -> None:
        self.dismiss(None)

"""The lists where adapters A and B choose differently: a table over the data set, sortable; enter goes there."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from ..compare import SetDisagreements

#: (key, label, width)
COLUMNS = (("position", "list", 5), ("utterance", "utterance", 16), ("choice_a", "A #", 4), ("errors_a", "A err", 5),
           ("choice_b", "B #", 4), ("errors_b", "B err", 5), ("gap", "A-B", 4), ("text_b", "B's choice", 40))
SORTS = ("position", "gap")


def _errors(n: int) -> str:
    return "?" if n < 0 else str(n)


class DisagreementsScreen(ModalScreen[int | None]):
    """Rows in list order, or (``s``) by the difference in word errors, B's gains first; enter picks a list."""

    BINDINGS = [Binding("escape", "dismiss_none", "Close"), Binding("s", "sort", "Sort")]

    def __init__(self, found: SetDisagreements, label_a: str, label_b: str) -> None:
        super().__init__()
        self.found = found
        self.labels = (label_a, label_b)
        self.sort = "position"

    def compose(self) -> ComposeResult:
        f = self.found
        with Vertical(classes="dialog", id="disagreements"):
            yield Static(f"A = {self.labels[0]} ({f.combination_a.describe()}) vs B = {self.labels[1]} "
                         f"({f.combination_b.describe()}) on {f.dataset}: they choose differently on {len(f.rows)} of "
                         f"{f.lists} lists", classes="dialog-title", id="disagreements-title")
            yield DataTable(id="disagreements-table", cursor_type="row", zebra_stripes=True)
            yield Static(f"# = first-pass rank of the choice; err = its word errors; A-B < 0: A has fewer. "
                         f"s sort ({self.sort_name()}) · enter go to the list · esc close",
                         classes="dialog-keys", id="disagreements-keys")

    def sort_name(self) -> str:
        return "list order" if self.sort == "position" else "word-error difference"

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label, width in COLUMNS:
            table.add_column(label, width=width, key=key)
        self.fill()
        table.focus()

    @property
    def rows(self):
        rows = list(self.found.rows)
        if self.sort == "gap":   # B's largest gains (A's excess errors) first
            rows.sort(key=lambda d: (-(d.errors_a - d.errors_b) if d.errors_a >= 0 else 0, d.position))
        return rows

    def fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for d in self.rows:
            gap = "?" if d.errors_a < 0 else f"{d.errors_a - d.errors_b:+d}"
            table.add_row(str(d.position), d.utterance_id, str(d.choice_a), _errors(d.errors_a), str(d.choice_b),
                          _errors(d.errors_b), gap, Text(d.text_b, no_wrap=True, overflow="ellipsis"),
                          key=str(d.position))
        self.query_one("#disagreements-keys", Static).update(
            f"# = first-pass rank of the choice; err = its word errors; A-B < 0: A has fewer. s sort "
            f"({self.sort_name()}) · enter go to the list · esc close")

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.fill()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.dismiss(int(event.row_key.value))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

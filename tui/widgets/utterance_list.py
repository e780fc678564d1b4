"""The utterance list: search by id or words, sort by rank flips or WER change, pick with the cursor."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input

from ..inspector import SORTS, UtteranceSummary, fmt_pct


class UtteranceList(Vertical):
    """A search field over a table of utterances; moving the cursor picks one (posts :class:`Picked`)."""

    class Picked(Message):
        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

    class Searched(Message):
        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sort = SORTS[0]
        self._shown: list[UtteranceSummary] = []
        self._columns: list[tuple[str, str, int]] = []
        self._last: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ search id or words", id="search")
        yield DataTable(id="utterances", cursor_type="row", zebra_stripes=True)

    @property
    def table(self) -> DataTable:
        return self.query_one("#utterances", DataTable)

    @property
    def search(self) -> Input:
        return self.query_one("#search", Input)

    def show(self, summaries: list[UtteranceSummary], references: dict[int, str], current: int) -> None:
        """Fill the table with ``summaries`` (already filtered and ordered); the cursor stays on ``current``.

        When the rows and their order are the ones shown, only the cells whose values changed are updated
        (a λ step on a large data set touches a few cells instead of rebuilding every row).
        """
        self._last = (summaries, references, current)
        table = self.table
        wide = self.size.width >= 50 or self.size.width == 0
        id_width = max([9] + [len(s.id) for s in summaries[:500]])
        id_width = min(id_width, 22 if wide else 14)
        columns = [("id", "utterance", id_width), ("flips", "flips", 5), ("dwer", "ΔWER", 6)]
        if wide:
            columns.append(("ref", "reference", max(10, self.size.width - id_width - 11 - 8 - 3)))
        same_rows = [s.position for s in summaries] == [s.position for s in self._shown]
        if same_rows and columns == self._columns and summaries:
            for old, new in zip(self._shown, summaries):
                if (old.flips, old.choice_changed, old.wer_change) != (new.flips, new.choice_changed, new.wer_change):
                    flips, change = self._cells(new)
                    table.update_cell(str(new.position), "flips", flips)
                    table.update_cell(str(new.position), "dwer", change)
            self._shown = list(summaries)
            return
        under_cursor = self._cursor_key()
        table.clear(columns=True)
        for key, label, width in columns:
            table.add_column(Text(label, justify="left" if key in ("id", "ref") else "right"), width=width, key=key)
        self._columns = columns
        self._shown = list(summaries)
        keys = [str(s.position) for s in summaries]
        # the row under the cursor wins over `current`: a key press may be on its way to becoming the pick
        target = under_cursor if under_cursor in keys else str(current) if str(current) in keys else None
        for s in summaries:
            cells = [Text(s.id, no_wrap=True, overflow="ellipsis"), *self._cells(s)]
            if wide:
                cells.append(Text(references.get(s.position, ""), no_wrap=True, overflow="ellipsis", style="dim"))
            table.add_row(*cells, key=str(s.position))
        if target is not None:
            table.move_cursor(row=table.get_row_index(target), animate=False)

    def on_resize(self) -> None:
        if self._last is not None:
            summaries, references, _ = self._last
            current = int(self._cursor_key() or 0)
            self._columns = []  # the reference column's width depends on the pane's
            self.show(summaries, references, current)

    @staticmethod
    def _cells(s: UtteranceSummary) -> tuple[Text, Text]:
        flips = Text("…" if s.flips is None else str(s.flips), justify="right",
                     style="bold" if s.choice_changed else "")
        change = s.wer_change
        style = "green" if change is not None and change < 0 else "red" if change else ""
        dwer = Text(fmt_pct(change, 1, signed=bool(change)) if change is not None else "…", justify="right",
                    style=style)
        return flips, dwer

    def _cursor_key(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Pick the highlighted utterance; highlights a rebuild passes through on its way are stale and ignored."""
        event.stop()
        key = event.row_key.value
        if key is not None and key == self._cursor_key():
            self.post_message(self.Picked(int(key)))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Searched(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

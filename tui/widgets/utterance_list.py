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
        self._restoring: str | None = None
        self._ids: dict[int, str] = {}
        self._references: dict[int, str] = {}

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
        """Fill the table with ``summaries`` (already filtered and ordered); the cursor stays on ``current``."""
        table = self.table
        wide = self.size.width >= 50 or self.size.width == 0
        id_width = max([9] + [len(s.id) for s in summaries[:500]])
        id_width = min(id_width, 22 if wide else 14)
        columns = [("id", "utterance", id_width), ("flips", "flips", 5), ("dwer", "ΔWER", 6)]
        if wide:
            rest = max(10, self.size.width - id_width - 11 - 8 - 3)
            columns.append(("ref", "reference", rest))
        table.clear(columns=True)
        for key, label, width in columns:
            table.add_column(Text(label, justify="left" if key in ("id", "ref") else "right"), width=width, key=key)
        keys = [str(s.position) for s in summaries]
        self._restoring = str(current) if str(current) in keys else None
        for s in summaries:
            flips = Text("…" if s.flips is None else str(s.flips), justify="right",
                         style="bold" if s.choice_changed else "")
            change = s.wer_change
            style = "green" if change is not None and change < 0 else "red" if change else ""
            cells = [Text(s.id, no_wrap=True, overflow="ellipsis"), flips,
                     Text(fmt_pct(change, 1, signed=bool(change)) if change is not None else "…",
                          justify="right", style=style)]
            if wide:
                cells.append(Text(references.get(s.position, ""), no_wrap=True, overflow="ellipsis", style="dim"))
            table.add_row(*cells, key=str(s.position))
        if self._restoring is not None:
            table.move_cursor(row=table.get_row_index(self._restoring), animate=False)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value
        if self._restoring is not None:
            if key == self._restoring:
                self._restoring = None
            return
        if key is not None:
            self.post_message(self.Picked(int(key)))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Searched(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

"""The utterance list: a search field over the utterance table and a status line; it keeps the list's order.

The order is the sort (data-set order, rank flips, WER change) of the figures the screen hands over, restricted
to the search's matches; a search runs in this widget's worker (store/browse.py :func:`search`: full-text
search once the data set is indexed, a substring scan before). Moving the cursor picks an utterance (posts
:class:`UtteranceList.Picked`).
"""

from __future__ import annotations

import time

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from lorascope.store import Store
from lorascope.store.browse import ListRow, row_ids
from lorascope.store.browse import search as browse_search

from ..listing import SORTS, ListFigures, filtered, sorted_positions
from .utterance_rows import UtteranceRows


class UtteranceList(Vertical):
    """Search field, the virtual table and a status line; keeps the list's order (sort, search) itself.

    The screen hands it the data set (:meth:`reset`), the figures for the current adapter and λ
    (:meth:`set_figures`) and the sort (:meth:`set_sort`); typing in the search field runs a search worker here.
    """

    class Picked(Message):
        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

    class Searched(Message):
        """A search finished: ``matches`` utterances for ``query`` (None: no search)."""

        def __init__(self, query: str, matches: int | None) -> None:
            super().__init__()
            self.query = query
            self.matches = matches

    class Found(Message):
        def __init__(self, dataset_id: int, query: str, positions: np.ndarray, rows: np.ndarray | None) -> None:
            super().__init__()
            self.dataset_id = dataset_id
            self.query = query
            self.positions = positions
            self.rows = rows

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dataset_id: int | None = None
        self.count = 0
        self.sort = SORTS[0]
        self.query_text = ""
        self.matches: np.ndarray | None = None
        self.figures: ListFigures | None = None
        self.indexed = False                 # the search index covers the data set
        self._rows: np.ndarray | None = None  # utterances.id by position, read with the first search
        #: (query, perf_counter) of the last search applied, (count, perf_counter) of orders applied: benchmarks
        #: read them.
        self.searched: tuple[str, float] = ("", 0.0)
        self.ordered: tuple[int, float] = (0, 0.0)

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ search id or words", id="search")
        yield UtteranceRows(id="utterances")
        yield Static(id="utt-status")

    @property
    def table(self) -> UtteranceRows:
        return self.query_one(UtteranceRows)

    @property
    def search(self) -> Input:
        return self.query_one("#search", Input)

    # -- what the screen sets ------------------------------------------------------------------------

    def reset(self, dataset_id: int, size: int, rows: list[ListRow], *, indexed: bool) -> None:
        self.dataset_id, self.count, self.indexed = dataset_id, size, indexed
        self.matches, self.figures, self._rows = None, None, None
        self.table.reset(dataset_id, size, rows)
        if self.query_text:
            self._search(self.query_text)

    def clear_search(self) -> bool:
        """Empty the search field (a new data set); True when it held a query."""
        had = bool(self.query_text.strip())
        self.query_text = ""
        self.matches = None
        with self.search.prevent(Input.Changed):
            self.search.value = ""
        return had

    def set_figures(self, figures: ListFigures | None) -> None:
        self.figures = figures
        self.table.figures = figures
        self._apply()

    def set_sort(self, sort: str) -> None:
        self.sort = sort
        self._apply()

    def set_row_ids(self, rows: np.ndarray) -> None:
        """``utterances.id`` by position (the search maps the index's hits through it)."""
        self._rows = rows

    def set_indexed(self, indexed: bool) -> None:
        """The search index is complete: search again with whole words instead of substrings."""
        changed = indexed != self.indexed
        self.indexed = indexed
        if changed and self.query:
            self._search(self.query_text)

    def show_status(self, text: Text | str) -> None:
        self.query_one("#utt-status", Static).update(text)

    # -- order ---------------------------------------------------------------------------------------

    def _apply(self) -> None:
        table = self.table
        keep = table.position
        order = filtered(sorted_positions(self.count, self.sort, self.figures), self.matches, self.count)
        now = table.set_order(order, keep)
        self.ordered = (self.ordered[0] + 1, time.perf_counter())
        if now is not None and now != keep:
            self.post_message(self.Picked(now))

    def on_utterance_rows_cursor_moved(self, message: UtteranceRows.CursorMoved) -> None:
        message.stop()
        self.post_message(self.Picked(message.position))

    # -- search --------------------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_text = event.value
        self._search(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    def _search(self, query: str) -> None:
        if self.dataset_id is None:
            return
        if not query.strip():
            self.matches = None
            self._apply()
            self.searched = (query, time.perf_counter())
            self.post_message(self.Searched(query, None))
            return
        self.find(self.dataset_id, query, self._rows, self.indexed)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def find(self, dataset_id: int, query: str, rows: np.ndarray | None, indexed: bool) -> None:
        with Store(self.app.db_path, readonly=True) as store:  # type: ignore[attr-defined]
            if rows is None:
                rows = row_ids(store, dataset_id)
            positions = browse_search(store, dataset_id, query, rows, indexed=indexed)
        self.post_message(self.Found(dataset_id, query, positions, rows))

    def on_utterance_list_found(self, message: Found) -> None:
        message.stop()
        if message.dataset_id != self.dataset_id:
            return
        self._rows = message.rows
        if message.query != self.query_text:
            return  # typing went on; a newer search is on its way
        self.matches = message.positions
        self._apply()
        self.searched = (message.query, time.perf_counter())
        self.post_message(self.Searched(message.query, len(message.positions)))

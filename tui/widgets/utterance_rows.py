"""The utterance list's table: a header line, then one line per utterance of an order of any length (Textual's line
API), its rows read from the store a screenful at a time by its own worker (store/browse.py :func:`page`).

The rows' rescoring figures (flips, ΔWER) come as whole-data-set arrays
(:class:`~lorascope.tui.listing.ListFigures`); moving the cursor posts :class:`UtteranceRows.CursorMoved`.
"""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from lorascope.store import Store
from lorascope.store.browse import ListRow, page

from ..inspector import Recent, fmt_pct
from ..listing import ListFigures

#: Rows read beyond the visible ones, above and below, in one round trip.
MARGIN = 60
#: "Δ1st": the rescored choice's WER minus the first pass's (ΔWER, in the perturb bar and the Runs table, is the
#: paper's: the choice's WER minus the oracle's).
NUMERIC = ("flips", "Δ1st")
#: List rows kept in memory (a few screens); the rest are read again when they come back into view.
ROWS_KEPT = 2000


class UtteranceRows(ScrollView, can_focus=True):
    """The table itself: a header line, then one line per position of :attr:`order` (Textual's line API)."""

    COMPONENT_CLASSES = {"utterance-rows--header", "utterance-rows--cursor", "utterance-rows--even",
                         "utterance-rows--pending"}
    DEFAULT_CSS = """
    UtteranceRows {
        background: $surface;
        overflow-x: hidden;
        & > .utterance-rows--header { text-style: bold; background: $panel; color: $foreground; }
        & > .utterance-rows--even { background: $surface-lighten-1 50%; }
        & > .utterance-rows--pending { color: $text-muted; }
        & > .utterance-rows--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .utterance-rows--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """
    BINDINGS = [
        Binding("up", "move(-1)", show=False), Binding("down", "move(1)", show=False),
        Binding("pageup", "page(-1)", show=False), Binding("pagedown", "page(1)", show=False),
        Binding("home,ctrl+home", "jump(0)", show=False), Binding("end,ctrl+end", "jump(-1)", show=False),
    ]

    class CursorMoved(Message):
        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

    class RowsRead(Message):
        def __init__(self, dataset_id: int, rows: list[ListRow]) -> None:
            super().__init__()
            self.dataset_id = dataset_id
            self.rows = rows

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dataset_id: int | None = None
        self.order = np.zeros(0, dtype=np.int64)
        self.cursor = 0
        self.figures: ListFigures | None = None
        self.rows: Recent = Recent(ROWS_KEPT)
        self._asked: set[int] = set()
        self._fetch_queued = False

    # -- data ----------------------------------------------------------------------------------------

    def reset(self, dataset_id: int, size: int, rows: list[ListRow] = ()) -> None:
        self.dataset_id = dataset_id
        self.rows.clear()
        self._asked.clear()
        self.figures = None
        self.put_rows(rows)
        self.set_order(np.arange(size, dtype=np.int64), 0)

    def put_rows(self, rows) -> None:
        for r in rows:
            self.rows.remember(r.position, r)
            self._asked.discard(r.position)
        self.refresh()

    def set_order(self, order: np.ndarray, keep: int | None) -> int | None:
        """Show ``order``; the cursor stays on position ``keep`` if it is there, else goes to the first row.
        Returns the position under the cursor (None for an empty order)."""
        self.order = order
        where = np.flatnonzero(order == keep) if keep is not None and len(order) else np.zeros(0)
        self.cursor = int(where[0]) if len(where) else 0
        self.virtual_size = Size(self._width, len(order) + 1)
        self._scroll_to_cursor()
        self.refresh()
        return self.position

    @property
    def position(self) -> int | None:
        return int(self.order[self.cursor]) if len(self.order) else None

    @property
    def row_count(self) -> int:
        return len(self.order)

    def cells(self, k: int) -> tuple[str, str, str, str] | None:
        """The text of row ``k`` (id, flips, Δ1st, reference), or None until it is read from the store."""
        row = self.rows.get(int(self.order[k]))
        if row is None:
            return None
        flips, change, _ = self._figures(row.position)
        return row.utt_id, flips, change, row.reference or ""

    # -- moving --------------------------------------------------------------------------------------

    def action_move(self, step: int) -> None:
        self.move_cursor(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor + direction * max(1, self.size.height - 2))

    def action_jump(self, k: int) -> None:
        self.move_cursor(k if k >= 0 else len(self.order) - 1)

    def move_cursor(self, k: int) -> None:
        if not len(self.order):
            return
        k = max(0, min(len(self.order) - 1, k))
        if k == self.cursor:
            return
        self.cursor = k
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.CursorMoved(int(self.order[k])))

    def _scroll_to_cursor(self) -> None:
        visible = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            top = self.cursor
        elif self.cursor >= top + visible:
            top = self.cursor - visible + 1
        self.scroll_to(y=top, animate=False, force=True)

    def on_click(self, event: Click) -> None:
        if event.y >= 1:
            self.move_cursor(int(self.scroll_offset.y) + event.y - 1)

    def on_resize(self) -> None:
        self.virtual_size = Size(self._width, len(self.order) + 1)

    # -- rendering -----------------------------------------------------------------------------------

    @property
    def _width(self) -> int:
        """The width the lines fill: the widget's, less its vertical scrollbar."""
        return self.scrollable_content_region.width

    def columns(self) -> list[tuple[str, int]]:
        width = self._width
        wide = width >= 50 or width == 0
        id_width = 22 if width >= 90 else 14 if wide else 11
        out = [("utterance", id_width), ("flips", 5), ("Δ1st", 6)]
        if wide:
            out.append(("reference", max(10, width - id_width - 5 - 6 - 4)))
        return out

    def _figures(self, position: int) -> tuple[str, str, str]:
        f = self.figures
        if f is None or f.chosen[position] < 0:
            return "…", "…", ""
        change = float(f.wer_change[position])
        style = "green" if change < 0 else "red" if change > 0 else ""
        text = "–" if math.isnan(change) else fmt_pct(change, 1, signed=bool(change))
        return str(int(f.flips[position])), text, style

    def _line(self, cells: list[tuple[str, str]], base: Style) -> Strip:
        text = Text(no_wrap=True)
        for (value, style), (label, width) in zip(cells, self.columns()):
            text.append(" ")
            cell = Text(value.rjust(width) if label in NUMERIC else value, style=style, no_wrap=True)
            cell.truncate(width, overflow="ellipsis", pad=True)
            text.append_text(cell)
        strip = Strip(list(text.render(self.app.console, end=""))).apply_style(base)
        return strip.adjust_cell_length(self._width, base)

    def render_line(self, y: int) -> Strip:
        base = self.rich_style
        if y == 0:
            header = self.get_component_rich_style("utterance-rows--header")
            return self._line([(label, "") for label, _ in self.columns()], base + header)
        k = int(self.scroll_offset.y) + y - 1
        if k >= len(self.order):
            return Strip.blank(self._width, base)
        style = base
        if k % 2:
            style = style + self.get_component_rich_style("utterance-rows--even")
        if k == self.cursor:
            style = style + self.get_component_rich_style("utterance-rows--cursor")
        position = int(self.order[k])
        row = self.rows.get(position)
        if row is None:
            self._want(k)
            pending = style + self.get_component_rich_style("utterance-rows--pending")
            return self._line([("…", "")], pending)
        flips, change, change_style = self._figures(position)
        chosen = self.figures is not None and self.figures.chosen[position] > 0
        cells = [(row.utt_id, ""), (flips, "bold" if chosen else ""), (change, change_style),
                 (row.reference or "", "dim")]
        return self._line(cells, style)

    # -- paging --------------------------------------------------------------------------------------

    def _want(self, k: int) -> None:
        if not self._fetch_queued:
            self._fetch_queued = True
            self.call_after_refresh(self._fetch)

    def _fetch(self) -> None:
        self._fetch_queued = False
        if self.dataset_id is None or not len(self.order):
            return
        top = int(self.scroll_offset.y)
        lo, hi = max(0, top - MARGIN), min(len(self.order), top + self.size.height + MARGIN)
        wanted = [int(p) for p in self.order[lo:hi] if int(p) not in self.rows and int(p) not in self._asked]
        if wanted:
            self._asked.update(wanted)
            self.read_rows(self.dataset_id, wanted)

    @work(thread=True, group="rows", exit_on_error=False)
    def read_rows(self, dataset_id: int, positions: list[int]) -> None:
        with Store(self.app.db_path, readonly=True) as store:  # type: ignore[attr-defined]
            rows = page(store, dataset_id, positions)
        self.post_message(self.RowsRead(dataset_id, rows))

    def on_utterance_rows_rows_read(self, message: RowsRead) -> None:
        message.stop()
        if message.dataset_id == self.dataset_id:
            self.put_rows(message.rows)

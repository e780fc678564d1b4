"""The N-best table of one utterance: first-pass rank, word diff, scores, WER and the rescored rank with its move."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ..diff import diff_text
from ..inspector import Row, UtteranceView

PENDING = "…"


def arrow(move: int | None) -> Text:
    """``↑2`` (moved up two places), ``↓1`` or `` ·`` (stayed)."""
    if move is None:
        return Text(PENDING, style="dim")
    if move > 0:
        return Text(f"↑{move}", style="bold green")
    if move < 0:
        return Text(f"↓{-move}", style="bold red")
    return Text(" ·", style="dim")  # as wide as ↑1, so the ranks above and below line up


def _num(x: float | None, digits: int, *, pending: bool = False, width: int = 6) -> Text:
    """``x`` with up to ``digits`` decimals, fewer where it would not fit ``width`` (never a cut ``-1197.``)."""
    if x is None:
        return Text(PENDING if pending else "–", style="dim", justify="right")
    for d in range(digits, -1, -1):
        text = f"{x:.{d}f}"
        if len(text) <= width:
            return Text(text, justify="right")
    return Text(f"{x:.0e}", justify="right")


class NbestTable(DataTable):
    """Rows in first-pass order (or, with ``o``, in rescored order); the cursor stays on its hypothesis.

    The hypothesis column takes the width the numbers leave; the detail line under the table shows the
    highlighted hypothesis in full.
    """

    # (key, label, width); the hypothesis column's width is computed.
    NUMBERS = (("first", "1st", 6), ("lm", "LM", 6), ("combined", "comb", 6), ("wer", "WER%", 5),
               ("new", "new", 4))
    PERTURB = ("pmove", "Δp", 2)
    SECOND = ("b", "B", 3)      # adapter B's rank of each hypothesis (tui/screens/inspect_compare.py)

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.view: UtteranceView | None = None
        self.rescored_order = False
        self._layout: tuple | None = None
        self.second: bool = False                   # adapter B is on: show its column
        self.second_ranks: list[int] | None = None  # B's rank of each hypothesis (None: still scoring)

    # -- public --------------------------------------------------------------------------------------

    def show(self, view: UtteranceView | None) -> None:
        self.view = view
        self._rebuild()

    def toggle_order(self) -> bool:
        self.rescored_order = not self.rescored_order
        self._rebuild()
        return self.rescored_order

    @property
    def highlighted_hypothesis(self) -> int | None:
        """First-pass index of the hypothesis under the cursor."""
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:
            return None
        return int(key.value) if key.value is not None else None

    def highlighted_row(self) -> Row | None:
        i = self.highlighted_hypothesis
        if self.view is None or i is None or i >= len(self.view.rows):
            return None
        return self.view.rows[i]

    # -- internals -----------------------------------------------------------------------------------

    def on_resize(self) -> None:
        self._rebuild()

    def _columns(self) -> list[tuple[str, str, int]]:
        numbers = list(self.NUMBERS)
        if self.view is not None and (self.view.perturbed or self.view.pending):
            numbers.append(self.PERTURB)
        if self.second:
            numbers.append(self.SECOND)
        fixed = 3 + sum(w for _, _, w in numbers)
        padding = 2 * self.cell_padding * (len(numbers) + 2)
        width = max(12, self.size.width - fixed - padding - 1)
        return [("rank", "#", 3), ("text", "hypothesis  (vs reference)", width)] + numbers

    def _second_cell(self, r: Row) -> Text:
        """B's rank; B's choice bold, in magenta where A chose another hypothesis."""
        ranks = self.second_ranks
        if ranks is None or r.index >= len(ranks):
            return Text(PENDING, style="dim", justify="right")
        rank = ranks[r.index]
        style = ("bold magenta" if r.new_rank not in (0, None) else "bold green") if rank == 0 else ""
        return Text(str(rank), style=style, justify="right")

    def _rebuild(self) -> None:
        keep = self.highlighted_hypothesis
        columns = self._columns()
        self.clear(columns=self._layout != columns)
        if self._layout != columns:
            for key, label, width in columns:
                justify = "left" if key in ("rank", "text") else "right"
                self.add_column(Text(label, justify=justify), width=width, key=key)
            self._layout = columns
        view = self.view
        if view is None:
            return
        width = columns[1][2]
        rows = list(view.rows)
        if self.rescored_order and view.complete:
            rows.sort(key=lambda r: (r.new_rank, r.index))
        pending = not view.complete
        for r in rows:
            mark = "*" if r.perturbed else ""
            rank = Text(f"{r.index}{mark}", style="bold" if r.new_rank == 0 else "")
            text = diff_text(r.diff)
            text.no_wrap = True
            text.overflow = "ellipsis"
            text.truncate(width, overflow="ellipsis")
            if r.new_rank == 0:
                text.stylize("bold")
            wer = _num(None if r.wer is None else 100 * r.wer, 1)
            if r.oracle:
                wer.stylize("bold cyan")
            new = Text(justify="right")
            if r.new_rank is None:
                new.append(PENDING, style="dim")
            else:
                new.append(f"{r.new_rank} ", style="bold green" if r.new_rank == 0 else "")
                new.append_text(arrow(r.move))
            cells = [rank, text, _num(r.first_pass_score, 2), _num(r.lm, 3, pending=pending),
                     _num(r.combined, 2, pending=pending), wer, new]
            if any(key == "pmove" for key, _, _ in columns):
                cells.append(Text(" ") if not r.perturbed and r.perturb_move == 0 else arrow(r.perturb_move))
            if self.second:
                cells.append(self._second_cell(r))
            self.add_row(*cells, key=str(r.index))
        if keep is not None and keep < len(view.rows):
            self.move_cursor(row=self.get_row_index(str(keep)), animate=False)

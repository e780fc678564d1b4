"""The line under the N-best table: the highlighted hypothesis in full, its swaps and its word diff."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..diff import diff_text
from ..inspector import Row


class HypothesisDetail(Static):
    """``hyp 1 → rank 0  swapped their→there homophone, now: he hoped there(…)``: the hypothesis' first-pass
    rank, its rank after rescoring, its swaps and its words against the reference."""

    def show(self, row: Row | None) -> None:
        if row is None:
            self.update("")
            return
        text = Text(f"hyp {row.index} ", style="bold")
        if row.new_rank is not None:
            text.append(f"→ rank {row.new_rank}  ", style="bold")
        if row.edits:
            text.append("swapped ", style="dim")
            for e in row.edits:
                text.append(f"{e.old}→{e.new}", style="magenta")
                text.append(f" {e.kind}, ", style="dim")
            text.append("now: ", style="dim")
        text.append_text(diff_text(row.diff, show_reference=True))
        self.update(text)

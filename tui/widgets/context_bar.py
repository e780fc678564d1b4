"""The inspect screen's title line: data set and place in it, utterance, adapter and λ, and a status note."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..inspector import Inspector


class ContextBar(Static):
    """`` Inspect  sample-test 3/250 test-000003 │ run 2 s1 λ 0.396 (tuned 0.5) │ note``: 3 is the place in the set."""

    def show(self, ins: Inspector, *, status: str = "") -> None:
        parts = [Text(" Inspect ", style="bold reverse")]
        if ins.dataset:
            place = f" {ins.position + 1}/{ins.size}" if ins.size else ""
            parts.append(Text(f" {ins.dataset}{place}", style="bold"))
        utt = ins.utterance()
        if utt is not None:
            parts.append(Text(f" {utt.id}"))
        parts.append(Text(" │ "))
        parts.append(Text(ins.adapter.short, style="bold"))
        if ins.adapter.is_bare:
            pass  # λ has nothing to weigh: every LM score is 0
        elif not ins.ready:
            parts.append(Text(" loading…", style="yellow"))
        else:
            parts.append(Text(f" λ {ins.lam:.3g}"))
            tuned = ins.scorer.tuned_lam  # type: ignore[union-attr]
            if abs(ins.lam - tuned) > 1e-9:
                parts.append(Text(f" (tuned {tuned:.3g})", style="dim"))
        if status:
            parts.append(Text(f" │ {status}", style="dim"))
        self.update(Text.assemble(*parts, no_wrap=True, overflow="ellipsis"))

    def show_empty(self) -> None:
        self.update(Text.assemble((" Inspect ", "bold reverse"), " empty store"))

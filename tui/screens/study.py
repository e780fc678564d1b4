"""The study screen: the stored studies with their status, the highlighted study's tables and its learning curve
(or NPRR bars) drawn in the terminal; a timer re-reads the store, so a study running in another process is
followed as its cells finish."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Markdown, Static
from textual_plotext import PlotextPlot

from lorascope.core.analysis.study_tables import render_md
from lorascope.store import Store

NO_STUDIES = ("[b]No studies yet.[/b]\n\nRun the papers' grids headless, then follow them here:\n\n"
              "  [b]lorascope study run examples/paper-table3.toml[/b]\n")


class StudiesRead(Message):
    def __init__(self, rows: list[dict[str, Any]], report: Any, name: str | None) -> None:
        super().__init__()
        self.rows, self.report, self.name = rows, report, name


def read_studies(db_path, name: str | None) -> tuple[list[dict[str, Any]], Any, str | None]:
    """Every study's status, and the report of ``name`` (or of the first study)."""
    from lorascope.store.study import studies, study_status
    from lorascope.store.study_report import study_report

    if not db_path.exists():
        return [], None, None
    with Store(db_path, readonly=True) as store:
        try:
            infos = studies(store)
        except Exception:            # a store from before studies: none to show
            return [], None, None
        rows = []
        for info in infos:
            st = study_status(store, info.id)
            rows.append({"name": info.name, "cells": len(st.cells), **st.counts, "left": st.seconds_left})
        names = [r["name"] for r in rows]
        chosen = name if name in names else (names[0] if names else None)
        report = study_report(store, chosen) if chosen else None
    return rows, report, chosen


class StudyScreen(Screen):
    """Studies: status per study, Table 2 / Table 3 / learning curve of the highlighted one."""

    REFRESH_S = 2.0
    BINDINGS = [Binding("r", "reload", "Reload")]

    def __init__(self) -> None:
        super().__init__()
        self.chosen: str | None = None
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static(" Studies", id="study-context")
        with Horizontal(id="study-body"):
            with Vertical(id="study-left"):
                yield DataTable(id="studies", cursor_type="row", zebra_stripes=True)
                yield PlotextPlot(id="study-plot")
            with VerticalScroll(id="study-tables"):
                yield Markdown("", id="study-report")
        yield Static(NO_STUDIES, id="study-empty")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#studies", DataTable)
        for label in ("study", "cells", "done", "run", "fail", "todo", "left"):
            table.add_column(label, key=label)
        self.query_one("#study-empty").display = False
        self.reload()
        self.set_interval(self.REFRESH_S, self.reload)

    def action_reload(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="studies", exit_on_error=False)
    def reload(self) -> None:
        rows, report, name = read_studies(self.app.db_path, self.chosen)  # type: ignore[attr-defined]
        self.post_message(StudiesRead(rows, report, name))

    def on_studies_read(self, message: StudiesRead) -> None:
        self.rows, self.chosen = message.rows, message.name
        empty = not self.rows
        self.query_one("#study-body").display = not empty
        self.query_one("#study-empty").display = empty
        table = self.query_one("#studies", DataTable)
        table.clear()
        for r in self.rows:
            left = "-" if r["left"] is None else f"{r['left'] / 60:.0f} min"
            table.add_row(r["name"], str(r["cells"]), str(r["done"]), str(r["running"] + r["stale"]),
                          str(r["failed"]), str(r["todo"]), left, key=r["name"])
        if self.chosen is not None:
            table.move_cursor(row=[r["name"] for r in self.rows].index(self.chosen), animate=False)
        self.query_one("#study-context", Static).update(
            f" Studies · {len(self.rows)} · refreshes every {self.REFRESH_S:g} s" +
            (f" · {self.chosen}" if self.chosen else ""))
        if message.report is not None:
            self.query_one("#study-report", Markdown).update(render_md(message.report))
            self.draw(message.report)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = event.row_key.value if event.row_key is not None else None
        if name is not None and name != self.chosen:
            self.chosen = name
            self.reload()

    def draw(self, report: Any) -> None:
        widget = self.query_one("#study-plot", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        if report.curve:
            for strategy in dict.fromkeys(c.strategy for c in report.curve):
                pts = [c for c in report.curve if c.strategy == strategy]
                plt.plot([c.n for c in pts], [100 * c.wer for c in pts], marker="dot", label=strategy)
            plt.title("learning curve: test WER % against training lists")
        else:
            rows = [r for r in report.table3 if r.condition == "perturb-N" and r.nprr is not None]
            if rows:
                plt.bar([f"{r.strategy} {r.model}" for r in rows], [100 * r.nprr for r in rows])
                plt.title("NPRR % perturb-N (mean over seeds)")
            else:
                plt.title("no curve yet: no cell done")
        widget.refresh()

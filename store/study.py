"""Studies in the store: the spec, the cells and who works on them (claimed like runs: owner and heartbeat)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from lorascope.core.errors import InputError
from lorascope.core.analysis.study import Cell, StudySpec, cells

from .db import Store, now
from .ownership import Owner, owner_alive


@dataclass(frozen=True)
class CellRow:
    position: int
    key: str
    status: str
    run_id: int | None
    error: str | None
    owner: Owner | None
    heartbeat_at: str | None
    started_at: str | None
    finished_at: str | None
    seconds: float | None

    @property
    def shown_status(self) -> str:
        """``stale`` for a ``running`` cell whose process is gone (it is taken over by the next ``study run``)."""
        if self.status == "running" and not owner_alive(self.owner, self.heartbeat_at or self.started_at):
            return "stale"
        return self.status


@dataclass(frozen=True)
class StudyInfo:
    id: int
    name: str
    spec: StudySpec
    created_at: str


def _study(row: dict[str, Any]) -> StudyInfo:
    return StudyInfo(row["id"], row["name"], StudySpec.from_dict(json.loads(row["spec"])), row["created_at"])


def ensure_study(store: Store, spec: StudySpec) -> StudyInfo:
    """The study ``spec.name``, recorded with its cells if new; a stored study of that name with another spec
    is an InputError (a study's figures must come from one spec)."""
    text = json.dumps(spec.to_dict(), sort_keys=True)
    with store.atomic():
        rows = store._rows("SELECT * FROM studies WHERE name = ?", [spec.name])
        if rows:
            if json.loads(rows[0]["spec"]) != json.loads(text):
                raise InputError(f"study {spec.name}", "is stored with another spec; choose another name (the "
                                                       "stored spec: `lorascope study status NAME`)")
            return _study(rows[0])
        sid = store.db["studies"].insert({"name": spec.name, "spec": text, "created_at": now()}).last_pk
        store.db["study_cells"].insert_all({"study_id": sid, "position": c.position, "key": c.key, "status": "todo"}
                                           for c in cells(spec))
    return study(store, spec.name)


def _study_rows(store: Store, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    try:
        return store._rows(sql, params)
    except sqlite3.OperationalError:     # a store opened read-only before the studies migration: none
        return []


def studies(store: Store) -> list[StudyInfo]:
    return [_study(r) for r in _study_rows(store, "SELECT * FROM studies ORDER BY id", [])]


def study(store: Store, name: str) -> StudyInfo:
    rows = _study_rows(store, "SELECT * FROM studies WHERE name = ?", [name])
    if not rows:
        known = ", ".join(s.name for s in studies(store)) or "none"
        raise InputError(f"study {name}", f"not found in {store.path} (known: {known})")
    return _study(rows[0])


def cell_rows(store: Store, study_id: int) -> list[CellRow]:
    out = []
    for r in store._rows("SELECT * FROM study_cells WHERE study_id = ? ORDER BY position", [study_id]):
        owner = Owner(r["owner_host"], r["owner_pid"], r["owner_started"]) if r["owner_host"] else None
        out.append(CellRow(r["position"], r["key"], r["status"], r["run_id"], r["error"], owner, r["heartbeat_at"],
                           r["started_at"], r["finished_at"], r["seconds"]))
    return out


def claim_cell(store: Store, study_id: int, cell: Cell, me: Owner, *, retry_failed: bool = False) -> CellRow | None:
    """Take cell ``cell`` to work on it, or None: done, failed (unless ``retry_failed``) or owned by a live process.
    A ``running`` cell whose owner is gone (a killed study) is taken over."""
    with store.atomic():
        (row,) = [r for r in cell_rows(store, study_id) if r.position == cell.position]
        if row.status == "done" or (row.status == "failed" and not retry_failed):
            return None
        if row.status == "running" and row.shown_status == "running" and row.owner != me:
            return None
        store.db.execute(
            "UPDATE study_cells SET status = 'running', error = NULL, owner_host = ?, owner_pid = ?, "
            "owner_started = ?, heartbeat_at = ?, started_at = COALESCE(started_at, ?) WHERE study_id = ? AND "
            "position = ?", [me.host, me.pid, me.started, now(), now(), study_id, cell.position])
    return row


def update_cell(store: Store, study_id: int, position: int, **fields: Any) -> None:
    fields.setdefault("heartbeat_at", now())
    sets = ", ".join(f"{k} = ?" for k in fields)
    with store.atomic():
        store.db.execute(f"UPDATE study_cells SET {sets} WHERE study_id = ? AND position = ?",
                         [*fields.values(), study_id, position])


def finish_cell(store: Store, study_id: int, position: int, status: str, seconds: float,
                error: str | None = None) -> None:
    """``done``, ``failed`` (with its error) or back to ``todo`` (interrupted); working time adds up."""
    with store.atomic():
        store.db.execute(
            "UPDATE study_cells SET status = ?, error = ?, seconds = COALESCE(seconds, 0) + ?, finished_at = ?, "
            "owner_host = NULL, owner_pid = NULL, owner_started = NULL, heartbeat_at = ? "
            "WHERE study_id = ? AND position = ?",
            [status, error, seconds, now() if status != "todo" else None, now(), study_id, position])


@dataclass(frozen=True)
class StudyStatus:
    counts: dict[str, int]                      # done, running, stale, failed, todo
    seconds_left: float | None                  # mean time of a done cell x cells left (one process)
    cells: list[CellRow]


def study_status(store: Store, study_id: int) -> StudyStatus:
    rows = cell_rows(store, study_id)
    counts = {k: 0 for k in ("done", "running", "stale", "failed", "todo")}
    for r in rows:
        counts[r.shown_status] += 1
    took = [r.seconds for r in rows if r.status == "done" and r.seconds]
    left = counts["running"] + counts["stale"] + counts["todo"]
    estimate = sum(took) / len(took) * left if took else None
    return StudyStatus(counts, estimate, rows)

"""One open store file: where it lives, opening it (guard, migrate), one-transaction writes, and row reads.

The table families (store/datasets.py, store/runs.py, store/results.py) build on :class:`Connection`;
:class:`~lorascope.store.db.Store` composes them.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from .errors import StoreError
from .guard import check_store_file
from .schema import SCHEMA_VERSION, migrate

ENV_DB = "LORASCOPE_DB"
_LOCK_RETRIES = 5


def default_db_path() -> Path:
    """``$LORASCOPE_DB`` if set, else ``lorascope.db`` in the user's data directory."""
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("lorascope", appauthor=False)) / "lorascope.db"


def now() -> str:
    """The timestamp rows carry (UTC, to the second)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def finite(x: float | None) -> float | None:
    """SQLite stores NaN as NULL anyway; keep inf out of it too so exports stay valid JSON."""
    if x is None or not math.isfinite(x):
        return None
    return float(x)


class Connection:
    """Open (creating or migrating as needed) the store at ``path``.

    A file written by a newer schema is refused before anything is written to it.
    """

    def __init__(self, path: str | Path | None = None, *, readonly: bool = False):
        self.path = Path(path) if path is not None else default_db_path()
        if self.path.exists():
            if self.path.is_dir():
                raise StoreError(f"{self.path}: is a directory, not a store file")
            version = check_store_file(self.path, StoreError)
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: written by a newer lorascope (schema {version}; this version reads up to "
                    f"{SCHEMA_VERSION}); upgrade lorascope, the store was not changed")
        elif readonly:
            raise StoreError(f"{self.path}: no such store")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(str(self.path), timeout=30)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 30000")
            self.db = sqlite_utils.Database(conn, execute_plugins=False)
            if not readonly:
                self.db.enable_wal()
                migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a lorascope store ({exc})") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Self]:
        """One write transaction (a savepoint inside another). It takes the write lock at its start (BEGIN
        IMMEDIATE), so two processes writing one store wait for each other (up to the busy timeout, then a
        few retries) instead of one failing on a stale snapshot; an exception rolls everything back."""
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield self
            return
        for attempt in range(_LOCK_RETRIES):
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == _LOCK_RETRIES - 1:
                    raise StoreError(f"{self.path}: busy: another process has held the write lock too long "
                                     f"({exc})") from None
                time.sleep(0.5 * (attempt + 1))
        try:
            yield self
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        """The rows of a raw query (joins, aggregates) as dicts."""
        cur = self.db.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]

"""The check an existing file passes before the store opens it for writing: read-only, so a file that is not a
lorascope store (a foreign SQLite database, any other file) is refused with its bytes unchanged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from lorascope.core.errors import LorascopeError

#: Tables every lorascope store has from its first schema version on.
STORE_TABLES = frozenset({"datasets", "utterances", "hypotheses", "runs", "metrics"})


def check_store_file(path: Path, error: type[LorascopeError] = LorascopeError) -> int:
    """The schema version of the existing file ``path``, read without writing anything to it (no WAL switch, no
    journal). Raises ``error`` when the file is not SQLite, or is an SQLite database of someone else's: tables
    but no lorascope schema."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                 "AND name NOT LIKE 'sqlite_%'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise error(f"{path}: not a lorascope store ({exc})") from None
    if (version == 0 and tables) or (version > 0 and not STORE_TABLES <= tables):
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "") or "none"
        raise error(f"{path}: not a lorascope store (an SQLite database with schema version {version} and tables: "
                    f"{shown}); it was not changed")
    return version

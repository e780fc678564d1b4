"""The inspector's memory between sessions: the last data set, adapter and utterance of each store.

A small JSON file in the user state folder (platformdirs' ``user_state_dir("lorascope")``, or
``$LORASCOPE_STATE_DIR``), one entry per store path. It is a convenience: a file that cannot be read or written
is ignored (the inspector then opens as on a first start), and what it names is checked against the store before
it is used.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_ENV = "LORASCOPE_STATE_DIR"
FILE_NAME = "inspector.json"
#: Stores remembered; the ones not opened for longest are forgotten first.
KEEP = 20


@dataclass(frozen=True)
class Session:
    """Where the inspector was on one store: data set name, adapter key (``run:ID`` or ``bare``), utterance."""

    dataset: str | None = None
    adapter: str | None = None
    utterance: str | None = None   # the utterance id
    position: int | None = None    # its place in the data set (checked against the id before use)


def state_path() -> Path:
    folder = os.environ.get(STATE_ENV)
    if not folder:
        from platformdirs import user_state_dir

        folder = user_state_dir("lorascope")
    return Path(folder) / FILE_NAME


def _key(db: str | Path) -> str:
    return str(Path(db).expanduser().resolve())


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load_session(db: str | Path, path: Path | None = None) -> Session:
    """What was last looked at in store ``db`` (an empty Session when nothing is remembered)."""
    entry = _read(path or state_path()).get(_key(db))
    if not isinstance(entry, dict):
        return Session()
    fields = Session.__dataclass_fields__
    return Session(**{k: v for k, v in entry.items() if k in fields})


def save_session(db: str | Path, session: Session, path: Path | None = None) -> bool:
    """Remember ``session`` for store ``db``; False when the state file cannot be written."""
    path = path or state_path()
    data = _read(path)
    key = _key(db)
    data.pop(key, None)
    data[key] = asdict(session)       # newest last
    while len(data) > KEEP:
        data.pop(next(iter(data)))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)
    except OSError:
        return False
    return True

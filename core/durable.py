"""Durable writes: a file or a folder appears whole under its name, and stays whole after a power loss.

A rename alone is atomic for readers but not durable: after a crash the file system may have kept the rename and
lost the data it points to (a "torn" file of zeros or of the wrong length). So every write here goes to a
temporary name in the target's folder, is flushed and ``fsync``-ed, renamed over the target, and then the folder
itself is ``fsync``-ed so the rename is on disk too. Checkpoints, the phonetic cache, exports and the adapter
folder of a finished run are all written through these functions.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o022)   # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


# Temporary files and folders are made private (0600, 0700); what is renamed into place gets the permissions a
# plain open() or mkdir() would have given it (the umask read at the time), so a shared run folder stays readable
# by the team.


def _publish_mode(tmp: Path, target: Path, base: int) -> None:
    try:
        mode = target.stat().st_mode & 0o7777 if target.exists() else base & ~_umask()
        os.chmod(tmp, mode)
    except OSError:
        pass


def fsync_dir(folder: str | Path) -> None:
    """Make the entries of ``folder`` (renames, new and deleted files) durable; a no-op where folders cannot be
    opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass   # some file systems refuse fsync on a folder; the file data itself is already synced
    finally:
        os.close(fd)


def fsync_file(path: str | Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def replace_durably(tmp: str | Path, target: str | Path) -> None:
    """Sync the finished file ``tmp``, rename it over ``target`` and sync the folder."""
    fsync_file(tmp)
    os.replace(tmp, target)
    fsync_dir(Path(target).parent)


def temp_path(target: Path, suffix: str = ".tmp") -> Path:
    """A fresh name beside ``target`` (same folder, so the rename stays on one file system)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    return Path(tmp)


def write_with(target: str | Path, write: Callable[[Path], None]) -> Path:
    """Let ``write(tmp)`` produce the file at a temporary path, then put it in place durably; returns ``target``.

    For writers that insist on a path of their own (``safetensors.torch.save_file``)."""
    target = Path(target)
    tmp = temp_path(target)
    try:
        write(tmp)
        _publish_mode(tmp, target, 0o666)
        replace_durably(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_bytes(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` durably (see the module docstring)."""
    return write_with(target, lambda tmp: tmp.write_bytes(data))


def write_text(target: str | Path, text: str) -> Path:
    return write_bytes(target, text.encode("utf-8"))


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _sync_tree(folder: Path) -> None:
    for root, dirs, files in os.walk(folder):
        for name in files:
            fsync_file(Path(root) / name)
        fsync_dir(root)


@contextmanager
def folder_durably(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; when the block ends without error, sync every file in it and
    rename it to ``target`` (an existing ``target`` is moved aside first and removed after), then sync the parent.

    A crash leaves either the old folder, or no folder and a hidden temporary one, never a half-written folder
    under the real name."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        _publish_mode(tmp, target, 0o777)
        _sync_tree(tmp)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old / target.name)
        os.replace(tmp, target)
        fsync_dir(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


__all__ = ["folder_durably", "fsync_dir", "fsync_file", "replace_durably", "sha256_file", "temp_path",
           "write_bytes", "write_text", "write_with"]

"""A user's input file read in bounded pieces: its first bytes checked, UTF-8 decoded, lines and JSON values streamed.

Nothing here holds a whole file: lines are read one at a time (at most :data:`MAX_LINE_BYTES` each) and a JSON
document's top-level items or members one at a time (:class:`JsonStream`), so memory follows the largest item,
not the file. Progress is reported as bytes read through a :class:`Meter`.

JSON is parsed by Python's own decoder with two guards: a duplicate key in one object is an error (Python
keeps the last silently), and the decoder's own failures on legal but pathological documents (nesting deeper
than its recursion limit, integers longer than Python's int-string conversion limit) become one-line
InputErrors. ``NaN`` and ``Infinity``, which Python accepts and JSON does not have, are read as floats so that
the checks of :mod:`.fields` name the value that holds one (``score nan is not a finite number``).
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from lorascope.core.errors import InputError

MAX_LINE_BYTES = 64 * 2**20
MAX_ITEM_CHARS = 64 * 2**20
CHUNK = 2**20
HEAD = 4096

#: ``progress(bytes read, bytes in all)``, called about once a MiB and once at the end.
Progress = Callable[[int, int], None]

_BOMS = [(codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"),
         (codecs.BOM_UTF16_BE, "UTF-16")]


def read_bytes(path: Path) -> bytes:
    """The bytes of a user's input file; a missing, unreadable or folder path is an InputError naming it."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise _os_error(path, exc) from None


def _os_error(path: Path, exc: OSError) -> InputError:
    if isinstance(exc, FileNotFoundError):
        return InputError(str(path), "no such file")
    if isinstance(exc, IsADirectoryError):
        return InputError(str(path), "is a directory, not a file")
    return InputError(str(path), f"cannot be read ({exc.strerror})")


def check_head(path: Path, head: bytes, size: int) -> int:
    """Refuse what is not UTF-8 text from a file's first bytes; returns the length of a UTF-8 BOM to skip (0 or 3)."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            raise InputError(str(path), f"{name} text (byte-order mark); lorascope reads UTF-8: convert it with "
                             f"`iconv -f {name} -t UTF-8`")
    if b"\x00" in head:
        if len(head) >= 4 and head[1::2].count(0) > len(head) // 4 or head[0::2].count(0) > len(head) // 4:
            raise InputError(str(path), "looks like UTF-16 text without a byte-order mark; lorascope reads UTF-8: "
                             "convert it with `iconv -f UTF-16LE -t UTF-8` (or UTF-16BE)")
        raise InputError(str(path), "binary data, not an N-best text file")
    skip = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    if size <= len(head) and not head[skip:].strip():
        raise InputError(str(path), "empty file")
    return skip


class Meter:
    """Bytes read so far out of ``total``, passed on to a :data:`Progress` callback about once a MiB."""

    def __init__(self, total: int, callback: Progress | None = None):
        self.total, self.done, self.callback, self._told = total, 0, callback, 0

    def add(self, n: int) -> None:
        self.done += n
        if self.callback is not None and self.done - self._told >= CHUNK:
            self._told = self.done
            self.callback(min(self.done, self.total), self.total)

    def finish(self) -> None:
        if self.callback is not None:
            self.callback(self.total, self.total)


def file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError as exc:
        raise _os_error(path, exc) from None


class InputFile:
    """One input file opened for streaming (its first bytes checked), counted on a :class:`Meter`."""

    def __init__(self, path: str | Path, meter: Meter | None = None):
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(str(self.path), "is a directory, not a file")
        try:
            self._f: BinaryIO = open(self.path, "rb")
        except OSError as exc:
            raise _os_error(self.path, exc) from None
        self.meter = meter or Meter(0)
        self.size = os.fstat(self._f.fileno()).st_size
        head = self._f.read(HEAD)
        self._f.seek(check_head(self.path, head, self.size))

    def close(self) -> None:
        self._f.close()

    def read(self, n: int) -> bytes:
        data = self._f.read(n)
        self.meter.add(len(data))
        return data

    def lines(self, *, text_format: bool = True) -> Iterator[tuple[int, str]]:
        """``(line number, line)`` for every line, without its LF or CRLF ending.

        ``text_format`` (whitespace-separated fields): a NUL byte or a carriage return inside a line is an
        error (CR-only line endings would otherwise run every line into one).
        """
        path, limit = self.path, MAX_LINE_BYTES
        try:
            for lineno, raw in enumerate(iter(lambda: self._f.readline(limit + 1), b""), 1):
                self.meter.add(len(raw))
                if len(raw) > limit:
                    raise InputError(f"{path} line {lineno}", f"longer than {limit:,} bytes")
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InputError(f"{path} line {lineno}", f"not UTF-8 text (bad byte 0x{raw[exc.start]:02x} at "
                                     f"column {exc.start + 1})") from None
                line = line[:-2] if line.endswith("\r\n") else line.rstrip("\n")
                if text_format:
                    if "\x00" in line:
                        raise InputError(f"{path} line {lineno}", "holds a NUL byte: binary data, not text")
                    if "\r" in line:
                        raise InputError(f"{path} line {lineno}", "holds a carriage return (CR-only line endings?); "
                                         "lorascope reads LF or CRLF line endings")
                yield lineno, line
        finally:
            self.close()


class _JsonProblem(ValueError):
    """Raised from the decoder's hooks; carries the problem for the InputError."""


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _JsonProblem(f"duplicate key {dup!r} in one object (which value is meant?)")
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object)


def loads(where: str, text: str, hint: str = "") -> Any:
    """One JSON value (a JSONL line), guarded as the module docstring says; ``hint`` ends a syntax error's message."""
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise InputError(where, f"invalid JSON ({exc.msg}){hint}") from None
    except (_JsonProblem, RecursionError, ValueError) as exc:
        raise _guard_error(where, exc) from None


def _guard_error(where: str, exc: BaseException) -> InputError:
    if isinstance(exc, _JsonProblem):
        return InputError(where, str(exc))
    if isinstance(exc, RecursionError):
        return InputError(where, "JSON nested too deeply to read (an N-best list needs a few levels)")
    if "integer string conversion" in str(exc):
        return InputError(where, "holds an integer of more than 4300 digits (Python's limit)")
    return InputError(where, f"invalid JSON ({exc})")


_WS = re.compile(r"[ \t\n\r]*")
_KIND = {"{": "dict", "[": "list", '"': "str", "t": "bool", "f": "bool", "n": "NoneType"}


class JsonStream:
    """The top-level items of a JSON array, or members of a JSON object, decoded one at a time."""

    def __init__(self, src: InputFile):
        self.src, self.path = src, src.path
        self.buf, self.pos, self.base_line, self.offset, self.eof = "", 0, 1, 0, False
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def kind(self) -> str:
        """The Python type name of the top-level value, read from its first character."""
        c = self._peek()
        return _KIND.get(c, "number" if c else "nothing")

    def items(self, where: Callable[[int], str]) -> Iterator[tuple[int, Any]]:
        """``(index, value)`` of each item of the top-level array; ``where(index)`` names an item in errors."""
        self._expect("[")
        i = 0
        if self._peek() == "]":
            self.pos += 1
        else:
            while True:
                yield i, self._value(where(i))
                i += 1
                if self._delimiter("]"):
                    break
        self._end()

    def members(self, where: Callable[[str], str]) -> Iterator[tuple[str, Any]]:
        """``(key, value)`` of each member of the top-level object, in file order."""
        self._expect("{")
        if self._peek() == "}":
            self.pos += 1
        else:
            while True:
                if self._peek() != '"':
                    self._syntax("Expecting property name enclosed in double quotes")
                key = self._value(f"{self.path} line {self.line(self.pos)}")
                self._expect(":")
                yield key, self._value(where(key))
                if self._delimiter("}"):
                    break
        self._end()

    # -- plumbing ---------------------------------------------------------------------------------

    def line(self, pos: int) -> int:
        return self.base_line + self.buf.count("\n", 0, pos)

    def _fill(self) -> bool:
        """Read more of the file (at least as much as is pending, so a large item is re-scanned log-many times)."""
        if self.eof:
            return False
        if self.pos:
            self.base_line += self.buf.count("\n", 0, self.pos)
            self.buf, self.pos = self.buf[self.pos:], 0
        chunk = self.src.read(max(CHUNK, len(self.buf)))
        try:
            text = self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            line = self.base_line + self.buf.count("\n") + chunk[:exc.start].count(b"\n")
            raise InputError(f"{self.path} line {line}", f"not UTF-8 text (bad byte 0x{chunk[exc.start]:02x} at "
                             f"offset {self.offset + exc.start})") from None
        self.offset += len(chunk)
        self.eof = not chunk
        if self.eof:
            self.src.close()
        self.buf += text
        return True

    def _peek(self) -> str:
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def _syntax(self, msg: str) -> None:
        raise InputError(f"{self.path} line {self.line(self.pos)}", f"invalid JSON ({msg})")

    def _expect(self, c: str) -> None:
        if self._peek() != c:
            self._syntax(f"Expecting {c!r}" if self.pos < len(self.buf) else "the file ends early: truncated?")
        self.pos += 1

    def _delimiter(self, close: str) -> bool:
        c = self._peek()
        if c == ",":
            self.pos += 1
            return False
        if c == close:
            self.pos += 1
            return True
        self._syntax("Expecting ',' delimiter" if c else "the file ends early: truncated?")
        return True

    def _end(self) -> None:
        if self._peek():
            self._syntax("Extra data after the top-level value")

    def _value(self, where: str) -> Any:
        self._peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # near the end of what was read, the value may just be cut off: read more and try again
                if not self.eof and (exc.pos >= len(self.buf) - 16 or exc.msg.startswith("Unterminated string")):
                    self._grow(where)
                    continue
                cut = exc.pos >= len(self.buf.rstrip()) or exc.msg.startswith("Unterminated string")
                msg = "the file ends early: truncated?" if cut else exc.msg
                raise InputError(f"{self.path} line {self.line(exc.pos)}", f"invalid JSON ({msg})") from None
            except (_JsonProblem, RecursionError, ValueError) as exc:
                raise _guard_error(where, exc) from None
            if end == len(self.buf) and not self.eof:  # a number may go on in the next chunk
                self._grow(where)
                continue
            self.pos = end
            return value

    def _grow(self, where: str) -> None:
        if len(self.buf) - self.pos > MAX_ITEM_CHARS:
            raise InputError(where, f"larger than {MAX_ITEM_CHARS:,} characters: not one utterance's N-best list")
        self._fill()

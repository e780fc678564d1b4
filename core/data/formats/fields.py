"""Checks shared by every reader: one value of an N-best file (id, text, score, features) in, clean value or InputError out.

Limits, and why:

- a text (hypothesis or reference) holds at most :data:`MAX_TEXT_CHARS` characters: word alignment is quadratic
  in the words of a pair, and no utterance's transcript comes near it;
- a list holds at most :data:`MAX_HYPOTHESES` hypotheses (lists are held whole while they are checked);
- ``meta`` and per-hypothesis features nest at most :data:`MAX_DEPTH` levels and hold only finite numbers:
  they are stored as JSON, which has no NaN or infinity;
- every string is valid Unicode without NUL characters: SQLite stores UTF-8, which has no lone surrogates
  (JSON's ``"\\ud800"``), and NUL ends a string in most tools that read the store.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from lorascope.core.errors import InputError
from lorascope.core.data.nbest import Hypothesis

MAX_TEXT_CHARS = 100_000
MAX_ID_CHARS = 1_000
MAX_HYPOTHESES = 10_000
MAX_DEPTH = 32
_FLOAT_MAX_BITS = 1024  # an int of more bits has no float (math.isfinite would raise OverflowError)

#: A decimal number as text files write it (no Python-only spellings such as ``1_000``, ``inf`` or ``nan``).
DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def check_string(where: str, value: str, what: str, limit: int = MAX_TEXT_CHARS) -> str:
    """``value`` if it is storable text of at most ``limit`` characters, else an InputError saying why not."""
    if len(value) > limit:
        raise InputError(where, f"{what} is {len(value):,} characters long (at most {limit:,})")
    if "\x00" in value:
        raise InputError(where, f"{what} holds a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(where, f"{what} holds a lone surrogate \\u{ord(value[exc.start]):04x} "
                             "(not valid Unicode)") from None
    return value


def hyp_text(where: str, value: Any) -> str:
    if value is None:
        raise InputError(where, "has no text")
    if not isinstance(value, str):
        raise InputError(where, f"text is not a string (found {type_name(value)})")
    return check_string(where, value, "text")


def reference(where: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(where, "reference is not a string")
    return check_string(where, value, "reference")


def score(where: str, value: Any, what: str = "score") -> float | None:
    """A finite first-pass score, or ``None`` for no score."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(where, f"{what} {value!r} is not a finite number")
    if isinstance(value, int) and value.bit_length() > _FLOAT_MAX_BITS:
        raise InputError(where, f"{what} is an integer too large for a float")
    if not math.isfinite(value):
        raise InputError(where, f"{what} {value} is not a finite number" + (
            " (too large for a float)" if math.isinf(value) else ""))
    return float(value)


def decimal(where: str, text: str, what: str = "score") -> float:
    """A finite number written as decimal text."""
    if DECIMAL.fullmatch(text) is None:
        raise InputError(where, f"{what} {text!r} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise InputError(where, f"{what} {text} is not a finite number (too large for a float)")
    return value


def utterance_id(where: str, value: Any) -> str:
    """An utterance id given as a string or an integer, as text."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        if value is None:
            raise InputError(where, "utterance has no id")
        raise InputError(where, f"utterance id {value!r} is not a string or an integer")
    if isinstance(value, int):
        if value.bit_length() > 64:
            raise InputError(where, "utterance id is an integer of more than 64 bits")
        return str(value)
    if value.strip() == "":
        raise InputError(where, "utterance has no id (empty)")
    return check_string(where, value, "utterance id", MAX_ID_CHARS)


def hypothesis_count(where: str, n: int) -> None:
    if n == 0:
        raise InputError(where, "empty hypothesis list")
    if n > MAX_HYPOTHESES:
        raise InputError(where, f"{n:,} hypotheses in one list (at most {MAX_HYPOTHESES:,})")


def features(where: str, value: Any, what: str) -> Any:
    """``value`` (meta or hypothesis features) if it is storable JSON: finite numbers, clean strings, shallow."""
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            check_string(where, v, f"a string in {what}")
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise InputError(where, f"{what} holds {v}, not a finite number")
        elif isinstance(v, int) and not isinstance(v, bool):
            if v.bit_length() > _FLOAT_MAX_BITS:
                raise InputError(where, f"{what} holds an integer too large for a float")
        elif isinstance(v, (dict, list)):
            if depth >= MAX_DEPTH:
                raise InputError(where, f"{what} is nested more than {MAX_DEPTH} levels deep")
            if isinstance(v, dict):
                for k, x in v.items():
                    check_string(where, k, f"a key in {what}")
                    stack.append((x, depth + 1))
            else:
                stack.extend((x, depth + 1) for x in v)
        elif v is not None and not isinstance(v, bool):
            raise InputError(where, f"{what} holds {type_name(v)}")
    return value


def scores_all_or_none(where: str, hyps: Sequence[Hypothesis]) -> None:
    have = [h.score is not None for h in hyps]
    if any(have) and not all(have):
        missing = have.index(False) + 1
        raise InputError(where, f"hypothesis {missing} has no score while others do")


class UniqueIds:
    """Refuses an utterance id seen before in the same file (ids are compared as text: ``1`` and ``"1"`` clash)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def add(self, where: str, uid: str) -> None:
        if uid in self._seen:
            hint = " (ids compare as text, so 1 and \"1\" are one id)" if uid.lstrip("-").isdigit() else ""
            raise InputError(f"{where}: utterance {uid}", f"duplicate utterance id{hint}")
        self._seen.add(uid)

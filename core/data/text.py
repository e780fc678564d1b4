"""The one text normalisation applied wherever WER is computed.

Rules, in order: Unicode NFKC; lower case; typographic apostrophes become ``'``; every character that is
not a letter, digit or apostrophe becomes a space (so ``"well-known"`` is two words and ``"Mr."`` is
``mr``); apostrophes that do not sit between two word characters are dropped (quotes, ``'tis`` keeps its
word); runs of whitespace collapse to one space and the ends are trimmed. Numbers are not spelled out.
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_NOT_WORD = re.compile(r"[^\w']+|_")
_LONE_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")


def normalize(text: str) -> str:
    """Return ``text`` normalised for scoring (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_APOSTROPHES)
    text = _NOT_WORD.sub(" ", text)
    text = _LONE_APOSTROPHE.sub(" ", text)
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """The normalised words of ``text``."""
    return normalize(text).split()

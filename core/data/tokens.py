"""Whitespace tokens of a hypothesis: their punctuation, letter case, and the one word each stands for.

A token's punctuation and letter case are kept around a replacement (``There,`` -> ``Their,``). Tokens that
are not one word after :func:`.text.normalize` (numbers, ``well-known``) stand for no word.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from lorascope.core.perturbation.phonetic_index import Candidate
from lorascope.core.data.text import normalize

_EDGES = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)
_SINGLE_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


@functools.lru_cache(maxsize=1 << 16)
def parse_token(token: str) -> tuple[str, str, str, str | None]:
    """A token's leading punctuation, body, trailing punctuation, and the one normalised word it stands for.

    The word is None when the token is not exactly one word (``25``, ``well-known``). Cached: the same
    tokens recur across the hypotheses of a list and across lists.
    """
    m = _EDGES.match(token)
    assert m is not None  # the pattern matches any string
    prefix, body, suffix = m.groups()
    word = normalize(body)
    return prefix, body, suffix, (word if _SINGLE_WORD.fullmatch(word) else None)


def word_of(token: str) -> str | None:
    """The one normalised word a token stands for, or None."""
    return parse_token(token)[3]


def next_word(tokens: Sequence[str], position: int) -> str | None:
    """The word of the token after ``position`` when nothing but a space separates the two, else None.

    A merge of two tokens needs this: ``any thing`` may become ``anything``, ``any, thing`` may not.
    """
    if position + 1 >= len(tokens) or parse_token(tokens[position])[2]:
        return None
    prefix, _, _, word = parse_token(tokens[position + 1])
    return None if prefix else word


def all_capitals(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and all(ch.isupper() for ch in letters)


def styled(text: str, like: str, capitals: bool) -> str:
    """``text`` in the letter case of ``like``: all capitals, a leading capital, or as given (lower).

    ``capitals`` says the whole hypothesis is in capitals (LibriSpeech style), which a one-letter
    token such as ``I`` cannot show by itself.
    """
    if capitals or (len(like) > 1 and all_capitals(like)):
        return text.upper()
    if like[:1].isupper():
        return text[:1].upper() + text[1:]
    return text


def render(tokens: Sequence[str], position: int, cand: Candidate, capitals: bool) -> str:
    """The replacement text for ``tokens[position:position + cand.span]``, with outer punctuation kept."""
    prefix, body, suffix, _ = parse_token(tokens[position])
    if cand.span == 2:
        suffix = parse_token(tokens[position + 1])[2]
    return prefix + styled(cand.text, body, capitals) + suffix


__all__ = ["all_capitals", "next_word", "parse_token", "render", "styled", "word_of"]

"""Word diff of a hypothesis against its reference (jiwer alignment on normalised text), as tokens and as Rich text.

Substitutions show the hypothesis word underlined in yellow, insertions a ``+word`` in green, deletions the
missing reference word as ``-word`` struck through in red. The ``+`` and ``-`` marks keep insertions and
deletions readable without colour (text captures, monochrome terminals).
"""

from __future__ import annotations

from dataclasses import dataclass

import jiwer
from rich.text import Text

from lorascope.core.data.text import words

EQUAL, SUB, INS, DEL = "equal", "sub", "ins", "del"

STYLES = {
    EQUAL: "",
    SUB: "bold underline yellow",
    INS: "bold green",
    DEL: "strike red",
}
MARKS = {EQUAL: "", SUB: "", INS: "+", DEL: "-"}


@dataclass(frozen=True)
class DiffToken:
    """One word of the aligned pair: ``word`` is the hypothesis word (the reference word for a deletion)."""

    kind: str
    word: str
    ref: str | None = None  # the reference word a substitution replaced


def word_diff(reference: str | None, hypothesis: str) -> tuple[DiffToken, ...]:
    """The hypothesis' normalised words aligned to the reference's; every word is ``equal`` without a reference."""
    hyp = words(hypothesis)
    if reference is None:
        return tuple(DiffToken(EQUAL, w) for w in hyp)
    ref = words(reference)
    if not ref or not hyp:
        return tuple(DiffToken(INS, w) for w in hyp) + tuple(DiffToken(DEL, w) for w in ref)
    out: list[DiffToken] = []
    for chunk in jiwer.process_words(" ".join(ref), " ".join(hyp)).alignments[0]:
        r = ref[chunk.ref_start_idx:chunk.ref_end_idx]
        h = hyp[chunk.hyp_start_idx:chunk.hyp_end_idx]
        if chunk.type == "equal":
            out.extend(DiffToken(EQUAL, w) for w in h)
        elif chunk.type == "substitute":
            out.extend(DiffToken(SUB, hw, rw) for hw, rw in zip(h, r))
        elif chunk.type == "insert":
            out.extend(DiffToken(INS, w) for w in h)
        else:
            out.extend(DiffToken(DEL, w) for w in r)
    return tuple(out)


def diff_counts(tokens: tuple[DiffToken, ...]) -> dict[str, int]:
    """Substitutions, insertions and deletions in a diff."""
    counts = {SUB: 0, INS: 0, DEL: 0}
    for t in tokens:
        if t.kind in counts:
            counts[t.kind] += 1
    return counts


def diff_text(tokens: tuple[DiffToken, ...], *, show_reference: bool = False) -> Text:
    """Rich text of a diff; ``show_reference`` adds the reference word after a substitution: ``their(there)``."""
    text = Text(no_wrap=False)
    for k, t in enumerate(tokens):
        if k:
            text.append(" ")
        text.append(MARKS[t.kind] + t.word, STYLES[t.kind])
        if show_reference and t.kind == SUB:
            text.append(f"({t.ref})", "dim")
    return text


def legend() -> Text:
    """The key to the diff marks, for the help screen."""
    text = Text()
    text.append("substitution", STYLES[SUB])
    text.append("  ")
    text.append("+insertion", STYLES[INS])
    text.append("  ")
    text.append("-deletion", STYLES[DEL])
    return text

"""Word errors per (reference, hypothesis text), remembered: the same hypotheses recur across conditions and views."""

from __future__ import annotations

from collections.abc import Sequence

from .metrics import word_errors
from .nbest import Utterance


class ErrorCache:
    """Word errors of a hypothesis text against a reference, each pair computed once.

    Call it with one pair (``cache(reference, text)``; None without a reference), or ask for a whole error
    table (:meth:`table`: one row per utterance, one count per hypothesis).
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], int] = {}

    def __call__(self, reference: str | None, text: str) -> int | None:
        if reference is None:
            return None
        key = (reference, text)
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = word_errors(reference, text)
        return found

    def table(self, utterances: Sequence[Utterance]) -> list[list[int]]:
        """Word errors of every hypothesis of every utterance (an utterance without a reference: against "")."""
        return [[self(u.reference or "", h.text) for h in u.hypotheses] for u in utterances]  # type: ignore[misc]

    def __len__(self) -> int:
        return len(self._seen)


__all__ = ["ErrorCache"]

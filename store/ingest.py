"""Writing a stream of N-best lists into the store in chunks, with word errors and the first-pass summary kept as it goes.

The caller holds the transaction (``Store.add_dataset``): nothing here commits, so a failure anywhere in the
stream leaves the store as it was. Utterance rows get explicit ids after the largest already stored, so that
the hypotheses of a whole chunk go in with one ``executemany``.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator

from lorascope.core.data.alignment import COUNTER
from lorascope.core.data.metrics import corpus_wer, hypothesis_errors
from lorascope.core.data.nbest import Utterance, scores_state

CHUNK_UTTERANCES = 2000


class DuplicateUtterance(ValueError):
    """An utterance id that is already in the dataset; ``args[0]`` is the id."""


class Totals:
    """Counts, word errors and the first-pass summary of a dataset, kept as its utterances stream past."""

    def __init__(self) -> None:
        self.utterances = self.hypotheses = self.reference_words = self.one_best = self.oracle = 0
        self.all_referenced = True
        self._by_scores: dict[bool, Utterance] = {}  # one utterance with scores and one without, for scores_state

    def add(self, u: Utterance) -> list[int] | None:
        """Count ``u``; its hypotheses' word errors (``None`` without a reference)."""
        self.utterances += 1
        self.hypotheses += len(u.hypotheses)
        self._by_scores.setdefault(u.has_scores, u)
        if u.reference is None:
            self.all_referenced = False
            return None
        (errors,) = hypothesis_errors((u,))
        self.reference_words += len(COUNTER.words(u.reference))  # metrics.reference_length, on cached tokens
        self.one_best += errors[0]
        self.oracle += min(errors)
        return errors

    def summary(self) -> tuple[str, int, int, int | None, float | None, float | None]:
        """scores, utterances, hypotheses, reference_words, one_best_wer, oracle_wer (the datasets columns)."""
        state = scores_state(list(self._by_scores.values()))
        if not self.all_referenced:
            return state, self.utterances, self.hypotheses, None, None, None
        wers = [corpus_wer([e], [self.reference_words]) for e in (self.one_best, self.oracle)]
        return (state, self.utterances, self.hypotheses, self.reference_words,
                *(w if math.isfinite(w) else None for w in wers))


def chunks(items: Iterable[Utterance], size: int = CHUNK_UTTERANCES) -> Iterator[list[Utterance]]:
    chunk: list[Utterance] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_lists(conn: sqlite3.Connection, ds_id: int, utterances: Iterable[Utterance]) -> Totals:
    """Write ``utterances`` as dataset ``ds_id``'s rows, in order; returns their totals."""
    (last_row,) = conn.execute("SELECT coalesce(max(id), 0) FROM utterances").fetchone()
    totals = Totals()
    for chunk in chunks(utterances):
        utt_rows, hyp_rows = [], []
        for u in chunk:
            pos = totals.utterances
            errors = totals.add(u)
            row = last_row + pos + 1
            utt_rows.append((row, ds_id, pos, u.id, u.reference, json.dumps(u.meta) if u.meta else None))
            hyp_rows.extend((row, r, h.text, h.score, errors[r] if errors else None,
                             json.dumps(h.extra) if h.extra else None) for r, h in enumerate(u.hypotheses))
        try:
            conn.executemany(
                "INSERT INTO utterances (id, dataset_id, position, utt_id, reference, meta) VALUES (?,?,?,?,?,?)",
                utt_rows)
        except sqlite3.IntegrityError:
            raise DuplicateUtterance(_clash(conn, ds_id, chunk)) from None
        conn.executemany(
            "INSERT INTO hypotheses (utterance_id, rank, text, score, errors, extra) VALUES (?,?,?,?,?,?)", hyp_rows)
    return totals


def _clash(conn: sqlite3.Connection, ds_id: int, chunk: list[Utterance]) -> str:
    """The id in ``chunk`` that repeats an id in it or one already stored for the dataset."""
    seen = {r[0] for r in conn.execute("SELECT utt_id FROM utterances WHERE dataset_id = ?", [ds_id])}
    for u in chunk:
        if u.id in seen:
            return u.id
        seen.add(u.id)
    return "?"

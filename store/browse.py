"""Read queries for browsing a data set of any size: pages of the utterance list, one utterance, per-hypothesis
columns and stored LM scores as arrays, and full-text search over references and hypotheses.

Nothing here loads a whole data set as Python objects: a page is a handful of rows, the columns are numpy
arrays in list order (utterance by position, hypotheses by first-pass rank), and search answers with
positions. The search index (an FTS5 table, store/schema.py) is built per data set by
:func:`build_search_index`, in chunks that each commit, so it can run in the background and resume; until it
is complete :func:`search` scans with ``LIKE`` instead (substring matches, a few hundred ms on 100k lists).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from lorascope.core.data.metrics import reference_length
from lorascope.core.data.nbest import Hypothesis, Utterance

from .db import Store, now

#: Rows fetched per round trip when a query streams a whole data set.
CHUNK = 50_000
#: Utterances indexed per transaction by :func:`build_search_index`.
INDEX_CHUNK = 5_000
#: The token between the texts of one search row (see store/schema.py).
SEPARATOR = " § "


@dataclass(frozen=True)
class ListRow:
    """What the utterance list shows of one utterance besides the rescoring figures."""

    position: int
    utt_id: str
    reference: str | None


@dataclass(frozen=True)
class HypothesisColumns:
    """Every hypothesis of a data set in list order, flat: list ``k`` is ``offsets[k]:offsets[k + 1]``.

    ``scores`` is the first-pass score (NaN where a hypothesis has none), ``errors`` the stored word errors
    against the reference (-1 where the utterance has no reference).
    """

    offsets: np.ndarray
    scores: np.ndarray
    errors: np.ndarray

    @property
    def utterances(self) -> int:
        return len(self.offsets) - 1

    @property
    def hypotheses(self) -> int:
        return int(self.offsets[-1])


@dataclass(frozen=True)
class SearchState:
    """How much of a data set the search index covers."""

    indexed: int
    total: int

    @property
    def ready(self) -> bool:
        return self.indexed >= self.total


# ---------------------------------------------------------------------------------------------- rows


def row_ids(store: Store, dataset_id: int) -> np.ndarray:
    """``utterances.id`` of every utterance, by position."""
    cur = store.db.execute("SELECT id FROM utterances WHERE dataset_id = ? ORDER BY position", [dataset_id])
    return np.fromiter((r[0] for r in cur), dtype=np.int64)


def page(store: Store, dataset_id: int, positions: Sequence[int]) -> list[ListRow]:
    """The list rows at ``positions`` (in position order; unknown positions are left out)."""
    if not len(positions):
        return []
    marks = ",".join("?" * len(positions))
    cur = store.db.execute(f"SELECT position, utt_id, reference FROM utterances WHERE dataset_id = ? AND "
                           f"position IN ({marks}) ORDER BY position", [dataset_id, *map(int, positions)])
    return [ListRow(*r) for r in cur]


def utterance(store: Store, dataset_id: int, position: int) -> tuple[int, Utterance] | None:
    """The utterance at ``position`` with its row id, or None past the end."""
    found = utterances(store, dataset_id, position, position + 1)
    return found[0] if found else None


def utterances(store: Store, dataset_id: int, start: int, stop: int) -> list[tuple[int, Utterance]]:
    """The utterances at positions ``start`` to ``stop - 1`` with their row ids, in position order: a page of
    a data set that is never held whole (the inspector's data-set NPRR and mining go through it page by page)."""
    import json

    heads = store.db.execute("SELECT id, utt_id, reference, meta FROM utterances WHERE dataset_id = ? AND "
                             "position >= ? AND position < ? ORDER BY position",
                             [dataset_id, int(start), int(stop)]).fetchall()
    if not heads:
        return []
    hyps: dict[int, list[Hypothesis]] = {}
    for rowid, text, score, extra in store.db.execute(
            "SELECT h.utterance_id, h.text, h.score, h.extra FROM utterances u JOIN hypotheses h ON "
            "h.utterance_id = u.id WHERE u.dataset_id = ? AND u.position >= ? AND u.position < ? "
            "ORDER BY u.position, h.rank", [dataset_id, int(start), int(stop)]):
        hyps.setdefault(rowid, []).append(Hypothesis(text, score, json.loads(extra) if extra else {}))
    return [(rowid, Utterance(utt_id, tuple(hyps.get(rowid, ())), reference, json.loads(meta) if meta else {}))
            for rowid, utt_id, reference, meta in heads]


def stored_lm(store: Store, run_id: int, utterance_row_id: int) -> list[float] | None:
    """The LM score run ``run_id`` stored for each hypothesis of one utterance; None unless all are stored."""
    rows = store.db.execute(
        "SELECT s.lm_score FROM hypotheses h LEFT JOIN scores s ON s.run_id = ? AND s.hypothesis_id = h.id "
        "WHERE h.utterance_id = ? ORDER BY h.rank", [run_id, utterance_row_id]).fetchall()
    if not rows or any(r[0] is None for r in rows):
        return None
    return [float(r[0]) for r in rows]


def scored_runs(store: Store, dataset_id: int, run_ids: Sequence[int]) -> list[int]:
    """The runs of ``run_ids`` that stored scores for this data set (judged by its first utterance)."""
    first = store.db.execute("SELECT h.id FROM utterances u JOIN hypotheses h ON h.utterance_id = u.id "
                             "WHERE u.dataset_id = ? AND u.position = 0 AND h.rank = 0", [dataset_id]).fetchone()
    if first is None:
        return []
    return [r for r in run_ids if store.db.execute(
        "SELECT 1 FROM scores WHERE run_id = ? AND hypothesis_id = ?", [r, first[0]]).fetchone()]


# ---------------------------------------------------------------------------------------------- columns


def _stream(store: Store, sql: str, params: Sequence, chunk: int = CHUNK) -> Iterator[list[tuple]]:
    cur = store.db.execute(sql, params)
    while rows := cur.fetchmany(chunk):
        yield rows


_IN_ORDER = ("FROM utterances u JOIN hypotheses h ON h.utterance_id = u.id WHERE u.dataset_id = ? "
             "ORDER BY u.position, h.rank")


def hypothesis_columns(store: Store, dataset_id: int, *,
                       should_stop: Callable[[], bool] | None = None) -> HypothesisColumns | None:
    """First-pass scores and word errors of every hypothesis in list order (None when stopped)."""
    (hyps,) = store.db.execute("SELECT count(*) FROM utterances u JOIN hypotheses h ON h.utterance_id = u.id "
                               "WHERE u.dataset_id = ?", [dataset_id]).fetchone()
    sizes = np.fromiter((r[0] for r in store.db.execute(
        "SELECT (SELECT count(*) FROM hypotheses h WHERE h.utterance_id = u.id) FROM utterances u "
        "WHERE u.dataset_id = ? ORDER BY u.position", [dataset_id])), dtype=np.int64)
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    scores = np.empty(hyps, dtype=np.float64)
    errors = np.empty(hyps, dtype=np.int64)
    at = 0
    for rows in _stream(store, f"SELECT h.score, coalesce(h.errors, -1) {_IN_ORDER}",
                        [dataset_id]):
        if should_stop is not None and should_stop():
            return None
        block = np.array(rows, dtype=np.float64)
        scores[at:at + len(rows)] = block[:, 0]
        errors[at:at + len(rows)] = block[:, 1]
        at += len(rows)
    return HypothesisColumns(offsets, scores, errors)


def stored_lm_scores(store: Store, run_id: int, dataset_id: int) -> np.ndarray:
    """The LM score run ``run_id`` stored for every hypothesis, in list order (NaN where none is stored)."""
    parts = [np.array(rows, dtype=np.float64)[:, 0] for rows in _stream(
        store, "SELECT s.lm_score FROM utterances u JOIN hypotheses h ON h.utterance_id = u.id "
               "LEFT JOIN scores s ON s.run_id = ? AND s.hypothesis_id = h.id WHERE u.dataset_id = ? "
               "ORDER BY u.position, h.rank", [run_id, dataset_id])]
    return np.concatenate(parts) if parts else np.zeros(0)


def hypothesis_texts(store: Store, dataset_id: int) -> Iterator[list[str]]:
    """Every hypothesis text in list order, a chunk at a time."""
    for rows in _stream(store, f"SELECT h.text {_IN_ORDER}", [dataset_id]):
        yield [r[0] for r in rows]


def extra_values(store: Store, dataset_id: int, name: str) -> np.ndarray:
    """A per-hypothesis value a reader kept (``Hypothesis.extra[name]``), in list order; NaN where missing."""
    out = []
    for rows in _stream(store, f"SELECT json_extract(h.extra, ?) {_IN_ORDER}", [f"$.{name}", dataset_id]):
        out.extend(float(v) if isinstance(v, (int, float)) else np.nan for (v,) in rows)
    return np.asarray(out, dtype=np.float64)


def reference_words(store: Store, dataset_id: int) -> np.ndarray:
    """Normalised reference length of every utterance by position (0 without a reference)."""
    seen: dict[str, int] = {}
    out = []
    for rows in _stream(store, "SELECT reference FROM utterances WHERE dataset_id = ? ORDER BY position",
                        [dataset_id]):
        for (ref,) in rows:
            if ref is None:
                out.append(0)
                continue
            n = seen.get(ref)
            if n is None:
                n = seen[ref] = reference_length(ref)
            out.append(n)
    return np.asarray(out, dtype=np.int64)


# ---------------------------------------------------------------------------------------------- search


def search_state(store: Store, dataset_id: int) -> SearchState:
    (total,) = store.db.execute("SELECT count(*) FROM utterances WHERE dataset_id = ?", [dataset_id]).fetchone()
    row = store.db.execute("SELECT utterances FROM search_index WHERE dataset_id = ?", [dataset_id]).fetchone()
    return SearchState(row[0] if row else 0, total)


def build_search_index(store: Store, dataset_id: int, *, chunk: int = INDEX_CHUNK,
                       on_progress: Callable[[int, int], None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> SearchState:
    """Index the data set's references and hypotheses for :func:`search`, resuming where an earlier build
    stopped; each chunk of utterances is one write transaction (other writers wait at most that long)."""
    conn = store.db.conn
    state = search_state(store, dataset_id)
    while not state.ready:
        if should_stop is not None and should_stop():
            break
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT utterances FROM search_index WHERE dataset_id = ?", [dataset_id]).fetchone()
            start = row[0] if row else 0  # another process may have indexed further meanwhile
            end = min(start + chunk, state.total)
            conn.execute(
                "INSERT INTO utterance_search (rowid, text) SELECT u.id, coalesce(u.reference, '') || ? || "
                "coalesce((SELECT group_concat(h.text, ?) FROM hypotheses h WHERE h.utterance_id = u.id), '') "
                "FROM utterances u WHERE u.dataset_id = ? AND u.position >= ? AND u.position < ?",
                [SEPARATOR, SEPARATOR, dataset_id, start, end])
            conn.execute("INSERT OR REPLACE INTO search_index (dataset_id, utterances, built_at) VALUES (?, ?, ?)",
                         [dataset_id, end, now() if end >= state.total else None])
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        state = SearchState(end, state.total)
        if on_progress is not None:
            on_progress(state.indexed, state.total)
    return state


def _phrase(query: str) -> str:
    """``query`` as one FTS5 phrase: its words, in order, as whole words."""
    return '"' + query.replace('"', '""') + '"'


def _like(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _positions(rows: np.ndarray, hits: np.ndarray) -> np.ndarray:
    """The positions of row ids ``hits`` in ``rows`` (position -> row id); ids not in ``rows`` are dropped."""
    if not len(rows) or not len(hits):
        return np.zeros(0, dtype=np.int64)
    order = None if np.all(rows[1:] > rows[:-1]) else np.argsort(rows, kind="stable")
    at = np.clip(np.searchsorted(rows, hits, sorter=order), 0, len(rows) - 1)
    if order is not None:
        at = order[at]
    return at[rows[at] == hits]


def _ids(text: str | None) -> np.ndarray:
    return np.fromstring(text, dtype=np.int64, sep=",") if text else np.zeros(0, dtype=np.int64)


def search(store: Store, dataset_id: int, query: str, rows: np.ndarray, *,
           indexed: bool | None = None) -> np.ndarray:
    """Positions (sorted) of the utterances whose id contains ``query`` (ASCII letters in any case) or whose
    reference or one hypothesis holds its words in order; ``rows`` is :func:`row_ids` of the data set.

    With the search index complete the words must be whole words (FTS5's unicode61 tokens: case folded,
    split at punctuation and apostrophes, so "knight" finds "knight's"); before that, a substring scan.
    Row ids come back as one string (``group_concat``): far quicker than a row each when "the" matches most.
    """
    q = query.strip().lower()
    if not q:
        return np.arange(len(rows), dtype=np.int64)
    if indexed is None:
        indexed = search_state(store, dataset_id).ready
    like = _like(q)
    (by_id,) = store.db.execute(   # the (dataset_id, utt_id) index holds both: no table rows read
        "SELECT group_concat(id) FROM utterances WHERE dataset_id = ? AND utt_id LIKE ? ESCAPE '\\'",
        [dataset_id, like]).fetchone()
    found = [_ids(by_id)]
    if indexed and len(rows):
        try:
            # the data set's row ids are a range in practice; _positions keeps only its own
            (hits,) = store.db.execute(
                "SELECT group_concat(rowid) FROM utterance_search WHERE utterance_search MATCH ? AND "
                "rowid BETWEEN ? AND ?", [_phrase(q), int(rows.min()), int(rows.max())]).fetchone()
            found.append(_ids(hits))
        except sqlite3.OperationalError:  # a query FTS5 cannot read as a phrase (no words at all, say)
            pass
    elif not indexed:
        (hits,) = store.db.execute(
            "SELECT group_concat(u.id) FROM utterances u WHERE u.dataset_id = ? AND (u.reference LIKE ? "
            "ESCAPE '\\' OR EXISTS (SELECT 1 FROM hypotheses h WHERE h.utterance_id = u.id AND h.text LIKE ? "
            "ESCAPE '\\'))", [dataset_id, like, like]).fetchone()
        found.append(_ids(hits))
    keep = np.zeros(len(rows), dtype=bool)
    keep[_positions(rows, np.concatenate(found))] = True
    return np.flatnonzero(keep)

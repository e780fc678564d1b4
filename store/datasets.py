"""The datasets family: N-best lists stored by name (datasets, their utterances and hypotheses), written and read.

Single-table writes and look-ups go through the sqlite-utils table API; reads that join utterances to their
hypotheses are SQL. The streamed bulk write of the lists themselves is store/ingest.py's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from lorascope.core.data.nbest import FIRST_PASS, FIRST_PASS_CHOICES, Hypothesis, Utterance

from .connection import Connection, now
from .errors import DatasetExists, StoreError
from .ingest import DuplicateUtterance, write_lists


@dataclass(frozen=True)
class DatasetInfo:
    id: int
    name: str
    source: str | None
    format: str | None
    scores: str
    utterances: int
    hypotheses: int
    reference_words: int | None
    one_best_wer: float | None
    oracle_wer: float | None
    created_at: str
    first_pass: str = FIRST_PASS  # 'order' (the list order as given) or 'score' (sorted by score at import)


class DatasetTables(Connection):
    """Store's reads and writes of datasets, utterances and hypotheses (composed into store/db.py's Store)."""

    def add_dataset(self, name: str, utterances: Iterable[Utterance], *, source: str | None = None,
                    format: str | None = None, replace: bool = False, first_pass: str = FIRST_PASS) -> DatasetInfo:
        """Store N-best lists under ``name`` in one transaction; WERs are computed when references exist.

        ``utterances`` may be a stream (a reader's :func:`~lorascope.core.data.formats.iter_nbest`): it is read once
        and written in chunks, and whatever it raises, at any utterance, undoes the whole write. ``first_pass``
        records how the lists were ordered (see :data:`~lorascope.core.data.nbest.FIRST_PASS`); the lists are stored
        in the order given. Each hypothesis' word errors are stored where its utterance has a reference; the
        1-best and oracle WER when every utterance has one.
        """
        if first_pass not in FIRST_PASS_CHOICES:
            raise StoreError(f"dataset {name!r}: first pass must be one of {', '.join(FIRST_PASS_CHOICES)}")
        table = self.db["datasets"]
        with self.atomic():
            existing = next(table.rows_where("name = ?", [name], select="id"), None)
            if existing:
                if not replace:
                    raise DatasetExists(f"dataset {name!r} already exists (choose another --name, or --replace)")
                table.delete(existing["id"])
            ds_id = table.insert({"name": name, "source": source, "format": format, "scores": "rank-only",
                                  "utterances": 0, "hypotheses": 0, "first_pass": first_pass,
                                  "created_at": now()}).last_pk
            try:
                totals = write_lists(self.db.conn, ds_id, utterances)
            except DuplicateUtterance as exc:
                raise StoreError(f"dataset {name!r}: utterance {exc.args[0]!r} appears twice") from None
            if not totals.utterances:
                raise StoreError(f"dataset {name!r}: no utterances to store")
            summary = dict(zip(("scores", "utterances", "hypotheses", "reference_words", "one_best_wer",
                                "oracle_wer"), totals.summary(), strict=True))
            table.update(ds_id, summary)
        return self.dataset(name)

    def datasets(self) -> list[DatasetInfo]:
        return [DatasetInfo(**r) for r in self.db["datasets"].rows_where(order_by="id")]

    def dataset(self, name: str) -> DatasetInfo:
        row = next(self.db["datasets"].rows_where("name = ?", [name]), None)
        if row is None:
            known = ", ".join(d.name for d in self.datasets()) or "none"
            raise StoreError(f"dataset {name!r} not found in {self.path} (known: {known})")
        return DatasetInfo(**row)

    def has_dataset(self, name: str) -> bool:
        return self.db["datasets"].count_where("name = ?", [name]) > 0

    def load_dataset(self, name: str) -> list[Utterance]:
        """The utterances of dataset ``name``, in their stored order."""
        ds = self.dataset(name)
        hyps: dict[int, list[Hypothesis]] = {}
        for uid, text, score, extra in self.db.execute(
                "SELECT h.utterance_id, h.text, h.score, h.extra FROM hypotheses h JOIN utterances u "
                "ON u.id = h.utterance_id WHERE u.dataset_id = ? ORDER BY h.utterance_id, h.rank", [ds.id]):
            hyps.setdefault(uid, []).append(Hypothesis(text, score, json.loads(extra) if extra else {}))
        return [Utterance(u["utt_id"], tuple(hyps.get(u["id"], ())), u["reference"],
                          json.loads(u["meta"]) if u["meta"] else {})
                for u in self.db["utterances"].rows_where("dataset_id = ?", [ds.id], order_by="position",
                                                          select="id, utt_id, reference, meta")]

    def utterance_rows(self, name: str) -> dict[str, int]:
        """Map utterance id -> row id for dataset ``name`` (to attach scores and rank changes)."""
        ds = self.dataset(name)
        return {u["utt_id"]: u["id"] for u in self.db["utterances"].rows_where("dataset_id = ?", [ds.id],
                                                                              select="utt_id, id")}

    def hypothesis_rows(self, name: str) -> dict[tuple[str, int], int]:
        """Map (utterance id, first-pass rank) -> hypothesis row id for dataset ``name``."""
        ds = self.dataset(name)
        return {(u, r): hid for u, r, hid in self.db.execute(
            "SELECT u.utt_id, h.rank, h.id FROM hypotheses h JOIN utterances u ON u.id = h.utterance_id "
            "WHERE u.dataset_id = ?", [ds.id])}

"""The result store: one SQLite file (WAL mode) that training commands fill and the TUI and reports read."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from lorascope.core.errors import LorascopeError
from lorascope.core.data.metrics import delta_wer
from lorascope.core.data.nbest import FIRST_PASS, FIRST_PASS_CHOICES, Hypothesis, Utterance

from .ingest import DuplicateUtterance, write_lists
from .ownership import Owner, owner_alive
from .provenance import combination_dict, data_role
from .guard import check_store_file
from .schema import SCHEMA_VERSION, migrate

if TYPE_CHECKING:  # core types the store writes; imported lazily by their callers
    from lorascope.core.combination.tune import EvalResult
    from lorascope.core.perturbation.robustness import RobustnessReport

ENV_DB = "LORASCOPE_DB"
_LOCK_RETRIES = 5


class StoreError(LorascopeError):
    """A problem with the store or with what was asked of it (missing run, unknown dataset, newer schema)."""


class RunTakenOver(StoreError):
    """Another process took the run over (this one was thought dead): this process must stop writing to it."""


class DatasetExists(StoreError):
    """A dataset of that name is already stored (perhaps just now, by another process)."""


def default_db_path() -> Path:
    """``$LORASCOPE_DB`` if set, else ``lorascope.db`` in the user's data directory."""
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("lorascope", appauthor=False)) / "lorascope.db"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _finite(x: float | None) -> float | None:
    """SQLite stores NaN as NULL anyway; keep inf out of it too so exports stay valid JSON."""
    if x is None or not math.isfinite(x):
        return None
    return float(x)


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


@dataclass(frozen=True)
class RunInfo:
    id: int
    strategy: str
    status: str
    backbone: str | None
    seed: int | None
    config: dict[str, Any]
    train_dataset: str | None
    dev_dataset: str | None
    test_dataset: str | None
    lam: float | None
    steps_done: int
    checkpoint_dir: str | None
    error: str | None
    started_at: str
    finished_at: str | None
    adapter_path: str | None
    trainable_params: int | None
    trainable_share: float | None
    owner_host: str | None = None
    owner_pid: int | None = None
    owner_started: str | None = None
    heartbeat_at: str | None = None
    processes: int = 1
    name: str | None = None             # the user's label (`lorascope runs rename`)
    note: str | None = None             # the user's note (`lorascope runs note`)
    total_steps: int | None = None      # the run's length, known once training starts

    @property
    def owner(self) -> Owner | None:
        if self.owner_host is None or self.owner_pid is None:
            return None
        return Owner(self.owner_host, self.owner_pid, self.owner_started)

    @property
    def shown_status(self) -> str:
        """The status to show: ``stale`` for a ``running`` run whose owner is gone (store/ownership.py)."""
        if self.status == "running" and not owner_alive(self.owner, self.heartbeat_at or self.started_at):
            return "stale"
        return self.status


class Store:
    """Open (creating or migrating as needed) the store at ``path``.

    A file written by a newer schema is refused before anything is written to it.
    """

    def __init__(self, path: str | Path | None = None, *, readonly: bool = False):
        self.path = Path(path) if path is not None else default_db_path()
        if self.path.exists():
            if self.path.is_dir():
                raise StoreError(f"{self.path}: is a directory, not a store file")
            version = check_store_file(self.path, StoreError)
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: written by a newer lorascope (schema {version}; this version reads up to "
                    f"{SCHEMA_VERSION}); upgrade lorascope, the store was not changed")
        elif readonly:
            raise StoreError(f"{self.path}: no such store")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(str(self.path), timeout=30)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 30000")
            self.db = sqlite_utils.Database(conn, execute_plugins=False)
            if not readonly:
                self.db.enable_wal()
                migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a lorascope store ({exc})") from None

    # -- plumbing ---------------------------------------------------------------------------------

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def atomic(self) -> Iterator["Store"]:
        """One write transaction (a savepoint inside another). It takes the write lock at its start (BEGIN
        IMMEDIATE), so two processes writing one store wait for each other (up to the busy timeout, then a
        few retries) instead of one failing on a stale snapshot; an exception rolls everything back."""
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield self
            return
        for attempt in range(_LOCK_RETRIES):
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == _LOCK_RETRIES - 1:
                    raise StoreError(f"{self.path}: busy: another process has held the write lock too long "
                                     f"({exc})") from None
                time.sleep(0.5 * (attempt + 1))
        try:
            yield self
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        cur = self.db.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]

    # -- datasets ---------------------------------------------------------------------------------

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
        with self.atomic():
            existing = self.db.execute("SELECT id FROM datasets WHERE name = ?", [name]).fetchone()
            if existing:
                if not replace:
                    raise DatasetExists(f"dataset {name!r} already exists (choose another --name, or --replace)")
                self.db.execute("DELETE FROM datasets WHERE id = ?", [existing[0]])
            ds_id = self.db.execute(
                "INSERT INTO datasets (name, source, format, scores, utterances, hypotheses, first_pass, created_at) "
                "VALUES (?, ?, ?, 'rank-only', 0, 0, ?, ?)", [name, source, format, first_pass, now()]).lastrowid
            try:
                totals = write_lists(self.db.conn, ds_id, utterances)
            except DuplicateUtterance as exc:
                raise StoreError(f"dataset {name!r}: utterance {exc.args[0]!r} appears twice") from None
            if not totals.utterances:
                raise StoreError(f"dataset {name!r}: no utterances to store")
            self.db.execute(
                "UPDATE datasets SET scores = ?, utterances = ?, hypotheses = ?, reference_words = ?, "
                "one_best_wer = ?, oracle_wer = ? WHERE id = ?", [*totals.summary(), ds_id])
        return self.dataset(name)

    def datasets(self) -> list[DatasetInfo]:
        return [DatasetInfo(**r) for r in self._rows("SELECT * FROM datasets ORDER BY id")]

    def dataset(self, name: str) -> DatasetInfo:
        rows = self._rows("SELECT * FROM datasets WHERE name = ?", [name])
        if not rows:
            known = ", ".join(d.name for d in self.datasets()) or "none"
            raise StoreError(f"dataset {name!r} not found in {self.path} (known: {known})")
        return DatasetInfo(**rows[0])

    def has_dataset(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM datasets WHERE name = ?", [name]).fetchone() is not None

    def load_dataset(self, name: str) -> list[Utterance]:
        """The utterances of dataset ``name``, in their stored order."""
        ds = self.dataset(name)
        hyps: dict[int, list[Hypothesis]] = {}
        for uid, text, score, extra in self.db.execute(
                "SELECT h.utterance_id, h.text, h.score, h.extra FROM hypotheses h JOIN utterances u "
                "ON u.id = h.utterance_id WHERE u.dataset_id = ? ORDER BY h.utterance_id, h.rank", [ds.id]):
            hyps.setdefault(uid, []).append(Hypothesis(text, score, json.loads(extra) if extra else {}))
        return [Utterance(utt_id, tuple(hyps.get(rowid, ())), ref, json.loads(meta) if meta else {})
                for rowid, utt_id, ref, meta in self.db.execute(
                    "SELECT id, utt_id, reference, meta FROM utterances WHERE dataset_id = ? ORDER BY position",
                    [ds.id])]

    def utterance_rows(self, name: str) -> dict[str, int]:
        """Map utterance id -> row id for dataset ``name`` (to attach scores and rank changes)."""
        ds = self.dataset(name)
        return dict(self.db.execute("SELECT utt_id, id FROM utterances WHERE dataset_id = ?", [ds.id]).fetchall())

    def hypothesis_rows(self, name: str) -> dict[tuple[str, int], int]:
        """Map (utterance id, first-pass rank) -> hypothesis row id for dataset ``name``."""
        ds = self.dataset(name)
        return {(u, r): hid for u, r, hid in self.db.execute(
            "SELECT u.utt_id, h.rank, h.id FROM hypotheses h JOIN utterances u ON u.id = h.utterance_id "
            "WHERE u.dataset_id = ?", [ds.id])}

    # -- runs -------------------------------------------------------------------------------------

    def create_run(self, *, strategy: str, config: dict[str, Any], seed: int | None = None,
                   backbone: str | None = None, versions: dict[str, str] | None = None,
                   train_dataset: str | None = None, dev_dataset: str | None = None,
                   test_dataset: str | None = None, owner: Owner | None = None, processes: int = 1) -> int:
        """A new run, ``running`` and owned by ``owner`` (the process that will train it)."""
        with self.atomic():
            return self.db["runs"].insert({
                "strategy": strategy, "status": "running", "backbone": backbone, "seed": seed,
                "config": json.dumps(config, sort_keys=True), "versions": json.dumps(versions or {}, sort_keys=True),
                "train_dataset": train_dataset, "dev_dataset": dev_dataset, "test_dataset": test_dataset,
                "started_at": now(), "processes": processes, **self._owner_fields(owner),
            }).last_pk

    @staticmethod
    def _owner_fields(owner: Owner | None) -> dict[str, Any]:
        if owner is None:
            return {"owner_host": None, "owner_pid": None, "owner_started": None, "heartbeat_at": None}
        return {"owner_host": owner.host, "owner_pid": owner.pid, "owner_started": owner.started,
                "heartbeat_at": now()}

    def claim_run(self, run_id: int, owner: Owner, *, previous: Owner | None) -> bool:
        """Make ``owner`` the run's owner and mark it running, only if its owner is still ``previous``
        (so two processes taking over one stale run cannot both win). Returns whether the claim held."""
        prev = self._owner_fields(previous)
        with self.atomic():
            cur = self.db.execute(
                "UPDATE runs SET status = 'running', error = NULL, finished_at = NULL, owner_host = ?, owner_pid = ?, "
                "owner_started = ?, heartbeat_at = ? WHERE id = ? AND owner_host IS ? AND owner_pid IS ? "
                "AND owner_started IS ?",
                [owner.host, owner.pid, owner.started, now(), run_id, prev["owner_host"], prev["owner_pid"],
                 prev["owner_started"]])
            return cur.rowcount == 1

    def heartbeat(self, run_id: int, steps_done: int | None = None, *, owner: Owner | None = None) -> None:
        """The owner is alive (and has done ``steps_done`` steps). With ``owner``: only while it still owns the run,
        else RunTakenOver and nothing is written (a process thought dead that comes back is fenced off)."""
        fields = {"heartbeat_at": now(), **({} if steps_done is None else {"steps_done": steps_done})}
        sets = ", ".join(f"{k} = ?" for k in fields)
        where, args = "id = ?", [run_id]
        if owner is not None:
            where += " AND owner_host IS ? AND owner_pid IS ? AND owner_started IS ?"
            args += [owner.host, owner.pid, owner.started]
        with self.atomic():
            if self.db.execute(f"UPDATE runs SET {sets} WHERE {where}", [*fields.values(), *args]).rowcount != 1:
                if owner is None:
                    self.run(run_id)        # a missing run: StoreError naming it
                raise RunTakenOver(f"run {run_id}: another process has taken it over; this one stops without "
                                   f"writing to it")

    def update_run(self, run_id: int, **fields: Any) -> None:
        self.run(run_id)
        if "config" in fields and not isinstance(fields["config"], str):
            fields["config"] = json.dumps(fields["config"], sort_keys=True)
        if fields.get("status") in ("done", "failed", "interrupted") and "finished_at" not in fields:
            fields["finished_at"] = now()
        with self.atomic():
            self.db["runs"].update(run_id, fields)

    def run(self, run_id: int) -> RunInfo:
        rows = self._rows(
            "SELECT r.*, a.path AS adapter_path, a.trainable_params, a.trainable_share FROM runs r "
            "LEFT JOIN adapters a ON a.run_id = r.id WHERE r.id = ?", [run_id])
        if not rows:
            raise StoreError(f"run {run_id} not found in {self.path}")
        return self._run_info(rows[0])

    def runs(self) -> list[RunInfo]:
        return [self._run_info(r) for r in self._rows(
            "SELECT r.*, a.path AS adapter_path, a.trainable_params, a.trainable_share FROM runs r "
            "LEFT JOIN adapters a ON a.run_id = r.id ORDER BY r.id")]

    @staticmethod
    def _run_info(row: dict[str, Any]) -> RunInfo:
        row = dict(row)
        row["config"] = json.loads(row["config"])
        row.pop("versions", None)
        row.setdefault("steps_done", 0)
        return RunInfo(**row)

    def run_versions(self, run_id: int) -> dict[str, str]:
        self.run(run_id)
        (raw,) = self.db.execute("SELECT versions FROM runs WHERE id = ?", [run_id]).fetchone()
        return json.loads(raw or "{}")

    def add_adapter(self, run_id: int, *, path: str, trainable_params: int, total_params: int,
                    ranks: dict[str, int] | None = None) -> None:
        self.run(run_id)
        with self.atomic():
            self.db["adapters"].upsert({
                "run_id": run_id, "path": str(path), "trainable_params": trainable_params,
                "total_params": total_params, "trainable_share": trainable_params / total_params if total_params else 0.0,
                "ranks": json.dumps(ranks) if ranks is not None else None,
            }, pk="run_id")

    def adapter_ranks(self, run_id: int) -> dict[str, int] | None:
        row = self.db.execute("SELECT ranks FROM adapters WHERE run_id = ?", [run_id]).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def add_events(self, run_id: int, events: Iterable[dict[str, Any]]) -> None:
        """Training curve points: dicts with step and any of loss, rank_budget, dev_wer, lr (learning rate)."""
        rows = [{"run_id": run_id, "step": e["step"], "loss": _finite(e.get("loss")),
                 "rank_budget": e.get("rank_budget"), "dev_wer": _finite(e.get("dev_wer")),
                 "lr": _finite(e.get("lr"))} for e in events]
        with self.atomic():
            self.db["run_events"].upsert_all(rows, pk=("run_id", "step"))

    def events(self, run_id: int) -> list[dict[str, Any]]:
        return self._rows("SELECT step, loss, rank_budget, dev_wer, lr FROM run_events WHERE run_id = ? "
                          "ORDER BY step", [run_id])

    # -- metrics and scores -----------------------------------------------------------------------

    def add_metrics(self, run_id: int | None, rows: Iterable[dict[str, Any]]) -> list[int]:
        """Metric rows: dataset, split, perturbation, wer, oracle_wer (delta_wer derived), optional others; how a
        row was made: docs/reference/provenance.md (``role`` defaults to the data set's role for the run)."""
        run = self.run(run_id) if run_id is not None else None
        ids = []
        with self.atomic():
            for r in rows:
                combination = combination_dict(r.get("combination"))
                rec = {
                    "run_id": run_id, "dataset": r["dataset"], "split": r.get("split", r["dataset"]),
                    "perturbation": r.get("perturbation", "clean"), "p": r.get("p"), "seed": r.get("seed"),
                    "utterances": r.get("utterances"), "one_best_wer": _finite(r.get("one_best_wer")),
                    "wer": r["wer"], "oracle_wer": r["oracle_wer"],
                    "delta_wer": r.get("delta_wer", delta_wer(r["wer"], r["oracle_wer"])),
                    "nprr": _finite(r.get("nprr")), "created_at": now(),
                    "perturbation_model": r.get("perturbation_model"),
                    "settings": json.dumps(r["settings"], sort_keys=True) if r.get("settings") is not None else None,
                    "role": r.get("role") or data_role(run, r["dataset"], r.get("split")),
                    "seeds": json.dumps([int(x) for x in r["seeds"]], separators=(",", ":")) if r.get("seeds") is not None else None,
                    "combination": json.dumps(combination, sort_keys=True) if combination is not None else None,
                    "lam": _finite(combination["lam"]) if combination is not None else _finite(r.get("lam")),
                }
                ids.append(self.db["metrics"].insert(rec).last_pk)
        return ids

    def metrics(self, run_id: int | None = None) -> list[dict[str, Any]]:
        if run_id is None:
            return self._rows("SELECT * FROM metrics ORDER BY id")
        return self._rows("SELECT * FROM metrics WHERE run_id = ? ORDER BY id", [run_id])

    def add_scores(self, run_id: int, dataset: str, rows: Iterable[tuple[str, int, float, float, int]]) -> int:
        """Per-hypothesis scores: (utterance id, first-pass rank, LM score, combined score, new rank)."""
        self.run(run_id)
        hyp_ids = self.hypothesis_rows(dataset)
        records = []
        for utt_id, rank, lm, combined, new_rank in rows:
            key = (utt_id, rank)
            if key not in hyp_ids:
                raise StoreError(f"dataset {dataset!r}: no hypothesis {rank} of utterance {utt_id}")
            records.append((run_id, hyp_ids[key], float(lm), float(combined), int(new_rank)))
        with self.atomic():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO scores (run_id, hypothesis_id, lm_score, combined_score, rank) "
                "VALUES (?,?,?,?,?)", records)
        return len(records)

    def scores(self, run_id: int, dataset: str | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT d.name AS dataset, u.utt_id, h.rank AS first_pass_rank, h.text, h.score AS first_pass_score, "
               "s.lm_score, s.combined_score, s.rank AS new_rank FROM scores s "
               "JOIN hypotheses h ON h.id = s.hypothesis_id JOIN utterances u ON u.id = h.utterance_id "
               "JOIN datasets d ON d.id = u.dataset_id WHERE s.run_id = ?")
        params: list[Any] = [run_id]
        if dataset is not None:
            sql += " AND d.name = ?"
            params.append(dataset)
        return self._rows(sql + " ORDER BY d.id, u.position, h.rank", params)

    def add_rank_changes(self, run_id: int, metric_id: int, dataset: str,
                         rows: Iterable[tuple[str, list[int], list[int], bool, int | None]]) -> int:
        """Per-utterance rank changes under a perturbation: (utt id, ranks before, ranks after, flipped, Δerrors)."""
        utt_rows = self.utterance_rows(dataset)
        records = []
        for utt_id, before, after, flipped, delta in rows:
            if utt_id not in utt_rows:
                raise StoreError(f"dataset {dataset!r}: no utterance {utt_id}")
            records.append((run_id, metric_id, utt_rows[utt_id], json.dumps(before), json.dumps(after),
                            int(bool(flipped)), delta))
        with self.atomic():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO rank_changes (run_id, metric_id, utterance_id, ranks_before, ranks_after, "
                "top_flipped, delta_errors) VALUES (?,?,?,?,?,?,?)", records)
        return len(records)

    def rank_changes(self, metric_id: int) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT u.utt_id, rc.ranks_before, rc.ranks_after, rc.top_flipped, rc.delta_errors FROM rank_changes rc "
            "JOIN utterances u ON u.id = rc.utterance_id WHERE rc.metric_id = ? ORDER BY u.position", [metric_id])
        for r in rows:
            r["ranks_before"] = json.loads(r["ranks_before"])
            r["ranks_after"] = json.loads(r["ranks_after"])
            r["top_flipped"] = bool(r["top_flipped"])
        return rows

    # -- whole results ----------------------------------------------------------------------------

    def add_evaluation(self, run_id: int, dataset: str, split: str, result: "EvalResult") -> int | None:
        """A clean evaluation of ``dataset`` in one transaction: its metric row (when the lists have references;
        returns its id) and every hypothesis' LM score, combined score and new rank."""
        with self.atomic():
            metric = None
            if result.rescored_wer is not None:
                (metric,) = self.add_metrics(run_id, [{
                    "dataset": dataset, "split": split, "perturbation": "clean", "utterances": len(result.choices),
                    "one_best_wer": result.one_best_wer, "wer": result.rescored_wer,
                    "oracle_wer": result.oracle_wer, "combination": result.combination,
                    "settings": {"combination": result.combination.to_dict()}}])
            self.add_scores(run_id, dataset, [
                (uid, i, lm[i], comb[i], rank[i])
                for uid, lm, comb, rank in zip(result.utterance_ids, result.lm_scores, result.combined, result.ranks)
                for i in range(len(lm))])
        return metric

    def add_robustness(self, run_id: int, dataset: str, report: "RobustnessReport", combination: Any = None, *,
                       role: str | None = None) -> list[int]:
        """A robustness report in one transaction: the clean row, one row per (perturbation, seed) with its NPRR,
        and every utterance's rank changes; each row with the report's seeds and ``combination`` (the one whose
        choices were scored). Returns the metric ids, clean first."""
        combo = combination_dict(combination)   # in the row's combination column (export reads it first)
        common = {"dataset": dataset, "split": "robustness", "utterances": len(report.clean.choices), "p": report.p,
                  "perturbation_model": report.perturbation["name"], "settings": report.perturbation,
                  "seeds": list(report.seeds), "combination": combo, "role": role}
        with self.atomic():
            ids = self.add_metrics(run_id, [dict(common, perturbation="clean", wer=report.clean.wer,
                                                 oracle_wer=report.clean.oracle_wer)])
            for res in report.runs:
                (mid,) = self.add_metrics(run_id, [dict(common, perturbation=res.condition, seed=res.seed,
                                                        wer=res.wer, oracle_wer=res.oracle_wer, nprr=res.nprr)])
                self.add_rank_changes(run_id, mid, dataset, [
                    (u.utterance_id, list(u.ranks_before), list(u.ranks_after), u.flipped,
                     u.errors_after - u.errors_before) for u in res.utterances])
                ids.append(mid)
        return ids

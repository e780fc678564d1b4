"""Merge stores (``lorascope merge A.db B.db --into C.db``): the per-cell stores of a study run on a cluster, or
any stores, into one.

Datasets are matched by content (a hash of every utterance, reference and hypothesis), not by name: a data set
already in the target is reused whatever it is called there, a new one is copied, and a different data set
under a name the target already uses is a conflict. Runs, their adapters' records, training curves, metrics,
scores and rank changes are copied under new ids with every reference remapped; each run's config records where
it came from (``merged_from``: the store and the run id there). Studies are matched by name and must have the
same spec; a cell done in the source fills the target's cell unless that one is done too (a conflict). The whole
merge is one transaction in the target: a conflict is one line and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .db import Store, StoreError
from .schema import SCHEMA_VERSION


def dataset_hash(conn: sqlite3.Connection, dataset_id: int) -> str:
    """A hash of a data set's content: first pass, each utterance's id, reference and meta, each hypothesis."""
    h = hashlib.sha256()
    (first_pass,) = conn.execute("SELECT first_pass FROM datasets WHERE id = ?", [dataset_id]).fetchone()
    h.update(f"{first_pass}\n".encode())
    for row in conn.execute(
            "SELECT u.utt_id, u.reference, u.meta, h.rank, h.text, h.score, h.extra FROM utterances u "
            "JOIN hypotheses h ON h.utterance_id = u.id WHERE u.dataset_id = ? ORDER BY u.position, h.rank",
            [dataset_id]):
        h.update(json.dumps(row).encode())
    return h.hexdigest()


@dataclass
class MergeSummary:
    sources: list[str] = field(default_factory=list)
    datasets_copied: int = 0
    datasets_matched: int = 0
    runs: int = 0
    metrics: int = 0
    cells: int = 0


def _rows(conn: sqlite3.Connection, sql: str, params: list[Any] = ()) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def _insert(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> int:
    cols = [c for c in row if c != "id"]
    cur = conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                       [row[c] for c in cols])
    return cur.lastrowid


class _Merge:
    def __init__(self, target: Store, source: Path, summary: MergeSummary):
        self.dst, self.path, self.summary = target.db.conn, source, summary
        uri = f"file:{source.resolve()}?mode=ro"
        try:
            self.src = sqlite3.connect(uri, uri=True)
            version = self.src.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{source}: not a lorascope store ({exc})") from None
        if version != SCHEMA_VERSION:
            raise StoreError(f"{source}: schema {version}, this lorascope writes {SCHEMA_VERSION}; open it once with "
                             f"this version (`lorascope runs --db {source}`) and merge again")
        self.names: dict[str, str] = {}           # source dataset name -> target name
        self.utts: dict[int, int] = {}
        self.hyps: dict[int, int] = {}
        self.runs: dict[int, int] = {}
        self.metrics: dict[int, int] = {}

    def datasets(self) -> None:
        ours = {dataset_hash(self.dst, r["id"]): r["name"] for r in _rows(self.dst, "SELECT id, name FROM datasets")}
        taken = set(ours.values())
        for ds in _rows(self.src, "SELECT * FROM datasets ORDER BY id"):
            digest = dataset_hash(self.src, ds["id"])
            if digest in ours:
                name = ours[digest]
                self.summary.datasets_matched += 1
                dst_id = self.dst.execute("SELECT id FROM datasets WHERE name = ?", [name]).fetchone()[0]
                by_key = {(u, r): hid for u, r, hid in self.dst.execute(
                    "SELECT u.utt_id, h.rank, h.id FROM hypotheses h JOIN utterances u ON u.id = h.utterance_id "
                    "WHERE u.dataset_id = ?", [dst_id])}
                utt_ids = dict(self.dst.execute("SELECT utt_id, id FROM utterances WHERE dataset_id = ?", [dst_id]))
                for uid, utt, rank, hid in self.src.execute(
                        "SELECT u.id, u.utt_id, h.rank, h.id FROM hypotheses h JOIN utterances u ON "
                        "u.id = h.utterance_id WHERE u.dataset_id = ?", [ds["id"]]):
                    self.utts[uid] = utt_ids[utt]
                    self.hyps[hid] = by_key[(utt, rank)]
            elif ds["name"] in taken:
                raise StoreError(f"merge: {self.path}: dataset {ds['name']!r} differs from the one of that name in "
                                 f"the target (another content); rename one with `lorascope import --name`")
            else:
                name = ds["name"]
                new_ds = _insert(self.dst, "datasets", ds)
                for u in _rows(self.src, "SELECT * FROM utterances WHERE dataset_id = ? ORDER BY position", [ds["id"]]):
                    self.utts[u["id"]] = _insert(self.dst, "utterances", {**u, "dataset_id": new_ds})
                for h in _rows(self.src, "SELECT h.* FROM hypotheses h JOIN utterances u ON u.id = h.utterance_id "
                                         "WHERE u.dataset_id = ? ORDER BY h.id", [ds["id"]]):
                    self.hyps[h["id"]] = _insert(self.dst, "hypotheses", {**h, "utterance_id": self.utts[h["utterance_id"]]})
                ours[digest] = name
                taken.add(name)
                self.summary.datasets_copied += 1
            self.names[ds["name"]] = name

    def runs_and_results(self) -> None:
        where = str(self.path.resolve())
        merged = set()
        for (config,) in self.dst.execute("SELECT config FROM runs"):
            origin = json.loads(config).get("merged_from")
            if origin:
                merged.add((origin["store"], origin["run"]))
        for run in _rows(self.src, "SELECT * FROM runs ORDER BY id"):
            if (where, run["id"]) in merged:
                raise StoreError(f"merge: {self.path}: run {run['id']} was merged into the target already")
            config = json.loads(run["config"])
            config["merged_from"] = {"store": where, "run": run["id"]}
            row = {**run, "config": json.dumps(config, sort_keys=True)}
            for col in ("train_dataset", "dev_dataset", "test_dataset"):
                if row[col] is not None:
                    row[col] = self.names.get(row[col], row[col])
            if row.get("name") is not None and self.dst.execute("SELECT 1 FROM runs WHERE name = ?",
                                                                [row["name"]]).fetchone():
                raise StoreError(f"merge: {self.path}: run {run['id']} is named {row['name']!r}, a name the target "
                                 f"gives another run; rename one with `lorascope runs rename`")
            self.runs[run["id"]] = _insert(self.dst, "runs", row)
            self.summary.runs += 1
        for run_old, run_new in self.runs.items():
            for a in _rows(self.src, "SELECT * FROM adapters WHERE run_id = ?", [run_old]):
                _insert(self.dst, "adapters", {**a, "run_id": run_new})
            for e in _rows(self.src, "SELECT * FROM run_events WHERE run_id = ?", [run_old]):
                _insert(self.dst, "run_events", {**e, "run_id": run_new})
            for s in _rows(self.src, "SELECT * FROM scores WHERE run_id = ?", [run_old]):
                _insert(self.dst, "scores", {**s, "run_id": run_new, "hypothesis_id": self.hyps[s["hypothesis_id"]]})
        for m in _rows(self.src, "SELECT * FROM metrics ORDER BY id"):
            run_id = self.runs.get(m["run_id"]) if m["run_id"] is not None else None
            self.metrics[m["id"]] = _insert(self.dst, "metrics", {**m, "run_id": run_id,
                                                                  "dataset": self.names.get(m["dataset"], m["dataset"])})
            self.summary.metrics += 1
        tables = {name for (name,) in self.src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "combinations" in tables:        # the combinations tuned for (run, data set) pairs
            for c in _rows(self.src, "SELECT * FROM combinations ORDER BY id"):
                _insert(self.dst, "combinations", {**c, "run_id": self.runs[c["run_id"]],
                                                   "dataset": self.names.get(c["dataset"], c["dataset"])})
        if "comparisons" in tables:         # lorascope compare results, both runs carried
            for c in _rows(self.src, "SELECT * FROM comparisons ORDER BY id"):
                _insert(self.dst, "comparisons", {**c, "run_a": self.runs[c["run_a"]], "run_b": self.runs[c["run_b"]],
                                                  "dataset": self.names.get(c["dataset"], c["dataset"])})
        for rc in _rows(self.src, "SELECT * FROM rank_changes"):
            _insert(self.dst, "rank_changes", {**rc, "run_id": self.runs[rc["run_id"]],
                                               "metric_id": self.metrics[rc["metric_id"]],
                                               "utterance_id": self.utts[rc["utterance_id"]]})

    def studies(self) -> None:
        for st in _rows(self.src, "SELECT * FROM studies ORDER BY id"):
            found = self.dst.execute("SELECT id, spec FROM studies WHERE name = ?", [st["name"]]).fetchone()
            if found is None:
                study_id = _insert(self.dst, "studies", st)
            elif json.loads(found[1]) != json.loads(st["spec"]):
                raise StoreError(f"merge: {self.path}: study {st['name']!r} has another spec than the target's")
            else:
                study_id = found[0]
            ours = {r["position"]: r for r in _rows(self.dst, "SELECT * FROM study_cells WHERE study_id = ?", [study_id])}
            for cell in _rows(self.src, "SELECT * FROM study_cells WHERE study_id = ?", [st["id"]]):
                theirs = {**cell, "study_id": study_id, "run_id": self.runs.get(cell["run_id"]),
                          "owner_host": None, "owner_pid": None, "owner_started": None}
                if cell["status"] == "running":
                    theirs["status"] = "todo"
                mine = ours.get(cell["position"])
                if mine is None:
                    _insert(self.dst, "study_cells", theirs)
                    self.summary.cells += theirs["status"] == "done"
                elif theirs["status"] in ("done", "failed") and mine["status"] != "done":
                    cols = [c for c in theirs if c not in ("id", "study_id", "position")]
                    self.dst.execute(f"UPDATE study_cells SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?",
                                     [theirs[c] for c in cols] + [mine["id"]])
                    self.summary.cells += theirs["status"] == "done"
                elif theirs["status"] == "done":
                    raise StoreError(f"merge: {self.path}: study {st['name']!r} cell {cell['position']} is done in "
                                     f"the target too")


def merge_stores(sources: list[Path], target: Path) -> MergeSummary:
    """Merge ``sources`` into ``target`` (created if missing) in one transaction; StoreError on a conflict."""
    summary = MergeSummary()
    for source in sources:
        if not Path(source).is_file():
            raise StoreError(f"merge: {source}: no such store")
        if Path(source).resolve() == Path(target).resolve():
            raise StoreError(f"merge: {source}: is the target itself")
    new = not Path(target).exists()
    try:
        with Store(target) as store:
            with store.atomic():
                for source in sources:
                    m = _Merge(store, Path(source), summary)
                    try:
                        m.datasets()
                        m.runs_and_results()
                        m.studies()
                    finally:
                        m.src.close()
                    summary.sources.append(str(source))
    except BaseException:
        if new:     # a target this merge created goes again, so a failed merge leaves no file behind
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
        raise
    return summary

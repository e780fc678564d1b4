"""The SQLite result store: schema migrations, refusal of newer stores, atomic writes, queries, export."""

from __future__ import annotations

import json
import sqlite3

import pytest

from lorascope.core.errors import InputError
from lorascope.core.data.nbest import Hypothesis, Utterance
from lorascope.store import SCHEMA_VERSION, Store, StoreError
from lorascope.store.export import export
from lorascope.store.schema import MIGRATIONS, migrate

UTTS = [
    Utterance("u1", (Hypothesis("the cat sat", -0.2), Hypothesis("the cat sad", -0.7)), "the cat sat", {"snr": 10}),
    Utterance("u2", (Hypothesis("a dog", -0.1), Hypothesis("a dock", -0.3), Hypothesis("dog", -1.0)), "a dock"),
]


def test_new_store_is_current_and_in_wal_mode(db_path):
    with Store(db_path) as s:
        assert s.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_dataset_round_trip_and_first_pass_figures(db_path):
    with Store(db_path) as s:
        info = s.add_dataset("toy", UTTS, source="mem", format="jsonl")
        assert (info.utterances, info.hypotheses, info.scores) == (2, 5, "scored")
        assert info.one_best_wer == pytest.approx(1 / 5)  # 'sat' right, 'dog' vs 'dock' wrong
        assert info.oracle_wer == 0.0
        assert s.load_dataset("toy") == UTTS
        assert s.load_dataset("toy")[0].meta == {"snr": 10}
        errors = [r[0] for r in s.db.execute("SELECT errors FROM hypotheses ORDER BY id")]
        assert errors == [0, 1, 1, 0, 2]


def test_duplicate_dataset_name_is_refused_and_nothing_changes(db_path):
    with Store(db_path) as s:
        s.add_dataset("toy", UTTS)
        with pytest.raises(StoreError, match="already exists"):
            s.add_dataset("toy", UTTS[:1])
        assert s.dataset("toy").utterances == 2
        s.add_dataset("toy", UTTS[:1], replace=True)
        assert s.dataset("toy").utterances == 1
        assert s.db.execute("SELECT count(*) FROM hypotheses").fetchone()[0] == 2  # old rows cascaded away


def test_failed_multi_row_write_leaves_no_partial_rows(db_path):
    bad = UTTS + [Utterance("u1", (Hypothesis("again"),), "again")]  # duplicate id violates UNIQUE mid-write
    with Store(db_path) as s:
        with pytest.raises(StoreError, match="dataset 'bad': utterance 'u1' appears twice"):
            s.add_dataset("bad", bad)
        for table in ("datasets", "utterances", "hypotheses"):
            assert s.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0


def test_streamed_dataset_over_many_chunks_keeps_order_positions_and_figures(db_path):
    def stream():
        for i in range(4500):  # more than two write chunks
            yield Utterance(f"u{i}", (Hypothesis("a b", -1.0), Hypothesis("a c", -2.0)), "a c" if i % 3 else "a b")

    with Store(db_path) as s:
        s.add_dataset("first", UTTS)
        info = s.add_dataset("big", stream(), first_pass="score")
        assert (info.utterances, info.hypotheses, info.first_pass) == (4500, 9000, "score")
        assert info.one_best_wer == pytest.approx(3000 / 9000) and info.oracle_wer == 0.0
        positions = s.db.execute("SELECT position, utt_id FROM utterances u JOIN datasets d ON d.id = u.dataset_id "
                                 "WHERE d.name = 'big' ORDER BY u.id").fetchall()
        assert positions == [(i, f"u{i}") for i in range(4500)]
        assert [u.id for u in s.load_dataset("big")][:3] == ["u0", "u1", "u2"]
        assert s.load_dataset("first") == UTTS


def test_a_stream_that_fails_at_its_last_utterance_leaves_nothing(db_path):
    def stream():
        for i in range(5000):
            yield Utterance(f"u{i}", (Hypothesis("a"),), "a")
        raise InputError("data.jsonl line 5001", "invalid JSON")

    with Store(db_path) as s:
        s.add_dataset("keep", UTTS)
    before = db_path.read_bytes()
    with Store(db_path) as s:
        with pytest.raises(InputError, match="line 5001"):
            s.add_dataset("bad", stream())
        with pytest.raises(InputError, match="line 5001"):
            s.add_dataset("keep", stream(), replace=True)  # the replaced dataset survives a failed replacement
        assert [d.name for d in s.datasets()] == ["keep"] and s.load_dataset("keep") == UTTS
    assert db_path.read_bytes() == before


def test_migration_to_version_3_adds_first_pass_and_keeps_datasets(db_path):
    conn = sqlite3.connect(db_path)
    migrate(conn, target=2)
    conn.execute("INSERT INTO datasets (name, scores, utterances, hypotheses, created_at) "
                 "VALUES ('old', 'scored', 0, 0, 'then')")
    conn.commit()
    conn.close()
    with Store(db_path) as s:
        assert s.schema_version >= 3   # later migrations (the search index, V4) come along
        assert s.dataset("old").first_pass == "order"
        with pytest.raises(sqlite3.IntegrityError):
            s.db.execute("UPDATE datasets SET first_pass = 'best'")


def test_migration_from_version_1_keeps_data(db_path):
    conn = sqlite3.connect(db_path)
    assert migrate(conn, target=1) == 1
    conn.execute("INSERT INTO runs (strategy, status, config, started_at) VALUES ('lora', 'done', '{}', 'now')")
    conn.commit()
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'run_events'").fetchone() is None
    conn.close()
    with Store(db_path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.run(1).strategy == "lora"
        s.add_events(1, [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25, "rank_budget": 96}])
        assert [e["loss"] for e in s.events(1)] == [0.5, 0.25]


def test_store_from_a_newer_version_is_refused_untouched(db_path):
    with Store(db_path) as s:
        s.add_dataset("toy", UTTS)
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(StoreError, match=rf"newer lorascope \(schema {SCHEMA_VERSION + 5}"):
        Store(db_path)
    assert db_path.read_bytes() == before


def test_not_a_database_file(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all, just text" * 40)
    with pytest.raises(StoreError, match="not a lorascope store"):
        Store(junk)


def test_runs_metrics_scores_and_rank_changes(db_path):
    with Store(db_path) as s:
        s.add_dataset("toy", UTTS)
        rid = s.create_run(strategy="lora", config={"r": 8}, seed=3, backbone="tiny", versions={"torch": "x"})
        assert s.run(rid).status == "running"
        s.add_adapter(rid, path="/tmp/a", trainable_params=10, total_params=1000, ranks={"q": 8})
        s.update_run(rid, status="done", lam=0.5, steps_done=40)
        run = s.run(rid)
        assert (run.status, run.lam, run.trainable_share, run.config) == ("done", 0.5, 0.01, {"r": 8})
        assert run.finished_at is not None
        assert s.adapter_ranks(rid) == {"q": 8}
        (mid,) = s.add_metrics(rid, [{"dataset": "toy", "split": "test", "wer": 0.3, "oracle_wer": 0.1}])
        assert s.metrics(rid)[0]["delta_wer"] == pytest.approx(0.2)
        n = s.add_scores(rid, "toy", [("u2", 0, 1.0, 0.9, 1), ("u2", 1, 2.0, 1.7, 0), ("u2", 2, 0.0, -1.0, 2)])
        assert n == 3
        rows = s.scores(rid, "toy")
        assert [(r["first_pass_rank"], r["new_rank"]) for r in rows] == [(0, 1), (1, 0), (2, 2)]
        s.add_rank_changes(rid, mid, "toy", [("u2", [1, 0, 2], [0, 1, 2], True, 1)])
        assert s.rank_changes(mid)[0]["top_flipped"] is True
        with pytest.raises(StoreError, match="no hypothesis 5 of utterance u2"):
            s.add_scores(rid, "toy", [("u2", 5, 0.0, 0.0, 0)])
        with pytest.raises(StoreError, match="run 99 not found"):
            s.update_run(99, status="done")


def test_export_json_and_csv(db_path, tmp_path):
    with Store(db_path) as s:
        s.add_dataset("toy", UTTS)
        rid = s.create_run(strategy="s1", config={"steps": 5})
        s.add_metrics(rid, [{"dataset": "toy", "split": "dev", "wer": 0.2, "oracle_wer": 0.0}])
        s.add_scores(rid, "toy", [("u1", 0, 0.0, -0.2, 0), ("u1", 1, 0.0, -0.7, 1)])
        data = json.loads(export(s, "json", None, scores=True))
        assert [d["name"] for d in data["datasets"]] == ["toy"]
        assert data["runs"][0]["strategy"] == "s1" and data["runs"][0]["config"] == {"steps": 5}
        assert data["metrics"][0]["wer"] == 0.2
        assert len(data["scores"]) == 2
        files = export(s, "csv", tmp_path / "out")
        assert sorted(p.name for p in files) == ["comparisons.csv", "curves.csv", "datasets.csv", "metrics.csv",
                                                 "rank_changes.csv", "runs.csv"]
        assert (tmp_path / "out" / "metrics.csv").read_text().splitlines()[0].startswith("id,run_id,dataset")
        with pytest.raises(StoreError, match="run 7 not found"):
            export(s, "json", None, runs=[7])

"""Store and runs management from the command line, and no side effects from failed commands: `--db`/`--debug`
on either side, `runs rm|rename|note`, `datasets rm`, a typo'd --db folder, a foreign SQLite file and a failed
`train` leaving every byte as it was. Real SQLite files, the real command, no model (train fails before one)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from lorascope.cli import cli
from lorascope.core.combination.model import Combination
from lorascope.core.combination.tune import evaluate_scores
from lorascope.store import Store, StoreError
from lorascope.store.ownership import this_process

from .nbest_fixtures import make_utterances, write_set


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line_error(res, code: int = 1) -> str:
    assert res.exit_code == code, (res.exit_code, res.output)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


def make_run(s: Store, dataset: str, *, steps: int = 12, owner=None) -> int:
    """A finished run as `train` stores it: record, curve, dev and test evaluations (real core scoring)."""
    utts = s.load_dataset(dataset)
    rid = s.create_run(strategy="lora", config={"strategy": "lora", "steps": steps}, seed=0, backbone="tiny-random",
                       versions={"torch": "2.x"}, train_dataset=dataset, dev_dataset=dataset, test_dataset=dataset,
                       owner=owner)
    s.add_events(rid, [{"step": k, "loss": 1.0 / k, "dev_wer": 0.2 if k == steps else None} for k in range(1, steps + 1)])
    combo = Combination.of({"rank": 1.0}, 0.5)
    lm = [[-float(i) for i in range(len(u.hypotheses))][::-1] for u in utts]   # prefers the last hypothesis
    for split in ("dev", "test"):
        s.add_evaluation(rid, dataset, split, evaluate_scores(utts, lm, combo))
    if owner is None:
        s.update_run(rid, status="done", lam=0.5, steps_done=steps, total_steps=steps)
    return rid


@pytest.fixture
def store_with_runs(db_path):
    with Store(db_path) as s:
        s.add_dataset("toy", make_utterances(6, seed=1, prefix="t"))
        s.add_dataset("spare", make_utterances(3, seed=2, prefix="s"))
        first, second = make_run(s, "toy"), make_run(s, "toy", steps=8)
    return db_path, first, second


# ------------------------------------------------------------------------------------------------ --db, --debug


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_a_typod_db_folder_is_refused_and_not_created(tmp_path, before):
    db = tmp_path / "nope" / "store.db"
    args = ["--db", db, "runs"] if before else ["runs", "--db", db]
    line = one_line_error(invoke(*args), code=2)
    assert f"the folder {db.parent} does not exist" in line
    assert not db.parent.exists()


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_db_naming_a_folder_is_one_line_either_side(tmp_path, before):
    args = ["--db", tmp_path, "datasets"] if before else ["datasets", "--db", tmp_path]
    line = one_line_error(invoke(*args), code=2)
    assert "is a directory" in line and "--db" in line


def test_the_default_store_folder_is_still_created(tmp_path, monkeypatch):
    monkeypatch.delenv("LORASCOPE_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    res = invoke("runs")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "xdg" / "lorascope" / "lorascope.db").exists()


@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_debug_before_or_after_the_command_shows_the_real_exception(db_path, before):
    invoke("--db", db_path, "runs")
    args = ["--debug", "--db", db_path, "runs", "rm", "9"] if before else ["--db", db_path, "runs", "rm", "9", "--debug"]
    res = invoke(*args)
    assert isinstance(res.exception, StoreError) and "run 9 not found" in str(res.exception)
    line = one_line_error(invoke("--db", db_path, "runs", "rm", "9"))
    assert line == f"lorascope: run 9 not found in {db_path}"


# ------------------------------------------------------------------------------------------------ runs


def test_runs_lists_data_sets_wers_steps_and_duration(store_with_runs):
    db, first, _ = store_with_runs
    with Store(db) as s:
        s.update_run(first, finished_at="2030-01-01T00:00:00+00:00", started_at="2029-12-31T23:58:30+00:00")
        dev = next(m["wer"] for m in s.metrics(first) if m["split"] == "dev")
    res = invoke("--db", db, "runs")
    assert res.exit_code == 0, res.output
    row = next(line for line in res.stdout.splitlines() if line.strip().startswith(str(first)))
    assert "toy / toy / toy" in row and "12/12" in row and "1m30s" in row
    assert f"{100 * dev:.2f}" in row


def test_runs_rename_note_and_rm_each_change_what_they_name(store_with_runs):
    db, first, second = store_with_runs
    folder = db.parent / "adapters" / f"run-{first}"
    (folder / "adapter").mkdir(parents=True)
    (folder / "adapter" / "weights.bin").write_bytes(b"x")

    assert invoke("--db", db, "runs", "rename", first, "baseline").exit_code == 0
    res = invoke("--db", db, "runs", "note", "baseline", "lr 3e-4, 12 steps")
    assert res.exit_code == 0 and "lr 3e-4, 12 steps" in res.stdout
    assert invoke("--db", db, "runs", "note", first, "second thought", "--append").exit_code == 0
    with Store(db) as s:
        assert s.run(first).name == "baseline" and s.run(first).note == "lr 3e-4, 12 steps\nsecond thought"
        assert s.run(second).name is None and s.run(second).note is None
    listing = invoke("--db", db, "runs").stdout
    assert "baseline" in listing and "lr 3e-4, 12 steps / second thought" in listing

    before = digest(db)
    line = one_line_error(invoke("--db", db, "runs", "rename", second, "baseline"))
    assert f"already names run {first}" in line
    assert "digits only" in one_line_error(invoke("--db", db, "runs", "rename", second, "42"))
    assert digest(db) == before

    res = invoke("--db", db, "runs", "rm", "baseline")
    assert res.exit_code == 0, res.output
    assert f"deleted run {first}" in res.stdout and not folder.exists()
    with Store(db) as s:
        assert [r.id for r in s.runs()] == [second]
        for table in ("metrics", "scores", "run_events", "adapters"):
            (n,) = s.db.execute(f"SELECT COUNT(*) FROM {table} WHERE run_id = ?", [first]).fetchone()
            assert n == 0, table
        assert s.metrics(second) and s.events(second) and s.scores(second)
    kept = db.parent / "adapters" / f"run-{second}"
    kept.mkdir(parents=True)
    res = invoke("--db", db, "runs", "rm", second, "--keep-files")
    assert res.exit_code == 0 and f"its folder {kept} is kept" in res.stdout and kept.is_dir()


def test_rm_of_a_run_being_trained_is_refused_unless_forced(db_path):
    with Store(db_path) as s:
        s.add_dataset("toy", make_utterances(4, seed=1, prefix="t"))
        rid = make_run(s, "toy", owner=this_process())     # this process is alive: the run is being trained
    before = digest(db_path)
    assert "is being trained by pid" in one_line_error(invoke("--db", db_path, "runs", "rm", rid))
    assert digest(db_path) == before
    assert invoke("--db", db_path, "runs", "rm", rid, "--force").exit_code == 0
    with Store(db_path) as s:
        assert s.runs() == []


def test_datasets_rm_refuses_a_set_in_use_unless_forced(store_with_runs):
    db, first, second = store_with_runs
    before = digest(db)
    line = one_line_error(invoke("--db", db, "datasets", "rm", "toy"))
    assert f"used by run {first} (train/dev/test/metrics), run {second}" in line and "--force" in line
    assert digest(db) == before
    assert "not found" in one_line_error(invoke("--db", db, "datasets", "rm", "nope"))
    assert digest(db) == before

    res = invoke("--db", db, "datasets", "rm", "spare")
    assert res.exit_code == 0 and "deleted dataset 'spare' (3 utterances" in res.stdout
    res = invoke("--db", db, "datasets", "rm", "toy", "--force")
    assert res.exit_code == 0 and "it was used by" in res.stdout
    with Store(db) as s:
        assert s.datasets() == []
        assert s.db.execute("SELECT COUNT(*) FROM utterances").fetchone()[0] == 0
        assert s.db.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 0
        assert len(s.metrics(first)) == 2          # the runs keep their figures
    assert "no datasets yet" in invoke("--db", db, "datasets").stdout


# ------------------------------------------------------------------------------------------------ no side effects


def test_a_failed_train_leaves_the_store_byte_identical(tmp_path, db_path):
    assert invoke("--db", db_path, "datasets").exit_code == 0        # an existing, empty store
    before = digest(db_path)
    good = write_set(tmp_path / "good.jsonl", 4, seed=1, prefix="g")
    for args in (["--data", "nope"], ["--data", good, "--dev", "nope"], ["--data", good, "--test", "nope"]):
        line = one_line_error(invoke("--db", db_path, "train", "--strategy", "lora", "--model", "tiny-random", *args))
        assert "nope: neither a dataset in the store" in line
        assert digest(db_path) == before, args        # no sample set, no good.jsonl, no run
    assert not db_path.with_name(db_path.name + "-wal").exists()
    with Store(db_path) as s:
        assert s.datasets() == [] and s.runs() == []


def test_a_foreign_sqlite_file_is_refused_before_anything_writes_to_it(tmp_path):
    foreign = tmp_path / "notes.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.commit()
    conn.close()
    before = digest(foreign)
    for args in (["datasets"], ["runs"], ["runs", "rm", "1"], ["export"], ["datasets", "rm", "x"],
                 ["train", "--strategy", "lora", "--model", "tiny-random"]):
        line = one_line_error(invoke("--db", foreign, *args))
        assert "not a lorascope store" in line and "notes" in line, args
        assert digest(foreign) == before, args
    assert not list(tmp_path.glob("notes.sqlite-*"))          # no -wal, no -shm left beside it
    conn = sqlite3.connect(foreign)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"   # never switched to WAL
    conn.close()


def test_an_empty_file_becomes_a_store(tmp_path):
    empty = tmp_path / "fresh.db"
    empty.write_bytes(b"")
    assert invoke("--db", empty, "runs").exit_code == 0
    with Store(empty) as s:
        assert s.runs() == []


def test_a_refused_robustness_run_leaves_no_file_imported_on_the_way(store_with_runs, tmp_path):
    db, first, _ = store_with_runs
    with Store(db) as s:
        s.add_adapter(first, path=str(tmp_path / "adapter"), trainable_params=1, total_params=10)
    before = digest(db)
    lists = write_set(tmp_path / "more.jsonl", 3, seed=5, prefix="m")
    line = one_line_error(invoke("--db", db, "robustness", "--run", first, "--data", lists, "--perturbation", "bogus"))
    assert "bogus" in line
    assert digest(db) == before
    with Store(db) as s:
        assert not s.has_dataset("more")

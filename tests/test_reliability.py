"""Runs that survive a hard kill, stores that survive concurrent writers: real processes, real SIGKILL, real SQLite.

The training runs use the tiny random backbone (fast); every process is a real ``lorascope`` subprocess.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from lorascope.cli import cli
from lorascope.store import Store
from lorascope.store.ownership import Owner, owner_alive, this_process

from .nbest_fixtures import write_set


def lorascope(db: Path, *args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, LORASCOPE_DB=str(db), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "lorascope", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[str, str]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out, err


@pytest.fixture
def sets(tmp_path):
    return {
        "train": write_set(tmp_path / "tr.jsonl", 24, seed=1, prefix="tr"),
        "dev": write_set(tmp_path / "dv.jsonl", 8, seed=2, prefix="dv"),
        "test": write_set(tmp_path / "te.jsonl", 8, seed=3, prefix="te"),
    }


def train_args(sets, *extra):
    return ["train", "--strategy", "lora", "--model", "tiny-random", "--data", sets["train"], "--dev", sets["dev"],
            "--test", sets["test"], "--batch-size", "4", "--seed", "3", *extra]


def wait_for(predicate, proc: subprocess.Popen | None = None, timeout: float = 240, what: str = "") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the process ended before {what}: {proc.communicate()}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def final_metrics(db: Path, run_id: int) -> list[tuple]:
    with Store(db) as s:
        run = s.run(run_id)
        rows = sorted((m["split"], m["dataset"], m["wer"], m["oracle_wer"]) for m in s.metrics(run_id))
        return [(run.status, run.steps_done, run.lam), *rows]


# ------------------------------------------------------------------------------------------------ ownership


def test_this_process_is_alive_and_a_dead_or_reused_pid_is_not():
    me = this_process()
    assert owner_alive(me, None)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not owner_alive(Owner(me.host, child.pid, me.started), None)        # the process is gone
    assert not owner_alive(Owner(me.host, me.pid, "another-boot:12345"), None)  # pid reused by a later process


def test_another_hosts_owner_is_judged_by_its_heartbeat(monkeypatch):
    from datetime import datetime, timedelta, timezone

    away = Owner("some-other-host", 1, None)
    now = datetime.now(timezone.utc)
    assert owner_alive(away, (now - timedelta(seconds=30)).isoformat(), now=now)
    assert not owner_alive(away, (now - timedelta(hours=2)).isoformat(), now=now)
    monkeypatch.setenv("LORASCOPE_STALE_AFTER", str(3 * 3600))
    assert owner_alive(away, (now - timedelta(hours=2)).isoformat(), now=now)
    assert not owner_alive(away, None, now=now)


# ------------------------------------------------------------------------------------------------ SIGKILL


def test_sigkilled_training_is_stale_and_resume_takes_it_over_to_the_uninterrupted_result(tmp_path, sets):
    killed_db, whole_db = tmp_path / "killed" / "store.db", tmp_path / "whole" / "store.db"
    args = train_args(sets, "--steps", "40", "--checkpoint-every", "5")
    proc = lorascope(killed_db, *args)
    ckpts = killed_db.parent / "adapters" / "run-1" / "checkpoints"

    def past_a_checkpoint() -> bool:
        if not any(ckpts.glob("checkpoint-*.json")) or not killed_db.exists():
            return False
        with Store(killed_db) as s:
            return s.run(1).steps_done >= 10
    wait_for(past_a_checkpoint, proc, what="the run to pass its second checkpoint")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with Store(killed_db) as s:
        run = s.run(1)
        assert run.status == "running" and run.shown_status == "stale"   # the owner is gone
        assert 10 <= run.steps_done < 40                                  # the step count followed training
        assert run.owner.pid == proc.pid
    shown = CliRunner().invoke(cli, ["runs", "--db", str(killed_db)])
    assert shown.exit_code == 0 and " stale " in shown.stdout

    out, err = finish(lorascope(killed_db, "train", "--resume", "1"))
    assert "run 1 was stale" in err and "taking it over from its newest checkpoint" in err
    step = int(re.search(r"run 1: resumed from step (\d+) of 40 \(its newest checkpoint\)", err).group(1))
    assert step >= 10 and step % 5 == 0                    # a checkpoint step at or past the second checkpoint
    finish(lorascope(whole_db, *args))
    resumed, whole = final_metrics(killed_db, 1), final_metrics(whole_db, 1)
    assert resumed[0][0] == "done" and resumed == whole


def test_resume_of_a_run_whose_owner_lives_is_refused(tmp_path, sets):
    db = tmp_path / "store.db"
    with Store(db) as s:
        s.create_run(strategy="lora", config={}, owner=this_process())    # this test process: alive
    res = CliRunner().invoke(cli, ["train", "--resume", "1", "--db", str(db)])
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1
    assert "run 1: is still being trained by pid" in res.stderr


def test_a_process_whose_run_was_taken_over_is_fenced_off(tmp_path):
    """An owner thought dead that comes back (a stalled node) may not write beside the process that took over."""
    from lorascope.core.training.train import StepDone, StepRecord
    from lorascope.jobs.progress import StoreProgress as _StoreProgress
    from lorascope.store import RunTakenOver

    def _step(n: int) -> StepRecord:
        return StepRecord(step=n, loss=0.5, mwer=0.5, correlation=0.0, orthogonal=0.0, lr=1e-4, rank_budget=None,
                          mean_rank=None, phase="lora")

    db = tmp_path / "store.db"
    with Store(db) as s:
        run_id = s.create_run(strategy="lora", config={}, owner=this_process())
    progress = _StoreProgress(db, run_id, None)
    progress(StepDone(record=_step(3), total_steps=10, elapsed_s=1.0))
    progress.flush()
    with Store(db) as s:
        assert s.run(run_id).steps_done == 3
        other = Owner("node-b", 4242, "boot:1")
        assert s.claim_run(run_id, other, previous=this_process())
        before = s.run(run_id)
    progress(StepDone(record=_step(4), total_steps=10, elapsed_s=2.0))
    with pytest.raises(RunTakenOver, match="another process has taken it over"):
        progress.flush()
    with Store(db) as s:
        after = s.run(run_id)
        assert after.steps_done == 3 and after.owner == other and after.heartbeat_at == before.heartbeat_at
        assert [e["step"] for e in s.events(run_id)] == [3]      # the fenced write's curve point is not stored


def _store_digest(db: Path) -> str:
    """What the store holds, table by table (WAL and page layout aside)."""
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        h = hashlib.sha256()
        for t in tables:
            for row in conn.execute(f"SELECT * FROM {t} ORDER BY 1"):
                h.update(repr(row).encode())
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return h.hexdigest()
    finally:
        conn.close()


def test_sigkill_during_import_leaves_the_store_as_it_was(tmp_path):
    db = tmp_path / "store.db"
    with Store(db) as s:
        s.create_run(strategy="lora", config={"x": 1})
    before = _store_digest(db)
    big = tmp_path / "big.jsonl"
    with big.open("w") as f:
        for k in range(60000):
            ref = f"the cat number {k} sat on the mat"
            f.write(json.dumps({"id": f"u{k}", "reference": ref,
                                "hypotheses": [ref, ref.replace("sat", "sad"), ref + " again"]}) + "\n")
    for delay in (0.5, 1.5, 3.0):
        proc = lorascope(db, "import", str(big), "--name", "big")
        wal = Path(str(db) + "-wal")
        wait_for(lambda: wal.exists() and wal.stat().st_size > 4096, proc, what="the import to start writing")
        time.sleep(delay)
        if proc.poll() is not None:
            break   # finished before the kill: then it must be whole (checked below)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if _store_digest(db) != before:
            break   # killed after its transaction committed (printing the summary): then it must be whole
    if _store_digest(db) != before:     # all or nothing: changed means the whole set is there
        with Store(db) as s:
            assert s.has_dataset("big") and s.dataset("big").utterances == 60000
            assert s.dataset("big").hypotheses == 180000


@pytest.fixture
def trained(tmp_path, sets):
    db = tmp_path / "store.db"
    finish(lorascope(db, *train_args(sets, "--steps", "4")))
    return db


@pytest.mark.parametrize("command", ["eval", "robustness"])
def test_sigkill_during_eval_or_robustness_writes_all_or_nothing(trained, sets, command):
    args = (["eval", "--run", "1", "--data", sets["test"]] if command == "eval"
            else ["robustness", "--run", "1", "--seeds", "2"])
    before = _store_digest(trained)
    split = "eval" if command == "eval" else "robustness"
    for delay in (2.0, 4.0, 6.0, 9.0):
        proc = lorascope(trained, *args)
        time.sleep(delay)
        done = proc.poll() is not None
        if not done:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        with Store(trained) as s:
            rows = [m for m in s.metrics(1) if m["split"] == split]
            if not rows:
                assert _store_digest(trained) == before     # killed before its write: nothing changed
                continue
            # a write happened: it is the whole result, never a part of one
            assert len(rows) == (1 if command == "eval" else 1 + 2 * 2)
            if command == "eval":
                assert len(s.scores(1, "te")) == s.dataset("te").hypotheses
            else:
                assert all(s.rank_changes(m["id"]) for m in rows if m["perturbation"] != "clean")
            break
    else:   # every kill landed before the write; the uninterrupted command then writes it whole
        finish(lorascope(trained, *args))
        with Store(trained) as s:
            assert len([m for m in s.metrics(1) if m["split"] == split]) == (1 if command == "eval" else 5)


def test_export_replaces_its_file_atomically(trained, tmp_path):
    out = tmp_path / "results.json"
    out.write_text("the previous export\n")
    res = CliRunner().invoke(cli, ["export", "--out", str(out), "--db", str(trained)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert [r["id"] for r in data["runs"]] == [1]
    assert not list(tmp_path.glob(".results.json.*"))      # no temporary file left beside it
    folder = tmp_path / "csv"
    res = CliRunner().invoke(cli, ["export", "--format", "csv", "--out", str(folder), "--db", str(trained)])
    assert res.exit_code == 0 and (folder / "runs.csv").read_text().startswith("id,")
    assert not [p for p in folder.iterdir() if not p.name.endswith(".csv")]


# ------------------------------------------------------------------------------------------------ concurrency


def test_two_trainings_writing_one_store_at_once_both_finish(tmp_path, sets):
    db = tmp_path / "store.db"
    first = lorascope(db, *train_args(sets, "--steps", "12", "--seed", "1"))
    second = lorascope(db, *train_args(sets, "--steps", "12", "--seed", "2"))
    finish(first)
    finish(second)
    with Store(db) as s:
        runs = s.runs()
        assert [r.status for r in runs] == ["done", "done"] and {r.seed for r in runs} == {1, 2}
        assert [d.name for d in s.datasets() if d.name in ("tr", "dv", "te")] == ["tr", "dv", "te"]
        for r in runs:
            assert {m["split"] for m in s.metrics(r.id)} == {"dev", "test"}


def test_db_may_come_before_or_after_the_command(tmp_path, sets):
    db = tmp_path / "after.db"
    res = CliRunner().invoke(cli, ["import", sets["dev"], "--db", str(db)])
    assert res.exit_code == 0, res.output
    with Store(db) as s:
        assert s.has_dataset("dv")
    res = CliRunner().invoke(cli, ["--db", str(tmp_path / "before.db"), "datasets", "--db", str(db)])
    assert res.exit_code == 0 and "dv" in res.stdout       # the one after the command wins

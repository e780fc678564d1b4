"""Progress for batch jobs: with standard error a pipe, `lorascope train` says what is loading within its first
seconds and then prints a progress line at the set interval; a run killed before its first checkpoint is
resumed from step 0 and says so. A real subprocess, a real pipe, a real SIGKILL, a tiny random backbone."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

from click.testing import CliRunner

from lorascope.batchlog import LineLog, batch_mode, clock
from lorascope.cli import cli
from lorascope.store import Store

from .nbest_fixtures import write_set

STEP_LINE = re.compile(r"^\d\d:\d\d:\d\d lorascope train: step (\d+)/(\d+) \(\d+%\), loss -?\d+\.\d+.*, "
                       r"(\S+ left|.* s per step), .* elapsed$")


def test_line_log_status_reads_as_documented():
    import io

    log = LineLog("train", every=0, stream=io.StringIO())
    assert log.status().startswith("still loading the command")
    log.start(400, done=100)
    log.t0 -= 10.0                      # 10 s since counting began
    log.update(150, loss="0.4123", dev_WER="12.34% (step 100)")
    assert log.status().startswith("step 150/400 (38%), loss 0.4123, dev WER 12.34% (step 100), 5/s, 50s left")
    log.phase("running the final dev evaluation")
    said = log.stream.getvalue().splitlines()[-1]
    assert said.endswith("step 150/400 (38%), loss 0.4123, dev WER 12.34% (step 100), 5/s, 50s left, 0s elapsed; "
                         "now running the final dev evaluation"), said
    assert log.status() == "still running the final dev evaluation (0s so far)"
    assert clock(59) == "59s" and clock(245) == "4m05s" and clock(4020) == "1h07m"
    assert not batch_mode(io.StringIO())   # captured in-process: no file descriptor, no log lines


def test_piped_train_logs_at_the_interval_and_a_run_killed_before_a_checkpoint_restarts_from_step_0(tmp_path):
    db = tmp_path / "store.db"
    sets = [write_set(tmp_path / f"{n}.jsonl", k, seed=s, prefix=n) for n, k, s in (("tr", 16, 1), ("dv", 4, 2))]
    env = dict(os.environ, LORASCOPE_DB=str(db), LORASCOPE_LOG_EVERY="1", PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "lorascope", "train", "--strategy", "lora", "--model", "tiny-random",
                             "--data", sets[0], "--dev", sets[1], "--test", "none", "--batch-size", "2",
                             "--steps", "100000", "--checkpoint-every", "0"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[tuple[float, str]] = []

    def read() -> None:
        for line in proc.stderr:
            lines.append((time.monotonic() - started, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 300
        while sum(bool(STEP_LINE.match(t)) for _, t in lines) < 4 and time.monotonic() < deadline:
            assert proc.poll() is None, lines
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        reader.join(timeout=10)
    first_at, first = lines[0]
    assert first_at < 15, lines[0]       # python and click start: well before torch and transformers load
    assert re.match(r"^\d\d:\d\d:\d\d lorascope train: loading torch and transformers, then the data sets and the "
                    r"backbone \(tiny-random\); a progress line every 1s$", first), first
    steps = [(at, int(STEP_LINE.match(t).group(1))) for at, t in lines if STEP_LINE.match(t)]
    assert len(steps) >= 4, lines
    gaps = [b[0] - a[0] for a, b in zip(steps, steps[1:])]
    assert 0.5 < sorted(gaps)[len(gaps) // 2] < 2.5, gaps          # a steady interval near the set 1 s
    assert all(b[1] >= a[1] for a, b in zip(steps, steps[1:])) and steps[-1][1] > 0

    with Store(db) as s:
        assert s.run(1).shown_status == "stale" and s.run(1).total_steps == 100000
    # the killed run is taken up again (with fewer steps it could not change: a CLI resume keeps the config)
    with Store(db) as s:
        s.update_run(1, config={**s.run(1).config, "steps": 6})
    res = CliRunner().invoke(cli, ["--db", str(db), "train", "--resume", "1"])
    assert res.exit_code == 0, res.output
    assert "taking it over (it has no checkpoint)" in res.stderr
    assert "run 1: it stopped before its first checkpoint, so it starts again from step 0 of 6" in res.stderr
    with Store(db) as s:
        run = s.run(1)
        assert run.status == "done" and run.steps_done == 6 and run.total_steps == 6
        assert [e["step"] for e in s.events(1) if e["loss"] is not None] == [1, 2, 3, 4, 5, 6]

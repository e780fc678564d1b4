"""Studies: a spec checked before anything runs, a SIGKILLed study that resumes to the same tables, cells in their
own stores merged to the same report, a failed cell that does not stop the study, and the power-law fit.

Every study here trains the tiny random backbone for a few steps on hand-made lists (fast); the processes are real
``lorascope`` subprocesses and the stores real SQLite files.
"""

from __future__ import annotations

import math
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from lorascope.cli import cli
from lorascope.core.analysis.stats import bootstrap_mean_difference, fit_power_law, pooled_paired_bootstrap
from lorascope.store import Store
from lorascope.store.study import cell_rows, study

from .nbest_fixtures import write_set

SPEC = """
name = "tiny"
[data]
train = "{train}"
dev = "{dev}"
test = "{test}"
[grid]
backbones = ["tiny-random"]
strategies = ["ft", "lora"]
seeds = [0, 1]
[train]
steps = 8
batch_size = 4
checkpoint_every = 2
[robustness]
models = ["lexicon"]
seeds = [0, 1]
"""


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("study-data")
    sets = {"train": write_set(folder / "tr.jsonl", 16, seed=1, prefix="tr"),
            "dev": write_set(folder / "dv.jsonl", 6, seed=2, prefix="dv"),
            "test": write_set(folder / "te.jsonl", 6, seed=3, prefix="te")}
    path = folder / "tiny.toml"
    path.write_text(SPEC.format(**sets))
    return path


def lorascope(db: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "lorascope", "--db", str(db), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 600) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


def report(db: Path, name: str = "tiny") -> str:
    res = CliRunner().invoke(cli, ["--db", str(db), "study", "report", name])
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.fixture(scope="module")
def whole(spec_file, tmp_path_factory) -> Path:
    """The study run uninterrupted on one machine."""
    db = tmp_path_factory.mktemp("whole") / "store.db"
    finish(lorascope(db, "study", "run", str(spec_file)))
    return db


# ------------------------------------------------------------------------------------------------ the spec


@pytest.mark.parametrize("edit, message", [
    (('"ft", "lora"', '"ft", "lorra"'), "grid.strategies: unknown strategy 'lorra'"),
    (('["lexicon"]', '["lexicn"]'), "robustness.models: unknown perturbation model 'lexicn'"),
    (('["lexicon"]', '["lexicon:max_dist=0"]'), "unknown setting max_dist"),
    (("batch_size = 4", "batch_size = 4\nwarmup = 3"), "train.warmup: unknown key"),
    (('name = "tiny"', 'name = "tiny"\ncolour = "red"'), "colour: unknown key"),
])
def test_a_spec_with_an_unknown_name_is_one_line_before_anything_runs(spec_file, tmp_path, edit, message):
    bad = tmp_path / "bad.toml"
    bad.write_text(spec_file.read_text().replace(*edit))
    db = tmp_path / "store.db"
    res = CliRunner().invoke(cli, ["--db", str(db), "study", "run", str(bad)])
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lorascope: {bad}: ") and message in lines[0], res.stderr
    assert not db.exists()                          # nothing ran, no store was made


def test_an_unknown_strategy_on_the_command_line_is_one_line(tmp_path):
    db = tmp_path / "store.db"
    res = CliRunner().invoke(cli, ["--db", str(db), "study", "run", "--name", "x", "--strategy", "s9"])
    assert res.exit_code == 1 and res.stderr.strip() == (
        "lorascope: grid.strategies: unknown strategy 's9' (known: ft, lora, s1, s2, s3)")
    assert not db.exists()


def test_the_spec_knows_the_strategies_of_core_that_train():
    from lorascope.core.analysis.study import STRATEGY_NAMES
    from lorascope.core.training.strategies import STRATEGIES

    assert STRATEGY_NAMES == tuple(name for name in STRATEGIES if name != "none")


# ------------------------------------------------------------------------------------------------ kill, resume


def test_a_sigkilled_study_resumes_to_the_tables_of_an_uninterrupted_one(spec_file, whole, tmp_path):
    db = tmp_path / "killed" / "store.db"
    db.parent.mkdir()
    proc = lorascope(db, "study", "run", str(spec_file))

    def in_the_middle() -> bool:
        if not db.exists():
            return False
        try:
            with Store(db, readonly=True) as s:
                rows = cell_rows(s, study(s, "tiny").id)
                runs = {r.id: r for r in s.runs()}
        except Exception:
            return False
        done = [r for r in rows if r.status == "done"]
        working = [r for r in rows if r.status == "running" and r.run_id in runs and runs[r.run_id].steps_done >= 2]
        return len(done) >= 1 and bool(working)

    deadline = time.time() + 400
    while not in_the_middle():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "the study never reached its second cell"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with Store(db, readonly=True) as s:
        rows = cell_rows(s, study(s, "tiny").id)
    assert {r.shown_status for r in rows} >= {"done", "stale"}            # killed in the middle
    status = CliRunner().invoke(cli, ["--db", str(db), "study", "status", "tiny"])
    assert status.exit_code == 0 and " stale, " in status.stdout and "time left about" in status.stdout

    out = finish(lorascope(db, "study", "run", str(spec_file)))
    assert "study tiny finished" in out
    assert report(db) == report(whole)
    again = finish(lorascope(db, "study", "run", str(spec_file)))       # everything done: nothing runs
    assert "0 cells done now" in again and "4 skipped" in again


# ------------------------------------------------------------------------------------------------ cells, merge


def test_cells_in_their_own_stores_merge_to_the_single_machine_report(spec_file, whole, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    listed = CliRunner().invoke(cli, ["study", "cells", str(spec_file)])
    assert listed.exit_code == 0
    commands = [shlex.split(line.split("#")[0]) for line in listed.stdout.splitlines()]
    assert len(commands) == 4 and all(c[0] == "lorascope" and "--cell" in c for c in commands)
    procs = [lorascope(Path(c[2]), *c[3:]) for c in commands]     # c[1:3] is --db PATH
    for proc in procs:
        finish(proc)
    stores = sorted(tmp_path.glob("cells/cell-*/store.db"))
    assert len(stores) == 4
    merged = tmp_path / "merged.db"
    res = CliRunner().invoke(cli, ["merge", *map(str, stores), "--into", str(merged)])
    assert res.exit_code == 0, res.output
    assert "4 study cells" in res.stdout
    assert report(merged) == report(whole)
    with Store(merged, readonly=True) as s:
        runs = s.runs()
    assert all(r.config["merged_from"]["store"].endswith("store.db") for r in runs)

    before = merged.read_bytes()
    again = CliRunner().invoke(cli, ["merge", str(stores[0]), "--into", str(merged)])
    assert again.exit_code == 1 and len(again.stderr.strip().splitlines()) == 1
    assert "was merged into the target already" in again.stderr
    assert merged.read_bytes() == before                     # a conflict writes nothing


def test_merge_refuses_a_different_dataset_under_a_taken_name(tmp_path):
    a, b = tmp_path / "a" / "store.db", tmp_path / "b" / "store.db"
    a.parent.mkdir(), b.parent.mkdir()
    for db, seed in ((a, 1), (b, 2)):
        res = CliRunner().invoke(cli, ["--db", str(db), "import", write_set(tmp_path / f"s{seed}.jsonl", 4, seed=seed),
                                       "--name", "same"])
        assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["merge", str(a), "--into", str(b)])
    assert res.exit_code == 1 and "dataset 'same' differs from the one of that name" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------------ failure


def test_a_failed_cell_keeps_its_error_and_the_study_goes_on(spec_file, tmp_path):
    spec = tmp_path / "fails.toml"
    spec.write_text(spec_file.read_text().replace('name = "tiny"', 'name = "fails"')
                    .replace('backbones = ["tiny-random"]', f'backbones = ["{tmp_path / "no-such-model"}", '
                                                            f'"tiny-random"]')
                    .replace('seeds = [0, 1]\n[train]', 'seeds = [0]\n[train]').replace('"ft", "lora"', '"lora"'))
    db = tmp_path / "store.db"
    proc = lorascope(db, "study", "run", str(spec))
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err
    assert "1 cells done now, 1 failed" in out
    with Store(db, readonly=True) as s:
        rows = cell_rows(s, study(s, "fails").id)
    assert [r.status for r in rows] == ["failed", "done"]
    assert "no-such-model" in rows[0].error


# ------------------------------------------------------------------------------------------------ statistics


def test_the_power_law_fit_recovers_known_parameters():
    a, b, c = 0.12, 3.0, 0.45
    n = [50, 100, 200, 400, 800, 1600, 3200]
    law = fit_power_law(n, [a + b * x ** -c for x in n])
    assert law.a == pytest.approx(a, abs=1e-4) and law.b == pytest.approx(b, rel=1e-3)
    assert law.c == pytest.approx(c, abs=1e-3)
    noisy = fit_power_law(n, [a + b * x ** -c + 0.0005 * (-1) ** i for i, x in enumerate(n)])
    assert abs(noisy.c - c) < 0.1 and abs(noisy.a - a) < 0.02
    with pytest.raises(ValueError):
        fit_power_law([10, 10, 20], [0.3, 0.3, 0.2])


def test_bootstrap_intervals_exclude_zero_only_for_a_real_difference():
    lens = [10] * 40
    ref = [[2] * 40, [3] * 40]
    better = [[0] * 40, [1] * 40]
    boot = pooled_paired_bootstrap(ref, better, lens)
    assert boot.difference == pytest.approx(-0.2) and boot.high < 0
    same = pooled_paired_bootstrap(ref, [[3, 1] * 20, [2, 4] * 20], lens)
    assert same.low <= 0 <= same.high
    diff = bootstrap_mean_difference([0.5, 0.6, 0.55, 0.52], [0.1, 0.15, 0.12, 0.11])
    assert diff.excludes_zero and math.isclose(diff.difference, 0.4225)
    assert not bootstrap_mean_difference([0.1, 0.5, 0.3], [0.2, 0.4, 0.35]).excludes_zero


# ------------------------------------------------------------------------------------------------ the screen


async def test_study_screen_lists_studies_shows_tables_and_follows_the_store(whole, tmp_path, spec_file, monkeypatch):
    """Pilot: the Study screen (3) shows the finished study's tables; a study that another process records while
    the screen is open appears on the next timer tick."""
    import shutil

    from textual.widgets import DataTable, Markdown

    from lorascope.core.analysis.study import read_spec
    from lorascope.store.study import ensure_study
    from lorascope.tui.app import LorascopeApp
    from lorascope.tui.screens.study import StudyScreen

    db = tmp_path / "copy.db"
    with Store(whole, readonly=True) as s:           # a copy, so the module's store stays as it was
        s.db.execute("VACUUM INTO ?", [str(db)])
    monkeypatch.setattr(StudyScreen, "REFRESH_S", 0.3)
    app = LorascopeApp(db)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        for _ in range(100):
            await pilot.pause(0.05)
            if isinstance(app.screen, StudyScreen) and app.screen.query_one("#studies", DataTable).row_count:
                break
        screen = app.screen
        assert isinstance(screen, StudyScreen)
        table = screen.query_one("#studies", DataTable)
        assert table.row_count == 1
        assert [c.plain if hasattr(c, "plain") else c for c in table.get_row_at(0)][:3] == ["tiny", "4", "4"]
        markdown = screen.query_one("#study-report", Markdown).source
        assert "## Table 2: test WER" in markdown and "## Table 3: robustness" in markdown
        assert report(whole).strip() == markdown.strip()
        other = read_spec(spec_file, {"name": "second"})
        with Store(db) as s:                          # as a `study run` in another process would
            ensure_study(s, other)
        for _ in range(100):
            await pilot.pause(0.05)
            if table.row_count == 2:
                break
        assert table.row_count == 2
        assert [c.plain if hasattr(c, "plain") else c for c in table.get_row_at(1)][:6] == \
            ["second", "4", "0", "0", "0", "4"]
    shutil.rmtree(tmp_path / "adapters", ignore_errors=True)


def test_a_cell_trains_on_several_processes_where_the_spec_asks(spec_file, tmp_path):
    """``[train] nproc = 2``: the cell's run is `lorascope train --nproc 2` (two gloo processes), stored as usual."""
    spec = tmp_path / "ddp.toml"
    spec.write_text(spec_file.read_text().replace('name = "tiny"', 'name = "ddp"').replace('"ft", "lora"', '"lora"')
                    .replace("seeds = [0, 1]\n[train]", "seeds = [0]\n[train]")
                    .replace("checkpoint_every = 2", "checkpoint_every = 2\nnproc = 2")
                    .replace('models = ["lexicon"]', "models = []"))
    db = tmp_path / "store.db"
    finish(lorascope(db, "study", "run", str(spec)))
    with Store(db, readonly=True) as s:
        (row,) = cell_rows(s, study(s, "ddp").id)
        run = s.run(row.run_id)
    assert row.status == "done" and run.status == "done" and run.processes == 2 and run.steps_done == 8
    assert "## Table 2: test WER" in report(db, "ddp")

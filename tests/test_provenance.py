"""Every stored result says how it was made: metric rows carry role, model and settings, p, seeds and the
combination; report (md, csv), export and the Runs screen never show rows of different settings as one."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest
from click.testing import CliRunner
from textual.widgets import DataTable

from lorascope.cli import cli
from lorascope.core.combination.model import Combination
from lorascope.core.data.nbest import Hypothesis as H
from lorascope.core.data.nbest import Utterance as U
from lorascope.store import Store
from lorascope.store.schema import MIGRATIONS, PROVENANCE, migrate
from lorascope.tui.app import LorascopeApp
from tools import capture
from tools.capture import screen_text

UTTS = [U(f"u{k}", (H("a b c", -1.0), H("a b d", -2.0)), "a b c") for k in range(3)]
LEXICON = {"name": "lexicon", "top_k": 5, "max_distance": None}
PAPER = {"name": "paper", "margin": 1.0, "phrase_weight": 0.01}


def measurement(store, run_id, *, p, seeds, model, combination, nprr0, wer_clean=0.05):
    """What Store.add_robustness writes for one measurement: a clean row, then one row per seed."""
    common = {"dataset": "toy", "split": "robustness", "utterances": 3, "p": p, "perturbation_model": model["name"],
              "settings": model, "seeds": seeds, "combination": combination}
    store.add_metrics(run_id, [dict(common, perturbation="clean", wer=wer_clean, oracle_wer=0.03)])
    for k, seed in enumerate(seeds):
        store.add_metrics(run_id, [dict(common, perturbation="perturb-N", seed=seed, wer=0.06 + k / 100,
                                        oracle_wer=0.03, nprr=nprr0 + k / 10)])


@pytest.fixture
def two_settings(db_path):
    """Run 1 measured twice on the same data set: p 0.3 / seed 42 / lexicon / λ 0.5, and p 0.5 / seeds 0,1 /
    paper / λ 0.25 (as the inspector's `c` and `lorascope robustness` would store them)."""
    with Store(db_path) as store:
        store.add_dataset("toy", UTTS)
        rid = store.create_run(strategy="lora", config={}, test_dataset="toy", dev_dataset="dv")
        store.update_run(rid, status="done", lam=0.25)
        measurement(store, rid, p=0.3, seeds=[42], model=LEXICON, combination=Combination.of({"rank": 1}, 0.5),
                    nprr0=0.9)
        measurement(store, rid, p=0.5, seeds=[0, 1], model=PAPER,
                    combination=Combination.of({"rank": 1, "score": 0.3}, 0.25), nprr0=0.2)
    return db_path


def run(db, *args):
    return CliRunner().invoke(cli, ["--db", str(db), *args])


def test_metric_rows_record_role_seeds_and_combination(two_settings):
    with Store(two_settings) as store:
        rows = store.metrics(1)
    assert {r["role"] for r in rows} == {"test"}          # toy is the run's test set
    assert [json.loads(r["seeds"]) for r in rows] == [[42], [42], [0, 1], [0, 1], [0, 1]]
    assert json.loads(rows[2]["combination"]) == {"weights": {"rank": 1.0, "score": 0.3}, "lam": 0.25}
    assert [r["lam"] for r in rows] == [0.5, 0.5, 0.25, 0.25, 0.25]


def test_report_md_and_csv_keep_the_two_settings_apart_and_filter(two_settings):
    res = run(two_settings, "report")
    assert res.exit_code == 0, res.output
    lines = [line for line in res.stdout.splitlines() if line.startswith("| 1 ")]
    assert len(lines) == 4      # clean and perturb-N of each measurement; never one averaged row
    assert "| 1 | lora | toy | test | perturb-N | lexicon | 0.3 | 42 | 0.5 | 1·rank + 0.5·LM | 6.00 |" in res.stdout
    assert ("| 1 | lora | toy | test | perturb-N | paper | 0.5 | 0,1 | 0.25 | 1·rank + 0.3·score + 0.25·LM | 6.50 |"
            in res.stdout)
    assert "| 25.00 ± 7.07 |" in res.stdout and "| 90.00 |" in res.stdout   # NPRR of each on its own

    res = run(two_settings, "report", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    pert = [r for r in rows if r["perturbation"] == "perturb-N"]
    assert [(r["model"], r["p"], r["seeds"], r["lam"]) for r in pert] == [("lexicon", "0.3", "42", "0.5"),
                                                                           ("paper", "0.5", "0,1", "0.25")]
    assert json.loads(pert[1]["combination_json"])["weights"] == {"rank": 1.0, "score": 0.3}

    res = run(two_settings, "report", "--p", "0.5", "--perturbation", "paper", "--data", "toy")
    assert res.exit_code == 0, res.output
    shown = [line for line in res.stdout.splitlines() if line.startswith("| 1 ")]
    assert len(shown) == 2 and all("| paper | 0.5 | 0,1 |" in line for line in shown)
    res = run(two_settings, "report", "--p", "0.7")
    assert res.exit_code == 1 and res.stderr.strip() == "lorascope: report: no robustness results match those filters"


def test_export_carries_the_settings_of_every_metric_row(two_settings, tmp_path):
    res = run(two_settings, "export", "--format", "csv", "--out", str(tmp_path / "out"))
    assert res.exit_code == 0, res.output
    with (tmp_path / "out" / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["p"], r["seeds"], r["perturbation_model"], r["lam"]) for r in rows} == {
        ("0.3", "[42]", "lexicon", "0.5"), ("0.5", "[0,1]", "paper", "0.25")}


async def test_runs_screen_shows_the_columns_that_tell_the_two_apart(two_settings):
    app = LorascopeApp(two_settings)
    async with app.run_test(size=(160, 24)) as pilot:
        await capture.settle(pilot, 500, step=0.01, quiet=4, final=None)
        await pilot.press("2")
        await capture.settle(pilot, 500, step=0.01, quiet=4, final=None)
        table = app.screen.query_one("#table3", DataTable)
        keys = [c.key.value for c in table.ordered_columns]
        assert {"p", "lam", "combination", "seeds", "model"} <= set(keys) and "role" not in keys  # role is the same
        rows = [[cell.plain.strip() for cell in table.get_row_at(k)] for k in range(table.row_count)]
        at = {k: keys.index(k) for k in ("perturbation", "model", "p", "seeds", "lam")}
        shown = [tuple(r[at[k]] for k in ("perturbation", "model", "p", "seeds", "lam")) for r in rows]
        assert shown == [("clean", "lexicon", "0.3", "–", "0.5"), ("p-N", "lexicon", "0.3", "42", "0.5"),
                         ("clean", "paper", "0.5", "–", "0.25"), ("p-N", "paper", "0.5", "0,1", "0.25")]
        assert "0.3" in screen_text(app)


def test_migration_fills_what_older_rows_let_it_derive(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    migrate(conn, MIGRATIONS.index(PROVENANCE))     # the store as it was before the provenance columns
    conn.execute("INSERT INTO runs (id, strategy, status, config, dev_dataset, test_dataset, lam, started_at) "
                 "VALUES (1, 'lora', 'done', ?, 'dv', 'te', 0.4, 'now')",
                 [json.dumps({"combination": {"weights": {"rank": 1.0}, "lam": 0.4}})])
    rows = [("te", "test", "clean", None, None), ("dv", "dev", "clean", None, None),
            ("te", "robustness", "clean", 0.5, None), ("te", "robustness", "perturb-1", 0.5, 3),
            ("te", "robustness", "perturb-1", 0.5, 4), ("other", "robustness", "clean", 0.5, None),
            ("other", "robustness", "perturb-N", 0.5, 7), ("te", "robustness", "clean", 0.3, None),
            ("te", "robustness", "perturb-N", 0.3, 9)]
    for ds, split, cond, p, seed in rows:
        conn.execute("INSERT INTO metrics (run_id, dataset, split, perturbation, p, seed, wer, oracle_wer, delta_wer,"
                     " created_at) VALUES (1, ?, ?, ?, ?, ?, 0.1, 0.05, 0.05, 'now')", [ds, split, cond, p, seed])
    conn.commit()
    conn.close()
    with Store(path) as store:
        got = [(m["role"], m["seeds"], m["lam"], m["combination"]) for m in store.metrics()]
    lam04 = json.dumps({"weights": {"rank": 1.0}, "lam": 0.4}, separators=(",", ":"))
    assert got == [("test", None, 0.4, lam04), ("tuning", None, 0.4, lam04),
                   ("test", "[3,4]", None, None), ("test", "[3,4]", None, None), ("test", "[3,4]", None, None),
                   ("held-out", "[7]", None, None), ("held-out", "[7]", None, None),
                   ("test", "[9]", None, None), ("test", "[9]", None, None)]

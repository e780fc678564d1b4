"""`lorascope export` for analysis: JSON objects (not strings of JSON), files with the user's umask, an existing
--out folder, scores with reference, word errors and WER, λ and the combination with every metric, curves and
rank changes. Checked with the csv and json modules (pandas is not a dependency; docs/how-to/export.md uses it)."""

from __future__ import annotations

import csv
import json
import os
import stat

import pytest
from click.testing import CliRunner

from lorascope.cli import cli
from lorascope.core.data.metrics import word_errors
from lorascope.store import Store

from .nbest_fixtures import make_utterances
from .test_cli_store import make_run


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def filled(db_path):
    """A store with a run, its curve, dev/test evaluations and one robustness row with rank changes."""
    with Store(db_path) as s:
        s.add_dataset("toy", make_utterances(5, seed=4, prefix="t"))
        rid = make_run(s, "toy", steps=6)
        s.update_run(rid, config={"strategy": "lora", "steps": 6, "combination": {"weights": {"rank": 1.0}, "lam": 0.5}})
        (mid,) = s.add_metrics(rid, [{"dataset": "toy", "split": "robustness", "perturbation": "perturb-N", "p": 0.5,
                                      "seed": 0, "wer": 0.3, "oracle_wer": 0.1, "perturbation_model": "paper",
                                      "settings": {"name": "paper", "p": 0.5}}])
        s.add_rank_changes(rid, mid, "toy", [("t0", [0, 1, 2, 3], [1, 0, 2, 3], True, 1),
                                             ("t1", [0, 1, 2, 3], [0, 1, 2, 3], False, 0)])
    return db_path, rid


def test_json_export_round_trips_to_objects(filled, tmp_path):
    db, rid = filled
    res = invoke("--db", db, "export", "--scores")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    run = data["runs"][0]
    assert run["config"] == {"strategy": "lora", "steps": 6, "combination": {"weights": {"rank": 1.0}, "lam": 0.5}}
    assert run["versions"] == {"torch": "2.x"} and run["total_steps"] == 6
    dev = next(m for m in data["metrics"] if m["split"] == "dev")
    assert dev["settings"]["combination"] == {"weights": {"rank": 1.0}, "lam": 0.5}
    assert dev["lam"] == 0.5 and dev["combination_from"] == "metric" and dev["combination_text"] == "1·rank + 0.5·LM"
    robust = next(m for m in data["metrics"] if m["split"] == "robustness")
    assert robust["settings"] == {"name": "paper", "p": 0.5}
    assert robust["combination_from"] == "run" and robust["lam"] == 0.5     # an older row: its run's combination
    assert [c["step"] for c in data["curves"]] == list(range(1, 7)) and data["curves"][-1]["dev_wer"] == 0.2
    flips = {c["utt_id"]: c for c in data["rank_changes"]}
    assert flips["t0"]["ranks_after"] == [1, 0, 2, 3] and flips["t0"]["chosen_after"] == 1
    assert flips["t0"]["top_flipped"] is True and flips["t1"]["chosen_before"] == 0
    with Store(db) as s:
        utts = {u.id: u for u in s.load_dataset("toy")}
    for row in data["scores"]:
        u = utts[row["utt_id"]]
        errors = word_errors(u.reference, u.hypotheses[row["first_pass_rank"]].text)
        assert row["reference"] == u.reference and row["word_errors"] == errors
        assert row["wer"] == pytest.approx(errors / len(u.reference.split()))
    assert any(row["wer"] > 0 for row in data["scores"]) and any(row["wer"] == 0 for row in data["scores"])


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_out_an_existing_folder_writes_inside_it_with_the_users_umask(filled, tmp_path, mask):
    db, _ = filled
    folder = tmp_path / "results"
    folder.mkdir()
    old = os.umask(mask)
    try:
        res = invoke("--db", db, "export", "--format", "json", "--out", folder)
        csv_res = invoke("--db", db, "export", "--format", "csv", "--out", tmp_path / "csv")
    finally:
        os.umask(old)
    assert res.exit_code == 0 and csv_res.exit_code == 0, (res.output, csv_res.output)
    target = folder / "export.json"
    assert json.loads(target.read_text())["runs"][0]["id"] == 1
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    for path in (tmp_path / "csv").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path


def test_csv_export_holds_every_table_and_json_cells_read_back(filled, tmp_path):
    db, _ = filled
    out = tmp_path / "csv"
    res = invoke("--db", db, "export", "--format", "csv", "--out", out, "--scores")
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["comparisons.csv", "curves.csv", "datasets.csv", "metrics.csv", "rank_changes.csv", "runs.csv",
                     "scores.csv"]

    def rows(name):
        with open(out / name, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    assert json.loads(rows("runs.csv")[0]["config"])["steps"] == 6
    dev = next(r for r in rows("metrics.csv") if r["split"] == "dev")
    assert float(dev["lam"]) == 0.5 and json.loads(dev["combination"])["weights"] == {"rank": 1.0}
    scores = rows("scores.csv")
    assert {"reference", "word_errors", "reference_words", "wer"} <= set(scores[0])
    assert all(float(r["wer"]) == pytest.approx(int(r["word_errors"]) / int(r["reference_words"])) for r in scores)
    assert json.loads(rows("rank_changes.csv")[0]["ranks_after"]) == [1, 0, 2, 3]
    assert len(rows("curves.csv")) == 6


def test_empty_tables_still_get_their_header(db_path, tmp_path):
    invoke("--db", db_path, "datasets")
    res = invoke("--db", db_path, "export", "--format", "csv", "--out", tmp_path / "e")
    assert res.exit_code == 0
    assert (tmp_path / "e" / "curves.csv").read_text().startswith("run_id,step,loss")
    assert (tmp_path / "e" / "metrics.csv").read_text().splitlines()[0].endswith("combination_from")


def test_export_errors_are_one_line(filled, tmp_path):
    db, _ = filled
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for args in (["--format", "csv", "--out", blocker], ["--out", blocker / "inside.json"]):
        res = invoke("--db", db, "export", *args)
        assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1, res.output
        assert res.stderr.startswith("lorascope: ")
    assert blocker.read_text() == "x"

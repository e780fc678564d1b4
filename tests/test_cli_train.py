"""train / eval / robustness / report through the real command, a real store and a tiny random backbone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from lorascope.cli import cli
from lorascope.store import Store

from .nbest_fixtures import write_set


def run(db, *args):
    return CliRunner().invoke(cli, ["--db", str(db), *args])


@pytest.fixture
def sets(tmp_path):
    return {
        "train": write_set(tmp_path / "tr.jsonl", 16, seed=1, prefix="tr"),
        "dev": write_set(tmp_path / "dv.jsonl", 8, seed=2, prefix="dv"),
        "test": write_set(tmp_path / "te.jsonl", 8, seed=3, prefix="te"),
    }


def train_args(sets, *extra):
    return ["train", "--model", "tiny-random", "--data", sets["train"], "--dev", sets["dev"], "--test", sets["test"],
            "--batch-size", "4", *extra]


def test_train_lora_tiny_random_fills_the_store(db_path, sets):
    res = run(db_path, *train_args(sets, "--strategy", "lora", "--steps", "4"))
    assert res.exit_code == 0, res.output
    assert "run 1: lora" in res.stdout and "rescored WER%" in res.stdout
    with Store(db_path) as s:
        r = s.run(1)
        assert r.status == "done" and r.steps_done == 4 and r.lam is not None
        assert r.config["strategy"] == "lora" and "scaled_steps" in r.config
        assert r.config["lambda_confidence"] == 0.95 and "combination_p_better" in r.config
        if r.config["combination_fell_back_from"] is not None:  # the gate's verdict is stored and printed
            assert r.lam == 0 and "so the first pass is kept" in res.stdout
        elif r.config["combination_p_better"] is not None:
            assert r.lam > 0 and "bootstrap resamples of dev" in res.stdout
        assert os.path.isdir(r.adapter_path)
        assert 0 < r.trainable_share < 1
        splits = {m["split"] for m in s.metrics(1)}
        assert splits == {"dev", "test"}
        scores = s.scores(1, "te")
        assert len(scores) == 8 * 4
        # each utterance's new ranks are a permutation 0..n-1
        for utt in {row["utt_id"] for row in scores}:
            assert sorted(row["new_rank"] for row in scores if row["utt_id"] == utt) == [0, 1, 2, 3]
        assert len(s.events(1)) == 4
        lrs = [e["lr"] for e in s.events(1)]       # the learning rate of every logged step, for the Runs screen
        assert None not in lrs and max(lrs) > 0
        versions = s.run_versions(1)
        assert "torch" in versions and "peft" in versions

    res = run(db_path, "eval", "--run", "1", "--data", "dv")
    assert res.exit_code == 0, res.output
    assert "dv: 8 utterances" in res.stdout

    res = run(db_path, "robustness", "--run", "1", "--seeds", "2")
    assert res.exit_code == 0, res.output
    with Store(db_path) as s:
        rob = [m for m in s.metrics(1) if m["split"] == "robustness"]
        assert {m["perturbation"] for m in rob} == {"clean", "perturb-1", "perturb-N"}
        assert sum(m["perturbation"] == "perturb-N" for m in rob) == 2
        clean = next(m for m in rob if m["perturbation"] == "clean")
        for m in rob:
            if m["nprr"] is not None and clean["delta_wer"] > 0:
                assert m["nprr"] == pytest.approx((m["delta_wer"] - clean["delta_wer"]) / clean["delta_wer"])
        pert = next(m for m in rob if m["perturbation"] == "perturb-1")
        changes = s.rank_changes(pert["id"])
        assert len(changes) == 8 and all(sorted(c["ranks_after"]) == [0, 1, 2, 3] for c in changes)
    res = run(db_path, "report")
    assert res.exit_code == 0
    assert "| 1 | lora | te | test | perturb-N | paper | 0.5 | 0,1 |" in res.stdout
    res = run(db_path, "report", "--format", "csv")
    assert res.stdout.splitlines()[0].startswith("run,strategy,dataset,role,perturbation,model,p,seeds,lam,combination")


def test_packed_engine_from_the_command_line_and_eval_on_both_engines(db_path, sets):
    res = run(db_path, *train_args(sets, "--strategy", "s1", "--steps", "3", "--engine", "packed", "--device", "cpu"))
    assert res.exit_code == 0, res.output
    assert "(packed engine)" in res.stderr
    with Store(db_path) as s:
        assert s.run(1).config["engine"] == "packed"
        test_wer = next(m["wer"] for m in s.metrics(1) if m["split"] == "test")
    wers = []
    for engine in ("hf", "packed"):
        res = run(db_path, "eval", "--run", "1", "--data", "te", "--engine", engine)
        assert res.exit_code == 0, res.output
        with Store(db_path) as s:
            wers.append([m["wer"] for m in s.metrics(1) if m["split"] == "eval"][-1])
    assert wers == [test_wer, test_wer]
    res = run(db_path, "eval", "--run", "1", "--data", "te", "--engine", "fast")
    assert res.exit_code == 2 and "Invalid value for '--engine'" in res.stderr


def test_train_errors_are_one_line(db_path, sets, tmp_path):
    res = run(db_path, *train_args(sets, "--strategy", "bogus"))
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "lorascope train: Invalid value for '--strategy'" in res.stderr
    for cmd in (["eval", "--run", "9", "--data", sets["dev"]], ["robustness", "--run", "9"], ["train", "--resume", "9"]):
        res = run(db_path, *cmd)
        assert res.exit_code == 1
        assert res.stderr.strip().endswith("run 9 not found in " + str(db_path))
    noref = tmp_path / "noref.jsonl"
    noref.write_text(json.dumps({"id": "x", "hypotheses": ["a b", "a c"]}) + "\n")
    res = run(db_path, *train_args(dict(sets, train=str(noref)), "--strategy", "lora", "--steps", "1"))
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1
    assert res.stderr.startswith("lorascope: dataset noref: utterance x has no reference transcript")
    with Store(db_path) as s:
        assert s.runs() == [] and not s.has_dataset("noref")  # refused before anything was stored
    res = run(db_path, "robustness", "--run", "1", "--data", str(noref))
    assert res.exit_code == 1 and "run 1 not found" in res.stderr
    with Store(db_path) as s:
        s.create_run(strategy="lora", config={})
        s.update_run(1, status="failed")
    res = run(db_path, "robustness", "--run", "1", "--data", sets["dev"])
    assert res.exit_code == 1 and "run 1: has no adapter" in res.stderr
    res = run(db_path, "robustness", "--run", "1", "--p", "1.5")
    assert res.exit_code == 1 and "must be a number from 0 to 1" in res.stderr


def test_augmentations_perturbation_model_is_checked_before_a_run_is_stored_and_then_recorded(db_path, sets):
    for spec, problem in (("mined:from=nope", "nope"), ("mined:colour=red", "unknown setting colour"),
                          ("homophones", "unknown model 'homophones'")):
        res = run(db_path, *train_args(sets, "--strategy", "lora", "--steps", "1", "--augment", "perturb",
                                       "--perturbation", spec))
        error = res.stderr.strip().splitlines()[-1]   # after the notes on the files imported on the way
        assert res.exit_code == 1 and error.startswith("lorascope: ") and problem in error, res.output
    with Store(db_path) as s:
        assert s.runs() == []
    res = run(db_path, *train_args(sets, "--strategy", "lora", "--steps", "2", "--augment", "perturb:0.5",
                                   "--perturbation", "mined:min_count=1"))
    assert res.exit_code == 0, res.output
    with Store(db_path) as s:
        config = s.run(1).config
        assert config["augment_p"] == 0.5 and config["augment_model"] == "mined:min_count=1"


def test_ctrl_c_marks_run_interrupted_and_resume_finishes_it(db_path, sets):
    env = dict(os.environ, LORASCOPE_DB=str(db_path), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "lorascope", *train_args(sets, "--strategy", "lora", "--steps", "60",
                                                          "--checkpoint-every", "2")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ckpt_dir = db_path.parent / "adapters" / "run-1" / "checkpoints"
    deadline = time.time() + 240
    while time.time() < deadline and not (ckpt_dir.exists() and any(ckpt_dir.glob("checkpoint-*.json"))):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted; continue it with `lorascope train --resume 1`" in err
    with Store(db_path) as s:
        run1 = s.run(1)
        assert run1.status == "interrupted" and 0 < run1.steps_done < 60
    res = run(db_path, "train", "--resume", "1", "--steps", "10")  # --steps is ignored on resume: the run's own
    assert res.exit_code == 0, res.output
    with Store(db_path) as s:
        assert s.run(1).status == "done" and s.run(1).steps_done == 60


@pytest.mark.slow
def test_shipped_demo_adapter_reproduces_its_recorded_test_wer_real_minilm(db_path):
    """The demo adapter in sample_data/ (real MiniLM-L6 + LoRA) scores the sample test set as it did when made."""
    from lorascope.samples import ensure_sample_sets

    with Store(db_path) as s:
        added = ensure_sample_sets(s)
        assert added[:3] == ["sample-train", "sample-dev", "sample-test"] and added[3].startswith("demo adapter")
        demo = s.runs()[0]
        recorded = next(m for m in s.metrics(demo.id) if m["split"] == "test")
    assert demo.config["demo"] is True and demo.strategy == "lora"
    res = run(db_path, "eval", "--run", str(demo.id), "--data", "sample-test")
    assert res.exit_code == 0, res.output
    with Store(db_path) as s:
        fresh = [m for m in s.metrics(demo.id) if m["split"] == "eval"][-1]
    assert fresh["wer"] == pytest.approx(recorded["wer"], abs=1e-9)
    assert fresh["wer"] < fresh["one_best_wer"]  # the adapter helps on held-out lists

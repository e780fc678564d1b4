"""The combination per (run, data set): refused before scoring on a set that lacks a feature, --tune-on and
--cross-fit, the out-of-fold training gate, train's feature check, robustness defaults and argument checks.

Runs train a tiny random backbone for two steps (fast); the lists are made here: first-pass scores that tell
the better hypothesis apart (so the tuned combination weighs ``score``), and rank-only copies of the kind.
"""

from __future__ import annotations

import random
import shutil

import pytest
from click.testing import CliRunner

from lorascope.cli import cli
from lorascope.core.combination.model import Combination
from lorascope.core.combination.crossfit import (cross_fit, fold_of, gated_search, missing_feature, split_by_utterance)
from lorascope.core.combination.tune import tune_combination
from lorascope.core.data.formats import write_jsonl
from lorascope.core.data.metrics import hypothesis_errors
from lorascope.core.data.nbest import Hypothesis, Utterance
from lorascope.store import Store
from lorascope.store.combinations import combinations, training_combination

from .nbest_fixtures import make_utterances


def informative(n: int, seed: int, prefix: str, scored: bool = True) -> list[Utterance]:
    """Lists whose first-pass score is minus the word errors plus noise (None for rank-only lists)."""
    utts = make_utterances(n, seed, prefix, scored=False)
    rng = random.Random(seed)
    out = []
    for u, row in zip(utts, hypothesis_errors(utts)):
        hyps = tuple(Hypothesis(h.text, round(-e + rng.uniform(-0.3, 0.3), 3) if scored else None)
                     for h, e in zip(u.hypotheses, row))
        out.append(Utterance(u.id, hyps, u.reference))
    return out


def run(db, *args):
    return CliRunner().invoke(cli, ["--db", str(db), *args])


# ------------------------------------------------------------------------------------------------ core


def test_missing_feature_names_what_a_set_lacks():
    scored, rank_only = informative(4, 1, "a"), informative(4, 1, "b", scored=False)
    combo = Combination.of({"rank": 1.0, "score": 2.0}, 0.5)
    assert missing_feature(combo, scored) is None
    assert missing_feature(combo, rank_only) == "score"
    assert missing_feature(Combination.of({"rank": 1.0, "words": -0.1}), rank_only) is None
    # prior means the score on scored lists and the rank on rank-only ones: tuned as one, refused as the other
    prior = Combination.of({"prior": 1.0}, 1.0)
    assert missing_feature(prior, rank_only, tuned_prior="score").startswith("prior")
    assert missing_feature(prior, scored, tuned_prior="score") is None


def test_split_and_folds_are_fixed_by_seed_and_cover_every_utterance():
    utts = informative(20, 2, "u")
    part, rest = split_by_utterance(utts, 0.3, seed=0)
    assert len(part) == 6 and sorted(part + rest) == list(range(20))
    assert split_by_utterance(utts, 0.3, seed=1) != (part, rest)          # the seed decides the split
    assert {utts[i].id for i in part} == {list(reversed(utts))[i].id
                                         for i in split_by_utterance(list(reversed(utts)), 0.3, 0)[0]}  # by id
    folds = fold_of(utts, 4, seed=0)
    assert sorted(folds.count(f) for f in range(4)) == [5, 5, 5, 5]


def test_cross_fit_chooses_every_list_with_a_combination_not_tuned_on_it():
    utts = informative(15, 3, "u")
    rng = random.Random(0)
    lm = [[rng.gauss(0, 1) for _ in u.hypotheses] for u in utts]
    fit = cross_fit(utts, lm, 3, seed=0)
    for f in range(3):
        inside = [i for i in range(15) if fit.folds[i] != f]
        expected = tune_combination([utts[i] for i in inside], [lm[i] for i in inside],
                                    features=fit.features).combination
        assert fit.combinations[f] == expected
        for i in (i for i in range(15) if fit.folds[i] == f):
            scores = expected.scores(utts[i], lm[i])
            assert fit.choices[i] == max(range(len(scores)), key=lambda j: (scores[j], -j))
    table = hypothesis_errors(utts)
    words = sum(len(u.reference.split()) for u in utts)
    assert fit.wer == pytest.approx(sum(table[i][c] for i, c in enumerate(fit.choices)) / words)


def _noise_lists(seed: int, n: int = 30, h: int = 4):
    """Lists whose features and LM scores are noise: a combination tuned on them wins there by chance only."""
    rng = random.Random(seed)
    utts, lm = [], []
    for k in range(n):
        ref = f"w{k} a b c d"
        hyps = []
        for i in range(h):
            errs = rng.choice([0, 1, 2]) if i else 1
            text = " ".join(ref.split()[:5 - errs] + ["x"] * errs)
            hyps.append(Hypothesis(text, score=-float(i) + rng.gauss(0, 0.3),
                                   extra={"total_logprob": rng.gauss(0, 1), "ac_cost": rng.gauss(0, 1),
                                          "lm_cost": rng.gauss(0, 1)}))
        utts.append(Utterance(f"u{k:03d}", tuple(hyps), reference=ref))
        lm.append([rng.gauss(0, 1) for _ in range(h)])
    return utts, lm


def test_gate_refuses_a_combination_that_wins_on_its_own_tuning_lists_and_loses_out_of_fold():
    utts, lm = _noise_lists(5)
    gated = gated_search(utts, lm, min_p_better=0.95, folds=5, resamples=1000)
    search = gated.search
    # on its own tuning lists it wins, and the old (in-sample) gate would have kept it ...
    assert search.best_wer < search.first_pass_wer
    assert gated.in_sample_p_better >= 0.95
    assert tune_combination(utts, lm, min_p_better=0.95).combination == search.best   # the old gate: kept
    # ... out of fold it loses, so the gate keeps the first pass
    assert gated.oof_wer > search.first_pass_wer
    assert gated.oof_p_better < 0.95 and search.p_better == gated.oof_p_better
    assert search.combination.is_first_pass and search.fell_back


def test_gate_keeps_a_combination_that_wins_out_of_fold():
    utts = informative(30, 4, "u")
    lm = [[0.0] * len(u.hypotheses) for u in utts]
    gated = gated_search(utts, lm, min_p_better=0.95, folds=5)
    assert gated.oof_wer < gated.search.first_pass_wer
    assert not gated.search.combination.is_first_pass and gated.search.combination.weight("score") > 0


# ------------------------------------------------------------------------------------------------ commands


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A store with run 1 (lora, 2 steps) trained on scored lists, its test set scored, and rank-only lists 'ro'."""
    folder = tmp_path_factory.mktemp("trained")
    for name, n, seed, scored in [("tr", 16, 1, True), ("dv", 24, 2, True), ("te", 12, 3, True),
                                  ("ro", 12, 4, False), ("ro2", 12, 5, False)]:
        write_jsonl(informative(n, seed, name, scored), folder / f"{name}.jsonl")
    db = folder / "store.db"
    res = run(db, "train", "--model", "tiny-random", "--strategy", "lora", "--steps", "2", "--batch-size", "4",
              "--data", str(folder / "tr.jsonl"), "--dev", str(folder / "dv.jsonl"),
              "--test", str(folder / "te.jsonl"))
    assert res.exit_code == 0, res.output
    for name in ("ro", "ro2"):
        assert run(db, "import", str(folder / f"{name}.jsonl")).exit_code == 0
    return folder


@pytest.fixture
def db(trained, tmp_path):
    """A copy of the trained store (the adapter stays in the module's folder, where the run points)."""
    path = tmp_path / "store.db"
    shutil.copy(trained / "store.db", path)
    return path


def test_training_stores_its_combination_and_the_out_of_fold_estimate(db):
    with Store(db) as s:
        stored = training_combination(s, 1)
        assert stored is not None and stored.dataset == "dv" and stored.prior == "score"
        assert stored.combination.weight("score") > 0          # informative scores: the combination weighs them
        cfg = s.run(1).config
        assert cfg["combination_gate"] == "out-of-fold dev" and cfg["combination_oof_dev_wer"] is not None


def test_eval_on_rank_only_lists_says_so_before_scoring_and_leaves_the_store_alone(db):
    before = db.read_bytes()
    res = run(db, "eval", "--run", "1", "--data", "ro")
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines() == [res.stderr.strip()]            # one line, no traceback
    assert "data ro: has no score values, which run 1's combination weighs" in res.stderr
    assert "--tune-on NAME|FRACTION" in res.stderr and "--cross-fit K" in res.stderr
    assert db.read_bytes() == before


def test_tune_on_a_fraction_another_set_and_cross_fit_each_give_a_wer(db):
    res = run(db, "eval", "--run", "1", "--data", "ro", "--tune-on", "0.5")
    assert res.exit_code == 0, res.output
    assert "ro: 6 utterances" in res.stdout and "held-out rescored" in res.stdout
    assert "WER on the other 6 only (held out)" in res.stderr
    res = run(db, "eval", "--run", "1", "--data", "ro", "--cross-fit", "3")
    assert res.exit_code == 0, res.output
    assert "ro: 12 utterances" in res.stdout and "out-of-fold rescored" in res.stdout
    res = run(db, "eval", "--run", "1", "--data", "ro", "--tune-on", "ro2")
    assert res.exit_code == 0, res.output
    assert "combination tuned on ro2" in res.stderr and "ro: 12 utterances" in res.stdout
    with Store(db) as s:
        splits = [m["split"] for m in s.metrics(1) if m["dataset"] == "ro"]
        assert splits == ["eval held-out", "eval out-of-fold", "eval"]
        assert all(m["wer"] is not None for m in s.metrics(1) if m["dataset"] == "ro")
        hows = [c.how for c in combinations(s, 1, "ro")]
        assert hows == ["fraction 0.5 (seed 0)", "cross-fit 3 (seed 0)", "tune-on ro2"]
        assert all(c.combination.weight("score") == 0 for c in combinations(s, 1, "ro"))
    # the combination tuned on ro2 now belongs to (run 1, ro): a plain eval uses it
    res = run(db, "eval", "--run", "1", "--data", "ro")
    assert res.exit_code == 0 and "tuned on ro2 (tune-on ro2)" in res.stderr


def test_robustness_on_rank_only_lists_refuses_before_the_bar_then_cross_fits(db):
    before = db.read_bytes()
    res = run(db, "robustness", "--run", "1", "--data", "ro")
    assert res.exit_code == 1 and "has no score values" in res.stderr and "score ━" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and db.read_bytes() == before
    res = run(db, "robustness", "--run", "1", "--data", "ro", "--cross-fit", "3", "--mode", "N")
    assert res.exit_code == 0, res.output
    assert "out-of-fold" in res.stderr and "perturb-N" in res.stdout and "(out-of-fold combinations)" in res.stdout


def test_robustness_defaults_to_the_test_set_and_names_the_tuning_set(db):
    res = run(db, "robustness", "--run", "1", "--mode", "1")
    assert res.exit_code == 0, res.output
    assert "run 1 (lora) on te," in res.stdout and "tuning set" not in res.stdout
    res = run(db, "robustness", "--run", "1", "--mode", "1", "--data", "dv")
    assert res.exit_code == 0, res.output
    assert "tuning set" in res.stdout
    with Store(db) as s:                      # a run without a test set: refused, naming --data
        s.update_run(1, test_dataset=None)
    before = db.read_bytes()
    res = run(db, "robustness", "--run", "1")
    assert res.exit_code == 1 and "has no test set; name the set to perturb with --data" in res.stderr
    assert db.read_bytes() == before


@pytest.mark.parametrize("args, message", [
    (["--run", "7"], "run 7 not found"),
    (["--run", "1", "--p", "1.5"], "must be a number from 0 to 1"),
    (["--run", "1", "--perturbation", "bogus"], "unknown model 'bogus'"),
    (["--run", "1", "--seed", "-3"], "--seed: must be a whole number"),
])
def test_bad_arguments_are_one_line_before_any_bar_and_change_nothing(db, args, message):
    before = db.read_bytes()
    res = run(db, "robustness", *args)
    assert res.exit_code != 0 and message in res.stderr
    assert res.stderr.strip().splitlines() == [res.stderr.strip()] and res.stdout == ""
    assert db.read_bytes() == before


def test_eval_arguments_are_checked_before_scoring(db):
    before = db.read_bytes()
    for args, message in ((["--cross-fit", "1"], "needs at least 2 folds"),
                          (["--tune-on", "1.5"], "strictly between 0 and 1"),
                          (["--tune-on", "ro"], "is the set under evaluation"),
                          (["--tune-on", "0.3", "--lam", "1"], "give one or the other")):
        res = run(db, "eval", "--run", "1", "--data", "ro", *args)
        assert res.exit_code == 1 and message in res.stderr, (args, res.output)
        assert len(res.stderr.strip().splitlines()) == 1
    assert db.read_bytes() == before


def test_train_drops_a_feature_the_test_set_lacks_and_ends_as_a_finished_run(trained, tmp_path):
    db = tmp_path / "store.db"
    res = run(db, "train", "--model", "tiny-random", "--strategy", "lora", "--steps", "2", "--batch-size", "4",
              "--data", str(trained / "tr.jsonl"), "--dev", str(trained / "dv.jsonl"),
              "--test", str(trained / "ro.jsonl"))
    assert res.exit_code == 0, res.output
    assert "combination: drops score (the test set has no score)" in res.stderr
    assert "estimate: out-of-fold dev WER" in res.stdout
    with Store(db) as s:
        run_ = s.run(1)
        assert run_.status == "done" and run_.adapter_path
        stored = training_combination(s, 1)
        assert "score" not in stored.features and stored.combination.weight("score") == 0
        assert {m["split"] for m in s.metrics(1)} == {"dev", "test"}


def test_a_run_trained_on_rank_only_lists_evaluates_scored_lists(trained, tmp_path):
    db = tmp_path / "store.db"
    res = run(db, "train", "--model", "tiny-random", "--strategy", "lora", "--steps", "2", "--batch-size", "4",
              "--data", str(trained / "ro.jsonl"), "--dev", str(trained / "ro2.jsonl"), "--test", "none")
    assert res.exit_code == 0, res.output
    res = run(db, "eval", "--run", "1", "--data", str(trained / "te.jsonl"))
    assert res.exit_code == 0, res.output                 # rank and words: every scored list has them
    res = run(db, "eval", "--run", "1", "--data", "te", "--tune-on", "0.5")
    assert res.exit_code == 0 and "held-out rescored" in res.stdout
    with Store(db) as s:
        tuned = combinations(s, 1, "te")[-1]
        assert "score" in tuned.features                  # tuned here, the set's own scores may be weighed


def test_a_failed_evaluation_after_training_keeps_the_adapter(tmp_path):
    """core.train without the job's feature check: the test set lacks the score the dev-tuned combination weighs;
    the evaluation fails, the adapter is saved first and the failure is reported beside it."""
    from lorascope.core.scoring.adapter import load_rescorer
    from lorascope.core.training.train import TrainConfig, train

    dev = informative(24, 2, "dv")
    res = train(TrainConfig(backbone="tiny-random", strategy="lora", steps=2, batch_size=4, device="cpu"),
                informative(16, 1, "tr"), dev, eval_sets={"test": informative(8, 4, "ro", scored=False)},
                adapter_dir=tmp_path / "adapter")
    assert res.status == "finished" and res.combination_search.combination.weight("score") > 0
    assert "test" not in res.evals and "has no score values" in res.eval_errors["test"]
    assert load_rescorer(res.adapter_dir).combination == res.combination_search.combination

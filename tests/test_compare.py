"""`lorascope compare`: the statistics on constructed choices whose differences are known, and the command end
to end with tiny random models (A against A: no difference, no disagreement)."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest
from click.testing import CliRunner

from lorascope.cli import cli
from lorascope.core.analysis.compare import PerturbedChoices, compare_choices, nprr_difference, right_counts, wer_difference
from lorascope.store import Store
from lorascope.store.comparisons import comparisons

from .nbest_fixtures import write_set


def constructed(n: int = 40, seed: int = 3):
    """Lists of 4 hypotheses with known word errors; A chooses the oracle, B the 1-best (first hypothesis)."""
    rng = random.Random(seed)
    errors = [[rng.randint(0, 4) for _ in range(4)] for _ in range(n)]
    lengths = [rng.randint(8, 14) for _ in range(n)]
    oracle = [min(range(4), key=lambda i: (row[i], i)) for row in errors]
    return errors, lengths, oracle, [0] * n


def test_oracle_against_one_best_gives_the_known_wer_difference_and_counts():
    errors, lengths, a, b = constructed()
    words = sum(lengths)
    one_best = sum(row[0] for row in errors) / words
    oracle = sum(min(row) for row in errors) / words
    c = compare_choices(errors, lengths, a, b, [f"u{k}" for k in range(len(errors))], resamples=500)
    assert c.wer_a == pytest.approx(oracle) and c.wer_b == pytest.approx(one_best)
    assert c.wer.difference == pytest.approx(oracle - one_best) and c.wer.difference < 0
    assert c.wer.low <= c.wer.difference <= c.wer.high < 0       # the oracle is better in every resample here
    assert c.wer.p_a_lower == 1.0
    first_wrong = sum(row[0] > min(row) for row in errors)
    assert (c.counts.a_right_b_wrong, c.counts.b_right_a_wrong) == (first_wrong, 0)
    assert c.counts.both_right == len(errors) - first_wrong and c.counts.both_wrong == 0
    assert c.counts.disagreements == sum(x != 0 for x in a)
    # the top disagreements: the largest gap first, each with both choices' word errors
    gaps = [d.errors_b - d.errors_a for d in c.top]
    assert gaps == sorted(gaps, reverse=True) and gaps[0] == max(row[0] - min(row) for row in errors)
    assert all(d.errors_a == d.oracle_errors and d.choice_b == 0 for d in c.top)


def test_swapping_a_and_b_flips_the_sign_and_a_against_itself_is_zero():
    errors, lengths, a, b = constructed()
    ab = wer_difference(errors, lengths, a, b, resamples=300)
    ba = wer_difference(errors, lengths, b, a, resamples=300)
    assert ab.difference == pytest.approx(-ba.difference)
    assert ab.low == pytest.approx(-ba.high) and ab.high == pytest.approx(-ba.low)
    same = wer_difference(errors, lengths, b, b, resamples=300)
    assert (same.difference, same.low, same.high) == (0.0, 0.0, 0.0)
    counts = right_counts(errors, b, b)
    assert (counts.a_right_b_wrong, counts.b_right_a_wrong, counts.disagreements) == (0, 0, 0)


def test_nprr_difference_matches_the_per_system_definition_and_spans_the_seeds():
    errors, lengths, _, b = constructed(30)
    rng = random.Random(9)
    a = [rng.randrange(4) for _ in errors]    # some other system, with a clean ΔWER above 0
    words = sum(lengths)
    perturbed = []
    for seed in (0, 1, 2):
        rs = random.Random(seed)
        p_errors = [[x + rs.randint(0, 2) for x in row] for row in errors]
        perturbed.append(PerturbedChoices(seed, p_errors, [rs.randrange(4) for _ in errors], [0] * len(errors)))

    def nprr(choices, pick):
        clean = sum(row[c] - min(row) for row, c in zip(errors, choices)) / words
        pert = sum(sum(row[c] - min(row) for row, c in zip(s.errors, pick(s))) / words for s in perturbed) / 3
        return (pert - clean) / clean

    na, nb, diff = nprr_difference(errors, lengths, a, b, perturbed, resamples=400)
    assert na == pytest.approx(nprr(a, lambda s: s.choices_a)) and nb == pytest.approx(nprr(b, lambda s: s.choices_b))
    assert diff.difference == pytest.approx(na - nb) and diff.low <= diff.difference <= diff.high
    # one seed: the interval is over lists only and is narrower than or as wide as over lists and seeds
    _, _, one = nprr_difference(errors, lengths, a, b, perturbed[:1], resamples=400)
    assert one.difference != pytest.approx(diff.difference)


@pytest.fixture
def sets(tmp_path):
    return {
        "train": write_set(tmp_path / "tr.jsonl", 12, seed=1, prefix="tr"),
        "dev": write_set(tmp_path / "dv.jsonl", 6, seed=2, prefix="dv"),
        "test": write_set(tmp_path / "te.jsonl", 6, seed=3, prefix="te"),
    }


def run(db, *args):
    return CliRunner().invoke(cli, ["--db", str(db), *args])


def test_compare_a_run_with_itself_end_to_end_tiny_random(db_path, sets):
    for strategy in ("lora", "ft"):
        res = run(db_path, "train", "--model", "tiny-random", "--data", sets["train"], "--dev", sets["dev"],
                  "--test", sets["test"], "--batch-size", "4", "--strategy", strategy, "--steps", "2")
        assert res.exit_code == 0, res.output
    res = run(db_path, "compare", "1", "1", "--seeds", "2", "--perturbation", "lexicon", "--resamples", "200")
    assert res.exit_code == 0, res.output
    assert "A = run 1 (lora), B = run 1 (lora) on te (test set): 6 lists" in res.stdout
    assert "perturbation: lexicon, perturb-N, p 0.5, seeds 0,1" in res.stdout
    assert "the two choose differently on 0 of 6 lists" in res.stdout
    assert "| lists right where the other is wrong | 0 | 0 | +0 | - |" in res.stdout
    wer_line = next(line for line in res.stdout.splitlines() if line.startswith("| WER % |"))
    assert wer_line.endswith("| +0.00 | [+0.00, +0.00] |")
    with Store(db_path) as store:
        (row,) = comparisons(store)
    assert (row["run_a"], row["run_b"], row["dataset"], row["wer_diff"], row["disagreements"]) == (1, 1, "te", 0, 0)
    assert json.loads(row["seeds"]) == [0, 1] and row["perturbation_model"] == "lexicon" and row["top"] == "[]"

    res = run(db_path, "compare", "1", "2", "--perturbation", "none", "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["measure"] for r in rows] == ["wer", "right_where_other_wrong", "disagreements"]
    assert rows[0]["perturbation"] == "none" and rows[0]["run_b"] == "2"
    assert float(rows[0]["difference"]) == pytest.approx(float(rows[0]["a"]) - float(rows[0]["b"]))
    res = run(db_path, "export")
    assert [c["run_b"] for c in json.loads(res.stdout)["comparisons"]] == [1, 2]


@pytest.mark.parametrize("args, message", [
    (["1", "9"], "lorascope: run 9 not found in "),
    (["1", "1", "--p", "1.5"], "lorascope: "),
    (["1", "1", "--perturbation", "bogus"], "lorascope: perturbation: unknown model 'bogus'"),
    (["1", "1", "--data", "nowhere"], "lorascope: nowhere: neither a dataset in the store"),
])
def test_compare_checks_its_arguments_before_any_scoring(db_path, sets, args, message):
    res = run(db_path, "train", "--model", "tiny-random", "--data", sets["train"], "--dev", sets["dev"],
              "--test", sets["test"], "--batch-size", "4", "--strategy", "lora", "--steps", "1")
    assert res.exit_code == 0, res.output
    res = run(db_path, "compare", *args)
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1
    assert res.stderr.startswith(message)
    assert "score" not in res.stderr    # no progress bar was drawn
    with Store(db_path) as store:
        assert comparisons(store) == []

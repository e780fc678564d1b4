"""One first pass: the list order as given, in every figure (import, train's fallback, eval, robustness).

A Whisper-style HyPoradise file whose hypotheses are in beam order but whose ``am_score`` is the total
log-probability (so the scores rank some lists differently) goes through the real commands and store.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lorascope.cli import cli
from lorascope.core.combination.tune import FIRST_PASS_COMBINATION, Combination
from lorascope.store import Store

SENTENCES = ["the cat sat on the mat", "there is a red house on the hill", "we went to the market on monday",
             "she sells sea shells by the shore", "he said that they would be late", "a quick brown fox jumps high",
             "please write your name right here", "i know there are no more seats"]


def whisper_like(path, n: int, offset: int) -> str:
    """Lists in beam order (the first is right half the time); am_score favours the shortest hypothesis."""
    items = []
    for k in range(n):
        ref = SENTENCES[(k + offset) % len(SENTENCES)] + f" number {k}"
        wrong = ref.replace("the", "a", 1) if "the" in ref else ref + " too"
        short = " ".join(ref.split()[:-2])               # a dropped word or two: the total log-prob likes it
        hyps = [ref, wrong, short] if k % 2 else [wrong, ref, short]
        scores = [-2.0 - 0.1 * len(h.split()) for h in hyps]   # total log-probabilities: shorter scores higher
        items.append({"id": f"u{offset}-{k}", "input": hyps, "output": ref, "am_score": scores})
    path.write_text(json.dumps(items))
    return str(path)


def run(db, *args):
    return CliRunner().invoke(cli, ["--db", str(db), *args])


@pytest.fixture
def files(tmp_path):
    return {name: whisper_like(tmp_path / f"{name}.json", n, off)
            for name, n, off in (("tr", 12, 0), ("dv", 3, 3), ("te", 8, 5))}


def test_every_first_pass_figure_follows_the_list_order(db_path, files):
    res = run(db_path, "import", files["te"])
    assert res.exit_code == 0, res.output
    assert "disagree with the list order in 8 of 8 scored lists" in res.stderr + res.stdout
    with Store(db_path) as s:
        imported = s.dataset("te")
        utts = s.load_dataset("te")
    assert imported.first_pass == "order"
    assert [u.hypotheses[0].text for u in utts][:2] == [json.loads(open(files["te"]).read())[k]["input"][0]
                                                        for k in range(2)]
    res = run(db_path, "train", "--strategy", "lora", "--model", "tiny-random", "--data", files["tr"], "--dev",
              files["dv"], "--test", "te", "--steps", "2", "--batch-size", "4", "--lambda-confidence", "1")
    assert res.exit_code == 0, res.output
    with Store(db_path) as s:
        run1 = s.run(1)
        test_row = next(m for m in s.metrics(1) if m["split"] == "test")
    # a gain must hold in every resample of 3 dev lists: it cannot, so the gate keeps the first pass
    assert Combination.from_dict(run1.config["combination"]) == FIRST_PASS_COMBINATION
    assert test_row["one_best_wer"] == imported.one_best_wer           # train's 1-best is the import's
    assert test_row["wer"] == imported.one_best_wer                   # and the fallback is exactly it
    res = run(db_path, "eval", "--run", "1", "--data", "te")
    assert res.exit_code == 0, res.output
    with Store(db_path) as s:
        eval_row = [m for m in s.metrics(1) if m["split"] == "eval"][-1]
    assert eval_row["one_best_wer"] == imported.one_best_wer and eval_row["wer"] == test_row["wer"]
    res = run(db_path, "robustness", "--run", "1", "--data", "te", "--mode", "1", "--perturbation", "lexicon")
    assert res.exit_code == 0, res.output
    with Store(db_path) as s:
        clean = next(m for m in s.metrics(1) if m["split"] == "robustness" and m["perturbation"] == "clean")
    assert clean["wer"] == test_row["wer"]                            # the same choices on the clean lists


def test_first_pass_score_sorts_each_list_and_is_stored(db_path, files):
    res = run(db_path, "import", files["te"], "--first-pass", "score", "--name", "te-by-score")
    assert res.exit_code == 0, res.output
    with Store(db_path) as s:
        by_score = s.dataset("te-by-score")
        utts = s.load_dataset("te-by-score")
    assert by_score.first_pass == "score"
    assert all(not u.scores_disagree for u in utts)
    assert all(len(u.hypotheses[0].text.split()) < len(u.reference.split()) for u in utts)   # the short one first
    res = run(db_path, "train", "--strategy", "lora", "--model", "tiny-random", "--data", files["tr"], "--dev",
              files["dv"], "--test", "te-by-score", "--first-pass", "order", "--steps", "1")
    assert res.exit_code == 1 and "was imported with first pass 'score', not 'order'" in res.stderr

"""The first pass at import: the list order by default, each list sorted by score with --first-pass score; the
choice is stored with the dataset and shown by `lorascope datasets`; resolve_dataset follows it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lorascope.cli import cli
from lorascope.core.errors import InputError
from lorascope.datasets import resolve_dataset
from lorascope.store import Store

# Whisper-like lists: beam order, but am_score is the total log-probability, which ranks u1's second hypothesis
# higher. Reference words 3 + 2; in list order u1 has 1 error (20% WER), by score none (0%).
WHISPER_LIKE = [
    {"id": "u1", "input": ["a b c", "a b d"], "output": "a b d", "am_score": [-5.0, -3.0]},
    {"id": "u2", "input": ["x y", "x z"], "output": "x y", "am_score": [-1.0, -2.0]},
]


def run(db, *args):
    return CliRunner().invoke(cli, ["--db", str(db), *map(str, args)])


@pytest.fixture
def whisper_file(tmp_path):
    path = tmp_path / "whisper.json"
    path.write_text(json.dumps(WHISPER_LIKE))
    return path


def test_default_first_pass_is_the_list_order_and_the_disagreement_is_reported(db_path, whisper_file):
    res = run(db_path, "import", whisper_file)
    assert res.exit_code == 0, res.output
    assert ("first-pass scores disagree with the list order in 1 of 2 scored lists (the top-scored hypothesis is "
            "not the first in 1); first pass: the list order as given") in res.stdout
    assert "1-best WER 20.00%  oracle WER 0.00%" in res.stdout
    with Store(db_path) as s:
        assert s.dataset("whisper").first_pass == "order"
        assert s.load_dataset("whisper")[0].texts == ["a b c", "a b d"]


def test_first_pass_score_sorts_each_list_by_its_scores(db_path, whisper_file):
    res = run(db_path, "import", whisper_file, "--first-pass", "score", "--name", "sorted")
    assert res.exit_code == 0, res.output
    assert "first pass: each list sorted by its scores (--first-pass score)" in res.stdout
    assert "1-best WER 0.00%  oracle WER 0.00%" in res.stdout
    with Store(db_path) as s:
        u1 = s.load_dataset("sorted")[0]
        assert u1.texts == ["a b d", "a b c"] and [h.score for h in u1.hypotheses] == [-3.0, -5.0]
        errors = [r[0] for r in s.db.execute("SELECT errors FROM hypotheses ORDER BY id")]
        assert errors[:2] == [0, 1]
    res = run(db_path, "datasets")
    row = next(line for line in res.stdout.splitlines() if "sorted" in line)
    assert "score" in row.split("│")[4]  # the first pass column


def test_agreeing_scores_say_so(db_path, tmp_path):
    path = tmp_path / "agree.json"
    path.write_text(json.dumps([WHISPER_LIKE[1]]))
    res = run(db_path, "import", path)
    assert "first-pass scores agree with the list order in all 1 scored lists" in res.stdout


def test_unknown_first_pass_is_a_usage_error(db_path, whisper_file):
    res = run(db_path, "import", whisper_file, "--first-pass", "best")
    assert res.exit_code == 2 and "Invalid value for '--first-pass'" in res.stderr


def test_resolve_dataset_imports_with_the_first_pass_and_refuses_another(db_path, whisper_file, capsys):
    with Store(db_path) as s:
        name, utts = resolve_dataset(s, str(whisper_file), first_pass="score")
        assert name == "whisper" and utts[0].texts == ["a b d", "a b c"]
        assert s.dataset("whisper").one_best_wer == 0.0 and s.dataset("whisper").first_pass == "score"
        assert "whisper: first-pass scores disagree with the list order in 1 of 2" in capsys.readouterr().err
        assert resolve_dataset(s, str(whisper_file))[1] == utts  # stored as it was imported
        assert resolve_dataset(s, "whisper", first_pass="score")[1] == utts
        with pytest.raises(InputError, match="imported with first pass 'score', not 'order'"):
            resolve_dataset(s, str(whisper_file), first_pass="order")


def test_resolve_dataset_refuses_lists_without_references_and_stores_nothing(db_path, tmp_path):
    path = tmp_path / "noref.jsonl"
    path.write_text("".join(json.dumps({"id": f"u{i}", "reference": "a", "hypotheses": ["a"]}) + "\n"
                            for i in range(3000)) + '{"id": "last", "hypotheses": ["b"]}\n')
    with Store(db_path) as s:
        with pytest.raises(InputError, match="utterance last has no reference transcript"):
            resolve_dataset(s, str(path), need_references="WER needs them")
        assert s.datasets() == [] and s.db.execute("SELECT count(*) FROM hypotheses").fetchone()[0] == 0

"""The command layer: import / datasets / runs / export, help texts, and one-line errors for bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lorascope.cli import cli

from .conftest import HYPORADISE

GOOD_JSONL = ('{"id": "a", "reference": "the cat sat", "hypotheses": [{"text": "the cat sat", "score": -0.1}, '
              '{"text": "the cats at", "score": -0.5}]}\n'
              '{"id": "b", "reference": "a dog", "hypotheses": [{"text": "a dock", "score": -0.2}, '
              '{"text": "a dog", "score": -0.3}]}\n')


def run(db, *args, **kw):
    return CliRunner().invoke(cli, ["--db", str(db), *args], **kw)


def test_import_prints_counts_and_wers(tmp_path, db_path):
    f = tmp_path / "toy.jsonl"
    f.write_text(GOOD_JSONL)
    res = run(db_path, "import", str(f))
    assert res.exit_code == 0, res.output
    assert "imported 'toy' (jsonl): 2 utterances, 4 hypotheses" in res.stdout
    assert "1-best WER 20.00%  oracle WER 0.00%" in res.stdout
    res = run(db_path, "datasets")
    assert "toy" in res.stdout and "20.00" in res.stdout


def test_rank_only_lists_are_announced(tmp_path, db_path):
    f = tmp_path / "h.json"
    f.write_text(json.dumps([{"input": ["a b", "a c"], "output": "a c"}]))
    res = run(db_path, "import", str(f), "--name", "plain")
    assert res.exit_code == 0
    assert "rank-only" in res.stdout


@pytest.mark.skipif(not HYPORADISE.exists(), reason="needs ../shared/data beside the checkout")
def test_import_and_export_librispeech_test_other(db_path, tmp_path):
    res = run(db_path, "import", str(HYPORADISE))
    assert res.exit_code == 0, res.output
    assert "2939 utterances" in res.stdout
    assert "1-best WER 3.67%  oracle WER 2.27%" in res.stdout
    out = tmp_path / "export.json"
    res = run(db_path, "export", "--out", str(out))
    assert res.exit_code == 0
    data = json.loads(out.read_text())
    assert data["datasets"][0]["utterances"] == 2939


@pytest.mark.parametrize("cmd", [[], ["import"], ["datasets"], ["runs"], ["export"]])
def test_every_command_has_help(cmd, db_path):
    res = run(db_path, *cmd, "--help")
    assert res.exit_code == 0
    assert "Usage: " in res.stdout and len(res.stdout.splitlines()) > 3


# Bad input: (file name, content as bytes, extra args, text the one-line error must contain).
NEMO_MANIFEST = b'{"text": "a b"}\n{"text": "c d"}\n'
BAD_INPUTS = [
    ("trunc.json", b'[{"input": ["a b"], "output": "a b"}, {"input": ["c"', [], "invalid JSON"),
    ("top.json", b'{"input": ["a"]}', ["--format", "hyporadise"], "must be a list, found dict"),
    ("top2.json", b'[1, 2]', ["--format", "mlm"], "must be an object of utterances, found list"),
    ("item.json", b'[42]', [], "item 0: expected an object, found int"),
    ("empty_list.jsonl", b'{"id": "u1", "hypotheses": []}\n', [], "line 1: utterance u1: empty hypothesis list"),
    ("no_text.jsonl", b'{"id": "u1", "hypotheses": [{"score": -1}]}\n', [], "hypothesis 1: has no text"),
    ("nonnum.jsonl", b'{"id": "u1", "hypotheses": [{"text": "a", "score": "high"}]}\n', [],
     "score 'high' is not a finite number"),
    ("nan.jsonl", b'{"id": "u1", "hypotheses": [{"text": "a", "score": NaN}]}\n', [], "score nan is not a finite"),
    ("len.json", b'[{"input": ["a", "b"], "output": "a", "am_score": [-1.0]}]', [],
     "'am_score' has 1 values for 2 hypotheses"),
    ("dup.jsonl", b'{"id": "x", "hypotheses": ["a"]}\n{"id": "x", "hypotheses": ["b"]}\n', [],
     "utterance x: duplicate utterance id"),
    ("beam.tsv", b"a b\t-1\na c\t-2\nc d\t-1\nc e\t-2\n", ["--manifest", "MANIFEST", "--beam-size", "3"],
     "4 lines is not a multiple of the beam size 3"),
    ("mismatch.tsv", b"a b\t-1\na c\t-2\nc d\t-1\nc e\t-2\ne f\t-1\ne g\t-2\n",
     ["--manifest", "MANIFEST", "--beam-size", "2"], "3 utterances of beam 2 but the manifest"),
    ("nomanifest.tsv", b"a b\t-1\n", [], "NeMo TSV needs its manifest"),
    ("tsvscore.tsv", b"a b\tminus one\n", ["--manifest", "MANIFEST"], "line 1: score 'minus one' is not a number"),
    ("empty.jsonl", b"", [], "empty file"),
    ("blank.json", b"  \n\n ", [], "empty file"),
    ("junk.bin", bytes(range(256)) * 4, [], "binary data"),
    ("latin1.jsonl", '{"id": "é", "hypotheses": ["café"]}\n'.encode("latin-1"), [], "not UTF-8 text"),
    ("words.txt", b"just some words\nno structure here\n", [], "unknown format"),
    ("line3.jsonl", GOOD_JSONL.encode() + b'{"id": "c", "hypotheses": [}\n', [], "line 3: invalid JSON"),
    ("noid.jsonl", b'{"hypotheses": ["a"]}\n', [], "line 1: utterance has no id"),
    ("reftype.json", b'[{"input": ["a"], "output": 5}]', [], "reference is not a string"),
    ("missing.jsonl", None, [], "no such file"),
]


@pytest.mark.parametrize("name, content, extra, message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_gives_one_line_error_and_leaves_store_unchanged(tmp_path, db_path, name, content, extra, message):
    good = tmp_path / "good.jsonl"
    good.write_text(GOOD_JSONL)
    assert run(db_path, "import", str(good)).exit_code == 0
    before = db_path.read_bytes()
    assert not db_path.with_name(db_path.name + "-wal").exists()

    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(NEMO_MANIFEST)
    extra = [str(manifest) if a == "MANIFEST" else a for a in extra]
    res = run(db_path, "import", str(path), *extra)

    assert res.exit_code != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("lorascope: ")
    assert name in lines[0]
    assert message in lines[0]
    assert db_path.read_bytes() == before


def test_missing_run_and_newer_store_are_one_line_errors(tmp_path, db_path):
    import sqlite3

    assert run(db_path, "datasets").exit_code == 0
    res = run(db_path, "export", "--run", "42")
    assert res.exit_code == 1 and res.stderr.strip() == f"lorascope: run 42 not found in {db_path}"
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    for cmd in (["datasets"], ["runs"], ["export"]):
        res = run(db_path, *cmd)
        assert res.exit_code == 1
        assert "written by a newer lorascope (schema 999" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
    assert db_path.read_bytes() == before


def test_export_csv_folder(tmp_path, db_path):
    good = tmp_path / "good.jsonl"
    good.write_text(GOOD_JSONL)
    run(db_path, "import", str(good))
    res = run(db_path, "export", "--format", "csv", "--out", str(tmp_path / "csv"))
    assert res.exit_code == 0
    assert (tmp_path / "csv" / "datasets.csv").read_text().count("\n") == 2

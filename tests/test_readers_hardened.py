"""Hardened readers: malformed input of every class is one line naming file, place and problem, and the store stays
as it was; odd but valid input imports correctly. Every case runs the real `lorascope import` on a real store."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from lorascope.cli import cli
from lorascope.core.data.formats import read_nbest, source

GOOD_JSONL = ('{"id": "a", "reference": "the cat sat", "hypotheses": [{"text": "the cat sat", "score": -0.1}, '
              '{"text": "the cats at", "score": -0.5}]}\n')


def run(db, *args):
    return CliRunner().invoke(cli, ["--db", str(db), *map(str, args)])


def hypo(*items) -> bytes:
    return json.dumps(list(items)).encode()


def line(obj) -> bytes:
    return (json.dumps(obj) + "\n").encode()


DEEP = 100_000  # deeper than Python's recursion limit: json raises RecursionError
MANY_GOOD = b"".join(line({"id": f"u{i}", "reference": "a b", "hypotheses": ["a b", "a c"]}) for i in range(5000))
KALDI_TEXT = b"utt1-1 the cat sat\nutt1-2 the cats at\nutt2-1 a dog\nutt2-2 a dock\n"
KALDI_REF = b"utt1 the cat sat\nutt2 a dock\n"


def espnet(**ranks: tuple[bytes, bytes | None]) -> dict[str, bytes]:
    """Files of an ESPnet decode folder ``dec``: rank name -> (text, score or None)."""
    files = {}
    for rank, (text, score) in ranks.items():
        files[f"dec/{rank}best_recog/text"] = text
        if score is not None:
            files[f"dec/{rank}best_recog/score"] = score
    return files


# (case id, files {relative path: bytes}, path to import, extra args, the file the message names, message part).
# "REF" in args is the reference file ref.txt, "MANIFEST" the NeMo manifest m.json.
MALFORMED = [
    # pathological but legal JSON
    ("deep-jsonl", {"d.jsonl": b'{"id": "u", "hypotheses": ["a"], "meta": ' + b"[" * DEEP + b"]" * DEEP + b"}\n"},
     "d.jsonl", [], "d.jsonl line 1", "nested too deeply"),
    ("deep-hyporadise", {"d.json": b'[{"input": ["a"], "x": ' + b"[" * DEEP + b"]" * DEEP + b"}]"},
     "d.json", [], "d.json: item 0", "nested too deeply"),
    ("deep-meta-40", {"m.jsonl": b'{"id": "u", "hypotheses": ["a"], "meta": {"k": ' + b"[" * 40 + b"]" * 40 + b"}}\n"},
     "m.jsonl", [], "m.jsonl line 1: utterance u", "meta is nested more than 32 levels deep"),
    ("bigint-jsonl", {"b.jsonl": b'{"id": "u", "hypotheses": [{"text": "a", "score": -' + b"9" * 5000 + b"}]}\n"},
     "b.jsonl", [], "b.jsonl line 1", "integer of more than 4300 digits"),
    ("bigint-hyporadise", {"b.json": b'[{"input": ["a"], "am_score": [' + b"1" * 5000 + b"]}]"},
     "b.json", [], "b.json: item 0", "integer of more than 4300 digits"),
    ("int-beyond-float", {"f.jsonl": b'{"id": "u", "hypotheses": [{"text": "a", "score": -1' + b"0" * 400 + b"}]}\n"},
     "f.jsonl", [], "hypothesis 1", "score is an integer too large for a float"),
    ("nan-score", {"n.jsonl": b'{"id": "u", "hypotheses": [{"text": "a", "score": NaN}]}\n'},
     "n.jsonl", [], "n.jsonl line 1: utterance u: hypothesis 1", "score nan is not a finite number"),
    ("infinity-am-score", {"i.json": b'[{"input": ["a", "b"], "am_score": [-1, Infinity]}]'},
     "i.json", [], "i.json: item 0 (utterance 0): hypothesis 2", "score inf is not a finite number"),
    ("minus-infinity-mlm", {"m.json": b'{"u1": {"hyp_1": {"text": "a", "score": -Infinity}, "ref": "a"}}'},
     "m.json", ["--format", "mlm"], "m.json: utterance u1: hyp_1", "score -inf is not a finite number"),
    ("nan-in-meta", {"m.jsonl": b'{"id": "u", "hypotheses": ["a"], "meta": {"snr": NaN}}\n'},
     "m.jsonl", [], "utterance u", "meta holds nan, not a finite number"),
    ("nan-in-feature", {"m.jsonl": b'{"id": "u", "hypotheses": [{"text": "a", "total_logprob": NaN}]}\n'},
     "m.jsonl", [], "hypothesis 1", "features holds nan"),
    ("overflow-1e999", {"o.jsonl": b'{"id": "u", "hypotheses": [{"text": "a", "score": 1e999}]}\n'},
     "o.jsonl", [], "hypothesis 1", "score inf is not a finite number (too large for a float)"),
    ("overflow-nemo", {"o.tsv": b"a b\t1e999\n", "m.json": b'{"text": "a b"}\n'},
     "o.tsv", ["--manifest", "MANIFEST"], "o.tsv line 1", "score 1e999 is not a finite number"),
    ("nan-nemo", {"n.tsv": b"a b\tnan\n", "m.json": b'{"text": "a b"}\n'},
     "n.tsv", ["--manifest", "MANIFEST"], "n.tsv line 1", "score 'nan' is not a number"),
    ("underscore-nemo", {"n.tsv": b"a b\t-1_000\n", "m.json": b'{"text": "a b"}\n'},
     "n.tsv", ["--manifest", "MANIFEST"], "n.tsv line 1", "score '-1_000' is not a number"),
    # strings SQLite cannot store or tools cannot read
    ("surrogate-text", {"s.jsonl": b'{"id": "u", "hypotheses": ["a \\ud800 b"]}\n'},
     "s.jsonl", [], "s.jsonl line 1: utterance u: hypothesis 1", "text holds a lone surrogate \\ud800"),
    ("surrogate-reference", {"s.json": hypo({"input": ["a"], "output": "x\udc00"})},
     "s.json", [], "s.json: item 0 (utterance 0)", "reference holds a lone surrogate \\udc00"),
    ("surrogate-meta-key", {"s.jsonl": b'{"id": "u", "hypotheses": ["a"], "meta": {"\\udbff": 1}}\n'},
     "s.jsonl", [], "utterance u", "a key in meta holds a lone surrogate"),
    ("surrogate-mlm-id", {"s.json": b'{"u\\ud800": {"hyp_1": "a"}}'},
     "s.json", ["--format", "mlm"], "s.json: utterance u", "utterance id holds a lone surrogate"),
    ("huge-text", {"h.jsonl": line({"id": "u", "hypotheses": ["a" * 100_001]})},
     "h.jsonl", [], "hypothesis 1", "text is 100,001 characters long (at most 100,000)"),
    ("nul-escape", {"n.jsonl": b'{"id": "u", "reference": "a\\u0000b", "hypotheses": ["a"]}\n'},
     "n.jsonl", [], "utterance u", "reference holds a NUL character"),
    ("nul-byte-late-kaldi", {"k/text": b"utt1-1 a\n" * 600 + b"utt2-1 a\x00b\n"},
     "k/text", [], "text line 601", "holds a NUL byte"),
    # encodings
    ("utf16-bom", {"u.jsonl": "\ufeff".encode("utf-16-le") + GOOD_JSONL.encode("utf-16-le")},
     "u.jsonl", [], "u.jsonl", "UTF-16 text (byte-order mark)"),
    ("utf16-no-bom", {"u.json": '[{"input": ["a"], "output": "a"}]'.encode("utf-16-le")},
     "u.json", [], "u.json", "looks like UTF-16 text without a byte-order mark"),
    ("utf32-bom", {"u.json": '[{"input": ["a"]}]'.encode("utf-32")},
     "u.json", [], "u.json", "UTF-32 text (byte-order mark)"),
    ("latin1-streamed-json", {"l.json": hypo({"input": ["a"], "output": "b"}) [:-1] + b', {"input": ["caf\xe9"]}]'},
     "l.json", [], "l.json line 1", "not UTF-8 text (bad byte 0xe9"),
    ("latin1-kaldi-line3", {"k/text": b"utt1-1 a\nutt1-2 b\nutt2-1 caf\xe9\n"},
     "k", [], "text line 3", "not UTF-8 text (bad byte 0xe9"),
    ("cr-only-kaldi", {"k/text": b"utt1-1 a\rutt1-2 b\r"},
     "k/text", ["--format", "kaldi"], "text line 1", "carriage return (CR-only line endings?)"),
    ("cr-only-jsonl", {"c.jsonl": GOOD_JSONL.replace("\n", "\r").encode() * 2},
     "c.jsonl", [], "c.jsonl line 1", "the file may use CR-only line endings"),
    # ambiguous
    ("duplicate-key-hypothesis", {"d.jsonl": b'{"id": "u", "hypotheses": [{"text": "a", "text": "b"}]}\n'},
     "d.jsonl", [], "d.jsonl line 1", "duplicate key 'text' in one object"),
    ("duplicate-key-item", {"d.json": b'[{"input": ["a"], "output": "a", "output": "b"}]'},
     "d.json", [], "d.json: item 0", "duplicate key 'output' in one object"),
    ("duplicate-key-manifest", {"n.tsv": b"a\t-1\n", "m.json": b'{"text": "a", "text": "b"}\n'},
     "n.tsv", ["--manifest", "MANIFEST"], "m.json line 1", "duplicate key 'text'"),
    ("duplicate-mlm-utterance", {"d.json": b'{"u1": {"hyp_1": "a"}, "u1": {"hyp_1": "b"}}'},
     "d.json", ["--format", "mlm"], "d.json: utterance u1", "duplicate utterance id"),
    ("score-and-am-score", {"s.json": hypo({"input": ["a"], "am_score": [-1], "score": [-2]})},
     "s.json", [], "s.json: item 0 (utterance 0)", "gives both 'am_score' and 'score'"),
    ("id-1-and-string-1", {"i.jsonl": line({"id": 1, "hypotheses": ["a"]}) + line({"id": "1", "hypotheses": ["b"]})},
     "i.jsonl", [], "i.jsonl line 2: utterance 1", "duplicate utterance id (ids compare as text"),
    ("id-and-utt-id", {"i.json": hypo({"id": "a", "utt_id": "b", "input": ["x"]})},
     "i.json", [], "i.json: item 0", "gives both 'id' 'a' and 'utt_id' 'b'"),
    ("index-id-collision", {"i.json": hypo({"input": ["a"]}, {"id": "0", "input": ["b"]})},
     "i.json", [], "i.json: item 1: utterance 0", "duplicate utterance id"),
    ("mixed-hypothesis-types", {"m.jsonl": line({"id": "u", "hypotheses": ["a", 5]})},
     "m.jsonl", [], "hypothesis 2", "is neither an object nor a string"),
    ("mixed-score-types", {"m.json": hypo({"input": ["a", "b"], "am_score": [-1, "-2"]})},
     "m.json", [], "hypothesis 2", "score '-2' is not a finite number"),
    ("scores-some-missing", {"m.jsonl": line({"id": "u", "hypotheses": [{"text": "a", "score": -1}, "b"]})},
     "m.jsonl", [], "utterance u", "hypothesis 2 has no score while others do"),
    ("mlm-hyp-1-and-01", {"m.json": b'{"u": {"hyp_1": "a", "hyp_01": "b"}}'},
     "m.json", ["--format", "mlm"], "m.json: utterance u", "hyp_1 and hyp_01 both name hypothesis 1"),
    ("misspelt-key", {"k.jsonl": line({"id": "u", "refrence": "a", "hypotheses": ["a"]})},
     "k.jsonl", [], "k.jsonl line 1: utterance u", "unknown key 'refrence'"),
    ("float-id", {"f.jsonl": line({"id": 1.5, "hypotheses": ["a"]})},
     "f.jsonl", [], "f.jsonl line 1", "utterance id 1.5 is not a string or an integer"),
    ("bool-id", {"f.json": hypo({"id": True, "input": ["a"]})},
     "f.json", [], "f.json: item 0", "utterance id True is not a string or an integer"),
    # broken structure, found only by reading on (the store has been written to by then)
    ("bad-last-line", {"l.jsonl": MANY_GOOD + b'{"id": "z", "hypotheses": [}\n'},
     "l.jsonl", [], "l.jsonl line 5001", "invalid JSON"),
    ("truncated-document", {"t.json": hypo(*[{"input": ["a b"], "output": "a b"}] * 3000)[:-40]},
     "t.json", [], "t.json line 1", "the file ends early: truncated?"),
    ("trailing-data", {"t.json": hypo({"input": ["a"]}) + b" []"},
     "t.json", [], "t.json line 1", "Extra data after the top-level value"),
    ("trailing-comma", {"t.json": b'[{"input": ["a"]},]'},
     "t.json", [], "t.json line 1", "invalid JSON (Expecting value)"),
    ("too-many-hypotheses", {"m.jsonl": line({"id": "u", "hypotheses": ["a"] * 10_001})},
     "m.jsonl", [], "utterance u", "10,001 hypotheses in one list (at most 10,000)"),
    ("nemo-tab-in-text", {"n.tsv": b"a\tb\t-1\n", "m.json": b'{"text": "a b"}\n'},
     "n.tsv", ["--manifest", "MANIFEST"], "n.tsv line 1", "found 3 field(s)"),
    ("reference-for-jsonl", {"g.jsonl": GOOD_JSONL.encode(), "ref.txt": KALDI_REF},
     "g.jsonl", ["--reference", "REF"], "g.jsonl", "--reference is for Kaldi and ESPnet only"),
    ("manifest-for-hyporadise", {"g.json": hypo({"input": ["a"]}), "m.json": b'{"text": "a"}\n'},
     "g.json", ["--manifest", "MANIFEST"], "g.json", "--manifest is for NeMo TSV only"),
    ("beam-size-for-jsonl", {"g.jsonl": GOOD_JSONL.encode()},
     "g.jsonl", ["--beam-size", "2"], "g.jsonl", "--beam-size is for NeMo TSV only (this is jsonl)"),
    # Kaldi
    ("kaldi-no-rank", {"k/text": b"utt1 the cat\n"}, "k/text", ["--format", "kaldi"], "text line 1",
     "key 'utt1' does not end in -RANK"),
    ("kaldi-rank-gap", {"k/text": b"utt1-1 a\nutt1-3 b\n"}, "k", [], "text line 1: utterance utt1",
     "has rank 3 without rank 2"),
    ("kaldi-rank-twice", {"k/text": b"utt1-1 a\nutt1-1 b\n"}, "k", [], "utterance utt1", "has rank 1 twice"),
    ("kaldi-cost-order", {"k/text": KALDI_TEXT, "k/ac_cost": b"utt1-2 10\nutt1-1 12\nutt2-1 5\nutt2-2 6\n",
                          "k/lm_cost": b"utt1-1 1\nutt1-2 2\nutt2-1 3\nutt2-2 4\n"},
     "k", [], "ac_cost line 1", "is for utt1-2 but text line 1 is for utt1-1"),
    ("kaldi-cost-nan", {"k/text": KALDI_TEXT, "k/lm_cost": b"utt1-1 1\nutt1-2 nan\nutt2-1 3\nutt2-2 4\n"},
     "k", [], "lm_cost line 2", "lm_cost 'nan' is not a number"),
    ("kaldi-cost-short", {"k/text": KALDI_TEXT, "k/ac_cost": b"utt1-1 1\nutt1-2 2\n"},
     "k", [], "ac_cost", "ends before hypothesis utt2-1 (text line 3)"),
    ("kaldi-reference-missing", {"k/text": KALDI_TEXT, "ref.txt": b"utt1 the cat sat\n"},
     "k", ["--reference", "REF"], "text line 3: utterance utt2", "has no line in the reference"),
    ("kaldi-reference-twice", {"k/text": KALDI_TEXT, "ref.txt": KALDI_REF + b"utt1 again\n"},
     "k", ["--reference", "REF"], "ref.txt line 3: utterance utt1", "appears twice in the reference"),
    ("kaldi-split-utterance", {"k/text": b"utt1-1 a\nutt2-1 b\nutt1-2 c\n"},
     "k", [], "text line 3: utterance utt1", "has rank 2 without rank 1 (ranks must be 1..n and the lines of one "
     "utterance together)"),
    # ESPnet
    ("espnet-rank-gap", espnet(**{"1": (b"u1 a\n", b"u1 -1\n"), "3": (b"u1 c\n", b"u1 -3\n")}),
     "dec", [], "dec", "has 3best_recog/ but no 2best_recog/"),
    ("espnet-tensor-nan", espnet(**{"1": (b"u1 a\n", b"u1 tensor(nan)\n")}),
     "dec", [], "score line 1", "score 'nan' is not a number"),
    ("espnet-score-order", espnet(**{"1": (b"u1 a\nu2 b\n", b"u2 -1\nu1 -2\n")}),
     "dec", [], "score line 1", "does not match text line 1 (u1)"),
    ("espnet-stray-utterance", espnet(**{"1": (b"u1 a\n", b"u1 -1\n"), "2": (b"u9 b\n", b"u9 -2\n")}),
     "dec", [], "2best_recog/text line 1: utterance u9", "is not in 1best_recog/text, or not in its order"),
    ("espnet-score-missing", espnet(**{"1": (b"u1 a\n", b"u1 -1\n"), "2": (b"u1 b\n", None)}),
     "dec", [], "2best_recog", "has no 'score' file while other ranks do"),
]


def _write(tmp_path, files):
    for rel, data in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def _args(tmp_path, args):
    subst = {"REF": tmp_path / "ref.txt", "MANIFEST": tmp_path / "m.json"}
    return [str(subst.get(a, a)) for a in args]


def _rows(db_path):
    conn = sqlite3.connect(db_path)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("datasets", "utterances", "hypotheses")}
    finally:
        conn.close()


def test_at_least_thirty_malformed_cases_across_formats():
    assert len(MALFORMED) >= 30
    assert len({c[0] for c in MALFORMED}) == len(MALFORMED)


@pytest.mark.parametrize("case, files, target, args, names, message", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_input_is_one_line_and_leaves_the_store_unchanged(tmp_path, db_path, case, files, target, args,
                                                                    names, message):
    (tmp_path / "good.jsonl").write_text(GOOD_JSONL)
    assert run(db_path, "import", tmp_path / "good.jsonl").exit_code == 0
    before, rows = db_path.read_bytes(), _rows(db_path)
    _write(tmp_path, files)

    res = run(db_path, "import", tmp_path / target, *_args(tmp_path, args))

    assert res.exit_code == 1, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("lorascope: ")
    assert names in lines[0], lines[0]
    assert message in lines[0], lines[0]
    assert _rows(db_path) == rows
    assert db_path.read_bytes() == before
    assert not db_path.with_name(db_path.name + "-wal").exists()


def test_limits_on_one_line_and_one_json_item(tmp_path, db_path, monkeypatch):
    monkeypatch.setattr(source, "MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(source, "MAX_ITEM_CHARS", 1000)
    (tmp_path / "long.jsonl").write_bytes(GOOD_JSONL.encode() + line({"id": "b", "hypotheses": ["x" * 2000]}))
    (tmp_path / "big.json").write_bytes(hypo({"input": ["a"]}, {"input": ["x" * 3 * 2**20]}))
    res = run(db_path, "import", tmp_path / "long.jsonl")
    assert res.exit_code == 1 and "long.jsonl line 2: longer than 1,000 bytes" in res.stderr
    res = run(db_path, "import", tmp_path / "big.json")
    assert res.exit_code == 1 and "big.json: item 1: larger than 1,000 characters" in res.stderr
    assert _rows(db_path) == {"datasets": 0, "utterances": 0, "hypotheses": 0}


# -- odd but valid ----------------------------------------------------------------------------------


def imported(db_path, path, *args):
    res = run(db_path, "import", path, *args)
    assert res.exit_code == 0, res.output
    return res


def stored(db_path, name):
    from lorascope.store import Store

    with Store(db_path) as s:
        return s.load_dataset(name), s.dataset(name)


def test_valid_utf8_bom_and_crlf_line_endings(tmp_path, db_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_JSONL.replace("\n", "\r\n").encode() * 1)
    imported(db_path, path)
    (u,), info = stored(db_path, "bom")
    assert u.id == "a" and u.texts == ["the cat sat", "the cats at"] and info.one_best_wer == 0.0


def test_valid_blank_lines_and_no_final_newline(tmp_path, db_path):
    path = tmp_path / "blank.jsonl"
    path.write_text("\n  \n" + GOOD_JSONL + "\n\t\n" + line({"id": "b", "hypotheses": ["x"]}).decode().strip())
    imported(db_path, path)
    utts, _ = stored(db_path, "blank")
    assert [u.id for u in utts] == ["a", "b"]


def test_valid_escaped_surrogate_pair_and_unicode_line_separator(tmp_path, db_path):
    # U+2028 is legal inside a JSON string; splitting lines on it (str.splitlines) would break the line
    path = tmp_path / "uni.jsonl"
    path.write_bytes(b'{"id": "u", "reference": "smile \\ud83d\\ude00", "hypotheses": ["smile \xf0\x9f\x98\x80", '
                     b'"a\xe2\x80\xa8b"]}\n')
    imported(db_path, path)
    (u,), _ = stored(db_path, "uni")
    assert u.reference == "smile \U0001F600" and u.texts[1] == "a\u2028b"


def test_valid_integer_ids_and_scores(tmp_path, db_path):
    path = tmp_path / "ints.jsonl"
    path.write_bytes(line({"id": 7, "hypotheses": [{"text": "a", "score": -3}, {"text": "b", "score": -4}]}))
    imported(db_path, path)
    (u,), info = stored(db_path, "ints")
    assert u.id == "7" and [h.score for h in u.hypotheses] == [-3.0, -4.0] and info.scores == "scored"


def test_valid_nemo_number_spellings(tmp_path, db_path):
    (tmp_path / "n.tsv").write_bytes(b"a b\t-1.5e-3\r\na c\t+2\r\nx\t.5\r\nx y\t-0\r\n")
    (tmp_path / "m.json").write_bytes(b'{"id": "one", "text": "a b"}\n{"id": "two", "text": "x y"}\n')
    imported(db_path, tmp_path / "n.tsv", "--manifest", tmp_path / "m.json")
    utts, info = stored(db_path, "n")
    assert [h.score for u in utts for h in u.hypotheses] == [-0.0015, 2.0, 0.5, -0.0]
    assert info.oracle_wer == 0.0


def test_valid_pretty_printed_hyporadise_with_null_am_score(tmp_path, db_path):
    doc = [{"instruction": "pick one", "input": ["a b", "a c"], "output": "a c", "am_score": None,
            "score": [-1, -2], "extra": {"nested": [1, {"deep": [2]}]}}]
    (tmp_path / "pretty.json").write_bytes(json.dumps(doc, indent=4).replace("\n", "\r\n").encode())
    imported(db_path, tmp_path / "pretty.json")
    (u,), info = stored(db_path, "pretty")
    assert [h.score for h in u.hypotheses] == [-1.0, -2.0] and info.one_best_wer == 0.5


def test_valid_meta_nested_at_the_limit(tmp_path, db_path):
    deep: object = 1
    for _ in range(31):
        deep = [deep]
    (tmp_path / "deep.jsonl").write_bytes(line({"id": "u", "hypotheses": ["a"], "meta": {"k": deep}}))
    imported(db_path, tmp_path / "deep.jsonl")
    (u,), _ = stored(db_path, "deep")
    assert u.meta == {"k": deep}


def test_valid_whitespace_and_bare_cr_between_json_tokens(tmp_path, db_path):
    (tmp_path / "ws.jsonl").write_bytes(b'\t{"id":"u",\r "hypotheses":\t["a"]}  \n')
    imported(db_path, tmp_path / "ws.jsonl")
    (u,), _ = stored(db_path, "ws")
    assert u.texts == ["a"]


def test_valid_kaldi_sorted_text_empty_hypothesis_and_dashed_ids(tmp_path, db_path):
    k = tmp_path / "nbest"
    k.mkdir()
    ranks = [1, 10, 11, 2, 3, 4, 5, 6, 7, 8, 9]  # `sort` order
    (k / "text").write_text("".join(f"1089-134686-0000-{r} w{r}\n" for r in ranks) + "1089-134686-0001-1\n")
    imported(db_path, k)
    utts, info = stored(db_path, "nbest")
    assert [u.id for u in utts] == ["1089-134686-0000", "1089-134686-0001"]
    assert utts[0].texts == [f"w{r}" for r in range(1, 12)]
    assert utts[1].texts == [""] and info.scores == "rank-only" and info.one_best_wer is None


def test_valid_espnet_with_uneven_lists_and_both_score_spellings(tmp_path, db_path):
    _write(tmp_path, espnet(**{
        "1": (b"u1 the cat\nu2 a dog\n", b"u1 tensor(-1.25)\nu2 -0.5\n"),
        "2": (b"u1 the cap\nu2 a dock\n", b"u1 tensor(-2.5, device='cuda:0')\nu2 -0.75\n"),
        "3": (b"u1 a cat\n", b"u1 tensor([-3.0])\n"),
    }))
    (tmp_path / "ref.txt").write_bytes(b"u2 a dock\nu1 the cat\n")
    imported(db_path, tmp_path / "dec", "--reference", tmp_path / "ref.txt")
    utts, info = stored(db_path, "dec")
    assert [len(u.hypotheses) for u in utts] == [3, 2]
    assert [h.score for h in utts[0].hypotheses] == [-1.25, -2.5, -3.0]
    assert utts[1].reference == "a dock" and info.oracle_wer == 0.0 and info.one_best_wer == pytest.approx(1 / 4)


def test_valid_json_document_read_across_tiny_chunks_matches_the_json_module(tmp_path, monkeypatch):
    """Every chunk boundary (mid-string, mid-number, mid-escape) is crossed: the streamed parse equals json.loads."""
    items = [{"id": f"u{i}", "input": [f"w\u00e9{i} \\\" x", "b"], "am_score": [-1.5 * i - 1e-7, -12345.678e-3 * i],
              "output": "\u65e5\u672c " * (i % 3)} for i in range(40)]
    path = tmp_path / "chunks.json"
    path.write_text(json.dumps(items, ensure_ascii=False))
    monkeypatch.setattr(source, "CHUNK", 7)
    utts = read_nbest(path)
    assert [u.id for u in utts] == [it["id"] for it in items]
    assert [[h.score for h in u.hypotheses] for u in utts] == [it["am_score"] for it in items]
    assert [u.reference for u in utts] == [it["output"] for it in items]
    assert [u.texts for u in utts] == [it["input"] for it in items]


def test_valid_mlm_numeric_hypothesis_order_and_ignored_keys(tmp_path, db_path):
    (tmp_path / "m.json").write_bytes(b'{"u": {"hyp_2": "b", "hyp_10": "j", "hyp_1": "a", "ref": "a", '
                                      b'"hyp_x": "ignored", "note": [1, 2]}}')
    imported(db_path, tmp_path / "m.json", "--format", "mlm")
    (u,), _ = stored(db_path, "m")
    assert u.texts == ["a", "b", "j"]

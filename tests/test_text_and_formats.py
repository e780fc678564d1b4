"""Text normalisation and the four N-best readers (plus the JSONL writer)."""

from __future__ import annotations

import json
import math

import pytest

from lorascope.core.errors import InputError
from lorascope.core.formats import read_nbest, sniff_format, write_jsonl
from lorascope.core.nbest import Hypothesis, Utterance
from lorascope.core.text import normalize

from .conftest import HYPORADISE


@pytest.mark.parametrize("raw, expected", [
    ("Hello, World!", "hello world"),
    ("  Mr.  Smith's   dog  ", "mr smith's dog"),
    ("It\u2019s a well-known fact.", "it's a well known fact"),
    ("'Quoted' words", "quoted words"),
    ("ÉCOLE", "école"),
    ("", ""),
])
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_jsonl_round_trip(tmp_path):
    utts = [
        Utterance("a", (Hypothesis("the cat", -0.1, {"total_logprob": -0.4}), Hypothesis("the cap", -0.9)),
                  "the cat", {"voice": "kal"}),
        Utterance("b", (Hypothesis("no score"),), None),
    ]
    path = tmp_path / "x.jsonl"
    assert write_jsonl(utts, path) == 2
    back = read_nbest(path)
    assert back == utts
    assert back[0].hypotheses[0].extra == {"total_logprob": -0.4}
    assert back[0].meta == {"voice": "kal"}
    assert back[0].has_scores and not back[1].has_scores


def test_hyporadise_with_and_without_scores(tmp_path):
    path = tmp_path / "h.json"
    path.write_text(json.dumps([
        {"input": ["a b", "a c"], "output": "a b", "am_score": [-1.0, -2.5]},
        {"input": ["x"], "output": "y"},
    ]))
    utts = read_nbest(path)
    assert sniff_format(path) == "hyporadise"
    assert [h.score for h in utts[0].hypotheses] == [-1.0, -2.5]
    assert utts[1].hypotheses[0].score is None and utts[1].reference == "y"
    assert utts[0].id == "0" and utts[1].id == "1"


def test_mlm_scoring_json_orders_hypotheses_numerically(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"utt1": {"hyp_10": {"score": -9, "text": "ten"}, "hyp_2": {"score": -2, "text": "two"},
                                         "hyp_1": {"score": -1, "text": "one"}, "ref": "one"}}))
    (u,) = read_nbest(path)
    assert sniff_format(path) == "mlm"
    assert u.texts == ["one", "two", "ten"] and u.reference == "one"


def test_nemo_tsv_with_manifest(tmp_path):
    tsv = tmp_path / "beams.tsv"
    tsv.write_text("a b\t-1.5\na c\t-2.0\nx y\t-0.5\nx z\t-3.25\n")
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"audio_filepath": "1.wav", "text": "a b"}\n{"audio_filepath": "2.wav", "text": "x z"}\n')
    utts = read_nbest(tsv, manifest=manifest)
    assert sniff_format(tsv) == "nemo"
    assert [u.id for u in utts] == ["1.wav", "2.wav"]
    assert utts[1].texts == ["x y", "x z"] and utts[1].hypotheses[1].score == -3.25
    assert read_nbest(tsv, manifest=manifest, beam_size=2) == utts


def test_rank_only_prior_and_worst_index():
    scored = Utterance("s", (Hypothesis("a", -1.0), Hypothesis("b", -5.0), Hypothesis("c", -2.0)))
    plain = Utterance("p", (Hypothesis("a"), Hypothesis("b"), Hypothesis("c")))
    # the first pass is the list order: its worst hypothesis is the last, whatever the scores say
    assert scored.worst_index() == 2 and scored.scores_disagree
    assert plain.worst_index() == 2 and not plain.scores_disagree
    assert plain.prior_scores() == [0.0, -1.0, -2.0]


@pytest.mark.skipif(not HYPORADISE.exists(), reason="needs ../shared/data beside the checkout")
def test_real_hyporadise_file_reads_every_utterance():
    utts = read_nbest(HYPORADISE)
    assert len(utts) == 2939
    assert all(len(u.hypotheses) == 5 and u.reference for u in utts)
    assert not any(u.has_scores for u in utts)


def test_nan_rejected_even_though_python_json_accepts_it(tmp_path):
    path = tmp_path / "n.jsonl"
    path.write_text('{"id": "u", "hypotheses": [{"text": "a", "score": NaN}]}\n')
    with pytest.raises(InputError, match="line 1: utterance u: hypothesis 1: score nan is not a finite number"):
        read_nbest(path)
    assert math.isnan(float("nan"))

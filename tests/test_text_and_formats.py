"""Text normalisation and the four N-best readers (plus the JSONL writer)."""

from __future__ import annotations

import json
import math

import pytest

from lorascope.core.errors import InputError
from lorascope.core.data.formats import read_nbest, sniff_format, write_jsonl
from lorascope.core.data.nbest import Hypothesis, Utterance
from lorascope.core.data.text import normalize

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


# -- Kaldi and ESPnet -------------------------------------------------------------------------------


def kaldi_folder(tmp_path, costs=True):
    """A real-shaped nbest-to-linear output: text, ac_cost and lm_cost of two 3-best lists."""
    k = tmp_path / "nbest"
    k.mkdir()
    (k / "text").write_text("2830-3980-0043-1 the cat sat\n2830-3980-0043-2 the cats at\n2830-3980-0043-3 a cat sat\n"
                            "2830-3980-0044-1 a dock\n2830-3980-0044-2 a dog\n2830-3980-0044-3 the dock\n")
    if costs:
        (k / "ac_cost").write_text("2830-3980-0043-1 2100.5\n2830-3980-0043-2 2090.25\n2830-3980-0043-3 2300\n"
                                   "2830-3980-0044-1 800\n2830-3980-0044-2 810.5\n2830-3980-0044-3 790\n")
        (k / "lm_cost").write_text("2830-3980-0043-1 40.5\n2830-3980-0043-2 52.25\n2830-3980-0043-3 41\n"
                                   "2830-3980-0044-1 20\n2830-3980-0044-2 18.5\n2830-3980-0044-3 25\n")
    ref = tmp_path / "ref.txt"
    ref.write_text("2830-3980-0044 a dog\n2830-3980-0043 the cat sat\n")
    return k, ref


def test_kaldi_folder_scores_features_and_reference(tmp_path):
    k, ref = kaldi_folder(tmp_path)
    assert sniff_format(k) == "kaldi" and sniff_format(k / "text") == "kaldi"
    utts = read_nbest(k, reference=ref)
    assert [u.id for u in utts] == ["2830-3980-0043", "2830-3980-0044"]
    assert [u.reference for u in utts] == ["the cat sat", "a dog"]
    h = utts[0].hypotheses[1]
    assert h.text == "the cats at" and h.extra == {"ac_cost": 2090.25, "lm_cost": 52.25}
    assert h.score == pytest.approx(-(52.25 + 0.1 * 2090.25))
    assert read_nbest(k / "text", "kaldi", reference=ref) == utts  # the text file gives the same lists
    scaled = read_nbest(k, reference=ref, acoustic_scale=1.0)
    assert scaled[0].hypotheses[1].score == pytest.approx(-(52.25 + 2090.25))
    # 0043: -250.55 > -261.275 > -271; 0044: -100 < -99.55 (the second list's order and scores disagree)
    assert not utts[0].scores_disagree and utts[1].scores_disagree


def test_kaldi_text_alone_is_rank_only(tmp_path):
    k, _ = kaldi_folder(tmp_path, costs=False)
    (k / "lm_cost").write_text("".join(f"{line.split()[0]} 1.5\n" for line in (k / "text").read_text().splitlines()))
    utts = read_nbest(k)
    assert not any(u.has_scores for u in utts) and utts[0].reference is None
    assert utts[0].hypotheses[0].extra == {"lm_cost": 1.5}  # the cost that is there is kept as a feature


def espnet_folder(tmp_path, espnet2=True):
    d = tmp_path / "decode_asr" / "test_clean"
    for k, (text, score) in enumerate([("u1 the cat sat\nu2 a dock\n", (-1.5, -2.25)),
                                       ("u1 the cats at\nu2 a dog\n", (-3.0, -2.5))], 1):
        folder = d / f"{k}best_recog"
        folder.mkdir(parents=True)
        (folder / "text").write_text(text)
        spell = (lambda v: f"tensor({v})") if espnet2 else str
        (folder / "score").write_text(f"u1 {spell(score[0])}\nu2 {spell(score[1])}\n")
    ref = tmp_path / "text"
    ref.write_text("u1 the cat sat\nu2 a dog\n")
    return d, ref


@pytest.mark.parametrize("espnet2", [True, False], ids=["espnet2-tensor", "espnet1-float"])
def test_espnet_decode_folder(tmp_path, espnet2):
    d, ref = espnet_folder(tmp_path, espnet2)
    assert sniff_format(d) == "espnet"
    utts = read_nbest(d, reference=ref)
    assert [u.texts for u in utts] == [["the cat sat", "the cats at"], ["a dock", "a dog"]]
    assert [[h.score for h in u.hypotheses] for u in utts] == [[-1.5, -3.0], [-2.25, -2.5]]
    assert [u.reference for u in utts] == ["the cat sat", "a dog"]


def test_a_plain_text_file_is_not_taken_for_kaldi(tmp_path):
    words_file = tmp_path / "notes.txt"
    words_file.write_text("meeting-1 notes about things\n")
    with pytest.raises(InputError, match="unknown format"):
        sniff_format(words_file)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="neither a Kaldi N-best folder"):
        sniff_format(tmp_path / "empty")


# -- streaming --------------------------------------------------------------------------------------


def test_readers_stream_a_problem_far_into_the_file_is_met_only_when_reached(tmp_path):
    from lorascope.core.data.formats import iter_nbest

    good = [{"input": ["a b"], "output": "a b"}] * 50_000
    path = tmp_path / "late.json"
    path.write_text(json.dumps(good)[:-1] + ', {"input": [1]}]')
    utts = iter_nbest(path)
    assert next(utts).texts == ["a b"]  # read without looking at the end of the 1.7 MB document
    with pytest.raises(InputError, match="item 50000 .*hypothesis 1: text is not a string"):
        for _ in utts:
            pass


def test_progress_reports_bytes_up_to_the_whole_file(tmp_path):
    from lorascope.core.data.formats import iter_nbest

    path = tmp_path / "p.jsonl"
    write_jsonl([Utterance(f"u{i}", (Hypothesis("a b c d e f g h"),), "a b") for i in range(60_000)], path)
    seen = []
    n = sum(1 for _ in iter_nbest(path, progress=lambda done, total: seen.append((done, total))))
    size = path.stat().st_size
    assert n == 60_000 and size > 3 * 2**20
    assert len(seen) >= 3 and seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and {t for _, t in seen} == {size}

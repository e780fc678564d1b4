"""The perturbation models (paper round trip, mined confusions, lexicon) on real lists with the real index."""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

from lorascope.cli import cli
from lorascope.samples import sample_data_dir
from lorascope.core.perturbation.confusions import ConfusionPair, mine_confusions
from lorascope.core.errors import InputError
from lorascope.core.data.formats import read_nbest
from lorascope.core.data.nbest import Hypothesis, Utterance
from lorascope.core.perturbation.perturb import perturb_all, perturb_one, perturb_utterances, token_candidates
from lorascope.core.perturbation.models import (LexiconConfig, MinedConfig, PaperConfig, parse_perturbation, perturbation_for,
                                                perturbation_config)
from lorascope.core.perturbation.robustness import evaluate_robustness


def utt(uid, ref, *hyps):
    return Utterance(uid, tuple(Hypothesis(t) for t in hyps), reference=ref)


# A small real N-best list: each hypothesis has the recogniser-style sound-alike errors of a first pass.
SMALL = [
    utt("s1", "i think there is maybe a right way to know",
        "i think their is may be a right way to know", "i think their is maybe a write way to know",
        "i think there is may be a right way to no"),
    utt("s2", "is there any thing to eat", "is their anything to eat", "is there anything to eat",
        "is their any thing to eat"),
    utt("s3", "the knight rode at night", "the night rode at night", "the knight road at night"),
]


def words_changed(result):
    return {(e.old.lower(), e.new.lower()) for e in result.edits}


def test_round_trip_maps_rare_homophones_to_the_common_spelling_and_leaves_common_words_alone(index):
    u = utt("rt", "x", "wee knight ore eye we are a night or the cat")
    found = {i: token_candidates(u, 0, i, index=index) for i in range(len(u.hypotheses[0].text.split()))}
    assert [c.text for c in found[0]] == ["we"] and [c.text for c in found[1]] == ["night"]
    assert [c.text for c in found[2]] == ["or"] and [c.text for c in found[3]] == ["i"]
    for i in range(4, 11):
        assert found[i] == (), u.hypotheses[0].text.split()[i]  # common words come back as themselves
    assert all(c.source == "round trip" and c.kind == "homophone" and c.distance == 0.0 and c.label == "round trip"
               for i in range(4) for c in found[i])
    # At p = 1 exactly the round-trip words change; the default model is the paper's.
    result = perturb_all(u, p=1.0, seed=0, index=index)
    assert result.utterance.hypotheses[0].text == "we night or i we are a night or the cat"
    assert result.model == {"name": "paper", "margin": 1.0, "phrase_weight": 0.01}
    assert {e.source for e in result.edits} == {"round trip"}


def test_round_trip_merges_two_words_spelled_as_one_and_margin_keeps_close_calls(index):
    u = utt("m", "x", "is there some one here")
    merge = token_candidates(u, 0, 2, index=index)
    assert [(c.text, c.kind, c.span) for c in merge] == [("someone", "merge", 2)]
    # there -> their is a near tie in word frequency; a margin of 3 asks the other spelling to be 3x as common.
    assert [c.text for c in token_candidates(u, 0, 1, index=index)] == ["their"]
    assert token_candidates(u, 0, 1, index=index, model="paper:margin=3") == ()
    assert [c.text for c in token_candidates(utt("w", "x", "wee"), 0, 0, index=index, model="paper:margin=3")] == ["we"]


def test_mined_confusions_come_from_a_real_alignment(index):
    found = mine_confusions(SMALL, index=index)
    pairs = {(p.reference, p.hypothesis): p for p in found.pairs}
    assert pairs[("there", "their")].count == 4 and pairs[("there", "their")].kind == "substitution"
    assert pairs[("maybe", "may be")].count == 2 and pairs[("maybe", "may be")].kind == "split"
    assert pairs[("any thing", "anything")].count == 2 and pairs[("any thing", "anything")].kind == "merge"
    assert pairs[("knight", "night")].count == 1 and pairs[("right", "write")].count == 1
    assert pairs[("know", "no")].distance == 0.0 and pairs[("rode", "road")].count == 1
    # Every kept pair is a sound-alike; correct words are never pairs; most frequent first.
    assert all(p.distance <= found.max_distance and p.reference != p.hypothesis for p in found.pairs)
    assert [p.count for p in found.pairs] == sorted((p.count for p in found.pairs), reverse=True)
    assert (found.utterances, found.hypotheses) == (3, 8)
    # Rates: "there" is in the reference of 6 aligned hypotheses (s1's 3 and s2's 3) and came out "their" 4 times.
    assert pairs[("there", "their")].reference_seen == 6
    assert pairs[("there", "their")].rate_to_hypothesis == pytest.approx(4 / 6)


def test_mined_confusions_of_the_sample_training_set(index):
    found = mine_confusions(read_nbest(sample_data_dir() / "train.jsonl", "jsonl"), index=index)
    top = found.pairs[0]
    assert (top.reference, top.hypothesis) == ("a", "the") and top.count > 100  # Whisper tiny's favourite
    assert {"substitution", "split", "merge"} <= {p.kind for p in found.pairs}


def test_mined_model_replaces_with_the_recognisers_confusions(index):
    model = MinedConfig(dataset="small", min_count=1, min_rate=0.0).mine(SMALL, index=index)
    u = utt("t", "x", "there is their way")
    cands = token_candidates(u, 0, 0, index=index, model=model)
    assert cands[0].text == "their" and cands[0].source == "mined" and cands[0].count == 4
    assert cands[0].label == "mined ×4"
    # to-reference only: "their" (written by the recogniser) goes back to "there", "there" has nothing to go to.
    back = dataclasses.replace(model, direction="to-reference")
    assert [c.text for c in token_candidates(u, 0, 2, index=index, model=back)] == ["there"]
    assert token_candidates(u, 0, 0, index=index, model=back) == ()
    split = token_candidates(utt("t", "x", "maybe"), 0, 0, index=index, model=model)
    assert [(c.text, c.kind) for c in split] == [("may be", "split")]
    # min_count drops the pairs seen once.
    assert token_candidates(utt("t", "x", "knight"), 0, 0, index=index,
                            model=dataclasses.replace(model, min_count=2)) == ()
    result = perturb_all(u, p=1.0, seed=0, index=index, model=model)
    assert result.edits and {e.source for e in result.edits} == {"mined"}
    assert result.model["name"] == "mined" and result.model["dataset"] == "small"


def test_mined_model_needs_a_data_set_and_its_confusions(index):
    with pytest.raises(InputError, match="needs the data set"):
        parse_perturbation("mined")
    with pytest.raises(InputError, match="not loaded"):
        perturb_all(SMALL[0], model="mined:from=sample-train", index=index)


def _models(index):
    mined = MinedConfig(dataset="small", min_count=1, min_rate=0.0).mine(SMALL, index=index)
    return {"paper": PaperConfig(), "mined": mined, "lexicon": LexiconConfig()}


@pytest.mark.parametrize("name", ["paper", "mined", "lexicon"])
def test_each_model_is_seeded_and_reproducible(index, name):
    model = _models(index)[name]
    lists = SMALL + read_nbest(sample_data_dir() / "test.jsonl", "jsonl")[:40]
    a = perturb_utterances(lists, "N", 0.5, 7, model=model, index=index)
    b = perturb_utterances(lists, "N", 0.5, 7, model=model, index=index)
    assert a == b and sum(len(x.edits) for x in a) > 0
    # A different seed gives different edits.
    c = perturb_utterances(lists, "N", 0.5, 8, model=model, index=index)
    assert [x.edits for x in c] != [x.edits for x in a]
    # perturb-1's edits are perturb-N's edits of the last hypothesis, and one list alone comes out the same.
    for u, every in zip(lists, a):
        one = perturb_one(u, 0.5, 7, model=model, index=index)
        assert one.edits == tuple(e for e in every.edits if e.hypothesis == u.worst_index())
    assert perturb_all(lists[5], 0.5, 7, model=model, index=index) == a[5]


@pytest.mark.parametrize("spec, match", [
    ("nope", "unknown model 'nope'"), ("", "expected NAME"), ("lexicon:top_k=0", "top_k"),
    ("lexicon:colour=red", "unknown setting colour"), ("lexicon:top_k", "expected key=value"),
    ("paper:margin=abc", "margin must be float"), ("paper:margin=0.5", "margin must be"),
    ("mined:from=x,direction=sideways", "direction"), ("mined:from=x,min_rate=2", "min_rate"),
    ("lexicon:max_distance=-1", "max_distance"),
])
def test_bad_models_and_settings_are_one_line_input_errors(spec, match):
    with pytest.raises(InputError, match=match) as err:
        parse_perturbation(spec)
    assert "\n" not in str(err.value) and str(err.value).startswith("perturbation")


def test_configs_by_name_and_their_specs_round_trip():
    with pytest.raises(InputError, match="known: paper, mined, lexicon"):
        perturbation_config("homophones")
    with pytest.raises(InputError, match="unknown setting top_k"):
        perturbation_config("paper", top_k=3)
    for spec in ["paper", "paper:margin=3.0", "lexicon:max_distance=0.0", "lexicon:top_k=2,max_distance=0.5",
                 "mined:dataset=sample-train", "mined:dataset=sample-train,min_count=3,direction=to-reference"]:
        cfg = parse_perturbation(spec)
        assert cfg.spec() == spec
        d = cfg.to_dict()
        assert perturbation_config(d.pop("name"), **d) == cfg
    assert parse_perturbation("mined:from=sample-train").dataset == "sample-train"
    assert parse_perturbation("lexicon:max_distance=none").max_distance is None


def test_a_commands_spec_becomes_a_config_with_the_runs_training_set_for_mined():
    assert perturbation_for(None) == PaperConfig()
    assert perturbation_for("lexicon:top_k=2", mined_from="train") == LexiconConfig(top_k=2)
    assert perturbation_for("mined", mined_from="train", under_test="test") == MinedConfig(dataset="train")
    assert perturbation_for("mined:min_count=3", mined_from="train").spec() == "mined:dataset=train,min_count=3"
    # a named set wins, even the set under test (only the default may not be it)
    assert perturbation_for("mined:from=test", mined_from="train", under_test="test").dataset == "test"
    assert perturbation_for("mined:dataset=other", mined_from="train").dataset == "other"
    for mined_from, under_test in ((None, "test"), ("test", "test")):
        with pytest.raises(InputError, match="mined:from=DATASET") as err:
            perturbation_for("mined", mined_from=mined_from, under_test=under_test)
        assert str(err.value).startswith("--perturbation mined")
    with pytest.raises(InputError, match="unknown setting colour"):
        perturbation_for("mined:colour=red", mined_from="train")


def test_robustness_report_records_the_model(index):
    def first_pass(lists):
        return [u.rank_prior() for u in lists]

    report = evaluate_robustness(SMALL, first_pass, modes=("N",), p=1.0, index=index, model="lexicon:max_distance=0")
    assert report.perturbation == {"name": "lexicon", "top_k": 5, "max_distance": 0.0}
    assert all(e.distance == 0.0 for run in report.runs for p in run.perturbations for e in p.edits)
    assert evaluate_robustness(SMALL, first_pass, modes=("N",), index=index).perturbation["name"] == "paper"
    # The older max_distance argument (lorascope robustness --max-distance) still asks for the lexicon.
    old = evaluate_robustness(SMALL, first_pass, modes=("N",), p=1.0, index=index, max_distance=0)
    assert old.perturbation == report.perturbation and old.runs == report.runs
    with pytest.raises(InputError, match="lexicon settings"):
        evaluate_robustness(SMALL, first_pass, index=index, model="paper", max_distance=0)


def test_confusions_command_prints_the_top_pairs(tmp_path):
    res = CliRunner().invoke(cli, ["--db", str(tmp_path / "s.db"), "confusions",
                                   str(sample_data_dir() / "train.jsonl"), "--top", "3"])
    assert res.exit_code == 0, res.output
    lines = [line for line in res.stdout.splitlines() if "│" in line]
    assert len(lines) == 3 and lines[0].split("│")[0].strip() == "a" and lines[0].split("│")[1].strip() == "the"
    res = CliRunner().invoke(cli, ["--db", str(tmp_path / "s.db"), "confusions", "no-such-set"])
    assert res.exit_code != 0 and "no-such-set" in res.output and len(res.output.strip().splitlines()) == 1

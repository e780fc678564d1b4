"""Synthetic N-best lists: text lines spoken by Debian TTS voices, noised with sox, decoded by a real recogniser.

One text line becomes one :class:`Utterance` whose reference is the line and whose hypotheses are a real
first-pass N-best list with the recogniser's own scores::

    line -> espeak-ng / flite (wav) -> sox (16 kHz mono float) -> + white/pink noise at a set SNR
         -> Whisper tiny.en / Whisper base (CTranslate2 beam search) or pocketsphinx -> N-best

Per-line choices (voice, rate, SNR, noise colour and noise segment) come from a random generator seeded
with ``(seed, line number)``, so a line gets the same audio whatever the worker count or the order in which
workers finish, and a resumed run continues exactly where an interrupted one stopped.

SNR definition: ``10 log10(P_speech / P_noise)`` where ``P_speech`` is the mean power of the active
20 ms frames of the speech (frames within 40 dB of the loudest one), so the silence the TTS engines put
around an utterance does not dilute it, and ``P_noise`` the mean power of the added noise.

Scores: Whisper's are CTranslate2 beam scores, the sum of token log-probabilities divided by the number
of generated tokens (length penalty 1), the value the beam ranked by; the sum itself is kept as the
hypothesis extra ``total_logprob``. Pocketsphinx's are natural logs of the path probabilities of its
lattice N-best. Hypotheses that are equal after :func:`lorascope.core.data.text.normalize` are merged,
keeping the better-scored one.

Nothing here prints; :func:`synth` reports progress through its ``progress`` callback.
"""

from __future__ import annotations

import importlib.util
import json
import math
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorascope.core.errors import InputError
from lorascope.core.data.formats import iter_jsonl, read_bytes, utterance_to_dict
from lorascope.core.data.nbest import Hypothesis, Utterance
# The names of the pipeline's parts are kept importable from here (lorascope synth and its tests use them).
from lorascope.core.synth.recognizers import (_LOG_FLOOR, _RECOGNIZER_MODULES, COMPUTE_TYPES, RECOGNIZERS,  # noqa: F401
                          WHISPER_MAX_SECONDS, load_recognizer, merge_equal)
from lorascope.core.synth.speech import (APT_HINT, BINARIES, DEFAULT_RATES, DEFAULT_SNRS, DEFAULT_VOICES, NOISE_COLOURS,  # noqa: F401
                     PIP_HINT, SAMPLE_RATE, MissingDependencyError, SynthError, Voice, active_speech_power, make_noise,
                     mix_at_snr, run_command, speak)
from lorascope.core.data.text import normalize  # noqa: F401

@dataclass(frozen=True)
class SynthConfig:
    """Everything that decides the audio and the N-best list of a line, apart from the line itself.

    ``snrs`` holds SNRs in dB; ``None`` means clean speech (no noise). ``beam_size`` defaults to ``nbest``.
    """

    voices: tuple[Voice, ...] = DEFAULT_VOICES
    rates: tuple[int, ...] = DEFAULT_RATES
    snrs: tuple[float | None, ...] = DEFAULT_SNRS
    noises: tuple[str, ...] = NOISE_COLOURS
    recognizer: str = "whisper-tiny"
    nbest: int = 8
    beam_size: int | None = None
    seed: int = 0
    id_prefix: str = "line-"
    compute_type: str = "int8"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "voices", tuple(v if isinstance(v, Voice) else Voice.parse(v) for v in self.voices))
        set_(self, "rates", tuple(self.rates))
        set_(self, "snrs", tuple(None if s is None else float(s) for s in self.snrs))
        set_(self, "noises", tuple(self.noises))
        if not self.voices:
            raise InputError("voices", "give at least one voice")
        if not self.rates:
            raise InputError("rates", "give at least one rate")
        for r in self.rates:
            if isinstance(r, bool) or not isinstance(r, int) or not 60 <= r <= 450:
                raise InputError("rates", f"rate {r!r} is not a whole number of words per minute in 60..450")
        if not self.snrs:
            raise InputError("snr", "give at least one SNR (or 'clean')")
        for s in self.snrs:
            if s is not None and not (math.isfinite(s) and -20 <= s <= 80):
                raise InputError("snr", f"SNR {s} dB is outside -20..80")
        if any(s is not None for s in self.snrs):
            if not self.noises:
                raise InputError("noise", "give at least one noise colour")
            for n in self.noises:
                if n not in NOISE_COLOURS:
                    raise InputError("noise", f"unknown noise colour {n!r} (choose from {', '.join(NOISE_COLOURS)})")
        if self.recognizer not in RECOGNIZERS:
            raise InputError("recognizer", f"unknown recogniser {self.recognizer!r} "
                             f"(choose from {', '.join(RECOGNIZERS)})")
        if isinstance(self.nbest, bool) or not isinstance(self.nbest, int) or self.nbest < 1:
            raise InputError("nbest", f"N-best size {self.nbest!r} must be a positive whole number")
        if self.beam_size is None:
            set_(self, "beam_size", self.nbest)
        if self.beam_size < self.nbest:  # type: ignore[operator]
            raise InputError("beam size", f"beam size {self.beam_size} is smaller than the N-best size {self.nbest}")
        if self.compute_type not in COMPUTE_TYPES:
            raise InputError("compute type", f"unknown compute type {self.compute_type!r} "
                             f"(choose from {', '.join(COMPUTE_TYPES)})")

    def meta(self) -> dict[str, Any]:
        """The run-wide settings recorded in every utterance's meta (next to the per-line choices)."""
        meta: dict[str, Any] = {"recognizer": self.recognizer, "nbest": self.nbest, "seed": self.seed}
        if self.recognizer.startswith("whisper"):
            meta.update(beam_size=self.beam_size, compute_type=self.compute_type)
        return meta


@dataclass(frozen=True)
class LineSettings:
    """The choices made for one line: voice, rate, SNR (``None`` = clean), noise colour and noise offset."""

    voice: Voice
    rate: int
    snr_db: float | None
    noise: str | None
    noise_offset: int  # samples of the noise source skipped, so each line gets its own noise


def line_settings(config: SynthConfig, line_no: int) -> LineSettings:
    """Choices for line ``line_no``, drawn from a generator seeded with ``(config.seed, line_no)`` only."""
    rng = random.Random(f"lorascope-synth:{config.seed}:{line_no}")
    voice = rng.choice(config.voices)
    rate = rng.choice(config.rates)
    snr = rng.choice(config.snrs)
    noise = rng.choice(config.noises) if snr is not None else None
    offset = rng.randrange(0, 10 * SAMPLE_RATE)
    return LineSettings(voice, rate, snr, noise, offset)


def utterance_id(line_no: int, prefix: str = "line-") -> str:
    """The id of the utterance made from line ``line_no`` (1-based) of the text file."""
    return f"{prefix}{line_no:06d}"


# -- input ------------------------------------------------------------------------------------------


def read_text_lines(path: str | Path) -> list[tuple[int, str]]:
    """``(line number, text)`` for every non-blank line of a UTF-8 text file (numbers are 1-based)."""
    path = Path(path)
    raw = read_bytes(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError(f"{path} line {line}", f"not UTF-8 text (bad byte at offset {exc.start})") from None
    if "\x00" in text:
        raise InputError(str(path), "binary data, not a text file")
    lines = [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise InputError(str(path), "empty file (no non-blank lines to speak)")
    return lines


# -- dependencies -----------------------------------------------------------------------------------


def check_requirements(config: SynthConfig) -> None:
    """Raise :class:`MissingDependencyError` naming the install command if a binary or package is missing."""
    needed = ["sox"] + sorted({BINARIES[v.engine] for v in config.voices})
    missing = [b for b in needed if shutil.which(b) is None]
    if missing:
        raise MissingDependencyError(f"{', '.join(missing)} not found on PATH; install with: {APT_HINT}")
    absent = [m for m in _RECOGNIZER_MODULES[config.recognizer] if importlib.util.find_spec(m) is None]
    if absent:
        raise MissingDependencyError(f"recogniser {config.recognizer} needs the Python package(s) "
                                     f"{', '.join(absent)}; install with: {PIP_HINT}")
    flite_voices = [v for v in config.voices if v.engine == "flite"]
    if flite_voices:
        # flite silently falls back to its default voice for an unknown name, so check the list.
        known = set(run_command(["flite", "-lv"], "flite -lv").decode().split(":", 1)[-1].split())
        for v in flite_voices:
            if v.name not in known:
                raise InputError(f"voice {v}", f"flite has no such voice (it has {', '.join(sorted(known))})")
    espeak_voices = [v for v in config.voices if v.engine == "espeak"]
    if espeak_voices:
        # probe each espeak-ng voice once here, so a typo fails before any work starts
        for v in espeak_voices:
            proc = subprocess.run(["espeak-ng", "-q", "-v", v.name, "a"], capture_output=True)
            if proc.returncode != 0 or b"does not exist" in proc.stderr:
                raise InputError(f"voice {v}", "espeak-ng has no such voice (see espeak-ng --voices=en)")


def render_audio(text: str, settings: LineSettings):
    """The audio of one line under ``settings``: TTS, resampling and, unless clean, noise at the set SNR."""
    speech = speak(text, settings.voice, settings.rate)
    if settings.snr_db is None or len(speech) == 0:
        return speech
    noise = make_noise(len(speech), settings.noise or "white", settings.noise_offset)
    return mix_at_snr(speech, noise, settings.snr_db)


# -- one line ---------------------------------------------------------------------------------------


def synthesize_line(line_no: int, text: str, config: SynthConfig, recognizer) -> Utterance:
    """The utterance for line ``line_no``: audio by :func:`render_audio`, N-best by ``recognizer``."""
    settings = line_settings(config, line_no)
    try:
        audio = render_audio(text, settings)
        hyps = recognizer.recognize(audio, config.nbest)
    except SynthError as exc:
        raise SynthError(f"line {line_no}: {exc}") from None
    if not hyps:
        hyps = [Hypothesis("", _LOG_FLOOR)]
    meta = {"line": line_no, "voice": str(settings.voice), "rate": settings.rate, "snr_db": settings.snr_db,
            "noise": settings.noise, "seconds": round(len(audio) / SAMPLE_RATE, 3), "model": recognizer.model_name}
    meta.update(config.meta())
    return Utterance(utterance_id(line_no, config.id_prefix), tuple(hyps), text, meta)


# -- many lines -------------------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _worker_init(config: SynthConfig) -> None:
    # Ctrl-C reaches the whole process group; only the parent should act on it (and end the pool)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker["config"] = config
    try:
        _worker["recognizer"] = load_recognizer(config, threads=1)
    except Exception as exc:  # noqa: BLE001 - a failing initializer makes Pool respawn workers forever
        _worker["error"] = f"{config.recognizer} could not be loaded: {exc}"


def _worker_line(item: tuple[int, str]) -> Utterance:
    if "error" in _worker:
        raise SynthError(_worker["error"])
    return synthesize_line(item[0], item[1], _worker["config"], _worker["recognizer"])


def default_jobs() -> int:
    """The number of CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def synthesize(lines: Sequence[tuple[int, str]], config: SynthConfig, *, jobs: int = 1) -> Iterator[Utterance]:
    """Utterances for ``(line number, text)`` pairs, in the order given, using ``jobs`` worker processes.

    Each worker loads the recogniser once and runs CTranslate2 on one thread; results come back in input
    order whatever order the workers finish in. Workers are spawned, so a script that calls this with
    ``jobs > 1`` needs the usual ``if __name__ == "__main__":`` guard.
    """
    if not lines:
        return
    jobs = max(1, min(jobs, len(lines)))
    if jobs == 1:
        recognizer = load_recognizer(config, threads=1)
        for line_no, text in lines:
            yield synthesize_line(line_no, text, config, recognizer)
        return
    # spawn, not fork: CTranslate2 and OpenMP state do not survive a fork safely
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(jobs, initializer=_worker_init, initargs=(config,)) as pool:
        yield from pool.imap(_worker_line, lines, chunksize=1)


# -- resuming and writing ---------------------------------------------------------------------------


def read_done(out_path: str | Path, config: SynthConfig) -> set[str]:
    """Ids already in ``out_path`` (absent file: none). A torn last line from an interrupted write is cut off.

    Raises :class:`InputError` if the file was made with other run-wide settings (seed, recogniser, N-best size),
    since appending would mix two different sets.
    """
    path = Path(out_path)
    if not path.exists():
        return set()
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        # an interrupted append leaves a partial last line; drop it so the line is made again
        keep = raw.rfind(b"\n") + 1
        with open(path, "r+b") as f:
            f.truncate(keep)
        raw = raw[:keep]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(str(path), f"exists but is not UTF-8 text (bad byte at offset {exc.start}); "
                         "not resuming into it") from None
    done: set[str] = set()
    want = config.meta()
    for where, utt in iter_jsonl(path, text, invalid_hint="; not resuming into it"):
        have = {k: utt.meta.get(k) for k in want}
        if have != want:
            diff = ", ".join(f"{k} {have[k]!r} (now {want[k]!r})" for k in want if have[k] != want[k])
            raise InputError(where, f"was made with other settings: {diff}; use the same options or "
                             "another output file")
        done.add(utt.id)
    return done


@dataclass(frozen=True)
class SynthReport:
    """What a :func:`synth` run did: lines in the text, lines already in the output, utterances written."""

    lines: int
    skipped: int
    written: int
    output: Path
    config: SynthConfig = field(compare=False)


ProgressCallback = Callable[[int, int], None]


def synth(text_file: str | Path, output: str | Path, config: SynthConfig | None = None, *, jobs: int | None = None,
          limit: int | None = None, progress: ProgressCallback | None = None) -> SynthReport:
    """Speak every non-blank line of ``text_file``, decode it, and append the utterances to ``output`` (JSONL).

    Lines whose utterance id is already in ``output`` are skipped, so an interrupted run resumes; the file is
    written in line order and flushed after each utterance. ``limit`` keeps only the first ``limit`` non-blank
    lines. ``progress(done, total)`` is called after each utterance written in this run (and once at the start).
    """
    config = config or SynthConfig()
    lines = read_text_lines(text_file)
    if limit is not None:
        if limit < 1:
            raise InputError("limit", f"{limit} must be at least 1")
        lines = lines[:limit]
    check_requirements(config)
    out = Path(output)
    done = read_done(out, config)
    todo = [(n, t) for n, t in lines if utterance_id(n, config.id_prefix) not in done]
    skipped = len(lines) - len(todo)
    if progress:
        progress(0, len(todo))
    written = 0
    if todo:
        out.parent.mkdir(parents=True, exist_ok=True)
        utterances = synthesize(todo, config, jobs=jobs or default_jobs())
        try:
            with open(out, "a", encoding="utf-8") as f:
                for utt in utterances:
                    f.write(json.dumps(utterance_to_dict(utt), ensure_ascii=False) + "\n")
                    f.flush()
                    written += 1
                    if progress:
                        progress(written, len(todo))
        finally:
            utterances.close()  # ends the worker pool at once, also on an error or Ctrl-C
    return SynthReport(len(lines), skipped, written, out, config)

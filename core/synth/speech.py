"""Speech for synthetic N-best lists: text spoken by espeak-ng or flite, resampled with sox, and noise at a set SNR.

SNR definition: ``10 log10(P_speech / P_noise)`` where ``P_speech`` is the mean power of the active
20 ms frames of the speech (frames within 40 dB of the loudest one), so the silence the TTS engines put
around an utterance does not dilute it, and ``P_noise`` the mean power of the added noise.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lorascope.core.errors import InputError, LorascopeError

SAMPLE_RATE = 16000
TTS_ENGINES = ("espeak", "flite")
NOISE_COLOURS = ("white", "pink")

APT_HINT = "apt-get install espeak-ng flite sox"
PIP_HINT = "pip install 'lorascope[synth]'"

# espeak-ng's default speaking rate; flite has no words-per-minute knob, so a rate r becomes
# duration_stretch = ESPEAK_DEFAULT_RATE / r, which makes the two engines about equally fast.
ESPEAK_DEFAULT_RATE = 175

BINARIES = {"espeak": "espeak-ng", "flite": "flite"}


class MissingDependencyError(LorascopeError):
    """A program or Python package that synthesis needs is not installed; the message says how to install it."""


class SynthError(LorascopeError):
    """Synthesis or recognition of one line failed (one picklable line, so it crosses process boundaries)."""


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




def run_command(cmd: Sequence[str], what: str, stdin: bytes | None = None) -> bytes:
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

    raw = run_command(["sox", "-V1", str(wav), "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1",
                "-e", "floating-point", "-b", "32", "-L", "-"], what)
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def speak(text: str, voice: Voice, rate: int):
    """``text`` spoken by ``voice`` at ``rate`` words per minute: float32 samples, 16 kHz mono."""
    with tempfile.TemporaryDirectory(prefix="lorascope-synth-") as tmp:
        wav = Path(tmp) / "tts.wav"
        if voice.engine == "espeak":
            # text on stdin, so a line that starts with '-' is not read as an option
            run_command(["espeak-ng", "-v", voice.name, "-s", str(rate), "-w", str(wav)], f"espeak-ng ({voice.name})",
                 stdin=text.encode("utf-8"))
        else:
            txt = Path(tmp) / "text.txt"
            txt.write_text(text, encoding="utf-8")
            stretch = ESPEAK_DEFAULT_RATE / rate
            run_command(["flite", "-voice", voice.name, "--setf", f"duration_stretch={stretch:.4f}",
                  "-f", str(txt), "-o", str(wav)], f"flite ({voice.name})")
        return _to_float_samples(wav, "sox (resampling the TTS output)")


def make_noise(n_samples: int, colour: str, offset: int):
    """``n_samples`` of sox's white or pink noise, starting ``offset`` samples into sox's repeatable stream."""
    import numpy as np

    if colour not in NOISE_COLOURS:
        raise InputError("noise", f"unknown noise colour {colour!r}")
    # sox -R seeds its generator with a fixed value; skipping a per-line offset gives each line its own noise
    raw = run_command(["sox", "-V1", "-R", "-n", "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1", "-e", "floating-point",
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

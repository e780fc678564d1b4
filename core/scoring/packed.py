"""Packed BERT encoder: runs a Hugging Face BertModel on unpadded, concatenated token sequences.

A batch of hypotheses of different lengths is laid end to end as one (T,) stream of tokens (``pack``); the
embeddings, projections, layer norms and feed-forward blocks then run on T rows, where padding to the longest
hypothesis would have run on ``B x max_len`` rows, and attention keeps each hypothesis to itself with
variable-length attention. The result is the [CLS] vector of every hypothesis, the same numbers (up to
rounding) as ``BertModel(input_ids, attention_mask).last_hidden_state[:, 0]`` on the padded batch.

Attention back-ends (``attention=``):

- ``"varlen"``: ``torch.nn.attention.varlen.varlen_attn`` (FlashAttention over ``cu_seqlens``; CUDA only,
  torch >= 2.10). Forward and backward; no attention-probability dropout.
- ``"nested"``: ``scaled_dot_product_attention`` on nested jagged tensors (CUDA FlashAttention or
  memory-efficient kernels; math on the CPU).
- ``"grouped"``: hypotheses of equal length gathered into dense blocks, one SDPA call per distinct length,
  no mask anywhere. Works on any device; the CPU fallback.
- ``"dense"``: all sequences one length: a plain (B, L) SDPA call, no mask (fixed-length batches).
- ``"auto"``: dense when all lengths are equal, else varlen on CUDA where torch has it, else grouped.

Weights. The encoder takes what the model has: plain ``nn.Linear`` layers, peft LoRA layers
(``lora.Linear``) and peft AdaLoRA layers (``SVDLinear``), merged or not. With ``trainable=False`` (scoring)
every projection is frozen into one matrix in the compute dtype, adapters folded in, and Q, K, V become
one (3H x H) matrix. With ``trainable=True`` a parameter that requires grad stays the model's own
``nn.Parameter`` (so an optimizer over the model's parameters trains through this path, and the peft model
saves the result), frozen base weights are copied once into the compute dtype, and the adapters run through
``adapted_linear``: the LoRA product is folded into the base matrix product so that no full-size
weight gradient is ever formed (see its docstring). The frozen copies are a snapshot: rebuild the encoder
after anything changes the base weights (S2's switch from full training to LoRA, a merge).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lorascope.core.scoring.packed_attention import (ATTENTION_BACKENDS, PackedBatch, pack, packed_attention, resolve_attention,  # noqa: F401
                               varlen_available)
from lorascope.core.scoring.packed_linear import AdaptedLinear, adapted_linear, rank_padding  # noqa: F401  (adapted_linear re-exported)


# ------------------------------------------------------------------------------------------- projections

def _is_peft_layer(module: nn.Module) -> bool:
    return hasattr(module, "base_layer") and hasattr(module, "lora_A")


def _base_linear(module: nn.Module) -> nn.Linear:
    return module.get_base_layer() if _is_peft_layer(module) else module


def _active_adapters(module: nn.Module) -> list[str]:
    if getattr(module, "disable_adapters", False) or getattr(module, "merged", False):
        return []
    names = module.active_adapters if hasattr(module, "active_adapters") else [module.active_adapter]
    return [n for n in ([names] if isinstance(names, str) else names) if n in module.lora_A]


def _effective_weight(module: nn.Module) -> torch.Tensor:
    """The module's weight with unmerged active adapters folded in (peft's own delta formula)."""
    weight = _base_linear(module).weight.detach()
    if _is_peft_layer(module):
        for name in _active_adapters(module):
            weight = weight + module.get_delta_weight(name).detach().to(weight.dtype)
    return weight


def _dropout_p(module: nn.Module, name: str) -> float:
    drop = module.lora_dropout[name] if hasattr(module, "lora_dropout") else None
    return float(drop.p) if isinstance(drop, nn.Dropout) else 0.0


class Projection(nn.Module):
    """One or more linear layers on the same input, run as one matrix product (Q, K, V become one)."""

    def __init__(self, modules: Sequence[nn.Module], dtype: torch.dtype, trainable: bool):
        super().__init__()
        self.sizes = [_base_linear(m).weight.shape[0] for m in modules]
        peft = [_is_peft_layer(m) and bool(_active_adapters(m)) for m in modules]
        bases = [_base_linear(m) for m in modules]
        base_trainable = any(p.requires_grad for m in bases for p in m.parameters(recurse=False))
        if not trainable or not (base_trainable or any(peft)):
            self.mode = "frozen"
            weight = torch.cat([_effective_weight(m) for m in modules]).to(dtype)
            bias = torch.cat([m.bias.detach() if m.bias is not None else torch.zeros(n, device=weight.device)
                              for m, n in zip(bases, self.sizes)]).to(dtype)
            self.register_buffer("weight", weight, persistent=False)
            self.register_buffer("bias", bias, persistent=False)
        elif base_trainable:
            if any(peft):
                raise ValueError("packed encoder: a layer with both a trainable base weight and adapters")
            self.mode = "full"
            self.weights = [m.weight for m in bases]     # the model's own parameters, not copies
            self.biases = [m.bias for m in bases]
            self.dtype = dtype
            self._trainable = [*self.weights, *self.biases]
        else:
            if not all(peft):
                raise ValueError("packed encoder: Q, K and V must all carry adapters or none")
            self.mode = "adapted"
            self.register_buffer("weight", torch.cat([m.weight.detach() for m in bases]).to(dtype), persistent=False)
            self.register_buffer("bias", torch.cat([m.bias.detach() for m in bases]).to(dtype), persistent=False)
            self.adapters, self._trainable = [], []
            for m in modules:
                names = _active_adapters(m)
                if len(names) != 1:
                    raise ValueError("packed encoder: training runs one active adapter per layer")
                name = names[0]
                if hasattr(m, "lora_E"):
                    # ranknum is fixed at the initial rank (peft masks ranks, never shrinks them)
                    scale = m.scaling[name] / (float(m.ranknum[name]) + 1e-5)
                    self._trainable += [m.lora_A[name], m.lora_E[name], m.lora_B[name]]
                else:
                    scale = m.scaling[name]
                    self._trainable += [m.lora_A[name].weight, m.lora_B[name].weight]
                self.adapters.append((m, name, float(scale)))
            ps = {_dropout_p(m, n) for m, n, _ in self.adapters}
            if len(ps) != 1:
                raise ValueError("packed encoder: Q, K and V adapters with different dropout rates")
            self.dropout_p = ps.pop()
            self.scale = self.adapters[0][2]
            ranks = sum(int(m.lora_A[n].shape[0] if hasattr(m, "lora_E") else m.lora_A[n].weight.shape[0])
                        for m, n, _ in self.adapters)
            self.register_buffer("bias_ext", torch.cat([self.bias, self.bias.new_zeros(ranks + rank_padding(ranks))]),
                                 persistent=False)

    def lora_dropout(self) -> float:
        """The dropout rate this projection's adapters want on their input now (0 unless training LoRA)."""
        return self.dropout_p if self.mode == "adapted" and self.training else 0.0

    def forward(self, x: torch.Tensor, x_lora: torch.Tensor | None = None) -> torch.Tensor:
        """``x_lora``: the adapters' dropped-out input, written beside ``x`` by its producer (or None)."""
        if self.mode == "frozen":
            return F.linear(x, self.weight, self.bias)
        if self.mode == "full":
            weight = torch.cat([w.to(self.dtype) for w in self.weights]) if len(self.weights) > 1 else \
                self.weights[0].to(self.dtype)
            bias = torch.cat([b.to(self.dtype) for b in self.biases]) if len(self.biases) > 1 else \
                self.biases[0].to(self.dtype)
            return F.linear(x, weight, bias)
        a, b = [], []
        for m, name, scale in self.adapters:
            if hasattr(m, "lora_E"):          # AdaLoRA: P diag(E) Q with E masked by the rank allocator
                a.append(m.lora_A[name] * m.lora_E[name])
                b.append(m.lora_B[name])
            else:
                a.append(m.lora_A[name].weight)
                b.append(m.lora_B[name].weight)
            if scale != self.scale:           # peft alpha_pattern: fold the ratio into B (rare)
                b[-1] = b[-1] * (scale / self.scale)
        spec = (self.scale, tuple(self.sizes), tuple(int(t.shape[0]) for t in a))
        return AdaptedLinear.apply(x, x_lora, self.weight, self.bias, self.bias_ext, spec, *a, *b)


class _Norm(nn.Module):
    """A LayerNorm's parameters: the model's own when they train, else a frozen copy in the compute dtype."""

    def __init__(self, norm: nn.LayerNorm, dtype: torch.dtype, trainable: bool):
        super().__init__()
        self.eps = norm.eps
        if trainable and norm.weight.requires_grad:
            self.params = (norm.weight, norm.bias)
            self._trainable = [norm.weight, norm.bias]
        else:
            self.register_buffer("w", norm.weight.detach().to(dtype), persistent=False)
            self.register_buffer("b", norm.bias.detach().to(dtype), persistent=False)
            self.params = None

    def weights(self, dtype):
        if self.params is None:
            return self.w, self.b
        return self.params[0].to(dtype), self.params[1].to(dtype)


# The elementwise steps around the matrix products. Each also writes the dropped-out copy its consumer's
# adapters read (LoRA dropout), so the dropout costs one extra write in the same kernel when compiled,
# and its backward folds into the same kernel's backward.

def _lora_copy(x: torch.Tensor, lora_p: float) -> torch.Tensor | None:
    return F.dropout(x, lora_p, True) if lora_p else None


def embed_norm(e: torch.Tensor, weight, bias, eps: float, p: float, training: bool, lora_p: float, dtype):
    """dropout(LayerNorm(embeddings)) in ``dtype``, and its LoRA-dropout copy."""
    x = F.dropout(F.layer_norm(e, (e.shape[-1],), weight, bias, eps).to(dtype), p, training)
    return x, _lora_copy(x, lora_p)


def residual_norm(h: torch.Tensor, residual: torch.Tensor, weight, bias, eps: float, p: float, training: bool,
                  lora_p: float = 0.0):
    """LayerNorm(dropout(h) + residual), BERT's sub-layer output, and its LoRA-dropout copy."""
    x = F.layer_norm(F.dropout(h, p, training) + residual, (h.shape[-1],), weight, bias, eps)
    return x, _lora_copy(x, lora_p)


def gelu_copy(z: torch.Tensor, lora_p: float = 0.0):
    """GELU (exact, BERT's) and its LoRA-dropout copy."""
    x = F.gelu(z)
    return x, _lora_copy(x, lora_p)


def lora_copy(x: torch.Tensor, lora_p: float) -> torch.Tensor | None:
    """The LoRA-dropout copy of the attention output (the output projection's adapter input)."""
    return _lora_copy(x, lora_p)


# ---------------------------------------------------------------------------------------------- encoder

def find_bert(model: nn.Module) -> nn.Module:
    """The BertModel inside ``model`` (itself, a peft wrapper's base model, or a head model's ``.bert``)."""
    for module in model.modules():
        if hasattr(module, "embeddings") and hasattr(getattr(module, "encoder", None), "layer"):
            return module
    raise ValueError("packed encoder: no BERT encoder (embeddings + encoder.layer) in this model")


def compute_dtype(device) -> torch.dtype:
    """The packed encoder's activations and frozen weights: bfloat16 on CUDA, float32 elsewhere."""
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


def unsupported_reason(model: nn.Module) -> str | None:
    """Why the packed encoder cannot run ``model`` (None when it can): BERT only, absolute positions, GELU."""
    try:
        bert = find_bert(model)
    except ValueError as exc:
        return str(exc)
    config = bert.config
    if getattr(config, "model_type", "bert") != "bert":
        return f"packed encoder: model type {config.model_type!r} is not BERT"
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        return "packed encoder: only absolute position embeddings are supported"
    if config.hidden_act not in ("gelu", "gelu_python"):
        return f"packed encoder: hidden_act {config.hidden_act!r} is not supported"
    return None


def weights_signature(model: nn.Module) -> tuple:
    """Changes whenever a weight of ``model`` is modified in place or replaced, or an adapter is switched.

    Built from every parameter's and buffer's identity, storage and in-place version counter, and each peft layer's
    merged / disabled flags, so a frozen encoder built from the model can tell when it is stale.
    """
    tensors = tuple((id(t), t.data_ptr(), t._version) for t in (*model.parameters(), *model.buffers()))
    flags = tuple((id(m), bool(getattr(m, "merged", False)), bool(getattr(m, "disable_adapters", False)),
                   str(getattr(m, "active_adapters", ""))) for m in model.modules() if _is_peft_layer(m))
    return tensors, flags


class PackedBertEncoder(nn.Module):
    """A BertModel's encoder over a PackedBatch; ``forward`` returns the [CLS] vectors (B, H)."""

    def __init__(self, model: nn.Module, *, dtype: torch.dtype = torch.bfloat16, attention: str = "auto",
                 trainable: bool = False, compile_elementwise: bool = False):
        super().__init__()
        reason = unsupported_reason(model)
        if reason is not None:
            raise ValueError(reason)
        bert = find_bert(model)
        config = bert.config
        if attention not in ATTENTION_BACKENDS:
            raise ValueError(f"attention back-end {attention!r}: expected one of {', '.join(ATTENTION_BACKENDS)}")
        self.dtype, self.attention, self.trainable = dtype, attention, trainable
        self.heads = config.num_attention_heads
        self.hidden = config.hidden_size
        self.hidden_dropout = config.hidden_dropout_prob
        self.attention_dropout = config.attention_probs_dropout_prob
        emb = bert.embeddings
        self._tables = {}
        for name, table in (("word", emb.word_embeddings), ("position", emb.position_embeddings),
                            ("token_type", emb.token_type_embeddings)):
            if trainable and table.weight.requires_grad:
                self._tables[name] = table.weight          # the model's own parameter, not registered here
            else:
                self.register_buffer(f"{name}_table", table.weight.detach().to(dtype), persistent=False)
        self.emb_norm = _Norm(emb.LayerNorm, dtype, trainable)
        self.layers = nn.ModuleList()
        for layer in bert.encoder.layer:
            sa = layer.attention.self
            block = nn.Module()
            block.qkv = Projection([sa.query, sa.key, sa.value], dtype, trainable)
            block.out = Projection([layer.attention.output.dense], dtype, trainable)
            block.norm1 = _Norm(layer.attention.output.LayerNorm, dtype, trainable)
            block.up = Projection([layer.intermediate.dense], dtype, trainable)
            block.down = Projection([layer.output.dense], dtype, trainable)
            block.norm2 = _Norm(layer.output.LayerNorm, dtype, trainable)
            self.layers.append(block)
        fns = (embed_norm, residual_norm, gelu_copy, lora_copy)
        if compile_elementwise:
            fns = tuple(torch.compile(f) for f in fns)
        self._embed_norm, self._residual_norm, self._gelu, self._lora_copy = fns

    def _table(self, name: str) -> torch.Tensor:
        return self._tables[name] if name in self._tables else getattr(self, f"{name}_table")

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The model's parameters this encoder trains (shared objects, for the optimizer), each once."""
        seen, out = set(), []
        for p in [*self._tables.values(), *(q for m in self.modules() for q in getattr(m, "_trainable", ()))]:
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                out.append(p)
        return out

    def hidden_states(self, batch: PackedBatch) -> torch.Tensor:
        """Last-layer hidden states of every packed token, (T, H) in the compute dtype."""
        backend = resolve_attention(self.attention, batch, batch.input_ids.device)
        train = self.training
        attn_p = self.attention_dropout if train and backend in ("dense", "grouped", "nested") else 0.0
        e = (F.embedding(batch.input_ids, self._table("word"))
             + F.embedding(batch.position_ids, self._table("position")) + self._table("token_type")[0])
        p = self.hidden_dropout
        blocks = list(self.layers)
        h, h_lora = self._embed_norm(e, *self.emb_norm.weights(e.dtype), self.emb_norm.eps, p, train,
                                     blocks[0].qkv.lora_dropout() if blocks else 0.0, self.dtype)
        t, heads, width = h.shape[0], self.heads, self.hidden
        dim = width // heads
        for i, block in enumerate(blocks):
            qkv = block.qkv(h, h_lora)
            q, k, v = (qkv[:, j * width:(j + 1) * width].reshape(t, heads, dim) for j in range(3))
            ctx = packed_attention(q, k, v, batch, backend, attn_p).reshape(t, width)
            ctx_lora = self._lora_copy(ctx, block.out.lora_dropout()) if block.out.lora_dropout() else None
            mid, mid_lora = self._residual_norm(block.out(ctx, ctx_lora), h, *block.norm1.weights(self.dtype),
                                                block.norm1.eps, p, train, block.up.lora_dropout())
            act, act_lora = self._gelu(block.up(mid, mid_lora), block.down.lora_dropout())
            next_p = blocks[i + 1].qkv.lora_dropout() if i + 1 < len(blocks) else 0.0
            h, h_lora = self._residual_norm(block.down(act, act_lora), mid, *block.norm2.weights(self.dtype),
                                            block.norm2.eps, p, train, next_p)
        return h

    def forward(self, batch: PackedBatch) -> torch.Tensor:
        return self.hidden_states(batch).index_select(0, batch.cls_index)


@torch.no_grad()
def score_cls(model: nn.Module, sequences: Sequence[Sequence[int]], *, batch_size: int = 1024,
              dtype: torch.dtype | None = None, attention: str = "auto", device=None) -> torch.Tensor:
    """[CLS] vectors (N, H, float32) of token-id sequences, packed ``batch_size`` at a time, in input order.

    Builds a frozen PackedBertEncoder from ``model`` (adapters folded in); ``dtype`` defaults to bfloat16
    on CUDA and float32 elsewhere.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    dtype = dtype or compute_dtype(device)
    encoder = PackedBertEncoder(model, dtype=dtype, attention=attention).to(device).eval()
    out = []
    for start in range(0, len(sequences), batch_size):
        batch = pack(sequences[start:start + batch_size], device=device)
        out.append(encoder(batch).float())
    return torch.cat(out) if out else torch.zeros(0, encoder.hidden)

"""Packed token streams and attention that keeps each sequence to itself (the packed encoder's first half).

``pack`` lays a batch of token sequences end to end as one (T,) stream with their offsets (``cu_seqlens``);
``packed_attention`` runs multi-head attention over such a stream with one of the back-ends listed in
:mod:`.packed` (varlen FlashAttention, nested tensors, one call per length group, or dense).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

ATTENTION_BACKENDS = ("auto", "varlen", "nested", "grouped", "dense")
_VARLEN_NEEDS_CONTIGUOUS = False


# --------------------------------------------------------------------------------------------------- batches

@dataclass
class PackedBatch:
    """Token sequences laid end to end: ids and positions (T,), boundaries ``cu_seqlens`` (B+1,)."""

    input_ids: torch.Tensor          # (T,) int64
    position_ids: torch.Tensor       # (T,) int64, 0 at each sequence's first token
    cu_seqlens: torch.Tensor         # (B+1,) int32, starts of the sequences and T at the end
    lengths: list[int]               # host copy, for the grouped back-end and max_len
    max_len: int
    cls_index: torch.Tensor          # (B,) int64, the row of each sequence's first ([CLS]) token
    _groups: list | None = field(default=None, repr=False)

    @property
    def num_tokens(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def num_sequences(self) -> int:
        return len(self.lengths)

    @property
    def equal_lengths(self) -> bool:
        return self.num_sequences > 0 and min(self.lengths) == self.max_len

    def to(self, device) -> "PackedBatch":
        move = {"device": device, "non_blocking": True}
        return PackedBatch(self.input_ids.to(**move), self.position_ids.to(**move), self.cu_seqlens.to(**move),
                           self.lengths, self.max_len, self.cls_index.to(**move))

    def groups(self) -> tuple[list[tuple[int, torch.Tensor]], torch.Tensor]:
        """Token rows of the hypotheses of each distinct length, (n, L) per length, and the inverse order.

        Concatenating the groups' rows in this order and indexing with the returned inverse permutation
        gives back the packed order.
        """
        if self._groups is None:
            device = self.input_ids.device
            starts = torch.tensor([0, *self.lengths], dtype=torch.int64).cumsum(0)[:-1]
            lengths = torch.tensor(self.lengths, dtype=torch.int64)
            out, order = [], []
            for length in sorted(set(self.lengths)):
                which = (lengths == length).nonzero().flatten()
                rows = starts[which, None] + torch.arange(length)
                out.append((length, rows.to(device)))
                order.append(rows.flatten())
            perm = torch.cat(order) if order else torch.zeros(0, dtype=torch.int64)
            inverse = torch.empty_like(perm)
            inverse[perm] = torch.arange(perm.numel())
            self._groups = [out, inverse.to(device)]
        return self._groups[0], self._groups[1]


def pack(sequences: Sequence[Sequence[int]] | torch.Tensor, *, device=None) -> PackedBatch:
    """Concatenate token-id sequences (each starting with [CLS]) into a PackedBatch; a (B, L) tensor packs as is."""
    if isinstance(sequences, torch.Tensor):
        if sequences.dim() != 2:
            raise ValueError("pack: a tensor of sequences must be (batch, length)")
        n, length = sequences.shape
        ids = sequences.reshape(-1).to(torch.int64)
        positions = torch.arange(length, device=sequences.device).repeat(n)
        lengths = [int(length)] * int(n)
    else:
        lengths = [len(s) for s in sequences]
        if any(n == 0 for n in lengths):
            raise ValueError("pack: an empty token sequence has no [CLS] token")
        ids = torch.tensor([t for s in sequences for t in s], dtype=torch.int64)
        positions = torch.cat([torch.arange(n) for n in lengths]) if lengths else torch.zeros(0, dtype=torch.int64)
    cu = torch.zeros(len(lengths) + 1, dtype=torch.int32)
    if lengths:
        cu[1:] = torch.tensor(lengths, dtype=torch.int32).cumsum(0)
    if isinstance(sequences, torch.Tensor):
        cu = cu.to(sequences.device)
    batch = PackedBatch(ids, positions, cu, lengths, max(lengths, default=0), cu[:-1].to(torch.int64))
    return batch.to(device) if device is not None else batch


# ------------------------------------------------------------------------------------------------- attention

def varlen_available(device) -> bool:
    """True when torch has ``varlen_attn`` and ``device`` is a CUDA device."""
    if torch.device(device).type != "cuda":
        return False
    try:
        from torch.nn.attention.varlen import varlen_attn  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_attention(backend: str, batch: PackedBatch, device) -> str:
    """The back-end ``"auto"`` stands for with this batch on this device; other names pass through."""
    if backend not in ATTENTION_BACKENDS:
        raise ValueError(f"attention back-end {backend!r}: expected one of {', '.join(ATTENTION_BACKENDS)}")
    if backend != "auto":
        return backend
    if batch.equal_lengths:
        return "dense"
    return "varlen" if varlen_available(device) else "grouped"


def packed_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, batch: PackedBatch, backend: str,
                     dropout_p: float = 0.0) -> torch.Tensor:
    """Bidirectional attention within each packed sequence. q, k, v and the result are (T, heads, head_dim)."""
    t, heads, dim = q.shape
    if backend == "dense":
        if not batch.equal_lengths:
            raise ValueError("dense attention needs sequences of one length")
        n, length = batch.num_sequences, batch.max_len
        qd, kd, vd = (x.reshape(n, length, heads, dim).transpose(1, 2) for x in (q, k, v))
        out = F.scaled_dot_product_attention(qd, kd, vd, dropout_p=dropout_p)
        return out.transpose(1, 2).reshape(t, heads, dim)
    if backend == "varlen":
        if dropout_p:
            raise ValueError("varlen attention has no attention dropout; use dense or grouped, or set it to 0")
        from torch.nn.attention.varlen import varlen_attn
        global _VARLEN_NEEDS_CONTIGUOUS
        if _VARLEN_NEEDS_CONTIGUOUS:
            q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        try:
            out = varlen_attn(q, k, v, batch.cu_seqlens, batch.cu_seqlens, batch.max_len, batch.max_len)
        except RuntimeError:
            if _VARLEN_NEEDS_CONTIGUOUS:
                raise
            _VARLEN_NEEDS_CONTIGUOUS = True    # some torch builds want dense (T, heads, dim) inputs
            return packed_attention(q, k, v, batch, backend, dropout_p)
        return out[0] if isinstance(out, tuple) else out
    if backend == "nested":
        offsets = batch.cu_seqlens.to(torch.int64)
        # nested SDPA wants each of q, k, v contiguous, so the views of the fused QKV product are copied
        nested = [torch.nested.nested_tensor_from_jagged(x.contiguous(), offsets, min_seqlen=min(batch.lengths),
                                                         max_seqlen=batch.max_len).transpose(1, 2)
                  for x in (q, k, v)]
        out = F.scaled_dot_product_attention(*nested, dropout_p=dropout_p)
        return out.transpose(1, 2).values()
    if backend == "grouped":
        groups, inverse = batch.groups()
        outs = []
        for length, rows in groups:
            flat = rows.reshape(-1)
            n = rows.shape[0]
            qg, kg, vg = (x.index_select(0, flat).view(n, length, heads, dim).transpose(1, 2) for x in (q, k, v))
            og = F.scaled_dot_product_attention(qg, kg, vg, dropout_p=dropout_p)
            outs.append(og.transpose(1, 2).reshape(n * length, heads, dim))
        return torch.cat(outs).index_select(0, inverse)
    raise ValueError(f"attention back-end {backend!r}: expected one of {', '.join(ATTENTION_BACKENDS)}")



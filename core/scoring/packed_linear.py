"""The adapted linear map of the packed encoder: a frozen product with LoRA / AdaLoRA folded in.

``adapted_linear`` computes ``x W0^T + b + s (x' A^T) B^T`` as one autograd function whose backward forms no
gradient for the frozen ``W0`` (see :class:`AdaptedLinear`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


# ----------------------------------------------------------------------------------------- adapted linear

class AdaptedLinear(torch.autograd.Function):
    """y = x W0^T + b + s (x' A^T) B^T, with A the stacked A_i and B the block-diagonal of the B_i.

    Adapter i owns its block of output rows (Q, K, V in the fused projection); x' is the adapters' input:
    x itself, or the dropped-out copy the producing kernel wrote beside x (LoRA dropout). W0 and b are
    frozen. Two foldings keep the LoRA terms from costing extra passes over the activations:

    - backward computes ``[dx | v] = dy @ [W | s B]`` in one matrix product, so ``v = s dy B`` (T x R, R
      the summed ranks) comes out of the product that forms dx anyway; the A and B gradients are then
      ``v^T x'`` and ``s dy^T u`` (u = x' A^T), one read of x' and of dy each, where full fine-tuning forms
      the (out x in) weight gradient;
    - without dropout (x' is x), forward runs the merged matrix ``W = W0 + s B A`` stacked on A:
      ``[y | u] = x @ [W ; A]^T`` gives the output and u in one product. With dropout it runs
      ``[x | u] @ [W0 | s B]^T`` when the output is wider than the input, else adds ``s u B^T`` in place.
    """

    @staticmethod
    def forward(ctx, x, x_lora, w0, bias, bias_ext, spec, *ab):
        scale, out_sizes, ranks = spec
        n = len(ranks)
        dt = x.dtype
        out_dim, in_dim = w0.shape
        a = (torch.cat(ab[:n]) if n > 1 else ab[0]).to(dt)                         # (R, in)
        b = (torch.block_diag(*ab[n:]) if n > 1 else ab[n]).to(dt)                 # (out, R)
        pad = rank_padding(sum(ranks))
        if pad:
            # keep every row stride a multiple of 8 elements (16 bytes): the attention kernels read Q, K, V
            # as strided views of [y | u], and misaligned rows fault (seen with AdaLoRA's R = 3 x 12)
            a = torch.cat([a, a.new_zeros(pad, in_dim)])
            b = torch.cat([b, b.new_zeros(out_dim, pad)], dim=1)
        if x_lora is None:
            w = torch.addmm(w0, b, a, alpha=scale)
            y = F.linear(x, torch.cat([w, a]), bias_ext)
            out, u = y[:, :out_dim], y[:, out_dim:]
            ctx.save_for_backward(x, u, a, torch.cat([w, b * scale], dim=1))
        else:
            u = x_lora @ a.t()
            bs = b * scale
            if in_dim <= out_dim:
                out = F.linear(torch.cat([x, u], dim=1), torch.cat([w0, bs], dim=1), bias)
            else:
                out = F.linear(x, w0, bias).addmm_(u, bs.t())
            ctx.save_for_backward(x_lora, u, a, torch.cat([w0, bs], dim=1))
        ctx.has_lora_input = x_lora is not None
        ctx.in_dim, ctx.scale, ctx.ranks, ctx.out_sizes = in_dim, scale, ranks, out_sizes
        ctx.param_dtype = ab[0].dtype
        return out

    @staticmethod
    def backward(ctx, grad):
        x_lora, u, a, wb = ctx.saved_tensors
        z = grad @ wb                                   # (T, in + R): dx of the base path and v = s dy B
        dx, v = z[:, :ctx.in_dim], z[:, ctx.in_dim:]
        # without dropout the merged W already carried the adapter path into dx
        d_lora = v @ a if ctx.has_lora_input else None
        rank = sum(ctx.ranks)
        grad_a = (v[:, :rank].t() @ x_lora).to(ctx.param_dtype).split(ctx.ranks)
        full_b = (grad.t() @ u).to(ctx.param_dtype).mul_(ctx.scale)                # (out, R); blocks used
        grad_b, row, col = [], 0, 0
        for r, size in zip(ctx.ranks, ctx.out_sizes):
            grad_b.append(full_b[row:row + size, col:col + r])
            row, col = row + size, col + r
        return (dx, d_lora, None, None, None, None, *grad_a, *grad_b)


def rank_padding(rank: int) -> int:
    return -rank % 8


def adapted_linear(x: torch.Tensor, w0: torch.Tensor, bias: torch.Tensor | None, a: Sequence[torch.Tensor],
                   b: Sequence[torch.Tensor], scale: float, x_lora: torch.Tensor | None = None) -> torch.Tensor:
    """Frozen linear map plus low-rank adapters, one per block of output rows (``AdaptedLinear``).

    ``x`` (T, in) and ``w0`` (out, in) in the compute dtype; ``a[i]`` (r_i, in) and ``b[i]`` (out_i, r_i) in
    any one dtype (cast here; their gradients come back in it); the out_i add up to ``out``. ``x_lora``:
    the adapters' input when it differs from ``x`` (a dropped-out copy), else None.
    """
    out_sizes = tuple(int(m.shape[0]) for m in b)
    ranks = tuple(int(m.shape[0]) for m in a)
    if sum(out_sizes) != w0.shape[0]:
        raise ValueError("adapted_linear: adapter output sizes do not add up to the weight's rows")
    bias_ext = None if bias is None else torch.cat([bias, bias.new_zeros(sum(ranks) + rank_padding(sum(ranks)))])
    return AdaptedLinear.apply(x, x_lora, w0, bias, bias_ext, (float(scale), out_sizes, ranks), *a, *b)



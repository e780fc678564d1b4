"""A CUDA-graph-captured training step over the packed encoder, for the speed benchmarks (not used by lorascope train).

lorascope's training loop (core/training/train.py) runs the packed encoder eagerly; this module keeps the experiment of
capturing a whole step (forward, loss, backward, AdamW, AdaLoRA's importance update) in one CUDA graph, so
``bench_speed.py`` can time it against the loop. Its AdaLoRA arithmetic is core's
(:mod:`lorascope.core.training.strategies.adalora`); only the in-place buffers a captured graph needs are its own.


``fast_path(model, strategy)`` looks at a model the way the training loop builds it (plain BertModel or a
head model with every parameter trainable for ``ft`` and S2's warm-up; a peft LoRA model for ``lora``, S2
after warm-up; a peft AdaLoRA model for ``s1`` and ``s3``) and returns a ``FastPath``:

- ``encoder``: a trainable ``PackedBertEncoder`` over the model's own parameters (frozen base weights as
  one bfloat16 copy; LoRA products folded so no frozen weight gradient is formed; fused Q, K, V);
- ``params``: the parameters it trains, for the optimizer (``make_optimizer`` gives fused AdamW on CUDA);
- ``regulariser()``: AdaLoRA's orthogonality term ``sum ||P P^T - I||_F + ||Q^T Q - I||_F`` over the
  matrices, divided by their count and times ``orth_reg_weight`` -- peft adds it only when the model
  output carries ``.loss``, which the MWER loop's does not -- computed with one batched product per
  matrix shape instead of one small product per matrix (None for LoRA and full training);
- ``importance``: ``AdaLoraImportance``, peft's ``RankAllocator.update_ipt`` (sensitivity |w dL/dw| and
  its two moving averages) as a handful of multi-tensor ops over all adapter matrices instead of eight
  kernels per matrix, sharing its buffers with the allocator so peft's ``update_and_allocate`` still
  picks the ranks (None unless AdaLoRA).

``FastPath.train_step(head, loss_fn, optimizer)`` returns ``step(batch, *loss_inputs) -> loss``: forward,
loss, backward, optimizer step and the AdaLoRA importance update, captured in one CUDA graph per batch
shape after a few eager warm-up calls (the warm-up calls are real training steps). Call peft's
``update_and_allocate(step)`` after it as usual; with a graph the importance update already ran inside it.
A captured step replays the optimizer as captured: a learning-rate schedule needs ``lr`` given as a
tensor and updated in place. Ragged batches use varlen attention on CUDA, which has no attention-probability
dropout (hidden and LoRA dropout stay); fixed-length batches use dense SDPA with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from lorascope.core.scoring.packed import PackedBatch, PackedBertEncoder, compute_dtype, resolve_attention
from lorascope.core.training.strategies import STRATEGIES as _REGISTRY
from lorascope.core.training.strategies.adalora import AdaLoraOrthogonal, find_adalora, importance_step

STRATEGIES = tuple(_REGISTRY)
ADALORA_STRATEGIES = ("s1", "s3")


class AdaLoraImportance:
    """peft's ``RankAllocator.update_ipt`` with multi-tensor ops; shares its buffers with the allocator.

    ``ipt = |p * grad|``, ``exp_avg_ipt = beta1 exp_avg_ipt + (1 - beta1) ipt``,
    ``exp_avg_unc = beta2 exp_avg_unc + (1 - beta2) |ipt - exp_avg_ipt|``, in place, so a CUDA graph that
    runs ``update()`` keeps the allocator's dictionaries current.
    """

    def __init__(self, adalora_model: nn.Module):
        alloc = adalora_model.rankallocator
        self.allocator = alloc
        self.beta1, self.beta2 = float(alloc.beta1), float(alloc.beta2)
        named = [(n, p) for n, p in adalora_model.model.named_parameters()
                 if "lora_" in n and alloc.adapter_name in n]
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        self.ipt = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_ipt = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_unc = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def update(self) -> None:
        """One update, written into the buffers in place (a captured graph keeps their addresses)."""
        new = importance_step(self.params, self.exp_avg_ipt, self.exp_avg_unc, self.beta1, self.beta2)
        for buffers, values in zip((self.ipt, self.exp_avg_ipt, self.exp_avg_unc), new):
            torch._foreach_copy_(buffers, values)

    def install(self, *, updated_elsewhere: bool = False) -> None:
        """Point the allocator at these buffers and replace its update_ipt.

        With ``updated_elsewhere`` (the update runs inside a captured step) the allocator's own call does
        nothing; else it runs ``update()``.
        """
        alloc = self.allocator
        alloc.ipt = dict(zip(self.names, self.ipt))
        alloc.exp_avg_ipt = dict(zip(self.names, self.exp_avg_ipt))
        alloc.exp_avg_unc = dict(zip(self.names, self.exp_avg_unc))
        alloc.update_ipt = (lambda model: None) if updated_elsewhere else (lambda model: self.update())


def make_optimizer(params: Sequence[nn.Parameter], lr: float, **kwargs) -> torch.optim.Optimizer:
    """AdamW over ``params``: fused and safe to capture in a CUDA graph on CUDA, multi-tensor elsewhere."""
    params = list(params)
    if params and params[0].is_cuda:
        return torch.optim.AdamW(params, lr=lr, fused=True, capturable=True, **kwargs)
    return torch.optim.AdamW(params, lr=lr, **kwargs)


class GraphedStep:
    """Runs ``fn(*tensors)`` eagerly ``warmup`` times per input shape, then captures it in a CUDA graph.

    Later calls with the same shapes copy their tensors into the captured inputs and replay the graph.
    ``fn`` must take and return tensors only, set gradients to None before its backward pass (so the
    graph allocates them) and must not synchronise with the host. Off CUDA, or with ``enabled=False``,
    every call runs ``fn`` directly.
    """

    def __init__(self, fn: Callable[..., torch.Tensor], *, warmup: int = 3, enabled: bool = True):
        self.fn, self.warmup, self.enabled = fn, warmup, enabled
        self.graphs: dict[tuple, dict] = {}
        self.pool = None

    def __call__(self, *tensors: torch.Tensor, key: tuple = ()):
        """``key``: host-side values the captured work depends on, beside the tensors' shapes."""
        if not self.enabled or not tensors[0].is_cuda:
            return self.fn(*tensors)
        key = (tuple((t.shape, t.dtype) for t in tensors), key)
        entry = self.graphs.setdefault(key, {"calls": 0})
        if entry["calls"] < self.warmup:
            entry["calls"] += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self.fn(*tensors)
            torch.cuda.current_stream().wait_stream(side)
            return out
        if "graph" not in entry:
            entry["inputs"] = [t.clone() for t in tensors]
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self.pool):
                entry["out"] = self.fn(*entry["inputs"])
            self.pool = graph.pool()
            entry["graph"] = graph
        else:
            for static, t in zip(entry["inputs"], tensors):
                static.copy_(t, non_blocking=True)
        entry["graph"].replay()
        return entry["out"]


@dataclass
class FastPath:
    """What the training loop runs for one strategy (module docstring)."""

    strategy: str
    encoder: PackedBertEncoder
    params: list[nn.Parameter]
    regulariser: AdaLoraOrthogonal | None = None
    importance: AdaLoraImportance | None = None

    def train_step(self, head: nn.Module, loss_fn: Callable[..., torch.Tensor], optimizer: torch.optim.Optimizer,
                   *, cuda_graph: bool = True, warmup: int = 3) -> Callable[..., torch.Tensor]:
        """``step(batch, *loss_inputs) -> loss``: one optimizer step on ``loss_fn(head(cls), *loss_inputs)``.

        ``head`` maps the [CLS] vectors (B, H) to scores; the loss adds the AdaLoRA regulariser where
        there is one. With ``cuda_graph`` (CUDA, dense or varlen attention) each batch shape is captured
        once; a varlen batch's graph keys on its token and sequence counts and its longest sequence, so
        pad ``max_len`` up to a few buckets to keep the graphs few.
        """
        encoder, reg, importance = self.encoder, self.regulariser, self.importance
        encoder.train()
        if importance is not None:
            importance.install(updated_elsewhere=True)
        layout: dict = {}

        def run(input_ids, position_ids, cu_seqlens, cls_index, *loss_inputs):
            batch = PackedBatch(input_ids, position_ids, cu_seqlens, layout["lengths"], layout["max_len"],
                                cls_index)
            optimizer.zero_grad(set_to_none=True)
            scores = head(encoder(batch).float())
            loss = loss_fn(scores, *loss_inputs)
            if reg is not None:
                loss = loss + reg()
            loss.backward()
            optimizer.step()
            if importance is not None:
                importance.update()
            return loss.detach()

        graphed = GraphedStep(run, warmup=warmup, enabled=cuda_graph)

        def step(batch: PackedBatch, *loss_inputs: torch.Tensor) -> torch.Tensor:
            backend = resolve_attention(encoder.attention, batch, batch.input_ids.device)
            layout["lengths"], layout["max_len"] = batch.lengths, batch.max_len
            tensors = (batch.input_ids, batch.position_ids, batch.cu_seqlens, batch.cls_index, *loss_inputs)
            if backend not in ("dense", "varlen"):
                return run(*tensors)      # these back-ends read host-side lengths a graph would freeze
            return graphed(*tensors, key=(backend, batch.max_len))   # the graph bakes in max_len

        return step


def fast_path(model: nn.Module, strategy: str, *, dtype: torch.dtype | None = None, attention: str = "auto",
              compile_elementwise: bool | None = None) -> FastPath:
    """The fast training path for ``model`` under ``strategy`` (module docstring).

    ``dtype`` of the activations and frozen weights: bfloat16 on CUDA, float32 elsewhere by default.
    ``compile_elementwise`` compiles the elementwise steps (LayerNorm, residual, GELU, dropouts) with
    torch.compile (default: on CUDA).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"fast path: unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    device = next(model.parameters()).device
    on_cuda = device.type == "cuda"
    dtype = dtype or compute_dtype(device)
    compile_elementwise = on_cuda if compile_elementwise is None else compile_elementwise
    adalora = find_adalora(model)
    if strategy in ADALORA_STRATEGIES and adalora is None:
        raise ValueError(f"fast path: strategy {strategy} needs a peft AdaLoRA model")
    encoder = PackedBertEncoder(model, dtype=dtype, attention=attention, trainable=True,
                                compile_elementwise=compile_elementwise).to(device)
    params = encoder.trainable_parameters()
    if not params:
        raise ValueError("fast path: the model has no trainable parameters")
    reg = importance = None
    if strategy in ADALORA_STRATEGIES:
        reg, importance = AdaLoraOrthogonal(adalora), AdaLoraImportance(adalora)
    return FastPath(strategy, encoder, params, reg, importance)

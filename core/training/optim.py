"""What a training run steps with: the AdamW optimizer, the learning-rate schedule and the order of the batches."""

from __future__ import annotations

import math
import random
from typing import Any

import torch
from torch import nn

from lorascope.core.errors import InputError


def make_optimizer(model: nn.Module, *, lr_body: float, lr_head: float, weight_decay: float = 0.0
                   ) -> torch.optim.Optimizer:
    """AdamW over two groups, the trainable encoder/adapter weights and the head, each in parameter-name order.

    On CUDA the fused implementation (one kernel per step for all parameters); elsewhere torch's default.
    ``base_lr`` in each group is the peak the schedule multiplies.
    """
    body = [(n, p) for n, p in model.named_parameters() if p.requires_grad and not n.startswith("head.")]
    head = list(model.head.named_parameters(prefix="head"))
    groups = [{"params": [p for _, p in body], "names": [n for n, _ in body], "lr": lr_body, "base_lr": lr_body},
              {"params": [p for _, p in head], "names": [n for n, _ in head], "lr": lr_head, "base_lr": lr_head}]
    fused = {"fused": True} if next(model.parameters()).is_cuda else {}
    return torch.optim.AdamW(groups, weight_decay=weight_decay, **fused)


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Restore a saved optimizer state, refusing one saved for other parameters."""
    for group, saved in zip(optimizer.param_groups, state["param_groups"]):
        if group["names"] != saved.get("names", group["names"]):
            missing = sorted(set(saved["names"]) - set(group["names"]))[:3]
            extra = sorted(set(group["names"]) - set(saved["names"]))[:3]
            raise InputError("resume", f"the checkpoint trains other parameters than this run would "
                                       f"(only in the checkpoint: {missing}; only here: {extra})")
    optimizer.load_state_dict(state)


def set_learning_rate(optimizer: torch.optim.Optimizer, multiplier: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * multiplier


def lr_multiplier(step: int, total_steps: int, warmup_share: float, floor: float) -> float:
    """Linear ramp over the first ``warmup_share`` of the steps, then cosine down to ``floor`` of the peak."""
    ramp = int(warmup_share * total_steps)
    if step < ramp:
        return (step + 1) / ramp
    progress = (step - ramp) / max(1, total_steps - ramp)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


class Batches:
    """Utterance indices of every step: consecutive slices of one fixed permutation per epoch."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self._perms: dict[int, list[int]] = {}

    def epoch_order(self, epoch: int) -> list[int]:
        if epoch not in self._perms:
            order = list(range(self.n))
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
            self._perms = {epoch: order}
        return self._perms[epoch]

    def __call__(self, step: int) -> list[int]:
        out = []
        for pos in range(step * self.batch_size, (step + 1) * self.batch_size):
            out.append(self.epoch_order(pos // self.n)[pos % self.n])
        return out

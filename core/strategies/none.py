"""none: the pretrained LM as it is, no training step; only the combination is tuned on dev (the "non-adapted" row).

Meaningful for causal LMs only: their log-probability scores a hypothesis as they are. A ``cls`` rescorer's
head starts at zero, so untrained it scores every hypothesis alike; training refuses ``none`` for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from .base import StrategyConfig, StrategyRun


@dataclass
class NoneConfig(StrategyConfig):
    """No adaptation: every weight stays as loaded, no optimizer step is taken."""

    name: ClassVar[str] = "none"
    trains: ClassVar[bool] = False

    def start(self, total_steps: int) -> "StrategyRun":
        return FrozenRun(self, total_steps)


class FrozenRun(StrategyRun):
    def setup(self, model: nn.Module, step: int = 0) -> None:
        for p in model.parameters():
            p.requires_grad_(False)

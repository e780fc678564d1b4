"""none: the pretrained LM as it is, no training step; only the combination is tuned on dev (the "non-adapted" row).

Meaningful for causal LMs only: their log-probability scores a hypothesis as they are. A ``cls`` rescorer's
head starts at zero, so untrained it scores every hypothesis alike; training refuses ``none`` for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from lorascope.core.errors import InputError
from lorascope.core.training.strategies.base import StrategyConfig, StrategyRun


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


def check_family(strategy: StrategyConfig, backbone: str | None) -> None:
    """InputError for ``none`` on a ``cls`` backbone (read from its config; nothing loads)."""
    from lorascope.core.scoring.backbone import backbone_family

    if not strategy.trains and backbone_family(backbone) != "causal":
        raise InputError("--strategy none", f"{backbone or 'minilm-l6'} is an encoder (family cls): its untrained "
                                            f"head scores every hypothesis alike; none needs a causal LM")

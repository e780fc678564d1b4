"""ft: full fine-tuning of every parameter (``layers`` limits it to those encoder layers, embeddings frozen)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from lorascope.core.training.strategies.base import _LAYER_NAME, StrategyConfig, StrategyRun


@dataclass
class FtConfig(StrategyConfig):
    """Full fine-tuning of every parameter."""

    name: ClassVar[str] = "ft"

    def start(self, total_steps: int) -> "StrategyRun":
        return FullRun(self, total_steps)


class FullRun(StrategyRun):
    def setup(self, model: nn.Module, step: int = 0) -> None:
        self._check_layers(model)
        layers = self.config.layers
        for name, p in model.backbone.named_parameters():
            match = _LAYER_NAME.search(name)
            p.requires_grad_(layers is None or (match is not None and int(match.group(1)) in layers))
        for p in model.head.parameters():
            p.requires_grad_(True)

    def phase(self, step: int) -> str:
        return "full"

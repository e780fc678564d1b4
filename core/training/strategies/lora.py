"""lora: LoRA (r 8, alpha 32, dropout 0.1) on Wq, Wk, Wv, Wo, Wf1, Wf2; s2: full-parameter warm-up, then LoRA."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from lorascope.core.errors import InputError
from lorascope.core.scoring.roles import canonical_roles
from lorascope.core.training.strategies.base import (PAPER_WARMUP_STEPS, TARGETS, StrategyConfig, StrategyRun, _check_positive_steps,
                   scale_steps)
from lorascope.core.training.strategies.full import FtConfig, FullRun


@dataclass
class _AdapterConfig(StrategyConfig):
    targets: tuple[str, ...] = TARGETS     # roles (see ..roles)
    modules: tuple[str, ...] | None = None   # module names by hand (--targets), instead of roles
    alpha: float = 32
    dropout: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        where = f"strategy {self.name}"
        self.targets = canonical_roles(self.targets)
        if self.modules is not None:
            self.modules = (self.modules,) if isinstance(self.modules, str) else tuple(self.modules)
            if not self.modules or not all(isinstance(m, str) and m for m in self.modules):
                raise InputError(where, f"modules must be module names, got {self.modules!r}")
        if not 0 <= self.dropout < 1:
            raise InputError(where, f"dropout must be in [0, 1), got {self.dropout}")
        if self.alpha <= 0:
            raise InputError(where, f"alpha must be positive, got {self.alpha}")


@dataclass
class LoraStrategyConfig(_AdapterConfig):
    """Vanilla LoRA: h = W0 x + (alpha / r) B A x, A Gaussian, B zero."""

    name: ClassVar[str] = "lora"
    r: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.r, int) or self.r < 1:
            raise InputError(f"strategy {self.name}", f"r must be a positive integer, got {self.r!r}")

    def peft_config(self, module_names: list[str]):
        from peft import LoraConfig

        return LoraConfig(r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
                          target_modules=list(module_names), bias="none")

    def start(self, total_steps: int) -> "StrategyRun":
        return LoraRun(self, total_steps)


@dataclass
class S2Config(LoraStrategyConfig):
    """High-rank warm-up: ``warmup_steps`` of full fine-tuning (None: scaled), then LoRA."""

    name: ClassVar[str] = "s2"
    warmup_steps: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive_steps(f"strategy {self.name}", warmup_steps=self.warmup_steps)

    def scaled_steps(self, total_steps: int) -> dict[str, int]:
        warmup = scale_steps(PAPER_WARMUP_STEPS, total_steps) if self.warmup_steps is None else self.warmup_steps
        if warmup >= total_steps:
            raise InputError(f"strategy {self.name}", f"warm-up of {warmup} steps leaves no LoRA steps in a "
                                                      f"{total_steps}-step run")
        return {"warmup_steps": warmup, "total_steps": total_steps}

    def start(self, total_steps: int) -> "StrategyRun":
        return WarmupLoraRun(self, total_steps)


class LoraRun(StrategyRun):
    def setup(self, model: nn.Module, step: int = 0) -> None:
        self._wrap(model, self.config.peft_config(self._lora_names(model)))


class _WarmupPhases:
    """s2 and s3: every weight trains in full before ``warmup_steps``, the adapter from there on."""

    @property
    def warmup(self) -> int:
        return self.steps["warmup_steps"]

    def _setup_phases(self, model: nn.Module, step: int) -> None:
        if step < self.warmup:
            FullRun(FtConfig(), self.total_steps).setup(model)
            self._lora_names(model)
        else:
            self.switch(model)

    def phase(self, step: int) -> str:
        return "full" if step < self.warmup else "adapter"

    def switches_at(self, step: int) -> bool:
        return step == self.warmup and self.warmup > 0

    def final_shape_from(self) -> int:
        return self.warmup


class WarmupLoraRun(_WarmupPhases, StrategyRun):
    """s2: full fine-tuning before ``warmup_steps``, LoRA from there on."""

    def setup(self, model: nn.Module, step: int = 0) -> None:
        self._setup_phases(model, step)

    def switch(self, model: nn.Module) -> None:
        self._wrap(model, self.config.peft_config(self._lora_names(model)))

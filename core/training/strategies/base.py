"""The strategy framework: config and run base classes, the adapted layers, parameter counts, step scaling.

A strategy is a config dataclass (defaults and validation in ``__post_init__``) whose :meth:`StrategyConfig.start`
gives a :class:`StrategyRun`, the object the training loop asks at every step: what trains, when the phase
switches, which regulariser enters the loss, what happens after the optimizer step (rank allocation), and from
which step on the model has its final shape. The registry naming the strategies is in the package
(:mod:`lorascope.core.training.strategies`).

Step counts. The paper (arXiv 2401.10447) trains for tens of thousands of steps: warm-up 5000, an initial-rank
phase of 5000, the target rank from step 25000. The run length is not in our notes, so we take
``PAPER_TOTAL_STEPS = 30000`` (the target-rank phase then lasts 5000 steps, like the other two phases) and keep
the proportions: on a run of T steps, warm-up T/6, initial-rank phase T/6, target rank from 5T/6. Explicit
values in a config win; the values in use come back from :meth:`StrategyConfig.scaled_steps` for printing and
storing.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from lorascope.core.scoring.backbone import quiet_loading
from lorascope.core.errors import InputError
from lorascope.core.scoring.roles import LAYER_NAME, ROLES, RoleMap, canonical_roles, find_roles

PAPER_TOTAL_STEPS = 30000
PAPER_WARMUP_STEPS = 5000
PAPER_INITIAL_RANK_STEPS = 5000
PAPER_TARGET_FROM_STEP = 25000

# Wq, Wk, Wv, Wo, Wf1, Wf2 by role; where each lives in each architecture: :mod:`..roles`.
TARGETS = ROLES
_LAYER_NAME = LAYER_NAME


def scale_steps(paper_steps: int, total_steps: int) -> int:
    """``paper_steps`` of the paper's 30000-step run, scaled to a run of ``total_steps``."""
    return int(round(paper_steps * total_steps / PAPER_TOTAL_STEPS))


def num_layers(encoder: nn.Module) -> int:
    config = encoder.config
    return int(getattr(config, "num_hidden_layers", None) or getattr(config, "n_layers", None)
               or getattr(config, "n_layer"))


def adapted_module_names(encoder: nn.Module, targets: tuple[str, ...] = TARGETS,
                         layers: tuple[int, ...] | None = None, modules: tuple[str, ...] | None = None) -> list[str]:
    """Names (relative to ``encoder``) of the matrices that LoRA adapts, in model order, a fused one once."""
    return find_roles(encoder, canonical_roles(targets), layers, modules).modules


@dataclass(frozen=True)
class ParamCount:
    """Trainable parameters (head included) out of all parameters of the rescorer (adapters included)."""

    trainable: int
    total: int
    head: int

    @property
    def share(self) -> float:
        return self.trainable / self.total if self.total else 0.0


def count_parameters(model: nn.Module) -> ParamCount:
    head = sum(p.numel() for p in model.head.parameters())
    return ParamCount(trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
                      total=sum(p.numel() for p in model.parameters()), head=head)


def _check_layers(where: str, layers) -> tuple[int, ...] | None:
    if layers is None:
        return None
    if isinstance(layers, int):
        layers = (layers,)
    try:
        layers = tuple(sorted(set(int(i) for i in layers)))
    except (TypeError, ValueError):
        raise InputError(where, f"layers must be layer indices, got {layers!r}") from None
    if not layers or layers[0] < 0:
        raise InputError(where, f"layers must be non-negative layer indices, got {list(layers)}")
    return layers


def _check_positive_steps(where: str, **values: int | None) -> None:
    for key, value in values.items():
        if value is not None and (not isinstance(value, int) or value < 0):
            raise InputError(where, f"{key} must be a whole number of steps >= 0, got {value!r}")


@dataclass
class StrategyConfig:
    """Base of the strategy configs. ``layers`` limits adaptation to those encoder layer indices."""

    name: ClassVar[str] = ""
    trains: ClassVar[bool] = True   # False: no optimizer step at all (``none``)
    layers: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        self.layers = _check_layers(f"strategy {self.name}", self.layers)

    def scaled_steps(self, total_steps: int) -> dict[str, int]:
        """The step counts this strategy uses on a run of ``total_steps`` (empty when it has none)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["name"] = self.name
        if out.get("layers") is not None:
            out["layers"] = list(out["layers"])
        for key in ("targets", "modules"):
            if out.get(key) is not None:
                out[key] = list(out[key])
        return out

    def start(self, total_steps: int) -> "StrategyRun":
        raise NotImplementedError


class StrategyRun:
    """A strategy applied to one model for a run of ``total_steps``.

    The training loop calls, in this order: :meth:`setup` once (or after a resume, with the resume step),
    :meth:`switches_at` / :meth:`switch` at the start of a step, :meth:`regularizer` into the loss,
    :meth:`after_step` after each optimizer step (with the number of completed steps).
    """

    def __init__(self, config: StrategyConfig, total_steps: int):
        self.config = config
        self.total_steps = total_steps
        self.steps = config.scaled_steps(total_steps)
        self.adapted: list[str] = []
        self.roles: RoleMap | None = None

    def setup(self, model: nn.Module, step: int = 0) -> None:
        """Bring ``model`` to the structure and trainable set of ``step``."""
        raise NotImplementedError

    def phase(self, step: int) -> str:
        """``"full"`` (all or most encoder weights train) or ``"adapter"``."""
        return "adapter"

    def switches_at(self, step: int) -> bool:
        return False

    def switch(self, model: nn.Module) -> None:
        """Go from full-rank warm-up to the adapter phase (s2, s3)."""

    def regularizer(self, model: nn.Module) -> torch.Tensor | None:
        return None

    def after_step(self, model: nn.Module, completed: int) -> None:
        """Rank allocation after the optimizer step that completed step ``completed``."""

    def rank_budget(self, step: int) -> int | None:
        """Total rank over the adapted matrices at ``step`` (None where it does not apply)."""
        return None

    def final_shape_from(self) -> int:
        """The first step from which the model keeps its final shape: its trainable set and, for the rank
        schedules, its final ranks. Only a checkpoint from then on can stand for the trained model."""
        return 0

    def final_ranks(self, model: nn.Module) -> dict[str, int] | None:
        """Rank of every adapted matrix at the end (s1, s3), by module name."""
        return None

    def state_dict(self, model: nn.Module) -> dict[str, Any]:
        """What a checkpoint needs beyond the model and optimizer (AdaLoRA's importance scores)."""
        return {}

    def load_state_dict(self, model: nn.Module, state: dict[str, Any]) -> None:
        pass

    def _wrap(self, model: nn.Module, peft_config) -> None:
        from peft import get_peft_model

        with quiet_loading():
            model.backbone = get_peft_model(model.backbone, peft_config)
        # Set the trainable set ourselves: when peft moves a new AdaLoRA layer to the base layer's GPU it
        # re-registers `ranknum` as a fresh, trainable Parameter (seen with peft 0.21.0 on CUDA).
        for name, p in model.backbone.named_parameters():
            p.requires_grad_(".lora_" in name)
        for p in model.head.parameters():
            p.requires_grad_(True)

    def _check_layers(self, model: nn.Module) -> None:
        layers = self.config.layers
        if layers is not None:
            n = num_layers(model.base_encoder())
            bad = [i for i in layers if i >= n]
            if bad:
                raise InputError(f"strategy {self.config.name}",
                                 f"layer {', '.join(map(str, bad))} does not exist (the encoder has layers 0-{n - 1})")

    def _lora_names(self, model: nn.Module) -> list[str]:
        self._check_layers(model)
        self.roles = find_roles(model.base_encoder(), self.config.targets, self.config.layers,
                                getattr(self.config, "modules", None))
        self.adapted = self.roles.modules
        return self.adapted

"""Training strategies, one config dataclass each, and the registry that names them.

=====  =======================================================================================================
name   what trains
=====  =======================================================================================================
ft     every parameter (full fine-tuning); ``layers`` limits it to those encoder layers (embeddings frozen)
lora   LoRA (r 8, alpha 32, dropout 0.1) on Wq, Wk, Wv, Wo, Wf1, Wf2 of every layer; the encoder is frozen
s1     AdaLoRA dynamic rank allocation: P Λ Q triplets, initial rank 12, target 8, importance-driven masking
       (peft's ``update_and_allocate`` after each optimizer step) plus AdaLoRA's orthogonal regulariser,
       which we add ourselves because peft adds it only to an output that carries ``.loss``
s2     high-rank warm-up: full fine-tuning for the warm-up steps, then LoRA on the warmed weights
s3     mixed-rank staging: full-rank warm-up, then an AdaLoRA model whose total rank budget follows
       :class:`RankSchedule` (Eq. 1); peft has no scheduler, so we drive the budget here with its
       importance scores and masking
=====  =======================================================================================================

The head (a linear layer on [CLS]) always trains; every parameter count here includes it.

Step counts. The paper (arXiv 2401.10447) trains for tens of thousands of steps: warm-up 5000, an initial-rank
phase of 5000, the target rank from step 25000. The run length is not in our notes, so we take
``PAPER_TOTAL_STEPS = 30000`` (the target-rank phase then lasts 5000 steps, like the other two phases) and keep
the proportions: on a run of T steps, warm-up T/6, initial-rank phase T/6, target rank from 5T/6. Explicit
values in a config win; the values in use come back from :meth:`scaled_steps` for printing and storing.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import torch
from torch import nn

from .errors import InputError
from .rescorer import quiet_loading
from .schedule import RankSchedule

PAPER_TOTAL_STEPS = 30000
PAPER_WARMUP_STEPS = 5000
PAPER_INITIAL_RANK_STEPS = 5000
PAPER_TARGET_FROM_STEP = 25000

# Wq, Wk, Wv, Wo, Wf1, Wf2 under the names BERT-style encoders give them (first) and DistilBERT's (second).
TARGETS = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")
_TARGET_SUFFIXES = {
    "query": ("attention.self.query", "attention.q_lin"),
    "key": ("attention.self.key", "attention.k_lin"),
    "value": ("attention.self.value", "attention.v_lin"),
    "attention.output.dense": ("attention.output.dense", "attention.out_lin"),
    "intermediate.dense": ("intermediate.dense", "ffn.lin1"),
    "output.dense": ("output.dense", "ffn.lin2"),
}
_LAYER_NAME = re.compile(r"(?:^|\.)layer\.(\d+)\.(.+)$")


def scale_steps(paper_steps: int, total_steps: int) -> int:
    """``paper_steps`` of the paper's 30000-step run, scaled to a run of ``total_steps``."""
    return int(round(paper_steps * total_steps / PAPER_TOTAL_STEPS))


def num_layers(encoder: nn.Module) -> int:
    config = encoder.config
    return int(getattr(config, "num_hidden_layers", None) or getattr(config, "n_layers"))


def adapted_module_names(encoder: nn.Module, targets: tuple[str, ...] = TARGETS,
                         layers: tuple[int, ...] | None = None) -> list[str]:
    """Names (relative to ``encoder``) of the linear layers that LoRA adapts, in model order."""
    suffixes = {s: t for t in targets for s in _TARGET_SUFFIXES[t]}
    names = []
    for name, module in encoder.named_modules():
        match = _LAYER_NAME.search(name)
        if not match or not isinstance(module, nn.Linear):
            continue
        if match.group(2) in suffixes and (layers is None or int(match.group(1)) in layers):
            names.append(name)
    if not names:
        raise InputError("strategy", f"found no layers to adapt in a {type(encoder).__name__} "
                                     f"(targets {', '.join(targets)}); is it a BERT-family encoder?")
    return names


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


def orthogonal_penalty(model: nn.Module) -> torch.Tensor:
    """AdaLoRA's regulariser: mean over adapted matrices of ||P Pᵀ - I||_F for P = lora_A and Qᵀ Q for Q = lora_B."""
    terms = []
    for name, p in model.named_parameters():
        if not p.requires_grad or p.ndim != 2:
            continue
        if ".lora_A." in name:
            gram = p @ p.T
        elif ".lora_B." in name:
            gram = p.T @ p
        else:
            continue
        eye = torch.eye(gram.shape[0], device=gram.device, dtype=gram.dtype)
        terms.append(torch.linalg.matrix_norm(gram - eye))
    if not terms:
        return torch.zeros(())
    return torch.stack(terms).mean()


# ---------------------------------------------------------------------------------------------------------
# configs


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
        if "targets" in out:
            out["targets"] = list(out["targets"])
        return out

    def start(self, total_steps: int) -> "StrategyRun":
        raise NotImplementedError


@dataclass
class FtConfig(StrategyConfig):
    """Full fine-tuning of every parameter."""

    name: ClassVar[str] = "ft"

    def start(self, total_steps: int) -> "StrategyRun":
        return FullRun(self, total_steps)


@dataclass
class _AdapterConfig(StrategyConfig):
    targets: tuple[str, ...] = TARGETS
    alpha: float = 32
    dropout: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        where = f"strategy {self.name}"
        self.targets = (self.targets,) if isinstance(self.targets, str) else tuple(self.targets)
        unknown = [t for t in self.targets if t not in _TARGET_SUFFIXES]
        if unknown or not self.targets:
            raise InputError(where, f"unknown target {', '.join(unknown) or '(none)'} "
                                    f"(choose from {', '.join(TARGETS)})")
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
class _AdaLoraFields(_AdapterConfig):
    init_r: int = 12
    target_r: int = 8
    # AdaLoRA paper's GLUE setting; peft defaults to 0.5, which outweighs an MWER loss of order 0.1.
    orth_reg_weight: float = 0.1
    beta1: float = 0.85
    beta2: float = 0.85

    def __post_init__(self) -> None:
        super().__post_init__()
        where = f"strategy {self.name}"
        if not (isinstance(self.init_r, int) and isinstance(self.target_r, int) and self.init_r >= self.target_r >= 1):
            raise InputError(where, f"needs whole ranks init_r >= target_r >= 1, got {self.init_r}, {self.target_r}")
        if self.orth_reg_weight < 0:
            raise InputError(where, f"orth_reg_weight must be >= 0, got {self.orth_reg_weight}")
        for key in ("beta1", "beta2"):
            if not 0 < getattr(self, key) < 1:
                raise InputError(where, f"{key} must be in (0, 1), got {getattr(self, key)}")

    def adalora_config(self, module_names: list[str], *, tinit: int, tfinal: int, total_step: int):
        from peft import AdaLoraConfig

        return AdaLoraConfig(init_r=self.init_r, target_r=self.target_r, lora_alpha=self.alpha,
                             lora_dropout=self.dropout, target_modules=list(module_names), tinit=tinit,
                             tfinal=tfinal, total_step=total_step, deltaT=1, beta1=self.beta1, beta2=self.beta2,
                             orth_reg_weight=self.orth_reg_weight)


@dataclass
class S1Config(_AdaLoraFields):
    """AdaLoRA. ``tinit``: steps at the initial rank; ``tfinal``: steps at the final allocation (None: scaled)."""

    name: ClassVar[str] = "s1"
    tinit: int | None = None
    tfinal: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive_steps(f"strategy {self.name}", tinit=self.tinit, tfinal=self.tfinal)

    def scaled_steps(self, total_steps: int) -> dict[str, int]:
        tinit = scale_steps(PAPER_INITIAL_RANK_STEPS, total_steps) if self.tinit is None else self.tinit
        tfinal = self.tfinal
        if tfinal is None:
            tfinal = total_steps - scale_steps(PAPER_TARGET_FROM_STEP, total_steps)
        if tinit >= total_steps - tfinal:
            raise InputError(f"strategy {self.name}", f"no rank-allocation phase: tinit {tinit} + tfinal {tfinal} "
                                                      f"must be below the {total_steps} total steps")
        return {"tinit": tinit, "tfinal": tfinal, "target_from": total_steps - tfinal, "total_steps": total_steps}

    def start(self, total_steps: int) -> "StrategyRun":
        return AdaLoraRun(self, total_steps)


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


@dataclass
class S3Config(_AdaLoraFields):
    """Mixed-rank staging (Eq. 1): full-rank warm-up to ``warmup_steps`` (t_w), the initial rank r_i = ``init_r``
    for ``initial_steps`` more (to t_i), cubic decay to r_T = ``target_r`` by ``target_from`` (T - t_f), r_T after.
    None: scaled from the paper. ``printed_eq1`` uses Eq. 1 exactly as printed (see :mod:`.schedule`)."""

    name: ClassVar[str] = "s3"
    warmup_steps: int | None = None
    initial_steps: int | None = None
    target_from: int | None = None
    printed_eq1: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive_steps(f"strategy {self.name}", warmup_steps=self.warmup_steps,
                              initial_steps=self.initial_steps, target_from=self.target_from)

    def scaled_steps(self, total_steps: int) -> dict[str, int]:
        t_w = scale_steps(PAPER_WARMUP_STEPS, total_steps) if self.warmup_steps is None else self.warmup_steps
        initial = self.initial_steps
        if initial is None:
            initial = scale_steps(PAPER_INITIAL_RANK_STEPS, total_steps)
        target_from = scale_steps(PAPER_TARGET_FROM_STEP, total_steps) if self.target_from is None else self.target_from
        t_i = t_w + initial
        if not (t_w < total_steps and t_i < target_from <= total_steps):
            raise InputError(f"strategy {self.name}",
                             f"steps do not fit a {total_steps}-step run: warm-up to {t_w}, initial rank to {t_i}, "
                             f"target rank from {target_from} (need warm-up < total and "
                             f"initial < target_from <= total)")
        return {"warmup_steps": t_w, "t_init": t_i, "target_from": target_from,
                "t_final": total_steps - target_from, "total_steps": total_steps}

    def schedule(self, total_steps: int, full_rank: int) -> RankSchedule:
        s = self.scaled_steps(total_steps)
        return RankSchedule(r_full=full_rank, r_init=self.init_r, r_target=self.target_r, t_warmup=s["warmup_steps"],
                            t_init=s["t_init"], t_final=s["t_final"], total=total_steps, printed=self.printed_eq1)

    def start(self, total_steps: int) -> "StrategyRun":
        return MixedRankRun(self, total_steps)


STRATEGIES: dict[str, type[StrategyConfig]] = {
    cls.name: cls for cls in (FtConfig, LoraStrategyConfig, S1Config, S2Config, S3Config)
}


def strategy_config(name: str, **options: Any) -> StrategyConfig:
    """The config of strategy ``name`` with ``options`` (InputError names the known strategies or options)."""
    cls = STRATEGIES.get(name)
    if cls is None:
        raise InputError("strategy", f"unknown strategy {name!r} (known: {', '.join(STRATEGIES)})")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(f"strategy {name}", f"unknown option {', '.join(unknown)} "
                                             f"(options: {', '.join(sorted(known))})")
    return cls(**options)


# ---------------------------------------------------------------------------------------------------------
# runs: what a strategy does to the model during training


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
        self.adapted = adapted_module_names(model.base_encoder(), self.config.targets, self.config.layers)
        return self.adapted


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


class WarmupLoraRun(_WarmupPhases, StrategyRun):
    """s2: full fine-tuning before ``warmup_steps``, LoRA from there on."""

    def setup(self, model: nn.Module, step: int = 0) -> None:
        self._setup_phases(model, step)

    def switch(self, model: nn.Module) -> None:
        self._wrap(model, self.config.peft_config(self._lora_names(model)))


class AdaLoraRun(StrategyRun):
    """s1: peft AdaLoRA with its own budget scheduler; we add the orthogonal regulariser."""

    def setup(self, model: nn.Module, step: int = 0) -> None:
        s = self.steps
        self._wrap(model, self.config.adalora_config(self._lora_names(model), tinit=s["tinit"], tfinal=s["tfinal"],
                                                     total_step=self.total_steps))

    def regularizer(self, model: nn.Module) -> torch.Tensor | None:
        if self.config.orth_reg_weight == 0:
            return None
        return self.config.orth_reg_weight * orthogonal_penalty(model.backbone)

    def after_step(self, model: nn.Module, completed: int) -> None:
        model.backbone.base_model.update_and_allocate(completed)

    def rank_budget(self, step: int) -> int | None:
        s = self.steps
        n = len(self.adapted)
        init, target = self.config.init_r * n, self.config.target_r * n
        if step <= s["tinit"]:
            return init
        if step >= s["target_from"]:
            return target
        coeff = 1 - (step - s["tinit"]) / (s["target_from"] - s["tinit"])
        return int((init - target) * coeff ** 3 + target)

    def final_ranks(self, model: nn.Module) -> dict[str, int] | None:
        return _ranks_of(model)

    def state_dict(self, model: nn.Module) -> dict[str, Any]:
        return _allocator_state(model)

    def load_state_dict(self, model: nn.Module, state: dict[str, Any]) -> None:
        if state:
            _load_allocator_state(model, state)


class MixedRankRun(_WarmupPhases, AdaLoraRun):
    """s3: full-rank warm-up, then AdaLoRA masking to the total budget of :class:`RankSchedule` at each step."""

    def schedule_for(self, model: nn.Module) -> RankSchedule:
        return self.config.schedule(self.total_steps, full_rank=model.hidden_size)

    def setup(self, model: nn.Module, step: int = 0) -> None:
        self.schedule = self.schedule_for(model)
        self._setup_phases(model, step)

    def switch(self, model: nn.Module) -> None:
        s = self.steps
        # peft's own scheduler is never called; its fields are set to the equivalent post-warm-up values.
        config = self.config.adalora_config(self._lora_names(model), tinit=s["t_init"] - s["warmup_steps"],
                                            tfinal=s["t_final"], total_step=self.total_steps - s["warmup_steps"])
        self._wrap(model, config)

    def after_step(self, model: nn.Module, completed: int) -> None:
        if completed <= self.warmup:
            return
        tuner = model.backbone.base_model
        allocator, inner = tuner.rankallocator, tuner.model
        peft_config = tuner.peft_config[tuner.trainable_adapter_name]
        end = self.schedule.decay_end
        if completed <= end:
            allocator.update_ipt(inner)
            budget = self.schedule.budget(completed, len(self.adapted))
            if completed == end:
                peft_config.rank_pattern = allocator.mask_to_budget(inner, budget)
                allocator.reset_ipt()
            elif budget < allocator.init_bgt:
                peft_config.rank_pattern = allocator.mask_to_budget(inner, budget)
        elif peft_config.rank_pattern is not None:
            allocator.mask_using_rank_pattern(inner, peft_config.rank_pattern)

    def rank_budget(self, step: int) -> int | None:
        n = len(self.adapted)
        if step < self.warmup:
            return int(self.schedule.r_full) * n
        return self.schedule.budget(step, n)


def _ranks_of(model: nn.Module) -> dict[str, int] | None:
    """Rank per adapted matrix: the kept triplets of the rank pattern, or the non-zero singular values."""
    backbone = model.backbone
    if not hasattr(backbone, "peft_config"):
        return None
    tuner = backbone.base_model
    pattern = tuner.peft_config[tuner.trainable_adapter_name].rank_pattern
    ranks = {}
    for name, p in tuner.model.named_parameters():
        if ".lora_E." not in name:
            continue
        module = name.split(".lora_E.")[0]
        if pattern is not None and name in pattern:
            ranks[module] = int(sum(bool(v) for v in pattern[name]))
        else:
            ranks[module] = int((p.detach() != 0).sum().item())
    return ranks


def _allocator_state(model: nn.Module) -> dict[str, Any]:
    backbone = model.backbone
    if not hasattr(backbone, "peft_config"):
        return {}
    tuner = backbone.base_model
    allocator = tuner.rankallocator
    return {
        "ipt": {k: v.detach().cpu() for k, v in allocator.ipt.items()},
        "exp_avg_ipt": {k: v.detach().cpu() for k, v in allocator.exp_avg_ipt.items()},
        "exp_avg_unc": {k: v.detach().cpu() for k, v in allocator.exp_avg_unc.items()},
        "rank_pattern": tuner.peft_config[tuner.trainable_adapter_name].rank_pattern,
    }


def _load_allocator_state(model: nn.Module, state: dict[str, Any]) -> None:
    tuner = model.backbone.base_model
    allocator = tuner.rankallocator
    device = next(model.parameters()).device
    for key in ("ipt", "exp_avg_ipt", "exp_avg_unc"):
        setattr(allocator, key, {k: v.to(device) for k, v in state[key].items()})
    tuner.peft_config[tuner.trainable_adapter_name].rank_pattern = state["rank_pattern"]

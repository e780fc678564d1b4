"""s1 and s3, the AdaLoRA strategies, and what they own for either engine: regulariser, importance, allocation.

s1 is peft's AdaLoRA (P Λ Q triplets, initial rank 12, target 8) with peft's own budget schedule; s3 is a
full-rank warm-up, then an AdaLoRA model whose total rank budget follows :class:`..schedule.RankSchedule`
(Eq. 1), which peft lacks. Both allocate ranks here, after every optimizer step, with peft's allocator
(``budget_schedule``, ``mask_to_budget``, ``mask_using_rank_pattern``) fed by our importance update
(:func:`update_importance`: peft's sensitivity arithmetic, bit for bit, as a few multi-tensor operations), so
nothing of peft is patched. AdaLoRA's orthogonal regulariser is added to the loss by the strategy
(:class:`AdaLoraOrthogonal`, one batched product per matrix shape), because peft adds it only to a model
output that carries ``.loss`` and the MWER loss is external. The same code serves the hf and packed engines:
both leave the gradients on the peft model's own parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from lorascope.core.errors import InputError
from lorascope.core.training.schedule import RankSchedule
from lorascope.core.training.strategies.base import (PAPER_INITIAL_RANK_STEPS, PAPER_TARGET_FROM_STEP, PAPER_WARMUP_STEPS, StrategyRun,
                   _check_positive_steps, scale_steps)
from lorascope.core.training.strategies.lora import _AdapterConfig, _WarmupPhases


def find_adalora(model: nn.Module):
    """The peft AdaLoraModel inside ``model`` (it holds the rank allocator), or None."""
    for module in model.modules():
        if hasattr(module, "rankallocator") and hasattr(module, "update_and_allocate"):
            return module
    return None


class AdaLoraOrthogonal:
    """AdaLoRA's orthogonal regulariser, peft's formula, one batched product per matrix shape."""

    def __init__(self, adalora_model: nn.Module, weight: float | None = None):
        adapter = adalora_model.trainable_adapter_name
        self.weight = float(adalora_model.peft_config[adapter].orth_reg_weight if weight is None else weight)
        groups: dict[tuple, list[torch.Tensor]] = {}
        for name, param in adalora_model.model.named_parameters():
            if adapter not in name or not param.requires_grad or param.numel() == 0:
                continue
            if "lora_A" in name or "lora_B" in name:
                groups.setdefault(("lora_A" in name, tuple(param.shape)), []).append(param)
        self.groups = list(groups.items())
        self.count = sum(len(ps) for _, ps in self.groups)

    def __call__(self) -> torch.Tensor:
        total = None
        for (is_a, _), params in self.groups:
            m = torch.stack(params)
            cov = m @ m.transpose(1, 2) if is_a else m.transpose(1, 2) @ m      # (n, r, r)
            eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
            norms = (cov - eye).pow(2).sum(dim=(1, 2)).sqrt().sum()
            total = norms if total is None else total + norms
        if total is None:
            raise ValueError("AdaLoRA regulariser: the model has no trainable lora_A / lora_B matrices")
        return self.weight * total / self.count


def importance_step(params: list[torch.Tensor], exp_avg_ipt: list[torch.Tensor], exp_avg_unc: list[torch.Tensor],
                     beta1: float, beta2: float) -> tuple[list[torch.Tensor], ...]:
    """peft's sensitivity update over many matrices at once: new ``(ipt, exp_avg_ipt, exp_avg_unc)`` lists.

    ``ipt = |p * grad|``, ``avg = beta1 avg + (1 - beta1) ipt``, ``unc = beta2 unc + (1 - beta2) |ipt - avg|``,
    the operations in peft's order, so the numbers are peft's bit for bit.
    """
    grads = [p.grad for p in params]
    if any(g is None for g in grads):
        raise ValueError("AdaLoRA importance: an adapter matrix has no gradient yet")
    with torch.no_grad():
        ipt = torch._foreach_mul(params, grads)
        torch._foreach_abs_(ipt)
        avg = torch._foreach_add(torch._foreach_mul(exp_avg_ipt, beta1), torch._foreach_mul(ipt, 1 - beta1))
        diff = torch._foreach_sub(ipt, avg)
        torch._foreach_abs_(diff)
        unc = torch._foreach_add(torch._foreach_mul(exp_avg_unc, beta2), torch._foreach_mul(diff, 1 - beta2))
    return ipt, avg, unc


def foreach_update_ipt(allocator) -> Callable[[nn.Module], None]:
    """peft's ``RankAllocator.update_ipt`` with multi-tensor ops, for ``allocator.update_ipt = ...``.

    :func:`importance_step`: peft's numbers bit for bit, but about ten operations in all instead of about
    ten per adapter matrix; reads and writes the allocator's own
    dictionaries (new tensors each step, as peft does), so ``reset_ipt``, ``mask_to_budget`` and checkpoints
    see what they would see with peft's.
    """
    beta1, beta2 = float(allocator.beta1), float(allocator.beta2)

    def update_ipt(model: nn.Module) -> None:
        named = [(n, p) for n, p in model.named_parameters() if "lora_" in n and allocator.adapter_name in n]
        if not named:
            return
        for n, p in named:
            if n not in allocator.ipt:
                allocator.ipt[n] = torch.zeros_like(p)
                allocator.exp_avg_ipt[n] = torch.zeros_like(p)
                allocator.exp_avg_unc[n] = torch.zeros_like(p)
        names = [n for n, _ in named]
        ipt, avg, unc = importance_step([p for _, p in named], [allocator.exp_avg_ipt[n] for n in names],
                                         [allocator.exp_avg_unc[n] for n in names], beta1, beta2)
        for n, a, b, c in zip(names, ipt, avg, unc):
            allocator.ipt[n], allocator.exp_avg_ipt[n], allocator.exp_avg_unc[n] = a, b, c

    return update_ipt


def update_importance(allocator, model: nn.Module) -> None:
    """One importance update of ``allocator`` from the gradients on ``model`` (peft's ``update_ipt``, batched)."""
    foreach_update_ipt(allocator)(model)


def orthogonal_penalty(model: nn.Module) -> torch.Tensor:
    """AdaLoRA's regulariser without its weight: mean over adapted matrices of ||P Pᵀ - I||_F and ||Qᵀ Q - I||_F.

    Zero when the model has no trainable AdaLoRA matrices.
    """
    adalora = find_adalora(model)
    reg = AdaLoraOrthogonal(adalora, weight=1.0) if adalora is not None else None
    return reg() if reg is not None and reg.count else torch.zeros(())


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


class AdaLoraRun(StrategyRun):
    """s1: peft AdaLoRA with its own budget scheduler; the orthogonal regulariser and the allocation are ours."""

    _orthogonal: AdaLoraOrthogonal | None = None

    def setup(self, model: nn.Module, step: int = 0) -> None:
        s = self.steps
        self._wrap_adalora(model, self.config.adalora_config(self._lora_names(model), tinit=s["tinit"],
                                                             tfinal=s["tfinal"], total_step=self.total_steps))

    def _wrap_adalora(self, model: nn.Module, peft_config) -> None:
        self._wrap(model, peft_config)
        weight = self.config.orth_reg_weight
        self._orthogonal = AdaLoraOrthogonal(model.backbone.base_model, weight) if weight > 0 else None

    def regularizer(self, model: nn.Module) -> torch.Tensor | None:
        return None if self._orthogonal is None else self._orthogonal()

    def after_step(self, model: nn.Module, completed: int) -> None:
        """peft's ``AdaLoraModel.update_and_allocate(completed)``, step for step, with our importance update."""
        tuner = model.backbone.base_model
        allocator, inner = tuner.rankallocator, tuner.model
        peft_config = tuner.peft_config[tuner.trainable_adapter_name]
        end = peft_config.total_step - peft_config.tfinal
        if completed < end:
            update_importance(allocator, inner)
            budget, mask_now = allocator.budget_schedule(completed)
            pattern = allocator.mask_to_budget(inner, budget) if mask_now else None
            if pattern:
                peft_config.rank_pattern = pattern
        elif completed == end:
            budget, _ = allocator.budget_schedule(completed)
            peft_config.rank_pattern = allocator.mask_to_budget(inner, budget)
            allocator.reset_ipt()
        else:
            allocator.mask_using_rank_pattern(inner, peft_config.rank_pattern)

    def final_shape_from(self) -> int:
        return self.steps["target_from"]

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
        self._wrap_adalora(model, config)

    def final_shape_from(self) -> int:
        return self.schedule.decay_end

    def after_step(self, model: nn.Module, completed: int) -> None:
        if completed <= self.warmup:
            return
        tuner = model.backbone.base_model
        allocator, inner = tuner.rankallocator, tuner.model
        peft_config = tuner.peft_config[tuner.trainable_adapter_name]
        end = self.schedule.decay_end
        if completed <= end:
            update_importance(allocator, inner)
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

"""Training strategies, one config dataclass each (a module per family), and the registry that names them.

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
none   nothing: the pretrained LM as it is (causal LMs only), the combination tuned on dev
=====  =======================================================================================================

The head (a linear layer on [CLS]) always trains; every parameter count here includes it.

Step counts. The paper (arXiv 2401.10447) trains for tens of thousands of steps: warm-up 5000, an initial-rank
phase of 5000, the target rank from step 25000. The run length is not in our notes, so we take
``PAPER_TOTAL_STEPS = 30000`` (the target-rank phase then lasts 5000 steps, like the other two phases) and keep
the proportions: on a run of T steps, warm-up T/6, initial-rank phase T/6, target rank from 5T/6. Explicit
values in a config win; the values in use come back from :meth:`scaled_steps` for printing and storing.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from lorascope.core.errors import InputError
from lorascope.core.names import STRATEGY_NAMES, check_registry
from lorascope.core.training.strategies.adalora import AdaLoraOrthogonal, S1Config, S3Config, orthogonal_penalty
from lorascope.core.training.strategies.base import (PAPER_INITIAL_RANK_STEPS, PAPER_TARGET_FROM_STEP, PAPER_TOTAL_STEPS, PAPER_WARMUP_STEPS, TARGETS,
                   ParamCount, StrategyConfig, StrategyRun, adapted_module_names, count_parameters, num_layers,
                   scale_steps)
from lorascope.core.training.strategies.full import FtConfig
from lorascope.core.training.strategies.lora import LoraStrategyConfig, S2Config
from lorascope.core.training.strategies.none import NoneConfig

STRATEGIES: dict[str, type[StrategyConfig]] = {
    cls.name: cls for cls in (FtConfig, LoraStrategyConfig, S1Config, S2Config, S3Config, NoneConfig)
}
check_registry("strategy", STRATEGIES, STRATEGY_NAMES)


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


__all__ = ["PAPER_INITIAL_RANK_STEPS", "PAPER_TARGET_FROM_STEP", "PAPER_TOTAL_STEPS", "PAPER_WARMUP_STEPS", "STRATEGIES",
           "TARGETS", "AdaLoraOrthogonal", "FtConfig", "LoraStrategyConfig", "NoneConfig", "ParamCount", "S1Config", "S2Config",
           "S3Config", "StrategyConfig", "StrategyRun", "adapted_module_names", "count_parameters", "num_layers",
           "orthogonal_penalty", "scale_steps", "strategy_config"]

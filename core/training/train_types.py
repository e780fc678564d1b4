"""What a training run takes and tells: its config (with its validation), its events, its result, its length rule."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from lorascope.core.scoring.backbone import DEFAULT_BACKBONE
from lorascope.core.combination.tune import CombinationSearch, EvalResult
from lorascope.core.errors import InputError
from lorascope.core.scoring.rescorer import Rescorer, check_engine
from lorascope.core.training.strategies import STRATEGIES, ParamCount, StrategyConfig, strategy_config

#: Dev evaluations over a run when ``eval_every`` is 0 (besides the final one).
DEV_EVALUATIONS = 8


@dataclass
class TrainConfig:
    """Everything that decides a training run's result (plus device and reporting intervals, which do not).

    ``steps`` None: ``epochs`` passes over the informative training lists (module docstring).
    ``eval_every`` 0 means :data:`DEV_EVALUATIONS` dev evaluations over the run, ``None`` none before the end;
    ``checkpoint_every`` 0 or ``None`` writes checkpoints only on interruption (when a folder is given).
    """

    strategy: str = "lora"
    strategy_options: dict[str, Any] = field(default_factory=dict)
    backbone: str = DEFAULT_BACKBONE
    steps: int | None = None
    epochs: float = 3.0
    batch_size: int = 4
    lr_full: float = 5e-5      # encoder weights while they train in full (ft, s2/s3 warm-up)
    # LoRA / AdaLoRA weights. 3e-4, not 1e-3: over the length rule's 687 steps on the sample sets LoRA at 1e-3
    # lost its dev gain after ~150 steps near the peak (dev WER back at the first pass), 3e-4 kept learning.
    lr_adapter: float = 3e-4
    lr_head: float = 1e-3
    lr_warmup: float = 0.1     # share of the steps with a linear learning-rate ramp, then cosine to lr_min
    lr_min: float = 0.1        # final learning rate as a share of the peak
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    cor_weight: float = 0.0    # LoRB correlation regulariser
    consistency_weight: float = 0.0   # KL between a list's and its perturbed twin's N-best distributions
    dropout: float | None = None   # the backbone's hidden and attention dropout (None: as its config has it)
    prior_weight: float | None = None
    normalize_features: bool = True   # scale [CLS] dimensions to unit within-list spread before the head
    max_length: int = 128
    seed: int = 0
    device: str = "auto"
    eval_every: int | None = 0
    checkpoint_every: int | None = None
    score_batch_size: int = 128
    engine: str = "auto"       # "hf", "packed", or "auto": packed on CUDA for BERT backbones, else hf
    lambda_confidence: float = 0.95   # keep a tuned combination only if it beats the first pass in this share
                                      # of bootstrap resamples of dev (0: keep the best on dev whatever its margin)
    keep_best: bool = True     # restore the weights of the best dev evaluation when they beat the final ones

    def __post_init__(self) -> None:
        def bad(problem: str) -> InputError:
            return InputError("training config", problem)

        if self.strategy not in STRATEGIES:
            raise InputError("strategy", f"unknown strategy {self.strategy!r} (known: {', '.join(STRATEGIES)})")
        check_engine(self.engine)
        self.strategy_options = dict(self.strategy_options or {})
        self.strategy_config()  # validates the options
        for key in ("batch_size", "max_length", "score_batch_size"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                raise bad(f"{key} must be a positive integer, got {value!r}")
        if self.steps is not None and (not isinstance(self.steps, int) or self.steps < 1):
            raise bad(f"steps must be a positive integer (or None: from the data), got {self.steps!r}")
        if not (isinstance(self.epochs, (int, float)) and self.epochs > 0):
            raise bad(f"epochs must be a positive number, got {self.epochs!r}")
        for key in ("lr_full", "lr_adapter", "lr_head"):
            if not getattr(self, key) > 0:
                raise bad(f"{key} must be positive, got {getattr(self, key)}")
        if not 0 <= self.lr_warmup < 1 or not 0 <= self.lr_min <= 1:
            raise bad("lr_warmup must be in [0, 1) and lr_min in [0, 1]")
        if not 0 <= self.lambda_confidence <= 1:
            raise bad(f"lambda_confidence must be in [0, 1], got {self.lambda_confidence}")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise bad(f"dropout must be in [0, 1), got {self.dropout}")
        if self.cor_weight < 0 or self.weight_decay < 0 or self.grad_clip < 0 or self.consistency_weight < 0:
            raise bad("cor_weight, consistency_weight, weight_decay and grad_clip must be >= 0")
        if self.prior_weight is not None and not self.prior_weight > 0:
            raise bad(f"prior_weight must be positive, got {self.prior_weight}")
        for key in ("eval_every", "checkpoint_every"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise bad(f"{key} must be a whole number of steps >= 0, got {value!r}")

    def strategy_config(self) -> StrategyConfig:
        return strategy_config(self.strategy, **self.strategy_options)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------------
# events


@dataclass(frozen=True)
class TrainStarted:
    total_steps: int
    start_step: int                 # > 0 when resuming
    strategy: str
    scaled_steps: dict[str, int]
    trainable: ParamCount           # at the start step; head included
    adapted_matrices: int
    device: str
    engine: str                     # "hf" or "packed", as resolved for this model and device
    train_utterances: int           # lists that train (their hypotheses differ in word errors)
    skipped_utterances: int         # lists whose hypotheses all have the same errors: no MWER gradient
    prior_weight: float
    steps_rule: str = ""            # how the run's length was chosen
    processes: int = 1
    family: str = "cls"             # the scorer family: "cls" (head on [CLS]) or "causal" (log-probability)
    adapted_roles: str = ""         # the adapted modules per role (roles.RoleMap.describe), "" when none


@dataclass(frozen=True)
class PhaseChanged:
    step: int
    phase: str                      # "adapter" after an s2/s3 warm-up
    trainable: ParamCount


@dataclass(frozen=True)
class StepRecord:
    """One optimizer step; also the entries of :attr:`TrainResult.loss_history`."""

    step: int                       # completed steps, 1-based
    loss: float
    mwer: float
    correlation: float
    orthogonal: float
    lr: float                       # of the encoder/adapter weights
    rank_budget: int | None         # total rank over the adapted matrices (s1/s3, and s3's warm-up at full rank)
    mean_rank: float | None
    phase: str
    consistency: float = 0.0        # KL(list ‖ its perturbed twin), when training with twins


@dataclass(frozen=True)
class StepDone:
    record: StepRecord
    total_steps: int
    elapsed_s: float


@dataclass(frozen=True)
class DevEvaluated:
    step: int
    wer: float                      # under the training combination (prior + LM / prior weight)
    lam: float                      # the training λ, 1 / prior weight
    best_wer: float                 # best over the λ grid on top of the training prior: what selects the kept step
    best_lam: float
    first_pass_wer: float


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    path: str
    reason: str                     # "periodic", "stopped", "keyboard-interrupt"


@dataclass(frozen=True)
class CheckpointLoaded:
    """A resumed run took the checkpoint of ``step``; ``skipped`` lists newer ones that did not read back whole
    (file name, why), which a crash can leave behind."""

    step: int
    path: str
    skipped: list[tuple[str, str]]


@dataclass(frozen=True)
class BestRestored:
    """The weights of an earlier dev evaluation were kept instead of the final ones."""

    step: int
    dev_wer: float
    final_dev_wer: float


@dataclass(frozen=True)
class LambdaTuned:
    """The combination was tuned on dev (the name is older than the combination's other weights)."""

    search: CombinationSearch


@dataclass(frozen=True)
class TrainFinished:
    status: str                     # "finished" or "interrupted"
    steps_done: int
    wall_time_s: float


@dataclass
class TrainResult:
    """What a run produced. For an interrupted run (and on ranks other than 0) the tuning and evaluations stay empty."""

    status: str
    config: TrainConfig
    steps_done: int
    total_steps: int
    scaled_steps: dict[str, int]
    prior_weight: float
    lam: float | None                            # the tuned combination's λ
    combination_search: CombinationSearch | None
    dev: EvalResult | None
    evals: dict[str, EvalResult]
    trainable: ParamCount                        # final phase, head included
    trainable_by_phase: dict[str, ParamCount]    # "full" and/or "adapter"
    final_ranks: dict[str, int] | None           # s1/s3: rank of every adapted matrix
    loss_history: list[StepRecord]
    dev_history: list[DevEvaluated]
    wall_time_s: float
    train_utterances: int
    skipped_utterances: int
    adapter_dir: str | None
    checkpoint_path: str | None
    steps_rule: str = ""
    kept_step: int | None = None                 # the step whose weights were kept (the last, or the best on dev)
    rescorer: Rescorer | None = field(default=None, repr=False)
    gate: Any = None                             # core.crossfit.GatedSearch: the out-of-fold gate's verdict
    eval_errors: dict[str, str] = field(default_factory=dict)   # a set whose evaluation failed: why


def resolve_steps(config: TrainConfig, informative: int) -> tuple[int, str]:
    """The run's length and how it was chosen: ``config.steps``, else ``epochs`` over the informative lists."""
    if config.steps is not None:
        return config.steps, f"{config.steps} steps (given)"
    steps = max(1, math.ceil(config.epochs * informative / config.batch_size))
    return steps, (f"{steps} steps: {config.epochs:g} epochs over {informative} informative lists, "
                   f"{config.batch_size} a step")

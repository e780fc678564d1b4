"""Train a rescorer with MWER on N-best lists, tune λ on dev, and report what happened; the loop is :func:`train`.

Each step takes ``batch_size`` utterances, scores all their hypotheses, combines ``w·prior + LM`` (``w`` the
prior weight), takes the MWER loss (+ LoRB's correlation term, + AdaLoRA's orthogonal term for s1/s3),
steps the optimizer and lets the strategy allocate ranks. Progress goes out as the event dataclasses below
through ``on_event``; nothing here prints.

Scaling of the LM score. During training the prior enters with a fixed weight ``w`` (default: one over the
mean per-list standard deviation of the prior on the training set, so the prior alone gives logits of unit
spread) and the LM score with weight one; the head, which starts at zero, learns the LM's scale. A learned
weight on the prior is deliberately absent: in the design probes such a weight grew quickly, the N-best
softmax saturated on the first-pass order and the LM stopped receiving gradient. After training, λ in
``prior + λ·LM`` is chosen on dev from a grid of multiples of ``1 / w`` (the λ the model was trained at) that
also holds 0, so the tuned combination can always fall back to the first pass; and it does, unless the best
λ beats the first pass in at least ``lambda_confidence`` (0.95) of paired-bootstrap resamples of dev
(:func:`.combine.search_lambda`), so a λ picked on a noise-level dev gain does not reach unseen data.

Engines. ``engine="hf"`` runs each step's hypotheses through the Hugging Face (peft) model as one padded
batch. ``"packed"`` runs them through :class:`.packed.PackedBertEncoder` in training mode over the model's own
parameters: no padding (variable-length attention on CUDA, attention per length group on a CPU), Q, K and V
as one product, frozen weights copied once (bf16 on CUDA), and each LoRA / AdaLoRA product folded into the
frozen product so no gradient of a frozen weight is formed. Loss, clipping, optimizer and rank allocation are
the same code on both. The packed copy of the frozen weights is rebuilt after a phase switch and a resume.
Both engines compute the same function, but draw dropout masks differently (one LoRA-dropout mask shared
by Q, K and V), so their runs are not bit-identical. ``"auto"`` picks packed on CUDA for BERT backbones and
hf on a CPU, where packed steps measured only 1.02-1.18x faster (short lists pad little) and hf keeps
earlier CPU runs reproducible. Dev scoring during training uses the training engine.

Reproducibility. The seed fixes the initial weights, the data order (a fixed permutation per epoch) and
dropout. A checkpoint holds the model, the optimizer, the strategy's rank-allocation state, the step and the
random-number state at the step boundary, so a resumed run ends with the same weights as an uninterrupted one
(on the same device and thread count).
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .combine import (CombinationSearch, EvalResult, ScoreTable, evaluate_scores, lambda_grid, search_lambda,
                      training_combination, tune_combination)
from .errors import InputError
from .losses import correlation_penalty, mwer_loss, pad_lists
from .metrics import hypothesis_errors, reference_lengths
from .nbest import Utterance
from .fastpath import AdaLoraOrthogonal, find_adalora, foreach_update_ipt
from .packed import PackedBertEncoder, compute_dtype, pack
from .rescorer import (DEFAULT_BACKBONE, Rescorer, RescorerModel, autocast, check_engine, collate, evaluate,
                       load_backbone, load_rescorer, resolve_device, resolve_engine, save_rescorer)
from .strategies import STRATEGIES, ParamCount, StrategyConfig, count_parameters, strategy_config

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 1
# Fields that may differ between a run and its resumption without changing the result.
_RESUME_FREE_FIELDS = {"device", "eval_every", "checkpoint_every", "score_batch_size"}

__all__ = [
    "TrainConfig", "TrainResult", "StepRecord", "train", "evaluate", "load_rescorer", "save_rescorer",
    "TrainStarted", "PhaseChanged", "StepDone", "DevEvaluated", "CheckpointSaved", "LambdaTuned", "TrainFinished",
    "auto_prior_weight",
]


@dataclass
class TrainConfig:
    """Everything that decides a training run's result (plus device and reporting intervals, which do not).

    Defaults are sized for a CPU: 250 steps of 4 utterances, one pass over 1000 utterances.
    ``eval_every`` 0 means four dev evaluations over the run, ``None`` none before the end;
    ``checkpoint_every`` 0 or ``None`` writes checkpoints only on interruption (when a folder is given).
    """

    strategy: str = "lora"
    strategy_options: dict[str, Any] = field(default_factory=dict)
    backbone: str = DEFAULT_BACKBONE
    steps: int = 250
    batch_size: int = 4
    lr_full: float = 5e-5      # encoder weights while they train in full (ft, s2/s3 warm-up)
    lr_adapter: float = 1e-3   # LoRA / AdaLoRA weights
    lr_head: float = 1e-3
    lr_warmup: float = 0.1     # share of the steps with a linear learning-rate ramp, then cosine to lr_min
    lr_min: float = 0.1        # final learning rate as a share of the peak
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    cor_weight: float = 0.0    # LoRB correlation regulariser
    prior_weight: float | None = None
    normalize_features: bool = True   # scale [CLS] dimensions to unit within-list spread before the head
    max_length: int = 128
    seed: int = 0
    device: str = "auto"
    eval_every: int | None = 0
    checkpoint_every: int | None = None
    score_batch_size: int = 128
    engine: str = "auto"       # "hf", "packed", or "auto": packed on CUDA for BERT backbones, else hf
    lambda_confidence: float = 0.95   # keep a dev-tuned λ > 0 only if it beats λ = 0 in this share of
                                      # bootstrap resamples of dev (0: keep the best dev λ whatever its margin)

    def __post_init__(self) -> None:
        def bad(problem: str) -> InputError:
            return InputError("training config", problem)

        if self.strategy not in STRATEGIES:
            raise InputError("strategy", f"unknown strategy {self.strategy!r} (known: {', '.join(STRATEGIES)})")
        check_engine(self.engine)
        self.strategy_options = dict(self.strategy_options or {})
        self.strategy_config()  # validates the options
        for key in ("steps", "batch_size", "max_length", "score_batch_size"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                raise bad(f"{key} must be a positive integer, got {value!r}")
        for key in ("lr_full", "lr_adapter", "lr_head"):
            if not getattr(self, key) > 0:
                raise bad(f"{key} must be positive, got {getattr(self, key)}")
        if not 0 <= self.lr_warmup < 1 or not 0 <= self.lr_min <= 1:
            raise bad("lr_warmup must be in [0, 1) and lr_min in [0, 1]")
        if not 0 <= self.lambda_confidence <= 1:
            raise bad(f"lambda_confidence must be in [0, 1], got {self.lambda_confidence}")
        if self.cor_weight < 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise bad("cor_weight, weight_decay and grad_clip must be >= 0")
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
    best_wer: float                 # best over the λ grid on top of the first pass
    best_lam: float
    first_pass_wer: float


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    path: str
    reason: str                     # "periodic", "stopped", "keyboard-interrupt"


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
    """What a run produced. For an interrupted run, ``lam``, ``dev`` and ``evals`` stay empty."""

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
    rescorer: Rescorer | None = field(default=None, repr=False)


# ---------------------------------------------------------------------------------------------------------
# helpers


def auto_prior_weight(utterances: Sequence[Utterance]) -> float:
    """One over the mean per-list standard deviation of the prior scores (1 when they do not vary)."""
    spreads = [statistics.pstdev(u.prior_scores()) for u in utterances if len(u.hypotheses) > 1]
    mean = statistics.fmean(spreads) if spreads else 0.0
    return 1.0 / mean if mean > 0 else 1.0


def within_list_feature_scale(rescorer: Rescorer, token_ids: Sequence[list[list[int]]], *,
                              batch_size: int = 128) -> torch.Tensor:
    """One over the per-dimension spread of [CLS] vectors around their own N-best's mean.

    What tells the hypotheses of one list apart are small differences between nearly identical sentences; in
    raw [CLS] units they are tiny, so a zero-initialised head needs many steps before its output separates
    them and the encoder (or its adapters) gets a useful gradient. Scaling every dimension to unit
    within-list spread makes a step of the head's weights move the LM score by the same order as the prior's
    spacing. Dimensions that barely vary are amplified at most ten times the average.
    """
    flat = [ids for utt in token_ids for ids in utt]
    cls = rescorer.cls_vectors(flat, batch_size=batch_size)
    deviations, pos = [], 0
    for utt in token_ids:
        block = cls[pos:pos + len(utt)]
        deviations.append(block - block.mean(dim=0, keepdim=True))
        pos += len(utt)
    sigma = torch.cat(deviations).pow(2).mean(dim=0).sqrt()
    if not float(sigma.mean()) > 0:
        return torch.ones_like(sigma)
    return 1.0 / sigma.clamp_min(0.1 * float(sigma.mean()))


def _check_set(utterances: Sequence[Utterance], what: str) -> None:
    if not utterances:
        raise InputError(what, "is empty")
    for u in utterances:
        if u.reference is None:
            raise InputError(f"{what}, utterance {u.id}", "has no reference transcript; training and λ tuning "
                                                          "need references")
        if not u.hypotheses:
            raise InputError(f"{what}, utterance {u.id}", "has no hypotheses")


def _fingerprint(utterances: Sequence[Utterance]) -> str:
    h = hashlib.sha256()
    for u in utterances:
        h.update(repr((u.id, u.reference, u.texts, u.prior_scores())).encode())
    return h.hexdigest()[:16]


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def _rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _lr_multiplier(step: int, config: TrainConfig) -> float:
    """Linear ramp over the first ``lr_warmup`` share of the steps, then cosine down to ``lr_min``."""
    ramp = int(config.lr_warmup * config.steps)
    if step < ramp:
        return (step + 1) / ramp
    progress = (step - ramp) / max(1, config.steps - ramp)
    return config.lr_min + (1 - config.lr_min) * 0.5 * (1 + math.cos(math.pi * progress))


def _make_optimizer(model: RescorerModel, config: TrainConfig, phase: str) -> torch.optim.Optimizer:
    """AdamW over two groups, encoder/adapter weights and the head, each in parameter-name order.

    On CUDA the fused implementation (one kernel per step for all parameters); elsewhere torch's default.
    """
    body = [(n, p) for n, p in model.named_parameters() if p.requires_grad and not n.startswith("head.")]
    head = list(model.head.named_parameters(prefix="head"))
    body_lr = config.lr_full if phase == "full" else config.lr_adapter
    groups = [{"params": [p for _, p in body], "names": [n for n, _ in body], "lr": body_lr, "base_lr": body_lr},
              {"params": [p for _, p in head], "names": [n for n, _ in head], "lr": config.lr_head,
               "base_lr": config.lr_head}]
    fused = {"fused": True} if next(model.parameters()).is_cuda else {}
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay, **fused)


def _load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    for group, saved in zip(optimizer.param_groups, state["param_groups"]):
        if group["names"] != saved.get("names", group["names"]):
            missing = sorted(set(saved["names"]) - set(group["names"]))[:3]
            extra = sorted(set(group["names"]) - set(saved["names"]))[:3]
            raise InputError("resume", f"the checkpoint trains other parameters than this run would "
                                       f"(only in the checkpoint: {missing}; only here: {extra})")
    optimizer.load_state_dict(state)


class _Batches:
    """Utterance indices of every step: consecutive slices of one fixed permutation per epoch."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self._perms: dict[int, list[int]] = {}

    def _perm(self, epoch: int) -> list[int]:
        if epoch not in self._perms:
            order = list(range(self.n))
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
            self._perms = {epoch: order}
        return self._perms[epoch]

    def __call__(self, step: int) -> list[int]:
        out = []
        for pos in range(step * self.batch_size, (step + 1) * self.batch_size):
            out.append(self._perm(pos // self.n)[pos % self.n])
        return out


def _first_of_epoch(batches: _Batches, count: int) -> list[int]:
    """The first ``count`` utterance indices of epoch 0's order (all of them on small sets)."""
    return batches._perm(0)[:count]


def _checkpoint_file(path: str | Path) -> Path:
    path = Path(path)
    return path / CHECKPOINT_NAME if path.is_dir() or not path.suffix else path


def _read_checkpoint(path: str | Path) -> dict[str, Any]:
    file = _checkpoint_file(path)
    if not file.exists():
        raise InputError(str(path), "no checkpoint to resume from")
    try:
        payload = torch.load(file, map_location="cpu", weights_only=False)
    except Exception as exc:  # a truncated or foreign file
        raise InputError(str(file), f"cannot be read as a lorascope checkpoint ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise InputError(str(file), "not a lorascope checkpoint")
    return payload


def _write_checkpoint(directory: str | Path, payload: dict[str, Any]) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    file = directory / CHECKPOINT_NAME
    tmp = file.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, file)
    return file


def _check_resumable(checkpoint: dict[str, Any], config: TrainConfig, fingerprint: str) -> None:
    # fields added after a checkpoint was written count as their defaults
    old = {**TrainConfig(strategy=config.strategy).to_dict(), **checkpoint["config"]}
    new = config.to_dict()
    changed = sorted(k for k in new if k not in _RESUME_FREE_FIELDS and old.get(k) != new[k])
    if changed:
        detail = ", ".join(f"{k} {old.get(k)!r} -> {new[k]!r}" for k in changed)
        raise InputError("resume", f"the checkpoint was written with a different config ({detail})")
    if checkpoint["data"] != fingerprint:
        raise InputError("resume", "the checkpoint was written for different training data")


def _packed_trainer(model: RescorerModel, device: torch.device, strategy: StrategyConfig):
    """A trainable packed encoder over the model's current parameters (bf16 frozen copies on CUDA), and the
    AdaLoRA orthogonal regulariser as one batched product per matrix shape (None without AdaLoRA).

    With AdaLoRA, the rank allocator's importance update is swapped for the multi-tensor one (same numbers).
    """
    encoder = PackedBertEncoder(model.backbone, dtype=compute_dtype(device), trainable=True).to(device)
    adalora = find_adalora(model.backbone)
    if adalora is None:
        return encoder, None
    adalora.rankallocator.update_ipt = foreach_update_ipt(adalora.rankallocator)
    weight = getattr(strategy, "orth_reg_weight", 0.0)
    return encoder, (AdaLoraOrthogonal(adalora) if weight > 0 else None)


def _dev_scores(rescorer: Rescorer, token_ids: list[list[list[int]]], batch_size: int) -> list[list[float]]:
    flat = rescorer.score_token_ids([ids for utt in token_ids for ids in utt], batch_size=batch_size)
    out, pos = [], 0
    for utt in token_ids:
        out.append(flat[pos:pos + len(utt)])
        pos += len(utt)
    return out


# ---------------------------------------------------------------------------------------------------------
# the loop


def train(config: TrainConfig, train_utts: Sequence[Utterance], dev_utts: Sequence[Utterance],
          on_event: Callable[[Any], None] | None = None, checkpoint_dir: str | Path | None = None,
          resume_from: str | Path | None = None, should_stop: Callable[[], bool] | None = None, *,
          eval_sets: dict[str, Sequence[Utterance]] | None = None,
          adapter_dir: str | Path | None = None) -> TrainResult:
    """Train, tune λ on ``dev_utts``, evaluate ``eval_sets`` and save the adapter to ``adapter_dir``.

    ``should_stop`` is asked after every step; when it returns True the run writes a checkpoint (given
    ``checkpoint_dir``) and returns with status ``"interrupted"``. A KeyboardInterrupt writes the checkpoint
    and is raised again. ``resume_from`` (a checkpoint file or its folder) continues such a run; the config and
    training data must be the ones it was written with.
    """
    started = time.perf_counter()
    emit = on_event or (lambda event: None)
    _check_set(train_utts, "training set")
    _check_set(dev_utts, "dev set")
    strategy = config.strategy_config()
    scaled = strategy.scaled_steps(config.steps)

    train_table = hypothesis_errors(train_utts)
    informative = [k for k, row in enumerate(train_table) if len(set(row)) > 1]
    if not informative:
        raise InputError("training set", "in no utterance do the hypotheses differ in word errors, so MWER has "
                                         "nothing to learn")
    utts = [train_utts[k] for k in informative]
    errors = [train_table[k] for k in informative]
    priors = [u.prior_scores() for u in utts]
    prior_weight = config.prior_weight or auto_prior_weight(utts)
    dev_table, dev_lens = hypothesis_errors(dev_utts), reference_lengths(dev_utts)
    fingerprint = _fingerprint(train_utts)
    checkpoint = _read_checkpoint(resume_from) if resume_from is not None else None
    if checkpoint is not None:
        _check_resumable(checkpoint, config, fingerprint)
    start = checkpoint["step"] if checkpoint else 0

    _seed_everything(config.seed)
    device = resolve_device(config.device)
    encoder, tokenizer = load_backbone(config.backbone, seed=config.seed)
    model = RescorerModel(encoder)
    run = strategy.start(config.steps)
    run.setup(model, start)
    engine = resolve_engine(config.engine, model.backbone, device, training=True)
    rescorer = Rescorer(model=model, tokenizer=tokenizer, backbone=config.backbone, max_length=config.max_length,
                        device=device, prior_weight=prior_weight, engine=engine)
    train_ids = [rescorer.encode(u.texts) for u in utts]
    dev_ids = [rescorer.encode(u.texts) for u in dev_utts]
    batches = _Batches(len(utts), config.batch_size, config.seed)
    train_lam = 1.0 / prior_weight
    grid = lambda_grid(train_lam)
    if config.normalize_features and checkpoint is None:
        sample = [train_ids[k] for k in _first_of_epoch(batches, 256)]
        with torch.no_grad():
            model.feature_scale.copy_(within_list_feature_scale(rescorer, sample, batch_size=config.score_batch_size))
    optimizer = _make_optimizer(model, config, run.phase(start))
    trainable_by_phase = {run.phase(start): count_parameters(model)}
    history: list[StepRecord] = []
    dev_history: list[DevEvaluated] = []
    elapsed_before = 0.0
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        _load_optimizer_state(optimizer, checkpoint["optimizer"])
        run.load_state_dict(model, checkpoint["strategy"])
        history = [StepRecord(**r) for r in checkpoint["history"]]
        dev_history = [DevEvaluated(**r) for r in checkpoint["dev_history"]]
        trainable_by_phase.update({k: ParamCount(**v) for k, v in checkpoint["trainable_by_phase"].items()})
        elapsed_before = checkpoint["elapsed_s"]
        _set_rng_state(checkpoint["rng"])
    packed, packed_orth = _packed_trainer(model, device, strategy) if engine == "packed" else (None, None)

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - started

    def save_checkpoint(step: int, rng: dict[str, Any], reason: str) -> str | None:
        if checkpoint_dir is None:
            return None
        payload = {
            "format": CHECKPOINT_FORMAT, "config": config.to_dict(), "data": fingerprint, "step": step,
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "strategy": run.state_dict(model),
            "history": [asdict(r) for r in history], "dev_history": [asdict(r) for r in dev_history],
            "trainable_by_phase": {k: asdict(v) for k, v in trainable_by_phase.items()},
            "elapsed_s": elapsed(), "rng": rng,
        }
        path = str(_write_checkpoint(checkpoint_dir, payload))
        emit(CheckpointSaved(step=step, path=path, reason=reason))
        return path

    def evaluate_dev(step: int) -> list[list[float]]:
        lm = _dev_scores(rescorer, dev_ids, config.score_batch_size)
        table = ScoreTable(dev_utts, lm, error_table=dev_table, ref_lengths=dev_lens, features=("prior",))
        search = search_lambda(dev_utts, lm, grid, table=table)
        record = DevEvaluated(step=step, wer=table.wer(training_combination(prior_weight)), lam=train_lam,
                              best_wer=search.wer, best_lam=search.lam, first_pass_wer=search.first_pass_wer)
        dev_history.append(record)
        emit(record)
        return lm

    eval_every = config.eval_every
    if eval_every == 0:
        eval_every = max(1, config.steps // 4)
    emit(TrainStarted(total_steps=config.steps, start_step=start, strategy=config.strategy, scaled_steps=scaled,
                      trainable=count_parameters(model), adapted_matrices=len(run.adapted), device=str(device),
                      engine=engine, train_utterances=len(utts), skipped_utterances=len(train_utts) - len(utts),
                      prior_weight=prior_weight))

    status, checkpoint_path = "finished", None
    step = start
    boundary_rng, mid_step, in_update = _rng_state(), False, False
    try:
        while step < config.steps:
            if run.switches_at(step):
                in_update = True  # a half-made switch is not worth a checkpoint
                run.switch(model)
                model.to(device)
                optimizer = _make_optimizer(model, config, run.phase(step))
                if engine == "packed":
                    packed, packed_orth = _packed_trainer(model, device, strategy)
                in_update = False
                trainable_by_phase[run.phase(step)] = count_parameters(model)
                emit(PhaseChanged(step=step, phase=run.phase(step), trainable=trainable_by_phase[run.phase(step)]))
            boundary_rng, mid_step = _rng_state(), True
            scale = _lr_multiplier(step, config)
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * scale

            # forward: every hypothesis of the batch's utterances in one batch, padded or packed
            idx = batches(step)
            seqs = [seq for k in idx for seq in train_ids[k]]
            model.train()
            if packed is not None:
                packed.train()
                cls = packed(pack(seqs, device=device))
                lm_flat = model.head_scores(cls)
            else:
                ids, attention = collate(seqs, rescorer.pad_id, device)
                with autocast(device):
                    lm_flat, cls = model(ids, attention)
            prior, mask = pad_lists([priors[k] for k in idx], device=device)
            errs, _ = pad_lists([errors[k] for k in idx], device=device)
            lm = torch.zeros_like(prior).masked_scatter(mask, lm_flat)
            mwer = mwer_loss(prior_weight * prior + lm, errs, mask)
            cor = correlation_penalty(cls) if config.cor_weight > 0 else torch.zeros((), device=device)
            orth = run.regularizer(model) if packed_orth is None else packed_orth()
            orth = torch.zeros((), device=device) if orth is None else orth.to(device)
            loss = mwer + config.cor_weight * cor + orth

            # backward, step, rank allocation
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], config.grad_clip)
            in_update = True
            optimizer.step()
            run.after_step(model, step + 1)
            step += 1
            in_update = mid_step = False

            budget = run.rank_budget(step)
            record = StepRecord(step=step, loss=loss.item(), mwer=mwer.item(), correlation=cor.item(),
                                orthogonal=orth.item(), lr=optimizer.param_groups[0]["lr"], rank_budget=budget,
                                mean_rank=budget / len(run.adapted) if budget is not None and run.adapted else None,
                                phase=run.phase(step - 1))
            history.append(record)
            emit(StepDone(record=record, total_steps=config.steps, elapsed_s=elapsed()))
            if eval_every and step % eval_every == 0 and step < config.steps:
                evaluate_dev(step)
            if config.checkpoint_every and step % config.checkpoint_every == 0 and step < config.steps:
                checkpoint_path = save_checkpoint(step, _rng_state(), "periodic")
            if should_stop is not None and step < config.steps and should_stop():
                checkpoint_path = save_checkpoint(step, _rng_state(), "stopped")
                status = "interrupted"
                break
    except KeyboardInterrupt:
        # Mid optimizer step the weights are half-updated: keep the last good checkpoint instead.
        if not in_update:
            save_checkpoint(step, boundary_rng if mid_step else _rng_state(), "keyboard-interrupt")
        emit(TrainFinished(status="interrupted", steps_done=step, wall_time_s=elapsed()))
        raise

    final_ranks = run.final_ranks(model)
    rescorer.info = {
        "strategy": config.strategy, "strategy_config": strategy.to_dict(), "scaled_steps": scaled,
        "steps": config.steps, "seed": config.seed, "final_ranks": final_ranks,
        "trainable_params": count_parameters(model).trainable, "total_params": count_parameters(model).total,
        "engine": engine,
    }
    lam = search = dev_result = None
    evals: dict[str, EvalResult] = {}
    saved = None
    if status == "finished":
        dev_lm = evaluate_dev(step)
        gate = config.lambda_confidence if config.lambda_confidence > 0 else None
        search = tune_combination(dev_utts, dev_lm, error_table=dev_table, ref_lengths=dev_lens, min_p_better=gate,
                                  seed=config.seed)
        lam = search.lam
        emit(LambdaTuned(search=search))
        rescorer.combination = search.combination
        dev_result = evaluate_scores(dev_utts, dev_lm, search.combination)
        for name, eval_utts in (eval_sets or {}).items():
            evals[name] = evaluate(rescorer, list(eval_utts), on_event=on_event)
        if adapter_dir is not None:
            full_trained = "full" in trainable_by_phase
            saved = str(save_rescorer(rescorer, adapter_dir, save_encoder=full_trained))
    rescorer.model.eval()
    wall = elapsed()
    emit(TrainFinished(status=status, steps_done=step, wall_time_s=wall))
    return TrainResult(
        status=status, config=config, steps_done=step, total_steps=config.steps, scaled_steps=scaled,
        prior_weight=prior_weight, lam=lam, combination_search=search, dev=dev_result, evals=evals,
        trainable=count_parameters(model), trainable_by_phase=trainable_by_phase, final_ranks=final_ranks,
        loss_history=history, dev_history=dev_history, wall_time_s=wall, train_utterances=len(utts),
        skipped_utterances=len(train_utts) - len(utts), adapter_dir=saved, checkpoint_path=checkpoint_path,
        rescorer=rescorer,
    )


"""The state of one training run as typed values: :class:`Plan` (what the inputs decide before anything loads) and
:class:`Loop` (the model, optimizer, forward pass, step counters and clock the loop of :func:`.train.train` moves
on), with the pieces that act on that state alone: starting a phase, evaluating dev, writing a checkpoint."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from lorascope.core.combination.tune import (FIRST_PASS_COMBINATION, Combination, ScoreTable, search_lambda,
                                             training_combination)
from lorascope.core.data.nbest import Utterance
from lorascope.core.scoring.rescorer import ModelPass, Rescorer, RescorerModel
from lorascope.core.training.checkpoint import TrainState, write_checkpoint
from lorascope.core.training.distributed import Distributed, data_parallel
from lorascope.core.training.optim import Batches, make_optimizer
from lorascope.core.training.strategies import StrategyConfig, StrategyRun, count_parameters
from lorascope.core.training.train_types import CheckpointSaved, DevEvaluated, TrainConfig

#: The periodic dev evaluations pick λ on top of the prior the model trains against (the first-pass score, or the
#: rank for rank-only lists): the model's own family of combinations, a quick proxy for the final tuning.
TRAINING_PRIOR = Combination.of({"prior": 1.0})


@dataclass
class Plan:
    """What the inputs decide before a model loads: the informative lists, the run's length, the prior weight."""

    utts: list[Utterance]                   # the training lists whose hypotheses differ in word errors
    twins: list[Utterance] | None           # the perturbed twin of each of them (consistency)
    skipped: int                            # training lists left out (no MWER gradient)
    strategy: StrategyConfig
    total: int                              # steps
    steps_rule: str
    scaled: dict[str, int]                  # the strategy's step counts scaled to ``total``
    prior_weight: float
    data: str                               # fingerprint of the training data (checkpoints check it)
    dev_utts: Sequence[Utterance]
    dev_table: list[list[int]]              # word errors of every dev hypothesis
    dev_lens: list[int]                     # dev reference lengths


class Forward(torch.nn.Module):
    """The training forward pass as a module over the rescorer, so DistributedDataParallel can wrap it."""

    def __init__(self, model: RescorerModel, model_pass: ModelPass):
        super().__init__()
        self.model = model
        self.model_pass = model_pass

    def forward(self, token_ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model_pass(token_ids)


@dataclass
class Loop:
    """What the training loop moves on: built (or resumed) once, then changed step by step."""

    config: TrainConfig
    plan: Plan
    dist: Distributed
    emit: Callable[[Any], None]             # events out (a no-op on ranks other than 0)
    state: TrainState                       # what a checkpoint keeps besides model, optimizer and strategy
    model: RescorerModel
    rescorer: Rescorer
    run: StrategyRun
    engine: str
    device: torch.device
    train_ids: list[list[list[int]]]
    dev_ids: list[list[list[int]]]
    priors: list[list[float]]
    errors: list[list[int]]
    batches: Batches
    twin_ids: list[list[list[int]]] | None
    twin_errors: list[list[int]] | None
    checkpoint_dir: str | Path | None
    clock: float                            # + perf_counter() = elapsed time, resumed runs included
    train_lam: float = 1.0
    grid: list[float] = field(default_factory=list)
    eval_every: int = 0
    optimizer: torch.optim.Optimizer | None = None
    forward: torch.nn.Module | None = None
    step: int = 0
    status: str = "finished"
    checkpoint_path: str | None = None
    boundary_rng: dict[str, Any] | None = None  # the RNG state at the start of the step under way
    mid_step: bool = False                  # a step has started and not finished
    in_update: bool = False                 # the weights are being changed: a checkpoint now would be half-made

    def elapsed(self) -> float:
        return self.clock + time.perf_counter()

    def start_phase(self, step: int) -> None:
        """A fresh optimizer and forward pass for the strategy's phase at ``step``."""
        phase = self.run.phase(step)
        config = self.config
        self.optimizer = make_optimizer(self.model, lr_body=config.lr_full if phase == "full" else config.lr_adapter,
                                        lr_head=config.lr_head, weight_decay=config.weight_decay)
        self.forward = data_parallel(Forward(self.model, ModelPass(self.model, self.engine, self.device,
                                                                   self.rescorer.pad_id, trainable=True)),
                                     self.dist, self.device)
        self.state.trainable_by_phase.setdefault(phase, asdict(count_parameters(self.model)))

    def save_checkpoint(self, rng: dict[str, Any], reason: str) -> str | None:
        """Write a checkpoint at the current step (rank 0, given a folder); its path."""
        if self.checkpoint_dir is None or not self.dist.is_main:
            return None
        self.state.step, self.state.elapsed_s = self.step, self.elapsed()
        assert self.optimizer is not None
        path = str(write_checkpoint(self.checkpoint_dir, {
            "config": self.config.to_dict(), "data": self.plan.data, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "strategy": self.run.state_dict(self.model),
            "state": self.state.to_dict(), "rng": rng}))
        self.emit(CheckpointSaved(step=self.step, path=path, reason=reason))
        return path

    def evaluate_dev(self, step: int) -> tuple[list[list[float]], float]:
        """Score dev, record and emit its WER at the training λ and the best λ; the LM scores and that best WER."""
        plan = self.plan
        lm = dev_scores(self.rescorer, self.dev_ids, self.config.score_batch_size)
        table = ScoreTable(plan.dev_utts, lm, error_table=plan.dev_table, ref_lengths=plan.dev_lens,
                           features=("prior",))
        search = search_lambda(plan.dev_utts, lm, self.grid, table=table, base=TRAINING_PRIOR)
        record = DevEvaluated(step=step, wer=table.wer(training_combination(plan.prior_weight)), lam=self.train_lam,
                              best_wer=search.wer, best_lam=search.lam,
                              first_pass_wer=table.wer(FIRST_PASS_COMBINATION))
        self.state.dev_history.append(asdict(record))
        self.emit(record)
        return lm, search.wer


def dev_scores(rescorer: Rescorer, token_ids: list[list[list[int]]], batch_size: int) -> list[list[float]]:
    """The LM score of every hypothesis, list by list."""
    flat = rescorer.score_token_ids([ids for utt in token_ids for ids in utt], batch_size=batch_size)
    out, pos = [], 0
    for utt in token_ids:
        out.append(flat[pos:pos + len(utt)])
        pos += len(utt)
    return out


def trainable_weights(model: RescorerModel) -> dict[str, torch.Tensor]:
    """A CPU copy of the trainable parameters (the best dev weights kept)."""
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}

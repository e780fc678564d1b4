"""Train a rescorer with MWER on N-best lists, tune the combination on dev, and report what happened: :func:`train`.

Each step takes ``batch_size`` lists, scores all their hypotheses, combines ``w·prior + LM`` (``w`` the prior
weight), takes the MWER loss (+ LoRB's correlation term, + the strategy's regulariser: AdaLoRA's orthogonal
term for s1/s3), steps the optimizer and lets the strategy allocate ranks. Progress goes out as the event
dataclasses below through ``on_event``; nothing here prints.

Length. By default a run lasts ``epochs`` (3) passes over the informative lists (those whose hypotheses differ
in word errors; the others give MWER no gradient), ``ceil(epochs * lists / batch_size)`` steps; ``steps`` fixes
it instead. Dev WER (the best λ on top of the training prior) is measured ``DEV_EVALUATIONS`` times over the run,
and the weights of the best evaluation are kept and restored at the end when they beat the final ones; only
evaluations from the step at which the strategy's model has its final shape count (after s2/s3's warm-up, after
s1/s3 reach their target ranks). The rule used, the steps and the step kept are reported and stored.

Scaling of the LM score. During training the prior enters with a fixed weight ``w`` (default: one over the
mean per-list standard deviation of the prior on the training set, so the prior alone gives logits of unit
spread) and the LM score with weight one; the head, which starts at zero, learns the LM's scale. A learned
weight on the prior is deliberately absent: in the design probes such a weight grew quickly, the N-best
softmax saturated on the first-pass order and the LM stopped receiving gradient. After training, the
log-linear combination of first-pass evidence and the LM is tuned on dev and gated against the first pass on
out-of-fold dev decisions (:func:`.crossfit.gated_search`).

Engines. ``engine="hf"`` runs each step's hypotheses through the Hugging Face (peft) model as one padded
batch; ``"packed"`` through :class:`.packed.PackedBertEncoder` in training mode over the model's own
parameters (no padding, adapters folded into the frozen product, bf16 frozen copies on CUDA), rebuilt after a
phase switch. :class:`.rescorer.ModelPass` is the one branch between them; loss, clipping, optimizer and rank
allocation are the same code. Both compute the same function but draw dropout masks differently, so their runs
are not bit-identical. ``"auto"`` picks packed on CUDA for BERT backbones and hf on a CPU, where packed steps
measured only 1.02-1.18x faster. Dev scoring during training uses the training engine.

Processes. With a :class:`.distributed.Distributed` of several processes (torchrun), each takes its share of
every step's lists and the forward pass runs under DistributedDataParallel; only rank 0 evaluates dev, emits
events, writes checkpoints and saves the adapter (see :mod:`.distributed`).

Reproducibility. The seed fixes the initial weights, the data order (a fixed permutation per epoch) and
dropout; checkpoints (:mod:`.checkpoint`) hold everything a resumed run needs to end with the same weights as
an uninterrupted one (on the same device, thread count and process count).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from lorascope.core.scoring.adapter import save_rescorer
from lorascope.core.scoring.backbone import load_backbone, resolve_device
from lorascope.core.training.checkpoint import (BestSnapshot, TrainState, check_resumable, fingerprint, read_checkpoint, rng_state,
                         seed_everything, set_rng_state, write_checkpoint)
from lorascope.core.combination.tune import (FIRST_PASS_COMBINATION, Combination, ScoreTable, evaluate_scores, lambda_grid, search_lambda,
                      training_combination)
from lorascope.core.combination.crossfit import gated_search

#: The periodic dev evaluations pick λ on top of the prior the model trains against (the first-pass score, or the
#: rank for rank-only lists): the model's own family of combinations, a quick proxy for the final tuning.
TRAINING_PRIOR = Combination.of({"prior": 1.0})
from lorascope.core.training.distributed import Distributed, data_parallel
from lorascope.core.errors import InputError
from lorascope.core.training.losses import consistency_kl, correlation_penalty, mwer_loss, pad_lists
from lorascope.core.data.metrics import hypothesis_errors, reference_lengths
from lorascope.core.data.nbest import Utterance
from lorascope.core.training.optim import Batches, load_optimizer_state, lr_multiplier, make_optimizer, set_learning_rate
from lorascope.core.scoring.rescorer import ModelPass, Rescorer, RescorerModel, evaluate, rescorer_model, resolve_engine
from lorascope.core.training.strategies import ParamCount, StrategyConfig, StrategyRun, count_parameters
from lorascope.core.training.strategies.none import check_family

from lorascope.core.training.train_types import (DEV_EVALUATIONS, BestRestored, CheckpointLoaded, CheckpointSaved,  # noqa: F401
                          DevEvaluated, LambdaTuned, PhaseChanged, StepDone, StepRecord, TrainConfig, TrainFinished,
                          TrainResult, TrainStarted, resolve_steps)

__all__ = [
    "TrainConfig", "TrainResult", "StepRecord", "train", "TrainStarted", "PhaseChanged", "StepDone", "DevEvaluated",
    "CheckpointSaved", "CheckpointLoaded", "LambdaTuned", "BestRestored", "TrainFinished", "auto_prior_weight",
    "resolve_steps",
]


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


def set_dropout(encoder: torch.nn.Module, p: float) -> None:
    """Set the encoder's hidden and attention dropout to ``p`` (its modules and its config, which the packed
    engine reads)."""
    for module in encoder.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p
    for key in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
        if hasattr(encoder.config, key):
            setattr(encoder.config, key, p)


def _check_set(utterances: Sequence[Utterance], what: str) -> None:
    if not utterances:
        raise InputError(what, "is empty")
    for u in utterances:
        if u.reference is None:
            raise InputError(f"{what}, utterance {u.id}", "has no reference transcript; training and tuning "
                                                          "need references")
        if not u.hypotheses:
            raise InputError(f"{what}, utterance {u.id}", "has no hypotheses")


def _dev_scores(rescorer: Rescorer, token_ids: list[list[list[int]]], batch_size: int) -> list[list[float]]:
    flat = rescorer.score_token_ids([ids for utt in token_ids for ids in utt], batch_size=batch_size)
    out, pos = [], 0
    for utt in token_ids:
        out.append(flat[pos:pos + len(utt)])
        pos += len(utt)
    return out


def _trainable_weights(model: RescorerModel) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


class _Forward(torch.nn.Module):
    """The training forward pass as a module over the rescorer, so DistributedDataParallel can wrap it."""

    def __init__(self, model: RescorerModel, model_pass: ModelPass):
        super().__init__()
        self.model = model
        self.model_pass = model_pass

    def forward(self, token_ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model_pass(token_ids)


@dataclass
class _Setup:
    """What :func:`train` builds before its first step."""

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
    twin_ids: list[list[list[int]]] | None = None      # the perturbed twin of each training list (consistency)
    twin_errors: list[list[int]] | None = None


def _build(config: TrainConfig, strategy: StrategyConfig, total: int, utts: Sequence[Utterance],
           dev_utts: Sequence[Utterance], prior_weight: float, start: int,
           twins: Sequence[Utterance] | None = None) -> _Setup:
    """Seed, load the backbone, apply the strategy at step ``start``, tokenise the lists."""
    seed_everything(config.seed)
    device = resolve_device(config.device)
    encoder, tokenizer = load_backbone(config.backbone, seed=config.seed)
    if config.dropout is not None:
        set_dropout(encoder, config.dropout)
    model = rescorer_model(encoder)
    run = strategy.start(total)
    run.setup(model, start)
    engine = resolve_engine(config.engine, model.backbone, device, training=True)
    rescorer = Rescorer(model=model, tokenizer=tokenizer, backbone=config.backbone, max_length=config.max_length,
                        device=device, prior_weight=prior_weight, engine=engine)
    return _Setup(model=model, rescorer=rescorer, run=run, engine=engine, device=device,
                  train_ids=[rescorer.encode(u.texts) for u in utts], dev_ids=[rescorer.encode(u.texts) for u in dev_utts],
                  priors=[u.prior_scores() for u in utts], errors=hypothesis_errors(utts),
                  batches=Batches(len(utts), config.batch_size, config.seed),
                  twin_ids=None if twins is None else [rescorer.encode(u.texts) for u in twins],
                  twin_errors=None if twins is None else hypothesis_errors(twins))


# ---------------------------------------------------------------------------------------------------------
# the loop


def train(config: TrainConfig, train_utts: Sequence[Utterance], dev_utts: Sequence[Utterance],
          on_event: Callable[[Any], None] | None = None, checkpoint_dir: str | Path | None = None,
          resume_from: str | Path | None = None, should_stop: Callable[[], bool] | None = None, *,
          eval_sets: dict[str, Sequence[Utterance]] | None = None, adapter_dir: str | Path | None = None,
          distributed: Distributed | None = None, twins: Sequence[Utterance] | None = None,
          features: Sequence[str] | None = None) -> TrainResult:
    """Train, tune the combination on ``dev_utts``, evaluate ``eval_sets`` and save the adapter to ``adapter_dir``.

    ``should_stop`` is asked after every step; when it returns True the run writes a checkpoint (given
    ``checkpoint_dir``) and returns with status ``"interrupted"``. A KeyboardInterrupt writes the checkpoint
    and is raised again. ``resume_from`` (a checkpoint file or its folder) continues such a run; the config,
    training data and number of processes must be the ones it was written with.

    ``twins[k]``, a perturbed copy of ``train_utts[k]``, trains beside it: MWER on both lists and, with
    ``config.consistency_weight``, KL(list ‖ twin) of their N-best distributions (the list's taken as the target).
    ``features``: the first-pass features the combination may weigh (default: all dev has).
    """
    started = time.perf_counter()
    dist = distributed or Distributed()
    emit = on_event if on_event is not None and dist.is_main else (lambda event: None)
    _check_set(train_utts, "training set")
    _check_set(dev_utts, "dev set")
    if dist.enabled and not torch.distributed.is_initialized():
        raise InputError("training processes", f"rank {dist.rank} of {dist.world_size}: the process group is not "
                                               f"started (lorascope.core.training.distributed.start)")
    if config.batch_size < dist.world_size:
        raise InputError("--batch-size", f"{config.batch_size} lists a step cannot be shared by {dist.world_size} "
                                         f"processes")
    if config.consistency_weight > 0 and twins is None:
        raise InputError("consistency", "the consistency term needs perturbed twins of the training lists "
                                        "(train --augment perturb --consistency W)")
    if twins is not None and [len(t.hypotheses) for t in twins] != [len(u.hypotheses) for u in train_utts]:
        raise InputError("twins", "each perturbed twin must have its list's number of hypotheses")
    table = hypothesis_errors(train_utts)
    keep = [k for k, row in enumerate(table) if len(set(row)) > 1]
    utts = [train_utts[k] for k in keep]
    twins = None if twins is None else [twins[k] for k in keep]
    if not utts:
        raise InputError("training set", "in no utterance do the hypotheses differ in word errors, so MWER has "
                                         "nothing to learn")
    strategy = config.strategy_config()
    check_family(strategy, config.backbone)
    total, steps_rule = resolve_steps(config, len(utts)) if strategy.trains else (0, "none: the pretrained LM, no steps")
    scaled = strategy.scaled_steps(total)
    prior_weight = config.prior_weight or auto_prior_weight(utts)
    dev_table, dev_lens = hypothesis_errors(dev_utts), reference_lengths(dev_utts)
    data = fingerprint(list(train_utts) + list(twins or []))
    loaded = read_checkpoint(resume_from) if resume_from is not None else None
    checkpoint = loaded.payload if loaded is not None else None
    if checkpoint is not None:
        check_resumable(checkpoint, config.to_dict(), TrainConfig(strategy=config.strategy).to_dict(), data,
                        dist.world_size)
    state = TrainState.from_dict(checkpoint["state"]) if checkpoint else TrainState(world_size=dist.world_size)

    s = _build(config, strategy, total, utts, dev_utts, prior_weight, state.step, twins)
    model, rescorer, run, device = s.model, s.rescorer, s.run, s.device
    if config.normalize_features and checkpoint is None and model.family == "cls":
        with torch.no_grad():
            model.feature_scale.copy_(within_list_feature_scale(
                rescorer, [s.train_ids[k] for k in s.batches.epoch_order(0)[:256]], batch_size=config.score_batch_size))

    def start_phase(step: int) -> tuple[torch.optim.Optimizer, torch.nn.Module]:
        phase = run.phase(step)
        optimizer = make_optimizer(model, lr_body=config.lr_full if phase == "full" else config.lr_adapter,
                                   lr_head=config.lr_head, weight_decay=config.weight_decay)
        forward = data_parallel(_Forward(model, ModelPass(model, s.engine, device, rescorer.pad_id, trainable=True)),
                                dist, device)
        state.trainable_by_phase.setdefault(phase, asdict(count_parameters(model)))
        return optimizer, forward

    optimizer, forward = start_phase(state.step)
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        load_optimizer_state(optimizer, checkpoint["optimizer"])
        run.load_state_dict(model, checkpoint["strategy"])
        set_rng_state(checkpoint["rng"])

    train_lam = 1.0 / prior_weight
    grid = lambda_grid(train_lam)
    clock = state.elapsed_s - started   # + perf_counter() = elapsed time, resumed runs included

    def save_checkpoint(step: int, rng: dict[str, Any], reason: str) -> str | None:
        if checkpoint_dir is None or not dist.is_main:
            return None
        state.step, state.elapsed_s = step, clock + time.perf_counter()
        path = str(write_checkpoint(checkpoint_dir, {
            "config": config.to_dict(), "data": data, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "strategy": run.state_dict(model), "state": state.to_dict(), "rng": rng}))
        emit(CheckpointSaved(step=step, path=path, reason=reason))
        return path

    def evaluate_dev(step: int) -> tuple[list[list[float]], float]:
        lm = _dev_scores(rescorer, s.dev_ids, config.score_batch_size)
        table = ScoreTable(dev_utts, lm, error_table=dev_table, ref_lengths=dev_lens, features=("prior",))
        search = search_lambda(dev_utts, lm, grid, table=table, base=TRAINING_PRIOR)
        record = DevEvaluated(step=step, wer=table.wer(training_combination(prior_weight)), lam=train_lam,
                              best_wer=search.wer, best_lam=search.lam,
                              first_pass_wer=table.wer(FIRST_PASS_COMBINATION))
        state.dev_history.append(asdict(record))
        emit(record)
        return lm, search.wer

    eval_every = max(1, total // DEV_EVALUATIONS) if config.eval_every == 0 else config.eval_every
    if loaded is not None:
        emit(CheckpointLoaded(step=loaded.step, path=str(loaded.path), skipped=loaded.skipped))
    emit(TrainStarted(total_steps=total, start_step=state.step, strategy=config.strategy, scaled_steps=scaled,
                      trainable=count_parameters(model), adapted_matrices=len(run.adapted), device=str(device),
                      family=model.family, adapted_roles=run.roles.describe() if run.roles else "",
                      engine=s.engine, train_utterances=len(utts), skipped_utterances=len(train_utts) - len(utts),
                      prior_weight=prior_weight, steps_rule=steps_rule, processes=dist.world_size))

    status, checkpoint_path, step = "finished", None, state.step
    boundary_rng, mid_step, in_update = rng_state(), False, False
    try:
        while step < total:
            if run.switches_at(step):
                in_update = True  # a half-made switch is not worth a checkpoint
                run.switch(model)
                model.to(device)
                optimizer, forward = start_phase(step)
                in_update = False
                emit(PhaseChanged(step=step, phase=run.phase(step), trainable=count_parameters(model)))
            boundary_rng, mid_step = rng_state(), True
            set_learning_rate(optimizer, lr_multiplier(step, total, config.lr_warmup, config.lr_min))

            # forward: this process's share of the step's lists, every hypothesis in one batch
            idx = dist.share(s.batches(step))
            model.train()
            ids = [s.train_ids[k] for k in idx] + ([s.twin_ids[k] for k in idx] if s.twin_ids else [])
            lm_flat, cls = forward([seq for lists in ids for seq in lists])
            prior, mask = pad_lists([s.priors[k] for k in idx] * (2 if s.twin_ids else 1), device=device)
            errs, _ = pad_lists([s.errors[k] for k in idx] + ([s.twin_errors[k] for k in idx] if s.twin_ids else []),
                                device=device)
            logits = prior_weight * prior + torch.zeros_like(prior).masked_scatter(mask, lm_flat)
            share = len(idx) * dist.world_size / config.batch_size   # the processes' mean is the batch's mean
            mwer = mwer_loss(logits, errs, mask) * share
            agree = (consistency_kl(logits[:len(idx)], logits[len(idx):], mask[:len(idx)]) * share
                     if config.consistency_weight > 0 else torch.zeros((), device=device))
            cor = correlation_penalty(cls) if config.cor_weight > 0 else torch.zeros((), device=device)
            orth = run.regularizer(model)
            orth = torch.zeros((), device=device) if orth is None else orth.to(device)
            loss = mwer + config.cor_weight * cor + orth + config.consistency_weight * agree

            # backward (gradients averaged over the processes), step, rank allocation
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], config.grad_clip)
            in_update = True
            optimizer.step()
            run.after_step(model, step + 1)
            step += 1
            in_update = mid_step = False

            # log, evaluate dev (keeping the best weights), checkpoint, stop
            values = dist.mean([loss.item(), mwer.item(), cor.item(), orth.item(), agree.item()])
            budget = run.rank_budget(step)
            record = StepRecord(step=step, loss=values[0], mwer=values[1], correlation=values[2],
                                orthogonal=values[3], lr=optimizer.param_groups[0]["lr"], rank_budget=budget,
                                mean_rank=budget / len(run.adapted) if budget is not None and run.adapted else None,
                                phase=run.phase(step - 1), consistency=values[4])
            state.history.append(asdict(record))
            emit(StepDone(record=record, total_steps=total, elapsed_s=clock + time.perf_counter()))
            if dist.is_main and eval_every and step % eval_every == 0 and step < total:
                _, wer = evaluate_dev(step)
                if config.keep_best and step >= run.final_shape_from() and (
                        state.best is None or wer < state.best.dev_wer):
                    state.best = BestSnapshot(step, wer, _trainable_weights(model), run.state_dict(model))
            if config.checkpoint_every and step % config.checkpoint_every == 0 and step < total:
                checkpoint_path = save_checkpoint(step, rng_state(), "periodic")
            if step < total and dist.any(should_stop is not None and should_stop()):
                checkpoint_path = save_checkpoint(step, rng_state(), "stopped")
                status = "interrupted"
                break
    except KeyboardInterrupt:
        # Mid optimizer step the weights are half-updated: keep the last good checkpoint instead.
        if not in_update:
            save_checkpoint(step, boundary_rng if mid_step else rng_state(), "keyboard-interrupt")
        emit(TrainFinished(status="interrupted", steps_done=step, wall_time_s=clock + time.perf_counter()))
        raise

    state.step, state.elapsed_s = step, clock + time.perf_counter()
    result = TrainResult(
        status=status, config=config, steps_done=step, total_steps=total, scaled_steps=scaled,
        prior_weight=prior_weight, lam=None, combination_search=None, dev=None, evals={},
        trainable=count_parameters(model),
        trainable_by_phase={k: ParamCount(**v) for k, v in state.trainable_by_phase.items()},
        final_ranks=run.final_ranks(model), loss_history=[StepRecord(**r) for r in state.history],
        dev_history=[DevEvaluated(**r) for r in state.dev_history], wall_time_s=state.elapsed_s,
        train_utterances=len(utts), skipped_utterances=len(train_utts) - len(utts), adapter_dir=None,
        checkpoint_path=checkpoint_path, steps_rule=steps_rule, kept_step=step, rescorer=rescorer)
    if status == "finished" and dist.is_main:
        _finish(result, config, s, state, evaluate_dev, dev_utts, dev_table, dev_lens, eval_sets, adapter_dir,
                emit, on_event, features)
        result.dev_history = [DevEvaluated(**r) for r in state.dev_history]   # the final evaluation too
    rescorer.model.eval()
    result.wall_time_s = clock + time.perf_counter()
    emit(TrainFinished(status=status, steps_done=step, wall_time_s=result.wall_time_s))
    return result


def _finish(result: TrainResult, config: TrainConfig, s: _Setup, state: TrainState, evaluate_dev, dev_utts,
            dev_table, dev_lens, eval_sets, adapter_dir, emit, on_event, features=None) -> None:
    """After the last step: keep the best dev weights, tune the combination, evaluate, save the adapter."""
    model, rescorer, run = s.model, s.rescorer, s.run
    dev_lm, final_wer = evaluate_dev(result.steps_done)
    best = state.best
    if best is not None and best.step < result.steps_done and best.dev_wer < final_wer:
        model.load_state_dict(best.weights, strict=False)
        run.load_state_dict(model, best.strategy)
        dev_lm = _dev_scores(rescorer, s.dev_ids, config.score_batch_size)
        result.kept_step = best.step
        result.final_ranks = run.final_ranks(model)
        emit(BestRestored(step=best.step, dev_wer=best.dev_wer, final_dev_wer=final_wer))
    gate = config.lambda_confidence if config.lambda_confidence > 0 else None
    result.gate = gated_search(dev_utts, dev_lm, min_p_better=gate, features=features, seed=config.seed,
                               error_table=dev_table, ref_lengths=dev_lens)
    search = result.gate.search
    emit(LambdaTuned(search=search))
    rescorer.combination = search.combination
    result.lam, result.combination_search = search.lam, search
    result.dev = evaluate_scores(dev_utts, dev_lm, search.combination)
    rescorer.info = {
        "strategy": config.strategy, "strategy_config": config.strategy_config().to_dict(),
        "scaled_steps": result.scaled_steps, "steps": result.total_steps, "steps_rule": result.steps_rule,
        "kept_step": result.kept_step, "seed": config.seed, "final_ranks": result.final_ranks,
        "trainable_params": result.trainable.trainable, "total_params": result.trainable.total, "engine": s.engine,
        "family": model.family,
    }
    if adapter_dir is not None:
        result.adapter_dir = str(save_rescorer(rescorer, adapter_dir, save_encoder="full" in result.trainable_by_phase))
    for name, utts in (eval_sets or {}).items():    # after the save: a failed evaluation keeps the adapter
        try:
            result.evals[name] = evaluate(rescorer, list(utts), on_event=on_event)
        except InputError as exc:
            result.eval_errors[name] = str(exc)

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

Layout. :func:`train` reads top to bottom: :func:`_validate` (a :class:`.loop_state.Plan`), :func:`_build_or_resume`
(a :class:`.loop_state.Loop`, the typed state the loop moves on), then per step :func:`_one_step` (forward, loss,
backward, optimizer step, rank allocation), the log, the periodic dev evaluation (:func:`_evaluate_dev`, keeping
the best weights), checkpoints and the stop request; :mod:`.finish` ends the run.

Reproducibility. The seed fixes the initial weights, the data order (a fixed permutation per epoch) and
dropout; checkpoints (:mod:`.checkpoint`) hold everything a resumed run needs to end with the same weights as
an uninterrupted one (on the same device, thread count and process count).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from lorascope.core.combination.tune import lambda_grid
from lorascope.core.data.metrics import hypothesis_errors, reference_lengths
from lorascope.core.data.nbest import Utterance
from lorascope.core.errors import InputError
from lorascope.core.scoring.backbone import load_backbone, resolve_device
from lorascope.core.scoring.rescorer import Rescorer, rescorer_model, resolve_engine
from lorascope.core.training.checkpoint import (BestSnapshot, TrainState, check_resumable, fingerprint, read_checkpoint,
                                                rng_state, seed_everything, set_rng_state)
from lorascope.core.training.distributed import Distributed
from lorascope.core.training.finish import finish, result_of
from lorascope.core.training.loop_state import Loop, Plan, trainable_weights
from lorascope.core.training.losses import consistency_kl, correlation_penalty, mwer_loss, pad_lists
from lorascope.core.training.optim import Batches, load_optimizer_state, lr_multiplier, set_learning_rate
from lorascope.core.training.strategies import count_parameters
from lorascope.core.training.strategies.none import check_family
from lorascope.core.training.train_types import (DEV_EVALUATIONS, BestRestored, CheckpointLoaded, CheckpointSaved,  # noqa: F401
                                                 DevEvaluated, LambdaTuned, PhaseChanged, StepDone, StepRecord,
                                                 TrainConfig, TrainFinished, TrainResult, TrainStarted, resolve_steps)

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
    plan = _validate(config, train_utts, dev_utts, dist, twins)
    loop = _build_or_resume(config, plan, dist, emit, checkpoint_dir, resume_from, started)
    try:
        while loop.step < plan.total:
            if loop.run.switches_at(loop.step):
                _switch_phase(loop)
            record = _one_step(loop)        # forward, loss, backward, step, rank allocation
            loop.state.history.append(asdict(record))
            emit(StepDone(record=record, total_steps=plan.total, elapsed_s=loop.elapsed()))
            if loop.step >= plan.total:     # the last step: its evaluation and save are the finish's
                break
            if dist.is_main and loop.eval_every and loop.step % loop.eval_every == 0:
                _evaluate_dev(loop)
            if config.checkpoint_every and loop.step % config.checkpoint_every == 0:
                loop.checkpoint_path = loop.save_checkpoint(rng_state(), "periodic")
            if dist.any(should_stop is not None and should_stop()):
                loop.checkpoint_path = loop.save_checkpoint(rng_state(), "stopped")
                loop.status = "interrupted"
                break
    except KeyboardInterrupt:
        # Mid optimizer step the weights are half-updated: keep the last good checkpoint instead.
        if not loop.in_update:
            loop.save_checkpoint(loop.boundary_rng if loop.mid_step else rng_state(), "keyboard-interrupt")
        emit(TrainFinished(status="interrupted", steps_done=loop.step, wall_time_s=loop.elapsed()))
        raise

    result = result_of(loop)
    if loop.status == "finished" and dist.is_main:
        finish(loop, result, eval_sets=eval_sets, adapter_dir=adapter_dir, on_event=on_event, features=features)
    loop.rescorer.model.eval()
    result.wall_time_s = loop.elapsed()
    emit(TrainFinished(status=loop.status, steps_done=loop.step, wall_time_s=result.wall_time_s))
    return result


# ---------------------------------------------------------------------------------------------------------
# its pieces


def _validate(config: TrainConfig, train_utts: Sequence[Utterance], dev_utts: Sequence[Utterance],
              dist: Distributed, twins: Sequence[Utterance] | None) -> Plan:
    """Check the inputs (InputError before anything loads) and decide the lists, the length and the prior weight."""
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
    kept_twins = None if twins is None else [twins[k] for k in keep]
    if not utts:
        raise InputError("training set", "in no utterance do the hypotheses differ in word errors, so MWER has "
                                         "nothing to learn")
    strategy = config.strategy_config()
    check_family(strategy, config.backbone)
    total, steps_rule = (resolve_steps(config, len(utts)) if strategy.trains
                         else (0, "none: the pretrained LM, no steps"))
    return Plan(utts=utts, twins=kept_twins, skipped=len(train_utts) - len(utts), strategy=strategy, total=total,
                steps_rule=steps_rule, scaled=strategy.scaled_steps(total),
                prior_weight=config.prior_weight or auto_prior_weight(utts),
                data=fingerprint(list(train_utts) + list(kept_twins or [])),
                dev_utts=dev_utts, dev_table=hypothesis_errors(dev_utts), dev_lens=reference_lengths(dev_utts))


def _build_or_resume(config: TrainConfig, plan: Plan, dist: Distributed, emit: Callable[[Any], None],
                     checkpoint_dir: str | Path | None, resume_from: str | Path | None, started: float) -> Loop:
    """Seed, load the backbone, apply the strategy at the start step, tokenise the lists, make the optimizer;
    from ``resume_from`` the weights, optimizer, strategy and RNG state a checkpoint holds. Emits the start."""
    loaded = read_checkpoint(resume_from) if resume_from is not None else None
    checkpoint = loaded.payload if loaded is not None else None
    if checkpoint is not None:
        check_resumable(checkpoint, config.to_dict(), TrainConfig(strategy=config.strategy).to_dict(), plan.data,
                        dist.world_size)
    state = TrainState.from_dict(checkpoint["state"]) if checkpoint else TrainState(world_size=dist.world_size)

    seed_everything(config.seed)
    device = resolve_device(config.device)
    encoder, tokenizer = load_backbone(config.backbone, seed=config.seed)
    if config.dropout is not None:
        set_dropout(encoder, config.dropout)
    model = rescorer_model(encoder)
    run = plan.strategy.start(plan.total)
    run.setup(model, state.step)
    engine = resolve_engine(config.engine, model.backbone, device, training=True)
    rescorer = Rescorer(model=model, tokenizer=tokenizer, backbone=config.backbone, max_length=config.max_length,
                        device=device, prior_weight=plan.prior_weight, engine=engine)
    twins = plan.twins
    loop = Loop(config=config, plan=plan, dist=dist, emit=emit, state=state, model=model, rescorer=rescorer, run=run,
                engine=engine, device=device, train_ids=[rescorer.encode(u.texts) for u in plan.utts],
                dev_ids=[rescorer.encode(u.texts) for u in plan.dev_utts],
                priors=[u.prior_scores() for u in plan.utts], errors=hypothesis_errors(plan.utts),
                batches=Batches(len(plan.utts), config.batch_size, config.seed),
                twin_ids=None if twins is None else [rescorer.encode(u.texts) for u in twins],
                twin_errors=None if twins is None else hypothesis_errors(twins),
                checkpoint_dir=checkpoint_dir, clock=state.elapsed_s - started, step=state.step)
    if config.normalize_features and checkpoint is None and model.family == "cls":
        with torch.no_grad():
            model.feature_scale.copy_(within_list_feature_scale(
                rescorer, [loop.train_ids[k] for k in loop.batches.epoch_order(0)[:256]],
                batch_size=config.score_batch_size))

    loop.start_phase(state.step)
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        load_optimizer_state(loop.optimizer, checkpoint["optimizer"])
        run.load_state_dict(model, checkpoint["strategy"])
        set_rng_state(checkpoint["rng"])
    loop.train_lam = 1.0 / plan.prior_weight
    loop.grid = lambda_grid(loop.train_lam)
    loop.eval_every = max(1, plan.total // DEV_EVALUATIONS) if config.eval_every == 0 else config.eval_every
    if loaded is not None:
        emit(CheckpointLoaded(step=loaded.step, path=str(loaded.path), skipped=loaded.skipped))
    emit(TrainStarted(total_steps=plan.total, start_step=state.step, strategy=config.strategy,
                      scaled_steps=plan.scaled, trainable=count_parameters(model), adapted_matrices=len(run.adapted),
                      device=str(device), family=model.family, adapted_roles=run.roles.describe() if run.roles else "",
                      engine=engine, train_utterances=len(plan.utts), skipped_utterances=plan.skipped,
                      prior_weight=plan.prior_weight, steps_rule=plan.steps_rule, processes=dist.world_size))
    loop.boundary_rng = rng_state()
    return loop


def _switch_phase(loop: Loop) -> None:
    """The strategy's phase switch (s2/s3 warm-up over): a new model shape, a fresh optimizer and forward pass."""
    loop.in_update = True  # a half-made switch is not worth a checkpoint
    loop.run.switch(loop.model)
    loop.model.to(loop.device)
    loop.start_phase(loop.step)
    loop.in_update = False
    loop.emit(PhaseChanged(step=loop.step, phase=loop.run.phase(loop.step), trainable=count_parameters(loop.model)))


def _one_step(loop: Loop) -> StepRecord:
    """One step: this process's share of the step's lists forward (every hypothesis in one batch), the loss,
    backward (gradients averaged over the processes), the optimizer step and the strategy's rank allocation."""
    config, dist, device, model, run, plan = loop.config, loop.dist, loop.device, loop.model, loop.run, loop.plan
    optimizer, step = loop.optimizer, loop.step
    assert optimizer is not None and loop.forward is not None
    loop.boundary_rng, loop.mid_step = rng_state(), True
    set_learning_rate(optimizer, lr_multiplier(step, plan.total, config.lr_warmup, config.lr_min))

    idx = dist.share(loop.batches(step))
    model.train()
    twin_ids, twin_errors = loop.twin_ids, loop.twin_errors or []
    ids = [loop.train_ids[k] for k in idx] + ([twin_ids[k] for k in idx] if twin_ids else [])
    lm_flat, cls = loop.forward([seq for lists in ids for seq in lists])
    prior, mask = pad_lists([loop.priors[k] for k in idx] * (2 if twin_ids else 1), device=device)
    errs, _ = pad_lists([loop.errors[k] for k in idx] + ([twin_errors[k] for k in idx] if twin_ids else []),
                        device=device)
    logits = plan.prior_weight * prior + torch.zeros_like(prior).masked_scatter(mask, lm_flat)
    share = len(idx) * dist.world_size / config.batch_size   # the processes' mean is the batch's mean
    mwer = mwer_loss(logits, errs, mask) * share
    agree = (consistency_kl(logits[:len(idx)], logits[len(idx):], mask[:len(idx)]) * share
             if config.consistency_weight > 0 else torch.zeros((), device=device))
    cor = correlation_penalty(cls) if config.cor_weight > 0 else torch.zeros((), device=device)
    orth = run.regularizer(model)
    orth = torch.zeros((), device=device) if orth is None else orth.to(device)
    loss = mwer + config.cor_weight * cor + orth + config.consistency_weight * agree

    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], config.grad_clip)
    loop.in_update = True
    optimizer.step()
    run.after_step(model, step + 1)
    loop.step = step = step + 1
    loop.in_update = loop.mid_step = False

    values = dist.mean([loss.item(), mwer.item(), cor.item(), orth.item(), agree.item()])
    budget = run.rank_budget(step)
    return StepRecord(step=step, loss=values[0], mwer=values[1], correlation=values[2], orthogonal=values[3],
                      lr=optimizer.param_groups[0]["lr"], rank_budget=budget,
                      mean_rank=budget / len(run.adapted) if budget is not None and run.adapted else None,
                      phase=run.phase(step - 1), consistency=values[4])


def _evaluate_dev(loop: Loop) -> None:
    """The periodic dev evaluation; keeps the weights when they are the best so far at the model's final shape."""
    _, wer = loop.evaluate_dev(loop.step)
    best = loop.state.best
    if loop.config.keep_best and loop.step >= loop.run.final_shape_from() and (best is None or wer < best.dev_wer):
        loop.state.best = BestSnapshot(loop.step, wer, trainable_weights(loop.model), loop.run.state_dict(loop.model))

"""The end of a training run: its :class:`.train_types.TrainResult`, and for a finished run on rank 0 the final dev
evaluation, the best weights kept, the combination tuned, the adapter saved and the other sets evaluated."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lorascope.core.combination.crossfit import gated_search
from lorascope.core.combination.tune import evaluate_scores
from lorascope.core.data.nbest import Utterance
from lorascope.core.errors import InputError
from lorascope.core.scoring.adapter import save_rescorer
from lorascope.core.scoring.rescorer import evaluate
from lorascope.core.training.loop_state import Loop, dev_scores
from lorascope.core.training.strategies import ParamCount, count_parameters
from lorascope.core.training.train_types import BestRestored, DevEvaluated, LambdaTuned, StepRecord, TrainResult


def result_of(loop: Loop) -> TrainResult:
    """What the loop did, as the result a stopped run returns (the state's step and clock brought up to date)."""
    state, plan = loop.state, loop.plan
    state.step, state.elapsed_s = loop.step, loop.elapsed()
    return TrainResult(
        status=loop.status, config=loop.config, steps_done=loop.step, total_steps=plan.total,
        scaled_steps=plan.scaled, prior_weight=plan.prior_weight, lam=None, combination_search=None, dev=None,
        evals={}, trainable=count_parameters(loop.model),
        trainable_by_phase={k: ParamCount(**v) for k, v in state.trainable_by_phase.items()},
        final_ranks=loop.run.final_ranks(loop.model), loss_history=[StepRecord(**r) for r in state.history],
        dev_history=[DevEvaluated(**r) for r in state.dev_history], wall_time_s=state.elapsed_s,
        train_utterances=len(plan.utts), skipped_utterances=plan.skipped, adapter_dir=None,
        checkpoint_path=loop.checkpoint_path, steps_rule=plan.steps_rule, kept_step=loop.step,
        rescorer=loop.rescorer)


def finish(loop: Loop, result: TrainResult, *, eval_sets: dict[str, Sequence[Utterance]] | None,
           adapter_dir: str | Path | None, on_event: Callable[[Any], None] | None,
           features: Sequence[str] | None) -> None:
    """After the last step: keep the best dev weights, tune the combination, save the adapter, evaluate."""
    config, model, rescorer, run, plan = loop.config, loop.model, loop.rescorer, loop.run, loop.plan
    dev_lm, final_wer = loop.evaluate_dev(result.steps_done)
    best = loop.state.best
    if best is not None and best.step < result.steps_done and best.dev_wer < final_wer:
        model.load_state_dict(best.weights, strict=False)
        run.load_state_dict(model, best.strategy)
        dev_lm = dev_scores(rescorer, loop.dev_ids, config.score_batch_size)
        result.kept_step = best.step
        result.final_ranks = run.final_ranks(model)
        loop.emit(BestRestored(step=best.step, dev_wer=best.dev_wer, final_dev_wer=final_wer))
    gate = config.lambda_confidence if config.lambda_confidence > 0 else None
    result.gate = gated_search(plan.dev_utts, dev_lm, min_p_better=gate, features=features, seed=config.seed,
                               error_table=plan.dev_table, ref_lengths=plan.dev_lens)
    search = result.gate.search
    loop.emit(LambdaTuned(search=search))
    rescorer.combination = search.combination
    result.lam, result.combination_search = search.lam, search
    result.dev = evaluate_scores(plan.dev_utts, dev_lm, search.combination)
    rescorer.info = {
        "strategy": config.strategy, "strategy_config": config.strategy_config().to_dict(),
        "scaled_steps": result.scaled_steps, "steps": result.total_steps, "steps_rule": result.steps_rule,
        "kept_step": result.kept_step, "seed": config.seed, "final_ranks": result.final_ranks,
        "trainable_params": result.trainable.trainable, "total_params": result.trainable.total, "engine": loop.engine,
        "family": model.family,
    }
    if adapter_dir is not None:
        result.adapter_dir = str(save_rescorer(rescorer, adapter_dir, save_encoder="full" in result.trainable_by_phase))
    for name, utts in (eval_sets or {}).items():    # after the save: a failed evaluation keeps the adapter
        try:
            result.evals[name] = evaluate(rescorer, list(utts), on_event=on_event)
        except InputError as exc:
            result.eval_errors[name] = str(exc)
    result.dev_history = [DevEvaluated(**r) for r in loop.state.dev_history]   # the final evaluation too

"""The training job: record a run or claim one to resume (:mod:`.record`), train it on every process, keep its
heartbeat and step count in the store (:mod:`.progress`), turn Ctrl-C and SIGTERM into ``interrupted`` and a
crash into ``failed``, and store what a finished run produced in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lorascope.core.errors import InputError, LorascopeError
from lorascope.core.data.metrics import BootstrapResult
from lorascope.core.data.nbest import Utterance
from lorascope.store import RunTakenOver, Store

from .combos import store_training_combination, training_features
from .common import RunFailed, StopOnSigterm, perturbation_model, run_folder
from .options import TrainOptions
from .progress import StoreProgress, mark_run
from .record import record_run, share_record


@dataclass(frozen=True)
class RunStarted:
    """Event: the run is recorded (or taken up again) and its data loaded; training starts next."""

    run_id: int
    strategy: str
    names: dict[str, str]           # split -> dataset name
    train_lists: int                # augmented copies included
    resumed: bool
    takeover: str | None            # why a stale run was taken over, when it was
    restarted: bool = False         # resumed with no checkpoint (stopped before its first): from step 0 again
    dropped: str | None = None      # the features the combination drops, because a set lacks them


@dataclass
class TrainJob:
    """What a training job did: ``status`` is ``done`` or ``interrupted`` (failures raise)."""

    run_id: int
    status: str
    names: dict[str, str]
    result: Any = None              # core.train.TrainResult
    test_bootstrap: BootstrapResult | None = None
    takeover: str | None = None


def _perturbed_copies(utts: Sequence[Utterance], p: float, seed: int, model: Any) -> list[Utterance]:
    """Perturbed copies (perturb-N at probability p, with ``model``) of the training lists, ids suffixed
    ``#perturbed``: added to the lists (augmentation), or trained as their twins (the consistency term)."""
    from lorascope.core.perturbation.perturb import perturb_utterances

    return [replace(x.utterance, id=f"{x.utterance.id}#perturbed")
            for x in perturb_utterances(utts, "N", p, seed, model=model)]


def train_job(db_path: str | Path, options: TrainOptions | None = None, *, resume: int | None = None,
              device: str | None = None, on_event: Callable[[Any], None] | None = None,
              distributed: Any = None, convert_old_checkpoint: bool = False) -> TrainJob:
    """Train a rescorer as a stored run: ``options`` for a new run, or ``resume`` (a run id) to continue one
    (on ``device`` when given; nothing else of a run may change).

    Returns when the run is done or interrupted (Ctrl-C, SIGTERM); raises LorascopeError (after marking the run
    ``failed``) otherwise. ``distributed``: this process's place among torchrun's processes; rank 0 records the
    run, reports progress and writes the results, every process trains its share (core/training/distributed.py).
    ``convert_old_checkpoint``: rewrite a resumed run's old pickle checkpoint first (core.checkpoint).
    """
    from lorascope.core.training import distributed as ddp
    from lorascope.core.training.train import TrainConfig, train

    if options is None and resume is None:
        raise InputError("train", "needs options for a new run or a run to resume")
    db_path = Path(db_path)
    dist = distributed or ddp.Distributed()
    device = ddp.start(dist, device or (options.device if options else "auto"))
    try:
        recorded = error = None
        if dist.is_main:
            try:
                recorded = record_run(db_path, options, resume, dist.world_size, convert_old_checkpoint)
            except LorascopeError as exc:
                error = exc
        recorded = share_record(recorded, error, dist)
        run_id, names = recorded.run_id, recorded.names
        config = TrainConfig(**recorded.config)
        if device != "auto":
            config.device = device
        with Store(db_path, readonly=True) as store:
            sets = {split: store.load_dataset(name) for split, name in names.items()}
            model = None if recorded.augment is None else perturbation_model(store, recorded.augment_model,
                                                                             mined_from=names["train"])
        folder = run_folder(db_path, run_id)
        train_utts, twins = sets["train"], None
        if model is not None:
            copies = _perturbed_copies(train_utts, recorded.augment, config.seed, model)
            if config.consistency_weight > 0:
                twins = copies
            else:
                train_utts = list(train_utts) + copies
        features, dropped = training_features(sets)    # what every set the combination is applied to has
        progress = StoreProgress(db_path, run_id, on_event) if dist.is_main else None
        if progress is not None:
            progress(RunStarted(run_id=run_id, strategy=config.strategy, names=names, train_lists=len(train_utts),
                                resumed=resume is not None, takeover=recorded.takeover, restarted=recorded.restart,
                                dropped=dropped))
        job = TrainJob(run_id=run_id, status="interrupted", names=names, takeover=recorded.takeover)
        where = f"rank {dist.rank}: " if dist.enabled else ""
        try:
            with StopOnSigterm() as stop:
                result = train(config, train_utts, sets["dev"], on_event=progress,
                               checkpoint_dir=folder / "checkpoints",
                               resume_from=(folder / "checkpoints") if resume is not None and not recorded.restart
                               else None, should_stop=stop,
                               eval_sets={k: v for k, v in sets.items() if k == "test"},
                               adapter_dir=folder / "adapter", distributed=dist, twins=twins, features=features)
        except KeyboardInterrupt:
            mark_run(db_path, run_id, progress, status="interrupted")
            return job
        except RunTakenOver:
            raise                       # the run is another process's now: leave its record alone
        except LorascopeError as exc:
            mark_run(db_path, run_id, progress, status="failed", error=f"{where}{exc}")
            raise
        except Exception as exc:
            mark_run(db_path, run_id, progress, status="failed", error=f"{where}{type(exc).__name__}: {exc}")
            raise RunFailed(f"run {run_id} failed: {where}{type(exc).__name__}: {exc} (run with --debug for the "
                            f"traceback)") from exc
        job.result = result
        if result.status != "finished":
            mark_run(db_path, run_id, progress, status="interrupted")
            return job
        job.status = "done"
        if dist.is_main:
            with Store(db_path) as store:
                job.test_bootstrap = _store_results(store, run_id, result, names, progress)
        return job
    finally:
        ddp.stop(dist)


def _store_results(store: Store, run_id: int, result, names: dict[str, str],
                   progress: StoreProgress) -> BootstrapResult | None:
    """Everything a finished run produced, in one transaction; returns the test set's paired bootstrap."""
    from lorascope.core.data.metrics import paired_bootstrap, reference_lengths

    search = result.combination_search
    cfg = {**store.run(run_id).config, **result.config.to_dict(), "scaled_steps": result.scaled_steps,
           "prior_weight_used": result.prior_weight, "steps_rule": result.steps_rule,
           "total_steps": result.total_steps, "kept_step": result.kept_step,
           "family": result.rescorer.model.family if result.rescorer is not None else None,
           "combination": search.combination.to_dict() if search else None,
           "combination_p_better": search.p_better if search else None,
           "combination_fell_back_from": search.fell_back_from.to_dict() if search and search.fell_back else None}
    test = result.evals.get("test")
    boot = None
    if test is not None and test.selected_errors is not None:
        lens = reference_lengths(store.load_dataset(names["test"]))
        boot = paired_bootstrap(test.first_pass_errors, test.selected_errors, lens, resamples=1000, seed=0)
    if boot is not None:
        cfg["test_bootstrap"] = {"difference": boot.difference, "low": boot.low, "high": boot.high,
                                 "confidence": boot.confidence, "resamples": boot.resamples}
    with store.atomic():
        progress.flush(store)
        store.add_events(run_id, progress.curve.values())
        store.update_run(run_id, config=cfg, lam=result.lam, steps_done=result.steps_done)
        if result.adapter_dir:
            store.add_adapter(run_id, path=result.adapter_dir, trainable_params=result.trainable.trainable,
                              total_params=result.trainable.total, ranks=result.final_ranks)
        for split, res in [("dev", result.dev), *result.evals.items()]:
            if res is not None:
                store.add_evaluation(run_id, names[split], split, res)
        if search is not None:
            cfg.update(store_training_combination(store, run_id, names["dev"], store.load_dataset(names["dev"]), result))
            store.update_run(run_id, config=cfg)
        store.update_run(run_id, status="done")
    return boot

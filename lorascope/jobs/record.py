"""Record a training run in the store, or claim one to resume, and hand the record to every training process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorascope.core.errors import InputError, LorascopeError, PeerFailed
from lorascope.store import Store
from lorascope.store.ownership import owner_alive, this_process

from ..datasets import check_data_value, resolve_dataset
from ..samples import ensure_sample_sets
from .common import check_perturbation, package_versions, run_folder
from .options import TrainOptions


def resume_checks(store: Store, run_id: int, processes: int, convert_old: bool) -> tuple[Any, str | None, bool]:
    """The run to resume, a takeover note when its owner is gone, and whether it has a checkpoint (a run stopped
    before its first one starts again from step 0); InputError when it cannot be resumed (its checkpoint checked
    here, before the run is claimed; ``convert_old``: an old-format one rewritten first)."""
    run = store.run(run_id)
    if run.status == "done":
        raise InputError(f"run {run_id}", "is already done; nothing to resume")
    if run.processes != processes:
        raise InputError(f"run {run_id}", f"was trained by {run.processes} process(es); resume it with the same "
                                          f"number (--nproc {run.processes}), not {processes}")
    takeover = None
    if run.status == "running":
        if owner_alive(run.owner, run.heartbeat_at or run.started_at):
            who = run.owner.describe() if run.owner else "an unknown process"
            raise InputError(f"run {run_id}", f"is still being trained by {who} (heartbeat {run.heartbeat_at}); "
                                              f"stop that process first")
    from lorascope.core.training import checkpoint as ck
    folder = Path(run.checkpoint_dir) if run.checkpoint_dir else None
    has_checkpoint = folder is not None and ck.has_checkpoint(folder)
    if run.status == "running":
        who = run.owner.describe() if run.owner else "its owner"
        takeover = f"run {run_id} was stale ({who} is gone); taking it over " + (
            "from its newest checkpoint" if has_checkpoint else "(it has no checkpoint)")
    if has_checkpoint:
        if convert_old:
            ck.convert_old_checkpoint(folder)
        ck.read_checkpoint(folder, load=False)
    return run, takeover, has_checkpoint


@dataclass(frozen=True)
class Recorded:
    """What the run's record says: enough for every training process to load the same data and config."""

    run_id: int
    config: dict[str, Any]
    names: dict[str, str]
    augment: float | None
    augment_model: str | None
    takeover: str | None
    restart: bool = False           # resumed without a checkpoint: trained again from step 0


def record_run(db_path: Path, options: TrainOptions | None, resume: int | None, processes: int,
            convert_old: bool = False) -> Recorded:
    """Record a new run (importing files on the way) or claim one to resume; nothing else is written, and all of
    it in one transaction: a refused run leaves the store as it was (no sample set or file imported)."""
    from lorascope.core.training.train import TrainConfig

    me = this_process()
    restart = False
    with Store(db_path) as store, store.atomic():
        ensure_sample_sets(store, demo=False)
        if resume is not None:
            run, takeover, has_checkpoint = resume_checks(store, resume, processes, convert_old)
            saved = dict(run.config)
            augment, augment_model = saved.pop("augment_p", None), saved.pop("augment_model", None)
            config = {k: v for k, v in saved.items() if k in TrainConfig.__dataclass_fields__}
            names = {"train": run.train_dataset, "dev": run.dev_dataset}
            if run.test_dataset:
                names["test"] = run.test_dataset
            if not store.claim_run(resume, me, previous=run.owner):
                raise InputError(f"run {resume}", "another process took it over just now")
            run_id, restart = resume, not has_checkpoint
            if restart:   # its curve and step count from the lost attempt would mislead
                store.db.execute("DELETE FROM run_events WHERE run_id = ?", [run_id])
                store.update_run(run_id, steps_done=0)
        else:
            assert options is not None
            config = options.train_config().to_dict()
            augment, augment_model, takeover, names = options.augment, options.augment_model, None, {}
            for value in (options.data, options.dev, options.test):
                if value is not None and value.lower() != "none":
                    check_data_value(store, value)
            for split, value, why in (("train", options.data, "training and tuning need them"),
                                      ("dev", options.dev, "training and tuning need them"),
                                      ("test", options.test, "test WER needs them")):
                if value is not None and value.lower() != "none":
                    names[split], _ = resolve_dataset(store, value, need_references=why,
                                                      first_pass=options.first_pass)
            if augment is not None:   # check the spec now, not after the run is recorded
                check_perturbation(store, augment_model, mined_from=names["train"])
            run_id = store.create_run(strategy=config["strategy"], config={**config, "augment_p": augment,
                                                                           "augment_model": augment_model},
                                      seed=config["seed"], backbone=config["backbone"], versions=package_versions(),
                                      train_dataset=names["train"], dev_dataset=names["dev"],
                                      test_dataset=names.get("test"), owner=me, processes=processes)
        store.update_run(run_id, checkpoint_dir=str(run_folder(db_path, run_id) / "checkpoints"))
    return Recorded(run_id, config, names, augment, augment_model, takeover, restart)


def share_record(recorded: Recorded | None, error: LorascopeError | None, dist) -> Recorded:
    """Rank 0's record (or its error) to every training process."""
    if dist.enabled:
        import torch.distributed

        box = [(recorded, None if error is None else str(error))]
        torch.distributed.broadcast_object_list(box, src=0)
        recorded, message = box[0]
        if message is not None and error is None:
            raise PeerFailed(message)
    if error is not None:
        raise error
    assert recorded is not None
    return recorded

"""Run a study's cells with the ordinary jobs: ``train_job`` (a stored run, its test WER), then ``robustness_job``
per perturbation model and p. Done cells are skipped, a killed study's cells and runs are taken over, a failed
cell keeps its error and the study goes on."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorascope.core.errors import InputError, LorascopeError
from lorascope.core.analysis.study import Cell, StudySpec, cells, subset_name, subset_order
from lorascope.store import Store
from lorascope.store.ownership import owner_alive, this_process
from lorascope.store.study import claim_cell, ensure_study, finish_cell, update_cell

from ..jobs import RunStarted, TrainOptions, robustness_job, train_job


@dataclass(frozen=True)
class CellEvent:
    """Event: a cell starts (``stage`` ``train``), reaches a robustness stage, or ends (done / failed / skipped)."""

    cell: Cell
    stage: str
    detail: str = ""


@dataclass
class StudyOutcome:
    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)
    interrupted: bool = False


def check_spec(db_path: str | Path, spec: StudySpec, positions: list[int] | None = None) -> None:
    """What can be checked before any cell runs: the cell numbers and the data sets (files are imported now)."""
    from ..datasets import resolve_dataset
    from ..samples import ensure_sample_sets

    count = len(cells(spec))
    for k in positions or []:
        if not 0 <= k < count:
            raise InputError(f"--cell {k}", f"study {spec.name} has cells 0..{count - 1}")
    with Store(db_path) as store:
        ensure_sample_sets(store, demo=False)
        names = {}
        for split, value in (("data.train", spec.train), ("data.dev", spec.dev), ("data.test", spec.test)):
            try:
                names[split], utts = resolve_dataset(store, value, need_references="a study measures WER")
            except InputError as exc:
                raise InputError(split, str(exc)) from None
            if split == "data.train" and spec.sizes and max(spec.sizes) > len(utts):
                raise InputError("grid.sizes", f"{max(spec.sizes)} lists asked, {value} has {len(utts)}")


def training_set(store: Store, spec: StudySpec, size: int | None) -> str:
    """The training set's name for a size: the whole set, or its nested subset (stored on first use)."""
    from ..datasets import resolve_dataset

    name, utts = resolve_dataset(store, spec.train)
    if size is None or size >= len(utts):
        return name
    subset = subset_name(name, size, spec.size_seed)
    if not store.has_dataset(subset):
        order = subset_order(len(utts), spec.size_seed)
        store.add_dataset(subset, [utts[i] for i in sorted(order[:size])], format="subset",
                          source=f"the first {size} lists of {name} in a fixed order (seed {spec.size_seed})")
    return subset


def _has_robustness(store: Store, run_id: int, model: str, p: float, spec: StudySpec) -> bool:
    name = spec.model_name(model)
    have = {(m["perturbation"], m["seed"]) for m in store.metrics(run_id)
            if m["split"] == "robustness" and m["perturbation_model"] == name and m["p"] == p}
    return all((f"perturb-{mode}", s) in have for mode in spec.modes for s in spec.perturbation_seeds)


def _train(db_path: Path, spec: StudySpec, study_id: int, cell: Cell, run_id: int | None, device: str,
           on_event: Callable[[Any], None] | None) -> int | None:
    """The cell's run, trained (resumed when a killed study left it with a checkpoint); None if interrupted."""
    with Store(db_path) as store:
        run = store.run(run_id) if run_id is not None else None
        if run is not None and run.status == "done":
            return run_id
        resumable = (run is not None and run.checkpoint_dir and any(Path(run.checkpoint_dir).glob("*.pt"))
                     and not (run.status == "running" and owner_alive(run.owner, run.heartbeat_at or run.started_at)))
        if run is not None and not resumable:
            if run.status == "running" and owner_alive(run.owner, run.heartbeat_at or run.started_at):
                raise InputError(f"run {run.id}", "is still being trained by another process")
            store.update_run(run.id, status="failed", error="abandoned by its study: stopped before its first "
                                                             "checkpoint; the cell starts a new run")
        train = training_set(store, spec, cell.size)

    def hook(event: Any) -> None:
        if isinstance(event, RunStarted) and not event.resumed:
            with Store(db_path) as s:
                update_cell(s, study_id, cell.position, run_id=event.run_id)
        if on_event is not None:
            on_event(event)

    options = TrainOptions(strategy=cell.strategy, data=train, dev=spec.dev, test=spec.test, backbone=cell.backbone,
                           seed=cell.seed, device=device, **_train_kwargs(spec))
    nproc = spec.train_options.get("nproc", 1)
    if nproc > 1:
        return launched(db_path, options, nproc, run_id if resumable else None, study_id, cell)
    if resumable:
        job = train_job(db_path, resume=run_id, device=device, on_event=hook)
    else:
        job = train_job(db_path, options, on_event=hook)
    return job.run_id if job.status == "done" else None


def _train_kwargs(spec: StudySpec) -> dict[str, Any]:
    return {k: v for k, v in spec.train_options.items() if k != "nproc"}


def launched(db_path: Path, options: TrainOptions, nproc: int, resume: int | None, study_id: int, cell: Cell) -> int | None:
    """The cell's run trained by ``lorascope train --nproc N`` (N processes with torchrun's environment, the same
    job on each); returns its id, None when it was interrupted."""
    import subprocess
    import sys

    from ..jobs import RunFailed

    args = [sys.executable, "-m", "lorascope", "--db", str(db_path), "train", "--nproc", str(nproc)]
    if resume is not None:
        args += ["--resume", str(resume), "--device", options.device]
    else:
        flags = {"--strategy": options.strategy, "--data": options.data, "--dev": options.dev,
                 "--test": options.test, "--model": options.backbone, "--seed": options.seed,
                 "--device": options.device, "--steps": options.steps, "--epochs": options.epochs,
                 "--batch-size": options.batch_size, "--lr": options.lr, "--cor-weight": options.cor_weight,
                 "--dropout": options.dropout, "--lambda-confidence": options.lambda_confidence,
                 "--checkpoint-every": options.checkpoint_every, "--engine": options.engine}
        args += [str(x) for k, v in flags.items() if v is not None for x in (k, v)]
    with Store(db_path) as store:
        newest = max((r.id for r in store.runs()), default=0)
    proc = subprocess.run(args, capture_output=True, text=True)
    with Store(db_path) as store:
        if resume is None:
            mine = [r for r in store.runs() if r.id > newest and r.strategy == options.strategy and r.seed == options.seed]
            resume = mine[0].id if mine else None
            if resume is not None:
                update_cell(store, study_id, cell.position, run_id=resume)
        status = store.run(resume).status if resume is not None else None
    if proc.returncode != 0 and status != "interrupted":
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise RunFailed(f"lorascope train --nproc {nproc}: {lines[-1] if lines else f'exit {proc.returncode}'}")
    return resume if status == "done" else None


def run_cell(db_path: Path, spec: StudySpec, study_id: int, cell: Cell, run_id: int | None, *, device: str = "auto",
             on_event: Callable[[Any], None] | None = None) -> bool:
    """One cell from wherever it stands; False when it was interrupted (Ctrl-C, SIGTERM)."""
    run_id = _train(db_path, spec, study_id, cell, run_id, device, on_event)
    if run_id is None:
        return False
    with Store(db_path) as store:
        update_cell(store, study_id, cell.position, run_id=run_id)
    for model in spec.models:
        for p in spec.p:
            with Store(db_path) as store:
                if _has_robustness(store, run_id, model, p, spec):
                    continue
                update_cell(store, study_id, cell.position)
            if on_event is not None:
                on_event(CellEvent(cell, "robustness", f"{model}, p {p}"))
            robustness_job(db_path, run_id, modes=spec.modes, p=p, seeds=spec.perturbation_seeds, perturbation=model,
                           device=device)
    return True


def run_study(db_path: str | Path, spec: StudySpec, *, positions: list[int] | None = None, retry_failed: bool = False,
              device: str = "auto", on_event: Callable[[Any], None] | None = None) -> StudyOutcome:
    """Run (or continue) study ``spec`` into the store at ``db_path``: every cell, or those in ``positions``."""
    db_path = Path(db_path)
    check_spec(db_path, spec, positions)
    me = this_process()
    with Store(db_path) as store:
        study_id = ensure_study(store, spec).id
    outcome = StudyOutcome()
    for cell in cells(spec):
        if positions is not None and cell.position not in positions:
            continue
        with Store(db_path) as store:
            row = claim_cell(store, study_id, cell, me, retry_failed=retry_failed)
        if row is None:
            outcome.skipped.append(cell.position)
            if on_event is not None:
                on_event(CellEvent(cell, "skipped"))
            continue
        if on_event is not None:
            on_event(CellEvent(cell, "train", "resumed" if row.run_id else ""))
        started = time.monotonic()
        try:
            finished = run_cell(db_path, spec, study_id, cell, row.run_id, device=device, on_event=on_event)
        except KeyboardInterrupt:
            finished = False
        except LorascopeError as exc:
            _failed(db_path, study_id, cell, started, str(exc), outcome, on_event)
            continue
        except Exception as exc:       # a crash in one cell is that cell's failure; the study goes on
            _failed(db_path, study_id, cell, started, f"{type(exc).__name__}: {exc}", outcome, on_event)
            continue
        with Store(db_path) as store:
            finish_cell(store, study_id, cell.position, "done" if finished else "todo", time.monotonic() - started)
        if not finished:
            outcome.interrupted = True
            return outcome
        outcome.done.append(cell.position)
        if on_event is not None:
            on_event(CellEvent(cell, "done", f"{time.monotonic() - started:.0f} s"))
    return outcome


def _failed(db_path: Path, study_id: int, cell: Cell, started: float, error: str, outcome: StudyOutcome,
            on_event: Callable[[Any], None] | None) -> None:
    with Store(db_path) as store:
        finish_cell(store, study_id, cell.position, "failed", time.monotonic() - started, error=error)
    outcome.failed[cell.position] = error
    if on_event is not None:
        on_event(CellEvent(cell, "failed", error))

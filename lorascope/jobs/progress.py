"""A training run's progress into the store as it happens (heartbeat, step count, the curve), and its end mark."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lorascope.store import Store
from lorascope.store.ownership import HEARTBEAT_EVERY_S, this_process


class StoreProgress:
    """Training events into the store as they happen: heartbeat and step count every few seconds, the curve."""

    def __init__(self, db_path: Path, run_id: int, forward: Callable[[Any], None] | None):
        self.db_path, self.run_id, self.forward = db_path, run_id, forward
        self.owner = this_process()     # the process that recorded or claimed the run (rank 0)
        self.curve: dict[int, dict[str, Any]] = {}
        self.pending: dict[int, dict[str, Any]] = {}
        self.step = 0
        self.last = time.monotonic()

    def __call__(self, event: Any) -> None:
        from lorascope.core.training import train as t

        if isinstance(event, t.TrainStarted):     # `lorascope runs` shows steps done of this total
            with Store(self.db_path) as s:
                s.update_run(self.run_id, total_steps=event.total_steps)
        elif isinstance(event, t.StepDone):
            r = event.record
            self.step = r.step
            self._point(r.step, loss=r.loss, rank_budget=r.rank_budget, lr=r.lr)
        elif isinstance(event, t.DevEvaluated):
            self._point(event.step, dev_wer=event.best_wer)
        if isinstance(event, t.CheckpointSaved) or time.monotonic() - self.last >= HEARTBEAT_EVERY_S:
            self.flush()
        if self.forward is not None:
            self.forward(event)

    def _point(self, step: int, **values: Any) -> None:
        for table in (self.curve, self.pending):
            table.setdefault(step, {"step": step}).update(values)

    def flush(self, store: Store | None = None) -> None:
        def write(s: Store) -> None:
            with s.atomic():
                if self.pending:
                    s.add_events(self.run_id, self.pending.values())
                s.heartbeat(self.run_id, self.step, owner=self.owner)

        if store is not None:
            write(store)
        else:
            with Store(self.db_path) as s:
                write(s)
        self.pending.clear()
        self.last = time.monotonic()


def mark_run(db_path: Path, run_id: int, progress: StoreProgress | None, **fields: Any) -> None:
    """Mark a running run interrupted or failed; the first process to do so wins (a run already marked by
    another training process keeps that process's status and error)."""
    with Store(db_path) as store:
        with store.atomic():
            if progress is not None:
                progress.flush(store)
            if store.run(run_id).status == "running":
                store.update_run(run_id, **fields)

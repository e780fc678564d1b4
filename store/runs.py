"""The runs family: training runs (with their owner and heartbeat), their adapters and training-curve events.

Single-table writes and look-ups go through the sqlite-utils table API; the run read (joined to its adapter) and
the ownership updates, which must hold only while the owner is unchanged, are SQL. The rule of who owns a run and
when it is stale is store/ownership.py's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .connection import Connection, finite, now
from .errors import RunTakenOver, StoreError
from .ownership import Owner, owner_alive

_RUN_SELECT = ("SELECT r.*, a.path AS adapter_path, a.trainable_params, a.trainable_share FROM runs r "
               "LEFT JOIN adapters a ON a.run_id = r.id")


@dataclass(frozen=True)
class RunInfo:
    id: int
    strategy: str
    status: str
    backbone: str | None
    seed: int | None
    config: dict[str, Any]
    train_dataset: str | None
    dev_dataset: str | None
    test_dataset: str | None
    lam: float | None
    steps_done: int
    checkpoint_dir: str | None
    error: str | None
    started_at: str
    finished_at: str | None
    adapter_path: str | None
    trainable_params: int | None
    trainable_share: float | None
    owner_host: str | None = None
    owner_pid: int | None = None
    owner_started: str | None = None
    heartbeat_at: str | None = None
    processes: int = 1
    name: str | None = None             # the user's label (`lorascope runs rename`)
    note: str | None = None             # the user's note (`lorascope runs note`)
    total_steps: int | None = None      # the run's length, known once training starts

    @property
    def owner(self) -> Owner | None:
        if self.owner_host is None or self.owner_pid is None:
            return None
        return Owner(self.owner_host, self.owner_pid, self.owner_started)

    @property
    def shown_status(self) -> str:
        """The status to show: ``stale`` for a ``running`` run whose owner is gone (store/ownership.py)."""
        if self.status == "running" and not owner_alive(self.owner, self.heartbeat_at or self.started_at):
            return "stale"
        return self.status


class RunTables(Connection):
    """Store's reads and writes of runs, adapters and run events (composed into store/db.py's Store)."""

    # -- runs and their owners --------------------------------------------------------------------

    def create_run(self, *, strategy: str, config: dict[str, Any], seed: int | None = None,
                   backbone: str | None = None, versions: dict[str, str] | None = None,
                   train_dataset: str | None = None, dev_dataset: str | None = None,
                   test_dataset: str | None = None, owner: Owner | None = None, processes: int = 1) -> int:
        """A new run, ``running`` and owned by ``owner`` (the process that will train it)."""
        with self.atomic():
            return self.db["runs"].insert({
                "strategy": strategy, "status": "running", "backbone": backbone, "seed": seed,
                "config": json.dumps(config, sort_keys=True), "versions": json.dumps(versions or {}, sort_keys=True),
                "train_dataset": train_dataset, "dev_dataset": dev_dataset, "test_dataset": test_dataset,
                "started_at": now(), "processes": processes, **self._owner_fields(owner),
            }).last_pk

    @staticmethod
    def _owner_fields(owner: Owner | None) -> dict[str, Any]:
        if owner is None:
            return {"owner_host": None, "owner_pid": None, "owner_started": None, "heartbeat_at": None}
        return {"owner_host": owner.host, "owner_pid": owner.pid, "owner_started": owner.started,
                "heartbeat_at": now()}

    def claim_run(self, run_id: int, owner: Owner, *, previous: Owner | None) -> bool:
        """Make ``owner`` the run's owner and mark it running, only if its owner is still ``previous``
        (so two processes taking over one stale run cannot both win). Returns whether the claim held."""
        prev = self._owner_fields(previous)
        with self.atomic():
            cur = self.db.execute(
                "UPDATE runs SET status = 'running', error = NULL, finished_at = NULL, owner_host = ?, owner_pid = ?, "
                "owner_started = ?, heartbeat_at = ? WHERE id = ? AND owner_host IS ? AND owner_pid IS ? "
                "AND owner_started IS ?",
                [owner.host, owner.pid, owner.started, now(), run_id, prev["owner_host"], prev["owner_pid"],
                 prev["owner_started"]])
            return cur.rowcount == 1

    def heartbeat(self, run_id: int, steps_done: int | None = None, *, owner: Owner | None = None) -> None:
        """The owner is alive (and has done ``steps_done`` steps). With ``owner``: only while it still owns the run,
        else RunTakenOver and nothing is written (a process thought dead that comes back is fenced off)."""
        fields = {"heartbeat_at": now(), **({} if steps_done is None else {"steps_done": steps_done})}
        sets = ", ".join(f"{k} = ?" for k in fields)
        where, args = "id = ?", [run_id]
        if owner is not None:
            where += " AND owner_host IS ? AND owner_pid IS ? AND owner_started IS ?"
            args += [owner.host, owner.pid, owner.started]
        with self.atomic():
            if self.db.execute(f"UPDATE runs SET {sets} WHERE {where}", [*fields.values(), *args]).rowcount != 1:
                if owner is None:
                    self.run(run_id)        # a missing run: StoreError naming it
                raise RunTakenOver(f"run {run_id}: another process has taken it over; this one stops without "
                                   f"writing to it")

    def update_run(self, run_id: int, **fields: Any) -> None:
        self.run(run_id)
        if "config" in fields and not isinstance(fields["config"], str):
            fields["config"] = json.dumps(fields["config"], sort_keys=True)
        if fields.get("status") in ("done", "failed", "interrupted") and "finished_at" not in fields:
            fields["finished_at"] = now()
        with self.atomic():
            self.db["runs"].update(run_id, fields)

    # -- reading runs -----------------------------------------------------------------------------

    def run(self, run_id: int) -> RunInfo:
        rows = self._rows(f"{_RUN_SELECT} WHERE r.id = ?", [run_id])
        if not rows:
            raise StoreError(f"run {run_id} not found in {self.path}")
        return self._run_info(rows[0])

    def runs(self) -> list[RunInfo]:
        return [self._run_info(r) for r in self._rows(f"{_RUN_SELECT} ORDER BY r.id")]

    @staticmethod
    def _run_info(row: dict[str, Any]) -> RunInfo:
        row = dict(row)
        row["config"] = json.loads(row["config"])
        row.pop("versions", None)
        row.setdefault("steps_done", 0)
        return RunInfo(**row)

    def run_versions(self, run_id: int) -> dict[str, str]:
        self.run(run_id)
        return json.loads(self.db["runs"].get(run_id)["versions"] or "{}")

    # -- adapters and events ----------------------------------------------------------------------

    def add_adapter(self, run_id: int, *, path: str, trainable_params: int, total_params: int,
                    ranks: dict[str, int] | None = None) -> None:
        self.run(run_id)
        with self.atomic():
            self.db["adapters"].upsert({
                "run_id": run_id, "path": str(path), "trainable_params": trainable_params,
                "total_params": total_params, "trainable_share": trainable_params / total_params if total_params else 0.0,
                "ranks": json.dumps(ranks) if ranks is not None else None,
            }, pk="run_id")

    def adapter_ranks(self, run_id: int) -> dict[str, int] | None:
        row = next(self.db["adapters"].rows_where("run_id = ?", [run_id], select="ranks"), None)
        return json.loads(row["ranks"]) if row and row["ranks"] else None

    def add_events(self, run_id: int, events: Iterable[dict[str, Any]]) -> None:
        """Training curve points: dicts with step and any of loss, rank_budget, dev_wer, lr (learning rate)."""
        rows = [{"run_id": run_id, "step": e["step"], "loss": finite(e.get("loss")),
                 "rank_budget": e.get("rank_budget"), "dev_wer": finite(e.get("dev_wer")),
                 "lr": finite(e.get("lr"))} for e in events]
        with self.atomic():
            self.db["run_events"].upsert_all(rows, pk=("run_id", "step"))

    def events(self, run_id: int) -> list[dict[str, Any]]:
        return list(self.db["run_events"].rows_where("run_id = ?", [run_id], order_by="step",
                                                     select="step, loss, rank_budget, dev_wer, lr"))

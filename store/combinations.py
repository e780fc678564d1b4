"""The stored combinations: one per (run, data set) and way of tuning, the training's among them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lorascope.core.combination.model import Combination

from .db import Store, now


@dataclass(frozen=True)
class StoredCombination:
    id: int
    run_id: int
    dataset: str                    # the set it applies to
    tuned_on: str                   # the set (or part of it) it was tuned on
    how: str
    combination: Combination
    features: tuple[str, ...]
    prior: str | None
    details: dict[str, Any]
    created_at: str


def add_combination(store: Store, run_id: int, *, dataset: str, tuned_on: str, how: str,
                    combination: Combination, features=(), prior: str | None = None,
                    details: dict[str, Any] | None = None) -> int:
    """Store a combination for ``(run_id, dataset)``; returns its id."""
    with store.atomic():
        cur = store.db.execute(
            "INSERT INTO combinations (run_id, dataset, tuned_on, how, combination, features, prior, details, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, dataset, tuned_on, how, json.dumps(combination.to_dict()), json.dumps(list(features)), prior,
             json.dumps(details or {}), now()))
        return int(cur.lastrowid)


def _row(r: dict[str, Any]) -> StoredCombination:
    return StoredCombination(
        id=r["id"], run_id=r["run_id"], dataset=r["dataset"], tuned_on=r["tuned_on"], how=r["how"],
        combination=Combination.from_dict(json.loads(r["combination"])),
        features=tuple(json.loads(r["features"] or "[]")), prior=r["prior"],
        details=json.loads(r["details"] or "{}"), created_at=r["created_at"])


def combinations(store: Store, run_id: int, dataset: str | None = None) -> list[StoredCombination]:
    """A run's stored combinations (for one data set when given), oldest first."""
    sql, params = "SELECT * FROM combinations WHERE run_id = ?", [run_id]
    if dataset is not None:
        sql, params = sql + " AND dataset = ?", [*params, dataset]
    return [_row(r) for r in store._rows(sql + " ORDER BY id", params)]


def training_combination(store: Store, run_id: int) -> StoredCombination | None:
    """The combination the run's training tuned on its dev set (None for runs from before the table)."""
    rows = [c for c in combinations(store, run_id) if c.how == "training dev"]
    return rows[0] if rows else None

"""Export of stored results: runs, metrics, comparisons, datasets (and per-hypothesis scores on request) as CSV or
JSON."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .comparisons import comparisons
from .db import Store, StoreError

RUN_COLUMNS = ("id", "strategy", "status", "backbone", "seed", "train_dataset", "dev_dataset", "test_dataset",
               "lam", "steps_done", "started_at", "finished_at", "error", "adapter_path", "trainable_params",
               "trainable_share", "config")


def collect(store: Store, *, scores: bool = False, runs: list[int] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Everything an export holds, as lists of flat rows keyed by table name."""
    run_infos = store.runs()
    if runs:
        for r in runs:
            store.run(r)  # a missing run is an error, not an empty export
        run_infos = [r for r in run_infos if r.id in set(runs)]
    run_rows = []
    for r in run_infos:
        row = {c: getattr(r, c) for c in RUN_COLUMNS}
        row["config"] = json.dumps(r.config, sort_keys=True)
        row["versions"] = json.dumps(store.run_versions(r.id), sort_keys=True)
        run_rows.append(row)
    wanted = {r.id for r in run_infos}
    metric_rows = [m for m in store.metrics() if runs is None or m["run_id"] in wanted]
    data = {
        "datasets": [dict(vars(d)) for d in store.datasets()],
        "runs": run_rows,
        "metrics": metric_rows,
        "comparisons": comparisons(store, None if runs is None else sorted(wanted)),
    }
    if scores:
        data["scores"] = [dict(run_id=r.id, **s) for r in run_infos for s in store.scores(r.id)]
    return data


def to_json(data: dict[str, list[dict[str, Any]]]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0].keys()), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buf.getvalue()


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``: a reader (or a kill)
    sees the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export(store: Store, fmt: str, out: str | Path | None, *, scores: bool = False,
           runs: list[int] | None = None) -> list[Path] | str:
    """Write an export; returns the files written, or the text when ``out`` is None (JSON to standard output).

    JSON is one document with a list per table. CSV is one file per table in the folder ``out``.
    """
    data = collect(store, scores=scores, runs=runs)
    if fmt == "json":
        text = to_json(data)
        if out is None:
            return text
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(out, text)
        return [out]
    if fmt == "csv":
        folder = Path(out) if out is not None else Path("lorascope-export")
        if folder.exists() and not folder.is_dir():
            raise StoreError(f"{folder}: CSV export writes one file per table, so --out must be a folder")
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for table, rows in data.items():
            path = folder / f"{table}.csv"
            _write_atomically(path, to_csv(rows))
            written.append(path)
        return written
    raise StoreError(f"unknown export format {fmt!r} (choose csv or json)")

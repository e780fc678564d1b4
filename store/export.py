"""Export of stored results for analysis: data sets, runs, metrics (each with the λ and combination that made
it), comparisons, training curves and robustness rank changes (and per-hypothesis scores with their word errors and WER on
request), as one JSON document or one CSV file per table. docs/how-to/export.md reads them into pandas."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from .comparisons import comparisons
from lorascope.core import durable
from lorascope.core.combination.model import Combination
from lorascope.core.errors import LorascopeError
from lorascope.core.data.metrics import reference_length

from .db import Store, StoreError

RUN_COLUMNS = ("id", "name", "strategy", "status", "backbone", "seed", "train_dataset", "dev_dataset",
               "test_dataset", "lam", "steps_done", "total_steps", "started_at", "finished_at", "error", "note",
               "adapter_path", "trainable_params", "trainable_share", "config")
JSON_FILE = "export.json"      # the file an existing --out folder gets
COMBINATION_COLUMNS = ("lam", "combination", "combination_text", "combination_from")
# Header rows of tables that may be empty (a CSV file with its header reads back as an empty frame, not an error).
COLUMNS = {
    "curves": ("run_id", "step", "loss", "rank_budget", "dev_wer", "lr"),
    "rank_changes": ("run_id", "metric_id", "dataset", "perturbation", "perturbation_model", "p", "seed", "utt_id",
                     "ranks_before", "ranks_after", "top_flipped", "delta_errors", "chosen_before", "chosen_after"),
    "scores": ("run_id", "dataset", "utt_id", "reference", "first_pass_rank", "text", "first_pass_score",
               "word_errors", "lm_score", "combined_score", "new_rank", "reference_words", "wer"),
    "runs": (*RUN_COLUMNS, "versions"),
}


def _combination_columns(settings: dict[str, Any] | None, run_config: dict[str, Any] | None) -> dict[str, Any]:
    """λ and the combination behind a metric: its own (stored with it), else its run's tuned one (older rows)."""
    source, combo = None, None
    if settings and settings.get("combination"):
        source, combo = "metric", settings["combination"]
    elif run_config and run_config.get("combination"):
        source, combo = "run", run_config["combination"]
    text = None
    if combo:
        try:
            text = Combination.from_dict(combo).describe()
        except (LorascopeError, ValueError, TypeError):   # a hand-edited row: keep the object, skip the text
            text = None
    return {"lam": combo.get("lam") if combo else None, "combination": combo, "combination_text": text,
            "combination_from": source}


def _rank_changes(store: Store, wanted: set[int]) -> list[dict[str, Any]]:
    rows = []
    for r in store._rows(
            "SELECT rc.run_id, rc.metric_id, m.dataset, m.perturbation, m.perturbation_model, m.p, m.seed, u.utt_id, "
            "rc.ranks_before, rc.ranks_after, rc.top_flipped, rc.delta_errors FROM rank_changes rc "
            "JOIN metrics m ON m.id = rc.metric_id JOIN utterances u ON u.id = rc.utterance_id "
            "ORDER BY rc.metric_id, u.position"):
        if r["run_id"] not in wanted:
            continue
        before, after = json.loads(r["ranks_before"]), json.loads(r["ranks_after"])
        r.update(ranks_before=before, ranks_after=after, top_flipped=bool(r["top_flipped"]),
                 chosen_before=before.index(0) if 0 in before else None,
                 chosen_after=after.index(0) if 0 in after else None)
        rows.append(r)
    return rows


def _scores(store: Store, run_id: int) -> list[dict[str, Any]]:
    """Every scored hypothesis of a run with its reference, word errors and WER (errors / reference words)."""
    rows = store._rows(
        "SELECT s.run_id, d.name AS dataset, u.utt_id, u.reference, h.rank AS first_pass_rank, h.text, "
        "h.score AS first_pass_score, h.errors AS word_errors, s.lm_score, s.combined_score, s.rank AS new_rank "
        "FROM scores s JOIN hypotheses h ON h.id = s.hypothesis_id JOIN utterances u ON u.id = h.utterance_id "
        "JOIN datasets d ON d.id = u.dataset_id WHERE s.run_id = ? ORDER BY d.id, u.position, h.rank", [run_id])
    for r in rows:
        words = reference_length(r["reference"]) if r["reference"] is not None else None
        r["reference_words"] = words
        r["wer"] = r["word_errors"] / words if words and r["word_errors"] is not None else None
    return rows


def collect(store: Store, *, scores: bool = False, runs: list[int] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Everything an export holds, as lists of rows keyed by table name; JSON columns (config, versions,
    settings, combination, rank lists) are objects, not strings."""
    run_infos = store.runs()
    if runs:
        for r in runs:
            store.run(r)  # a missing run is an error, not an empty export
        run_infos = [r for r in run_infos if r.id in set(runs)]
    run_rows = []
    for r in run_infos:
        row = {c: getattr(r, c) for c in RUN_COLUMNS}
        row["total_steps"] = r.total_steps or r.config.get("total_steps")
        row["versions"] = store.run_versions(r.id)
        run_rows.append(row)
    wanted = {r.id for r in run_infos}
    configs = {r.id: r.config for r in run_infos}
    metric_rows = []
    for m in store.metrics():
        if runs is not None and m["run_id"] not in wanted:
            continue
        m["settings"] = json.loads(m["settings"]) if m.get("settings") else None
        own = json.loads(m["combination"]) if m.get("combination") else None   # the row's provenance column
        m.update(_combination_columns({"combination": own} if own else m["settings"], configs.get(m["run_id"])))
        metric_rows.append(m)
    data = {
        "datasets": [dict(vars(d)) for d in store.datasets()],
        "runs": run_rows,
        "metrics": metric_rows,
        "comparisons": comparisons(store, None if runs is None else sorted(wanted)),
        "curves": [dict(run_id=r.id, **e) for r in run_infos for e in store.events(r.id)],
        "rank_changes": _rank_changes(store, wanted),
    }
    if scores:
        data["scores"] = [s for r in run_infos for s in _scores(store, r.id)]
    return data


def to_json(data: dict[str, list[dict[str, Any]]]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _cell(value: Any) -> Any:
    """A CSV cell: objects and lists as JSON text (json.loads reads them back), the rest as they are."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False) if isinstance(value, (dict, list)) else value


def to_csv(rows: list[dict[str, Any]], columns: tuple[str, ...] | None = None) -> str:
    buf = io.StringIO()
    fields = list(rows[0].keys()) if rows else list(columns or ())
    if fields:
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, sync it, rename it over ``path`` and sync the folder: a
    reader (or a kill, or a power loss) sees the old file or the new one, never half of one."""
    durable.write_text(path, text)


def json_target(out: str | Path) -> Path:
    """Where a JSON export to ``out`` goes: ``out`` itself, or export.json inside it when it is a folder (an
    existing one, or a name ending in a slash)."""
    path = Path(out)
    if path.is_dir() or str(out).endswith(("/", os.sep)):
        return path / JSON_FILE
    if path.parent.exists() and not path.parent.is_dir():
        raise StoreError(f"{out}: {path.parent} is a file, not a folder")
    return path


def export(store: Store, fmt: str, out: str | Path | None, *, scores: bool = False,
           runs: list[int] | None = None) -> list[Path] | str:
    """Write an export; returns the files written, or the text when ``out`` is None (JSON to standard output).

    JSON is one document with a list per table (``out`` a file, or a folder that gets export.json). CSV is one
    file per table in the folder ``out``.
    """
    if fmt not in ("csv", "json"):
        raise StoreError(f"unknown export format {fmt!r} (choose csv or json)")
    target = json_target(out) if fmt == "json" and out is not None else None
    folder = Path(out) if out is not None else Path("lorascope-export")
    if fmt == "csv" and folder.exists() and not folder.is_dir():
        raise StoreError(f"{folder}: CSV export writes one file per table, so --out must be a folder")
    data = collect(store, scores=scores, runs=runs)
    if fmt == "json":
        text = to_json(data)
        if target is None:
            return text
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(target, text)
        return [target]
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    columns = dict(COLUMNS, datasets=tuple(store.db["datasets"].columns_dict),
                   metrics=(*store.db["metrics"].columns_dict, *COMBINATION_COLUMNS))
    for table, rows in data.items():
        path = folder / f"{table}.csv"
        _write_atomically(path, to_csv(rows, columns.get(table)))
        written.append(path)
    return written

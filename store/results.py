"""The results family: metric rows, per-hypothesis scores, rank changes, and whole evaluations and robustness reports.

Metric rows go through the sqlite-utils table API; the per-hypothesis and per-utterance bulk writes use
``executemany`` (no dict built per row), and the reads that join them to their utterances are SQL. How a metric
row says where it came from (role, combination, settings) is store/provenance.py's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from lorascope.core.data.metrics import delta_wer

from .connection import finite, now
from .datasets import DatasetTables
from .errors import StoreError
from .provenance import combination_dict, data_role
from .runs import RunTables

if TYPE_CHECKING:  # core types the store writes; imported lazily by their callers
    from lorascope.core.combination.tune import EvalResult
    from lorascope.core.perturbation.robustness import RobustnessReport


class ResultTables(RunTables, DatasetTables):
    """Store's reads and writes of metrics, scores and rank changes, which belong to a run and a dataset
    (composed into store/db.py's Store)."""

    # -- metric rows ------------------------------------------------------------------------------

    def add_metrics(self, run_id: int | None, rows: Iterable[dict[str, Any]]) -> list[int]:
        """Metric rows: dataset, split, perturbation, wer, oracle_wer (delta_wer derived), optional others; how a
        row was made: docs/reference/provenance.md (``role`` defaults to the data set's role for the run)."""
        run = self.run(run_id) if run_id is not None else None
        ids = []
        with self.atomic():
            for r in rows:
                combination = combination_dict(r.get("combination"))
                rec = {
                    "run_id": run_id, "dataset": r["dataset"], "split": r.get("split", r["dataset"]),
                    "perturbation": r.get("perturbation", "clean"), "p": r.get("p"), "seed": r.get("seed"),
                    "utterances": r.get("utterances"), "one_best_wer": finite(r.get("one_best_wer")),
                    "wer": r["wer"], "oracle_wer": r["oracle_wer"],
                    "delta_wer": r.get("delta_wer", delta_wer(r["wer"], r["oracle_wer"])),
                    "nprr": finite(r.get("nprr")), "created_at": now(),
                    "perturbation_model": r.get("perturbation_model"),
                    "settings": json.dumps(r["settings"], sort_keys=True) if r.get("settings") is not None else None,
                    "role": r.get("role") or data_role(run, r["dataset"], r.get("split")),
                    "seeds": json.dumps([int(x) for x in r["seeds"]], separators=(",", ":")) if r.get("seeds") is not None else None,
                    "combination": json.dumps(combination, sort_keys=True) if combination is not None else None,
                    "lam": finite(combination["lam"]) if combination is not None else finite(r.get("lam")),
                }
                ids.append(self.db["metrics"].insert(rec).last_pk)
        return ids

    def metrics(self, run_id: int | None = None) -> list[dict[str, Any]]:
        if run_id is None:
            return list(self.db["metrics"].rows_where(order_by="id"))
        return list(self.db["metrics"].rows_where("run_id = ?", [run_id], order_by="id"))

    # -- per-hypothesis scores and per-utterance rank changes -------------------------------------

    def add_scores(self, run_id: int, dataset: str, rows: Iterable[tuple[str, int, float, float, int]]) -> int:
        """Per-hypothesis scores: (utterance id, first-pass rank, LM score, combined score, new rank)."""
        self.run(run_id)
        hyp_ids = self.hypothesis_rows(dataset)
        records = []
        for utt_id, rank, lm, combined, new_rank in rows:
            key = (utt_id, rank)
            if key not in hyp_ids:
                raise StoreError(f"dataset {dataset!r}: no hypothesis {rank} of utterance {utt_id}")
            records.append((run_id, hyp_ids[key], float(lm), float(combined), int(new_rank)))
        with self.atomic():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO scores (run_id, hypothesis_id, lm_score, combined_score, rank) "
                "VALUES (?,?,?,?,?)", records)
        return len(records)

    def scores(self, run_id: int, dataset: str | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT d.name AS dataset, u.utt_id, h.rank AS first_pass_rank, h.text, h.score AS first_pass_score, "
               "s.lm_score, s.combined_score, s.rank AS new_rank FROM scores s "
               "JOIN hypotheses h ON h.id = s.hypothesis_id JOIN utterances u ON u.id = h.utterance_id "
               "JOIN datasets d ON d.id = u.dataset_id WHERE s.run_id = ?")
        params: list[Any] = [run_id]
        if dataset is not None:
            sql += " AND d.name = ?"
            params.append(dataset)
        return self._rows(sql + " ORDER BY d.id, u.position, h.rank", params)

    def add_rank_changes(self, run_id: int, metric_id: int, dataset: str,
                         rows: Iterable[tuple[str, list[int], list[int], bool, int | None]]) -> int:
        """Per-utterance rank changes under a perturbation: (utt id, ranks before, ranks after, flipped, Δerrors)."""
        utt_rows = self.utterance_rows(dataset)
        records = []
        for utt_id, before, after, flipped, delta in rows:
            if utt_id not in utt_rows:
                raise StoreError(f"dataset {dataset!r}: no utterance {utt_id}")
            records.append((run_id, metric_id, utt_rows[utt_id], json.dumps(before), json.dumps(after),
                            int(bool(flipped)), delta))
        with self.atomic():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO rank_changes (run_id, metric_id, utterance_id, ranks_before, ranks_after, "
                "top_flipped, delta_errors) VALUES (?,?,?,?,?,?,?)", records)
        return len(records)

    def rank_changes(self, metric_id: int) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT u.utt_id, rc.ranks_before, rc.ranks_after, rc.top_flipped, rc.delta_errors FROM rank_changes rc "
            "JOIN utterances u ON u.id = rc.utterance_id WHERE rc.metric_id = ? ORDER BY u.position", [metric_id])
        for r in rows:
            r["ranks_before"] = json.loads(r["ranks_before"])
            r["ranks_after"] = json.loads(r["ranks_after"])
            r["top_flipped"] = bool(r["top_flipped"])
        return rows

    # -- whole results ----------------------------------------------------------------------------

    def add_evaluation(self, run_id: int, dataset: str, split: str, result: "EvalResult") -> int | None:
        """A clean evaluation of ``dataset`` in one transaction: its metric row (when the lists have references;
        returns its id) and every hypothesis' LM score, combined score and new rank."""
        with self.atomic():
            metric = None
            if result.rescored_wer is not None:
                (metric,) = self.add_metrics(run_id, [{
                    "dataset": dataset, "split": split, "perturbation": "clean", "utterances": len(result.choices),
                    "one_best_wer": result.one_best_wer, "wer": result.rescored_wer,
                    "oracle_wer": result.oracle_wer, "combination": result.combination,
                    "settings": {"combination": result.combination.to_dict()}}])
            self.add_scores(run_id, dataset, [
                (uid, i, lm[i], comb[i], rank[i])
                for uid, lm, comb, rank in zip(result.utterance_ids, result.lm_scores, result.combined, result.ranks)
                for i in range(len(lm))])
        return metric

    def add_robustness(self, run_id: int, dataset: str, report: "RobustnessReport", combination: Any = None, *,
                       role: str | None = None) -> list[int]:
        """A robustness report in one transaction: the clean row, one row per (perturbation, seed) with its NPRR,
        and every utterance's rank changes; each row with the report's seeds and ``combination`` (the one whose
        choices were scored). Returns the metric ids, clean first."""
        combo = combination_dict(combination)   # in the row's combination column (export reads it first)
        common = {"dataset": dataset, "split": "robustness", "utterances": len(report.clean.choices), "p": report.p,
                  "perturbation_model": report.perturbation["name"], "settings": report.perturbation,
                  "seeds": list(report.seeds), "combination": combo, "role": role}
        with self.atomic():
            ids = self.add_metrics(run_id, [dict(common, perturbation="clean", wer=report.clean.wer,
                                                 oracle_wer=report.clean.oracle_wer)])
            for res in report.runs:
                (mid,) = self.add_metrics(run_id, [dict(common, perturbation=res.condition, seed=res.seed,
                                                        wer=res.wer, oracle_wer=res.oracle_wer, nprr=res.nprr)])
                self.add_rank_changes(run_id, mid, dataset, [
                    (u.utterance_id, list(u.ranks_before), list(u.ranks_after), u.flipped,
                     u.errors_after - u.errors_before) for u in res.utterances])
                ids.append(mid)
        return ids

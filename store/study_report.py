"""A study's report from the store: each done cell's run, test errors and robustness rows, into core's tables."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import Any

from lorascope.core.data.metrics import reference_lengths
from lorascope.core.analysis.stats import bootstrap_mean_difference, fit_power_law, mean_sd, pooled_paired_bootstrap
from lorascope.core.analysis.study import cells
from lorascope.core.analysis.study_tables import CurveFit, CurvePoint, Difference, StudyReport, Table2Row, Table3Row

from .db import Store
from .study import cell_rows, study


def chosen_errors(store: Store, run_id: int, dataset: str) -> list[int]:
    """Word errors of the hypothesis the run chose for each utterance of ``dataset``, in stored order."""
    rows = store.db.execute(
        "SELECT h.errors FROM scores s JOIN hypotheses h ON h.id = s.hypothesis_id "
        "JOIN utterances u ON u.id = h.utterance_id JOIN datasets d ON d.id = u.dataset_id "
        "WHERE s.run_id = ? AND d.name = ? AND s.rank = 0 ORDER BY u.position", [run_id, dataset]).fetchall()
    return [r[0] for r in rows]


def first_pass_errors(store: Store, dataset: str) -> list[int]:
    rows = store.db.execute(
        "SELECT h.errors FROM hypotheses h JOIN utterances u ON u.id = h.utterance_id JOIN datasets d "
        "ON d.id = u.dataset_id WHERE d.name = ? AND h.rank = 0 ORDER BY u.position", [dataset]).fetchall()
    return [r[0] for r in rows]


def _latest(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (condition, seed): the newest (a rerun never doubles a value)."""
    keep: dict[tuple, dict[str, Any]] = {}
    for m in rows:
        keep[(m["perturbation"], m["seed"])] = m
    return list(keep.values())


def study_report(store: Store, name: str) -> StudyReport:
    info = study(store, name)
    spec = info.spec
    grid = {c.position: c for c in cells(spec)}
    done = [(grid[r.position], r.run_id) for r in cell_rows(store, info.id) if r.status == "done" and r.run_id]
    report = StudyReport(name=name, described=spec.describe(), cells_done=len(done), cells_total=len(grid),
                         reference="ft" if "ft" in spec.strategies else "1-best")
    test = spec.test
    tests: dict[int, dict[str, Any]] = {}
    train_sizes: dict[int, int] = {}
    for cell, run_id in done:
        run = store.run(run_id)
        test = run.test_dataset or test
        rows = [m for m in store.metrics(run_id) if m["split"] == "test" and m["perturbation"] == "clean"]
        if rows:
            tests[run_id] = rows[-1]
        train_sizes[run_id] = store.dataset(run.train_dataset).utterances
    if not tests:
        return report
    lens = reference_lengths(store.load_dataset(test))
    first = first_pass_errors(store, test)
    largest = max(train_sizes.values())
    by_group: dict[tuple[str, str], list[int]] = defaultdict(list)
    for cell, run_id in done:
        if run_id in tests and train_sizes[run_id] == largest:
            by_group[(cell.backbone, cell.strategy)].append(run_id)
    errors = {run_id: chosen_errors(store, run_id, test) for ids in by_group.values() for run_id in ids}
    for backbone in spec.backbones:
        ref_ids = by_group.get((backbone, "ft"), [])
        ref_wer = mean_sd([tests[i]["wer"] for i in ref_ids])[0] if ref_ids else None
        for strategy in spec.strategies:
            ids = by_group.get((backbone, strategy), [])
            if not ids:
                continue
            wer, sd = mean_sd([tests[i]["wer"] for i in ids])
            one_best = tests[ids[0]]["one_best_wer"]
            if report.reference == "ft":
                vs = None if strategy == "ft" or not ref_ids else pooled_paired_bootstrap(
                    [errors[i] for i in ref_ids], [errors[i] for i in ids], lens)
            else:
                vs = pooled_paired_bootstrap([first], [errors[i] for i in ids], lens)
            report.table2.append(Table2Row(
                backbone, strategy, len(ids), wer, sd, one_best, tests[ids[0]]["oracle_wer"],
                (wer - one_best) / one_best if one_best else float("nan"),
                None if ref_wer is None or strategy == "ft" or not ref_wer else (wer - ref_wer) / ref_wer,
                None if vs is None else _interval(vs)))
    _table3(store, spec, by_group, report)
    _curve(spec, done, tests, train_sizes, report)
    return report


def _interval(boot):
    from lorascope.core.analysis.stats import Interval

    return Interval(boot.difference, boot.low, boot.high)


def _table3(store: Store, spec, by_group: dict[tuple[str, str], list[int]], report: StudyReport) -> None:
    conditions = ["clean"] + [f"perturb-{m}" for m in spec.modes]
    nprr: dict[tuple, list[float]] = {}
    for model in spec.models:
        name = spec.model_name(model)
        for p in spec.p:
            for (backbone, strategy), ids in by_group.items():
                rows = []
                for run_id in ids:
                    rows += _latest([m for m in store.metrics(run_id) if m["split"] == "robustness" and
                                     m["perturbation_model"] == name and m["p"] == p])
                for cond in conditions:
                    ms = [m for m in rows if m["perturbation"] == cond]
                    if not ms:
                        continue
                    values = [m["nprr"] for m in ms if m["nprr"] is not None]
                    mean, sd = mean_sd(values) if values else (None, None)
                    nprr[(backbone, name, p, cond, strategy)] = values
                    report.table3.append(Table3Row(
                        backbone, strategy, name, p, cond, len(ms), mean_sd([m["wer"] for m in ms])[0],
                        mean_sd([m["oracle_wer"] for m in ms])[0], mean_sd([m["delta_wer"] for m in ms])[0],
                        mean, sd))
    order = {s: i for i, s in enumerate(spec.strategies)}
    report.table3.sort(key=lambda r: (spec.backbones.index(r.backbone), order[r.strategy],
                                      [spec.model_name(m) for m in spec.models].index(r.model), r.p,
                                      conditions.index(r.condition)))
    for backbone in spec.backbones:
        for model in spec.models:
            name = spec.model_name(model)
            for p in spec.p:
                for cond in conditions[1:]:
                    for first, second in combinations(spec.strategies, 2):
                        a, b = nprr.get((backbone, name, p, cond, second)), nprr.get((backbone, name, p, cond, first))
                        if a and b:
                            report.differences.append(Difference(backbone, name, p, cond, second, first,
                                                                 bootstrap_mean_difference(a, b)))


def _curve(spec, done, tests, train_sizes, report: StudyReport) -> None:
    if len(spec.sizes) < 2:
        return
    points: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for cell, run_id in done:
        if run_id in tests:
            points[(cell.backbone, cell.strategy, train_sizes[run_id])].append(tests[run_id]["wer"])
    for (backbone, strategy, n), wers in sorted(points.items(), key=lambda kv: (
            spec.backbones.index(kv[0][0]), spec.strategies.index(kv[0][1]), kv[0][2])):
        wer, sd = mean_sd(wers)
        report.curve.append(CurvePoint(backbone, strategy, n, wer, sd, len(wers)))
    for backbone in spec.backbones:
        for strategy in spec.strategies:
            pts = [c for c in report.curve if c.backbone == backbone and c.strategy == strategy]
            if len({c.n for c in pts}) >= 3:
                law = fit_power_law([c.n for c in pts], [c.wer for c in pts])
                report.fits.append(CurveFit(backbone, strategy, law, max(c.n for c in pts)))

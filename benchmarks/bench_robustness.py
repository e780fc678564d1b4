"""Robustness benchmark: the paper's Table 3 with the ``paper`` perturbation model, and robust training measured.

    python benchmarks/bench_robustness.py table3 [--data hyporadise-ls,sample] [--strategies ft,lora,s1,s3]
    python benchmarks/bench_robustness.py augment [--models none,paper,mined,lexicon] [--train-seeds 0,1]

Everything goes through lorascope's own jobs (lorascope/jobs/: exactly what ``lorascope train`` and
``lorascope robustness`` run) into one store under ``~/.cache/lorascope/bench/robustness/`` (``--store``), so a
rerun skips what is there and ``lorascope report --db ...`` prints the same figures.

``table3``: a thin call of ``lorascope study`` (lorascope/study/): one study per data set, each strategy
trained with the defaults (the length rule: 3 epochs over the informative lists), on the LibriSpeech
test-other split (HyPoradise 5-best, 80/10/10; the lists are read in place from ../shared) and on the sample
sets; then perturb-1 and perturb-N of the test part with ``--perturbation`` (paper), p 0.5, seeds 0..2. Prints
the study's report (Table 2 and Table 3); ``lorascope study report bench-table3-sample --db STORE`` prints it
again, and the same grid is ``lorascope study run`` with a spec (docs/how-to/studies.md).

``augment``: lora on the sample sets with ``--augment perturb:0.5`` under each perturbation model (``none``:
without augmentation; ``MODEL+kl``: with ``--consistency 1``, the list and its perturbed twin side by side), for
each training seed; each run is evaluated under every model (perturb-N and
perturb-1, seeds 0..2). Prints clean test WER with its 95% bootstrap interval and NPRR per evaluation model.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_quality import CACHE, HYPORADISE, split  # noqa: E402
from lorascope.core.data.formats import write_jsonl  # noqa: E402
from lorascope.jobs import TrainOptions, robustness_job, train_job  # noqa: E402
from lorascope.store import Store  # noqa: E402


def librispeech_files(folder: Path) -> dict[str, str]:
    """The HyPoradise LibriSpeech split as files in the bench folder (never in the repository)."""
    from lorascope.core.data.formats import read_nbest

    names = {split_name: folder / f"ls-{split_name}.jsonl" for split_name in ("train", "dev", "test")}
    if not all(p.exists() for p in names.values()):
        if not HYPORADISE.exists():
            sys.exit(f"bench_robustness: {HYPORADISE}: not found (it lives in ../shared beside the checkout)")
        for part, path in zip(split(read_nbest(HYPORADISE)), names.values()):
            write_jsonl(part, path)
    return {k: str(v) for k, v in names.items()}


def trained(db: Path, options: TrainOptions, label: str) -> int:
    """The run these options make (trained now unless the store has it, by label)."""
    with Store(db) as store:
        for run in store.runs():
            if run.config.get("bench_label") == label and run.status == "done":
                return run.id
    job = train_job(db, options)
    with Store(db) as store:
        run = store.run(job.run_id)
        store.update_run(job.run_id, config={**run.config, "bench_label": label})
        print(f"trained {label}: run {job.run_id}, {job.result.total_steps} steps ({job.result.steps_rule}), "
              f"kept step {job.result.kept_step}, {job.result.wall_time_s:.0f} s", file=sys.stderr, flush=True)
    return job.run_id


def robustness(db: Path, run_id: int, model: str, seeds: int, data: str | None = None) -> list[dict]:
    """Stored robustness rows of a run under a model (measured now unless stored)."""
    def rows() -> list[dict]:
        with Store(db) as store:
            return [m for m in store.metrics(run_id) if m["split"] == "robustness" and
                    (m["perturbation_model"] or "lexicon") == model.split(":")[0]]
    if not rows():
        robustness_job(db, run_id, data=data, modes=("1", "N"), p=0.5, seeds=range(seeds), perturbation=model)
    return rows()


def summary(rows: list[dict]) -> dict[str, tuple]:
    out = {}
    for cond in ("clean", "perturb-1", "perturb-N"):
        ms = [m for m in rows if m["perturbation"] == cond]
        if cond == "clean":
            ms = ms[-1:]
        nprr = [m["nprr"] for m in ms if m["nprr"] is not None]
        out[cond] = (statistics.fmean(m["wer"] for m in ms), statistics.fmean(m["oracle_wer"] for m in ms),
                     statistics.fmean(m["delta_wer"] for m in ms), statistics.fmean(nprr) if nprr else None,
                     statistics.stdev(nprr) if len(nprr) > 1 else None)
    return out


def pct(x, signed=False):
    return "-" if x is None else (f"{100 * x:+.2f}" if signed else f"{100 * x:.2f}")


def table3(args, db: Path) -> None:
    """A thin call of ``lorascope study``: one study per data set (``bench-table3-DATA``), its Table 3 printed."""
    from lorascope.core.analysis.study import StudySpec
    from lorascope.core.analysis.study_tables import render_md
    from lorascope.study.runner import run_study
    from lorascope.store.study_report import study_report

    for data in args.data.split(","):
        sets = (librispeech_files(db.parent) if data == "hyporadise-ls" else
                {"train": "sample-train", "dev": "sample-dev", "test": "sample-test"})
        spec = StudySpec(name=f"bench-table3-{data}" + ("" if args.epochs is None else f"-epochs-{args.epochs:g}"),
                         train=sets["train"], dev=sets["dev"], test=sets["test"],
                         strategies=tuple(args.strategies.split(",")), seeds=(0,),
                         train_options={} if args.epochs is None else {"epochs": args.epochs},
                         models=(args.perturbation,), perturbation_seeds=tuple(range(args.seeds)))
        run_study(db, spec)
        with Store(db) as store:
            print(render_md(study_report(store, spec.name)), flush=True)


def augment(args, db: Path) -> None:
    models = args.models.split(",")
    evals = [m for m in dict.fromkeys(m.split("+")[0] for m in models) if m != "none"]
    head = " | ".join(f"{m} NPRR-1 | {m} NPRR-N" for m in evals)
    print(f"| augmentation | train seed | steps | clean test WER | 95% interval vs 1-best | {head} |")
    print("|---|---:|---:|---:|---|" + "---:|" * (2 * len(evals)), flush=True)
    for model in models:
        for seed in (int(s) for s in args.train_seeds.split(",")):
            name, _, kl = model.partition("+")      # "paper+kl": with the consistency term (weight 1)
            options = TrainOptions(strategy="lora", seed=seed, augment=None if name == "none" else 0.5,
                                   augment_model=None if name == "none" else name,
                                   consistency=1.0 if kl == "kl" else None)
            run_id = trained(db, options, f"augment {model} seed {seed}")
            with Store(db) as store:
                run = store.run(run_id)
                clean = [m for m in store.metrics(run_id) if m["split"] == "test"][-1]
            boot = run.config["test_bootstrap"]
            cells = []
            for m in evals:
                spec = "mined:from=sample-train" if m == "mined" else m
                s = summary(robustness(db, run_id, spec, args.seeds))
                cells += [pct(s["perturb-1"][3]), pct(s["perturb-N"][3])]
            print(f"| {model} | {seed} | {run.steps_done} | {pct(clean['wer'])} | [{pct(boot['low'], True)}, "
                  f"{pct(boot['high'], True)}] | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=("table3", "augment"))
    ap.add_argument("--data", default="hyporadise-ls,sample")
    ap.add_argument("--strategies", default="ft,lora,s1,s3")
    ap.add_argument("--perturbation", default="paper")
    ap.add_argument("--models", default="none,paper,mined,lexicon")
    ap.add_argument("--train-seeds", default="0,1")
    ap.add_argument("--seeds", type=int, default=3, help="perturbation seeds")
    ap.add_argument("--epochs", type=float, default=None,
                    help="table3: passes over the informative lists (default: lorascope train's, 3)")
    ap.add_argument("--store", type=Path, default=CACHE / "robustness" / "store.db")
    args = ap.parse_args()
    args.store.parent.mkdir(parents=True, exist_ok=True)
    print(f"store: {args.store}\n", flush=True)
    (table3 if args.part == "table3" else augment)(args, args.store)
    print(json.dumps({"done": args.part}), file=sys.stderr)


if __name__ == "__main__":
    main()

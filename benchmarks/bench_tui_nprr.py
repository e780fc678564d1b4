"""The inspector's data-set NPRR (the c key) on big data sets: wall time and peak memory, the whole set held as
Python objects (how it was) against page by page (how it is).

Run: ``python benchmarks/bench_tui_nprr.py [--copies 1,7,34] [--model paper] [--modes 1,N] [--keep DIR]``.

Set-up (not timed): the LibriSpeech test-other lists of ../shared repeated ``copies`` times in a store
(benchmarks/bench_tui_scale.py's :func:`build_store`). Each measure is a fresh process (``python -c``) that
runs the inspector's own NPRR job (lorascope.tui.nprr.dataset_robustness) with the bare backbone's scorer (every
LM score 0, so the figures are the perturbation's and the store's, not a model's): ``whole`` reads the set with
``Store.load_dataset`` and hands it over as one page, ``paged`` reads it with the worker's ``read_pages``
(store/browse.py, 500 lists a page). Both give the same report (tests/test_tui_nprr.py); peak RSS is the
process's ``ru_maxrss`` at the end, imports and the phonetic index included.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_tui_scale import DATASET, SOURCE, build_store  # noqa: E402

CHILD = """
import json, resource, sys, time
from pathlib import Path
from lorascope.store import Store
from lorascope.tui import jobs
from lorascope.tui.adapters import BARE, Scorer
from lorascope.tui.nprr import dataset_robustness
from lorascope.tui.perturbation import PerturbSettings, index_loader

db, how, model, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
index = index_loader()
index.pronunciations("qxzvbrt")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
with Store(db, readonly=True) as store:
    info = store.dataset(sys.argv[5])
    pages = [store.load_dataset(info.name)] if how == "whole" else None
if pages is None:
    pages = jobs.read_pages(db, info.id)
result = dataset_robustness(info.name, pages, info.hypotheses, Scorer(BARE), {}, 1.0,
                            PerturbSettings(mode, 0.5, 0, model), index)
wall = time.perf_counter() - t0
summaries = {s.mode: s.nprr_mean for s in result.report.summaries}
print(json.dumps({"wall_s": wall, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "before_mib": before / 1024, "nprr": summaries, "wer": result.report.clean.wer}))
"""


def measure(db: Path, how: str, model: str, mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(db), how, model, mode, DATASET], check=True,
                         capture_output=True, text=True, cwd=REPO, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", default="1,7,34", help="repeats of the LibriSpeech lists (default 1,7,34)")
    parser.add_argument("--model", default="paper", help="perturbation model spec (default paper)")
    parser.add_argument("--mode", default="off", choices=["off", "1", "N"],
                        help="the inspector's mode: off computes perturb-1 and perturb-N (default)")
    parser.add_argument("--keep", type=Path, help="keep the stores in this folder (and reuse them)")
    args = parser.parse_args()
    if not SOURCE.exists():
        raise SystemExit(f"{SOURCE} is missing")
    load = os.getloadavg()[0]
    print(f"data-set NPRR in the inspector: {args.model}, mode {args.mode}, bare backbone; "
          f"{os.cpu_count()} CPUs visible, load average {load:.1f}\n")
    print("| lists | hypotheses | read | wall s | peak RSS MiB | of it before the job MiB | NPRR% (1 / N) |")
    print("|---:|---:|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for copies in (int(c) for c in args.copies.split(",")):
            store = build_store(folder, copies)
            for how in ("whole", "paged"):
                m = measure(store.path, how, args.model, args.mode)
                nprr = " / ".join(f"{100 * v:.2f}" for v in m["nprr"].values())
                print(f"| {store.utterances:,} | {store.hypotheses:,} | {how} | {m['wall_s']:.1f} | "
                      f"{m['peak_mib']:.0f} | {m['before_mib']:.0f} | {nprr} |", flush=True)


if __name__ == "__main__":
    main()

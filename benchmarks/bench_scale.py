"""Scale: how fast `lorascope import` takes large N-best files, and how much memory it holds while doing so.

Run: ``python benchmarks/bench_scale.py [--sizes 10k,100k,1M] [--formats hyporadise,jsonl] [--python PY]``.

The files are built (once, in a cache folder outside the repository) by repeating the LibriSpeech lists in
../shared/data/hyporadise/test_ls_other.json with new utterance ids until they hold the asked number of
hypotheses: a HyPoradise JSON document and the same lists as native JSONL. Each import runs in its own child
process (``PY -m lorascope --db TMP import FILE``) and is timed from the outside; the peak resident memory is
that child's (``os.wait4``). ``--python`` runs another checkout's interpreter, for a before/after table.

Repeating lists repeats (reference, hypothesis) pairs, which the word-error cache then answers without an
alignment; ``--unique`` adds a file kind whose every reference and hypothesis carries the utterance's own
number as a last word, so that no pair repeats (closer to real data; every list keeps its errors).

Other benchmarks may add measures: each is a function returning a row dict, and :func:`print_table` prints
any list of row dicts whose keys it knows.

``--inspector`` adds the inspector on stores of about the same sizes (benchmarks/bench_tui_scale.py: a fresh
process per store, driven by Pilot: open time, key latency for move / search / sort, peak RSS). ``--ddp`` adds the
training step of ``lorascope train --nproc 1`` and ``--nproc 2`` on this CPU (MiniLM-L6, lora, 8 LibriSpeech
lists a step, so 4 per process with 2): each is timed as two runs of 10 and 40 steps from the outside, and the
difference over 30 steps is the step time, so start-up, the dev evaluations (8 in either run) and the final
tuning cancel out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "hyporadise" / "test_ls_other.json"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lorascope-bench-scale"
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}


def source_lists() -> list[dict]:
    """The ../shared LibriSpeech lists as HyPoradise items."""
    if not SOURCE.exists():
        sys.exit(f"bench_scale: needs {SOURCE} beside the checkout")
    return json.loads(SOURCE.read_text())


def repeated_items(hypotheses: int, unique: bool = False):
    """HyPoradise items repeating the source lists with new ids until ``hypotheses`` hypotheses are given."""
    lists = source_lists()
    done = k = 0
    while done < hypotheses:
        item = lists[k % len(lists)]
        hyps = item["input"][:hypotheses - done]
        ref = item["output"]
        if unique:  # one more word, the same in reference and hypotheses: errors unchanged, no pair repeats
            hyps = [f"{h} u{k}" for h in hyps]
            ref = f"{ref} u{k}"
        yield {"id": f"r{k // len(lists)}-{k % len(lists)}", "input": hyps, "output": ref}
        done += len(hyps)
        k += 1


def build_file(kind: str, hypotheses: int, folder: Path = CACHE) -> Path:
    """The cached benchmark file of ``kind`` (hyporadise, jsonl, jsonl-unique) with ``hypotheses`` hypotheses."""
    fmt, _, variant = kind.partition("-")
    path = folder / f"{kind}-{hypotheses}.{'json' if fmt == 'hyporadise' else 'jsonl'}"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    with open(tmp, "w", encoding="utf-8") as f:
        items = repeated_items(hypotheses, unique=variant == "unique")
        if fmt == "hyporadise":
            f.write("[")
            for i, item in enumerate(items):
                f.write(("," if i else "") + json.dumps(item))
            f.write("]")
        else:
            for item in items:
                f.write(json.dumps({"id": item["id"], "reference": item["output"], "hypotheses": item["input"]})
                        + "\n")
    tmp.rename(path)
    return path


def measure_import(path: Path, fmt: str, hypotheses: int, python: str = sys.executable) -> dict:
    """Import ``path`` into a fresh store in a child process: wall time, rate, peak RSS of the child, store size."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        db = Path(tmp) / "store.db"
        env = dict(os.environ, HF_HUB_OFFLINE="1")
        logs = [open(Path(tmp) / name, "w+b") for name in ("stdout", "stderr")]
        start = time.perf_counter()
        child = subprocess.Popen([python, "-m", "lorascope", "--db", str(db), "import", str(path), "--format", fmt],
                                 stdout=logs[0], stderr=logs[1], env=env, cwd=tmp)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak RSS
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out, err = (f.seek(0) or f.read().decode(errors="replace") for f in logs)
        for f in logs:
            f.close()
        if child.returncode != 0:
            raise SystemExit(f"bench_scale: import of {path} failed: {err[-500:]}")
        return {"file": path.name, "format": fmt, "hypotheses": hypotheses, "seconds": seconds,
                "rate": hypotheses / seconds, "peak_rss_mib": usage.ru_maxrss / 1024,
                "store_mib": db.stat().st_size / 2**20, "output": out.strip().splitlines()[-1]}


COLUMNS = {  # key: (heading, format)
    "format": ("format", "{}"), "hypotheses": ("hypotheses", "{:,}"), "seconds": ("import s", "{:.1f}"),
    "rate": ("hyps/s", "{:,.0f}"), "peak_rss_mib": ("peak RSS MiB", "{:.0f}"), "store_mib": ("store MiB", "{:.0f}"),
}


def print_table(rows: list[dict]) -> None:
    """A Markdown table of ``rows`` with the columns of :data:`COLUMNS` that any row has."""
    keys = [k for k in COLUMNS if any(k in r for r in rows)]
    print("| " + " | ".join(COLUMNS[k][0] for k in keys) + " |")
    print("|---|" + "---:|" * (len(keys) - 1))
    for r in rows:
        print("| " + " | ".join("-" if r.get(k) is None else COLUMNS[k][1].format(r[k]) for k in keys) + " |")


def inspector_rows(sizes: list[int]) -> str:
    """The inspector on stores of about these sizes (bench_tui_scale), as its Markdown table."""
    sys.path.insert(0, str(REPO))
    from benchmarks import bench_tui_scale as tui

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-tui-") as tmp:
        per_copy = sum(len(item["input"]) for item in source_lists())
        for n in sizes:
            store = tui.build_store(Path(tmp), max(1, round(n / per_copy)))
            tui.drop_search_index(store)
            results.append(tui.measure(store))
    return tui.table(results)


def ddp_step_ms(nproc: int, folder: Path, short: int = 10, long: int = 40) -> float:
    """ms per training step of ``lorascope train --nproc N`` on this CPU (module docstring)."""
    sys.path.insert(0, str(REPO))
    from benchmarks.bench_quality import split
    from lorascope.core.data.formats import read_nbest, write_jsonl

    train, dev = folder / "ddp-train.jsonl", folder / "ddp-dev.jsonl"
    if not train.exists():
        tr, dv, _ = split(read_nbest(SOURCE))
        write_jsonl(tr, train)
        write_jsonl(dv[:40], dev)
    seconds = []
    for steps in (short, long):
        with tempfile.TemporaryDirectory(prefix="bench-scale-ddp-") as tmp:
            cmd = [sys.executable, "-m", "lorascope", "--db", f"{tmp}/store.db", "train", "--strategy", "lora",
                   "--data", str(train), "--dev", str(dev), "--test", "none", "--steps", str(steps), "--batch-size",
                   "8", "--checkpoint-every", "0", "--nproc", str(nproc)]
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
            seconds.append(time.perf_counter() - start)
    return 1000 * (seconds[1] - seconds[0]) / (long - short)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--sizes", default="10k,100k,1M", help="hypotheses per file: 10k, 100k, 1M or a number")
    ap.add_argument("--formats", default="hyporadise,jsonl")
    ap.add_argument("--unique", action="store_true", help="also import JSONL files whose pairs never repeat")
    ap.add_argument("--python", default=sys.executable, help="the interpreter whose lorascope imports")
    ap.add_argument("--inspector", action="store_true", help="also the inspector on stores of these sizes")
    ap.add_argument("--ddp", action="store_true", help="also the training step with 1 and 2 processes")
    ap.add_argument("--no-import", action="store_true", help="skip the import rows")
    args = ap.parse_args()
    kinds = args.formats.split(",") + (["jsonl-unique"] if args.unique else [])
    rows = []
    sizes = [SIZES.get(size) or int(size) for size in args.sizes.split(",")]
    for n in ([] if args.no_import else sizes):
        for kind in kinds:
            path = build_file(kind, n)
            print(f"import {path.name} ({path.stat().st_size / 2**20:.0f} MiB)", file=sys.stderr, flush=True)
            row = measure_import(path, kind.partition("-")[0], n, args.python)
            row["format"] = kind
            rows.append(row)
            print(f"  {row['rate']:,.0f} hyps/s, {row['peak_rss_mib']:.0f} MiB; {row['output']}", file=sys.stderr)
    if rows:
        print_table(rows)
    if args.inspector:
        print("\n" + inspector_rows(sizes))
    if args.ddp:
        CACHE.mkdir(parents=True, exist_ok=True)
        one, two = ddp_step_ms(1, CACHE), ddp_step_ms(2, CACHE)
        print(f"\n| processes | ms per step (8 lists) |\n|---:|---:|\n| 1 | {one:.0f} |\n| 2 | {two:.0f} |")
    print(f"\n{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; python {args.python}")


if __name__ == "__main__":
    main()

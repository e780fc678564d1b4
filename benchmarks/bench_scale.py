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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--sizes", default="10k,100k,1M", help="hypotheses per file: 10k, 100k, 1M or a number")
    ap.add_argument("--formats", default="hyporadise,jsonl")
    ap.add_argument("--unique", action="store_true", help="also import JSONL files whose pairs never repeat")
    ap.add_argument("--python", default=sys.executable, help="the interpreter whose lorascope imports")
    args = ap.parse_args()
    kinds = args.formats.split(",") + (["jsonl-unique"] if args.unique else [])
    rows = []
    for size in args.sizes.split(","):
        n = SIZES.get(size) or int(size)
        for kind in kinds:
            path = build_file(kind, n)
            print(f"import {path.name} ({path.stat().st_size / 2**20:.0f} MiB)", file=sys.stderr, flush=True)
            row = measure_import(path, kind.partition("-")[0], n, args.python)
            row["format"] = kind
            rows.append(row)
            print(f"  {row['rate']:,.0f} hyps/s, {row['peak_rss_mib']:.0f} MiB; {row['output']}", file=sys.stderr)
    print_table(rows)
    print(f"\n{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; python {args.python}")


if __name__ == "__main__":
    main()

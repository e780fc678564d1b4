"""The inspector on big data sets: open time, key latency (move, search, sort) and peak memory at 10k-1M hypotheses.

Run: ``python benchmarks/bench_tui_scale.py [--copies 1,7,34,68] [--presses 20] [--adapter] [--keep DIR]``.
Other scripts call :func:`build_store`, :func:`measure` and :func:`table` or :func:`row`
(``benchmarks/bench_scale.py``).

Set-up (not timed): the LibriSpeech test-other lists of ../shared (HyPoradise, 2,939 lists, 14,695 hypotheses;
rank only) imported with ``Store.add_dataset``, then repeated ``copies`` times inside the store with new
utterance ids (SQL copies of the imported rows, so every copy has the same stored word errors and the data
set's WERs stay true), and one finished run with stored LM scores for every hypothesis (written by core's
``evaluate_scores`` + ``Store.add_evaluation`` on the first copy, then copied like the lists). 1 / 7 / 34 / 68
copies give 14.7k / 103k / 500k / 999k hypotheses; 34 copies are the 99,926 lists a user measured.

Each measure runs in a fresh process (``python -c``), the app headless under Textual's test driver at 80x24:

- ``open``: from the app's start (imports done) to the first utterance of the set on screen (list rows and
  N-best table);
- ``figures``: until the list's flips / ΔWER and the data set's WERs are there (background work);
- ``index``: until the full-text search index is built (background, first open of the set only);
- ``move``: a down key in the utterance list to the N-best table holding the next utterance;
- ``search``: each key typed into the search field to the list showing the matches;
- ``sort``: the sort key to the list in its new order;
- ``peak RSS``: the process's peak resident memory at the end (``ru_maxrss``).

Without ``--adapter`` the run's adapter folder does not exist, so the app opens on the bare backbone and never
imports torch; with it, the run points at the shipped demo adapter: its stored LM scores drive the list and the
N-best table, and torch plus MiniLM load in the background (keys are timed after the model is in).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "hyporadise" / "test_ls_other.json"
DEMO_ADAPTER = REPO / "sample_data" / "demo-adapter"
DATASET = "bench-big"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@dataclass(frozen=True)
class ScaleStore:
    path: Path
    dataset: str
    copies: int
    utterances: int
    hypotheses: int
    build_s: float


def _fake_lm(text: str) -> float:
    """A deterministic stand-in LM score (the benchmark times data paths, not a model)."""
    return ((zlib.crc32(text.encode()) % 2001) - 1000) / 1000.0


def build_store(folder: Path, copies: int, *, source: Path = SOURCE) -> ScaleStore:
    """A store with ``copies`` repeats of ``source`` as data set :data:`DATASET` and run 1 with stored scores."""
    from lorascope.core.combination.tune import Combination, evaluate_scores
    from lorascope.core.data.formats import read_nbest
    from lorascope.store import Store

    t0 = time.perf_counter()
    path = folder / f"scale-{copies}.db"
    if path.exists():  # kept from an earlier run (--keep)
        with Store(path) as store:
            info = store.dataset(DATASET)
            return ScaleStore(path, DATASET, copies, info.utterances, info.hypotheses, 0.0)
    base = read_nbest(source, "hyporadise")
    with Store(path) as store:
        info = store.add_dataset(DATASET, base, source=str(source), format="hyporadise")
        rid = store.create_run(strategy="lora", config={"strategy": "lora"}, seed=0, backbone="minilm-l6",
                               dev_dataset=DATASET, test_dataset=DATASET)
        store.add_adapter(rid, path=str(folder / "no-adapter-here"), trainable_params=1, total_params=1)
        store.update_run(rid, status="done", lam=1.0, steps_done=1)
        lm = [[_fake_lm(t) for t in u.texts] for u in base]
        store.add_evaluation(rid, DATASET, "test", evaluate_scores(base, lm, Combination.of({"prior": 1.0}, 1.0)))
        n = info.utterances
        db = store.db.conn
        with store.db.atomic():
            for k in range(1, copies):
                db.execute("INSERT INTO utterances (dataset_id, position, utt_id, reference, meta) SELECT dataset_id, "
                           "position + ?, utt_id || '-r' || ?, reference, meta FROM utterances WHERE dataset_id = ? "
                           "AND position < ? ORDER BY position", [k * n, k, info.id, n])
                db.execute("INSERT INTO hypotheses (utterance_id, rank, text, score, errors, extra) SELECT nu.id, "
                           "h.rank, h.text, h.score, h.errors, h.extra FROM utterances bu JOIN hypotheses h ON "
                           "h.utterance_id = bu.id JOIN utterances nu ON nu.dataset_id = bu.dataset_id AND "
                           "nu.position = bu.position + ? WHERE bu.dataset_id = ? AND bu.position < ? "
                           "ORDER BY nu.id, h.rank", [k * n, info.id, n])
                db.execute("INSERT INTO scores (run_id, hypothesis_id, lm_score, combined_score, rank) SELECT s.run_id, "
                           "nh.id, s.lm_score, s.combined_score, s.rank FROM utterances bu JOIN hypotheses h ON "
                           "h.utterance_id = bu.id JOIN scores s ON s.hypothesis_id = h.id AND s.run_id = ? "
                           "JOIN utterances nu ON nu.dataset_id = bu.dataset_id AND nu.position = bu.position + ? "
                           "JOIN hypotheses nh ON nh.utterance_id = nu.id AND nh.rank = h.rank "
                           "WHERE bu.dataset_id = ? AND bu.position < ?", [rid, k * n, info.id, n])
            db.execute("UPDATE datasets SET utterances = ?, hypotheses = ? WHERE id = ?",
                       [n * copies, info.hypotheses * copies, info.id])
    return ScaleStore(path, DATASET, copies, n * copies, info.hypotheses * copies, time.perf_counter() - t0)


def drop_search_index(store: ScaleStore) -> None:
    """Forget the data set's search index, so that the next open builds it again."""
    from lorascope.store import Store

    with Store(store.path) as s:
        s.db.execute("DELETE FROM utterance_search")
        s.db.execute("DELETE FROM search_index")
        s.db.conn.commit()


def use_adapter(store: ScaleStore, adapter: Path | None) -> None:
    """Point run 1 at ``adapter`` (None: at a folder that does not exist, so the app takes the bare backbone)."""
    from lorascope.store import Store

    with Store(store.path) as s:
        s.db.execute("UPDATE adapters SET path = ? WHERE run_id = 1",
                     [str(adapter) if adapter is not None else str(store.path.parent / "no-adapter-here")])
        s.db.conn.commit()


# ------------------------------------------------------------------------------------------- the child

CHILD = r"""
import asyncio, json, resource, sys, time
T0 = time.perf_counter()
from textual import events
from lorascope.tui.app import LorascopeApp
from lorascope.tui.screens.inspect import InspectScreen

db, presses, want_model = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
out = {"times": {}}

def key(app, name, char=None):
    event = events.Key(name, char)
    event.set_sender(app)
    app._driver.send_message(event)   # as the terminal driver does (Pilot.press also waits for idle)

async def until(pilot, check, timeout=600.0, step=0.002):
    t = time.perf_counter()
    while not check():
        if time.perf_counter() - t > timeout:
            raise SystemExit("timed out")
        await pilot.pause(step)
    return time.perf_counter()

async def watch(pilot):
    app = pilot.app
    t_start = T_APP
    screen = None
    def first_shown():
        nonlocal screen
        s = app.screen
        if not isinstance(s, InspectScreen) or s.info is None:
            return False
        screen = s
        view = s.inspector.view()
        return view is not None and s.nbest.row_count > 0 and s.utt_list.table.rows.get(0) is not None
    out["open_s"] = await until(pilot, first_shown) - t_start
    out["open_from_process_s"] = time.perf_counter() - T0
    out["utterances"] = screen.inspector.size
    out["figures_s"] = await until(pilot, lambda: screen.figures is not None) - t_start
    idx = lambda: screen.search_state is not None and screen.search_state.ready
    out["index_s"] = await until(pilot, idx) - t_start
    if want_model:
        out["model_s"] = await until(pilot, lambda: screen.inspector.ready, step=0.01) - t_start
    await until(pilot, lambda: not any(w.is_running for w in app.workers), step=0.01)
    await pilot.pause(0.3)
    lst = screen.utt_list
    lst.table.focus()
    await pilot.pause(0.1)
    times = out["times"]

    for _ in range(presses):                          # move: the next utterance on the N-best table
        target = screen.requested + 1
        t = time.perf_counter()
        key(app, "down")
        done = await until(pilot, lambda: screen.requested >= target and screen.rendered[0] == screen.requested
                           and screen.rendered[1] >= t)
        times.setdefault("move", []).append(screen.rendered[1] - t)
        await pilot.pause(0.05)

    lst.search.focus()
    await pilot.pause(0.1)
    for word in ("knight", "the"):                     # search: each key typed, to the list filtered
        typed = ""
        for ch in word:
            typed += ch
            t = time.perf_counter()
            key(app, ch, ch)
            await until(pilot, lambda: lst.searched[0] == typed and lst.searched[1] >= t)
            times.setdefault("search", []).append(lst.searched[1] - t)
            await pilot.pause(0.05)
        out.setdefault("matches", {})[word] = screen.matches
        for _ in word:
            key(app, "backspace")
            await pilot.pause(0.02)
        await until(pilot, lambda: lst.searched[0] == "")
        await pilot.pause(0.2)
    lst.table.focus()
    await pilot.pause(0.1)
    for _ in range(max(4, presses // 2)):               # sort: the next sort key, to the list in its order
        done = lst.ordered[0]
        t = time.perf_counter()
        key(app, "s", "s")
        await until(pilot, lambda: lst.ordered[0] > done)
        times.setdefault("sort", []).append(lst.ordered[1] - t)
        await pilot.pause(0.05)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    app.exit()

T_APP = time.perf_counter()
LorascopeApp(db).run(headless=True, size=(80, 24), auto_pilot=watch)
print(json.dumps(out))
"""


def measure(store: ScaleStore, *, presses: int = 20, adapter: bool = False, threads: int = 1) -> dict:
    """One fresh process on ``store`` (see the module docstring); returns its figures (seconds, MB)."""
    use_adapter(store, DEMO_ADAPTER if adapter else None)
    env = dict(os.environ, LORASCOPE_TUI_THREADS=str(threads))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(store.path), str(presses), "1" if adapter else "0"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"measuring child failed:\n{proc.stderr[-3000:]}")
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    found.update(copies=store.copies, hypotheses=store.hypotheses, adapter=adapter)
    return found


def row(result: dict) -> dict:
    """One :func:`measure` result as a flat row (medians in ms), for tables such as bench_scale.print_table's."""
    flat = {k: result[k] for k in ("hypotheses", "utterances", "adapter", "open_s", "figures_s", "index_s")}
    flat.update({f"{k}_ms": statistics.median(v) * 1e3 for k, v in result["times"].items()})
    flat["peak_rss_mib"] = result["peak_rss_mb"]
    return flat


def _ms(xs: list[float]) -> str:
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
    return f"{statistics.median(xs) * 1e3:.0f} / {p90 * 1e3:.0f}"


def table(results: list[dict]) -> str:
    """A Markdown table of :func:`measure` results."""
    lines = ["| hypotheses | lists | adapter | open s | figures s | index s | move ms | search ms | sort ms | "
             "peak RSS MB |", "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        t = r["times"]
        lines.append(f"| {r['hypotheses']:,} | {r['utterances']:,} | {'demo (stored LM)' if r['adapter'] else 'bare'} "
                     f"| {r['open_s']:.2f} | {r['figures_s']:.2f} | {r['index_s']:.2f} | {_ms(t['move'])} | "
                     f"{_ms(t['search'])} | {_ms(t['sort'])} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", default="1,7,34,68", help="repeats of the source lists, one store each")
    parser.add_argument("--presses", type=int, default=20, help="timed presses per key (default 20)")
    parser.add_argument("--adapter", action="store_true", help="also measure with the demo adapter loaded")
    parser.add_argument("--keep", type=Path, help="build the stores in this folder and keep them")
    args = parser.parse_args()
    if not SOURCE.exists():
        raise SystemExit(f"{SOURCE} not found: this benchmark needs the shared LibriSpeech lists")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        results = []
        for copies in (int(c) for c in args.copies.split(",")):
            store = build_store(folder, copies)
            print(f"built {store.hypotheses:,} hypotheses ({store.utterances:,} lists) in {store.build_s:.1f} s",
                  file=sys.stderr)
            drop_search_index(store)
            results.append(measure(store, presses=args.presses))   # first open: builds the search index
            if args.adapter:
                results.append(measure(store, presses=args.presses, adapter=True))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"lorascope inspector on big data sets: {os.cpu_count()} CPUs visible, load average {load:.1f}; "
          f"median / p90 per key; open and figures from the app's start\n")
    print(table(results))


if __name__ == "__main__":
    main()

"""Speed of the inspector: start-up to the first screen, and a key press to the rescored N-best table.

Run: ``python benchmarks/bench_tui.py [--presses 30] [--starts 5] [--threads 1] [--adapter DIR] [--model lexicon]``.

Set-up (not timed): a temporary store with the sample test set (sample_data/test.jsonl; a synthetic 8-best list
when it is missing), reordered so that the first utterance has 8 hypotheses, and a LoRA adapter on the real
MiniLM-L6 backbone (trained for two steps here, or ``--adapter``) registered as a finished run.

Start-up is timed from outside: a fresh ``python`` process runs the app headless at 80x24 and reports when the
first screen shows the utterance list and the first N-best table (first-pass values; the adapter still
loading), and when the table shows the adapter's LM scores. Times count from process start, imports included.

Key presses are timed in-process on the 8-best utterance, the app running headless under Textual's test
driver: from posting the key event (as the terminal driver does) to the moment the N-best table holds every
rescored value (the screen's ``rendered`` mark); the terminal paint that follows is one frame and not
included. Background scoring of the data set has finished before timing starts. Cases: perturb-N reroll
(every hypothesis the new seed changes is rescored), perturb-1 reroll (the lowest-scored hypothesis), a λ
step (no model call: cached LM scores recombined), and moving between the first two 8-best utterances with
their LM scores forgotten. The table says how many hypotheses each press sent to the model. The rerolls draw
from ``--model`` (default ``lexicon``, the inspector's default before the models: a new seed changes nearly every
hypothesis, the heaviest case; the app's default, ``paper``, changes far fewer).

torch runs with one CPU thread unless ``--threads`` says otherwise (the app's default; see
``lorascope.core.scoring.inference``). Big data sets (open time, move / search / sort, memory): bench_tui_scale.py. The load average printed with the table tells how busy the
machine was: on a shared machine the figures move with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SENTENCES = [
    "he hoped there would be stew for dinner turnips and carrots and bruised potatoes",
    "i think there is a right way to know what the weather will be tomorrow",
    "we went to see the play last night and the actors were very good",
    "she read the book by the fire while the wind blew through the trees",
]


def synthetic_set():
    """Utterances of 8 hypotheses each: the reference and seven one- or two-word variants."""
    from lorascope.core.data.nbest import Hypothesis, Utterance

    swaps = [("there", "their"), ("right", "write"), ("see", "sea"), ("read", "red"), ("blew", "blue"),
             ("the", "a"), ("and", "in"), ("for", "four"), ("to", "two"), ("know", "no")]
    utts = []
    for k, ref in enumerate(SENTENCES):
        words = ref.split()
        variants = [ref]
        for a, b in swaps:
            if a in words and len(variants) < 8:
                variants.append(" ".join(b if w == a else w for w in words))
        while len(variants) < 8:
            variants.append(" ".join(words[: len(words) - len(variants)]))
        utts.append(Utterance(f"synth-{k}", tuple(Hypothesis(t, -0.4 * i - 1.0) for i, t in enumerate(variants)),
                              ref))
    return utts


def load_set():
    from lorascope.core.data.formats import read_nbest

    path = REPO / "sample_data" / "test.jsonl"
    utts = read_nbest(path, "jsonl") if path.exists() else []
    eight = [u for u in utts if len(u.hypotheses) == 8 and u.reference]
    if len(eight) < 2:
        return "synthetic", synthetic_set()
    rest = [u for u in utts if u not in eight]
    return str(path.relative_to(REPO)), eight + rest  # the 8-best lists first: the app opens on the first


def build(folder: Path, adapter: str | None) -> tuple[Path, str, int]:
    """The store for the benchmark; returns (store path, data description, hypotheses of the first utterance)."""
    from lorascope.core.training.train import TrainConfig, train
    from lorascope.store import Store

    source, utts = load_set()
    db = folder / "bench.db"
    if adapter is None:
        config = TrainConfig(strategy="lora", backbone="minilm-l6", steps=2, batch_size=2, eval_every=None,
                             device="cpu", seed=0)
        result = train(config, utts[:8], utts[:8], adapter_dir=folder / "adapter")
        adapter, lam, trainable, total = result.adapter_dir, 1.0 / result.prior_weight, \
            result.trainable.trainable, result.trainable.total
    else:
        lam, trainable, total = None, 0, 1
    with Store(db) as store:
        store.add_dataset("bench", utts, source=source)
        rid = store.create_run(strategy="lora", config={"strategy": "lora"}, seed=0, backbone="minilm-l6",
                               dev_dataset="bench", test_dataset="bench")
        store.add_adapter(rid, path=str(adapter), trainable_params=trainable, total_params=total)
        store.update_run(rid, status="done", lam=lam, steps_done=2)
    return db, f"{source}, {len(utts)} utterances", len(utts[0].hypotheses)


# ------------------------------------------------------------------------------------------- start-up

CHILD = r"""
import sys, time, json
t_import = time.perf_counter()
from lorascope.tui.app import LorascopeApp
from lorascope.tui.screens.inspect import InspectScreen

marks = {}

async def watch(pilot):
    app = pilot.app
    while True:
        screen = app.screen
        if isinstance(screen, InspectScreen) and "first" not in marks:
            try:
                if screen.nbest.row_count > 0 and screen.utt_list.table.row_count > 0:
                    marks["first"] = time.time()
            except Exception:
                pass
        if isinstance(screen, InspectScreen) and screen.inspector.ready:
            view = screen.inspector.view()
            if view is not None and view.complete and screen.nbest.row_count > 0:
                marks["rescored"] = time.time()
                break
        await pilot.pause(0.005)
    app.exit()

LorascopeApp(sys.argv[1]).run(headless=True, size=(80, 24), auto_pilot=watch)
print(json.dumps(marks))
"""


def startup(db: Path, runs: int, threads: int) -> tuple[list[float], list[float]]:
    first, rescored = [], []
    env = dict(os.environ, LORASCOPE_TUI_THREADS=str(threads))
    for _ in range(runs):
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", CHILD, str(db)], capture_output=True, text=True, env=env,
                             cwd=REPO, timeout=600)
        if out.returncode != 0:
            raise SystemExit(f"start-up child failed:\n{out.stderr[-3000:]}")
        marks = json.loads(out.stdout.strip().splitlines()[-1])
        first.append(marks["first"] - t0)
        rescored.append(marks["rescored"] - t0)
    return first, rescored


# ------------------------------------------------------------------------------------------- key presses


def send_key(app, key: str, char: str | None) -> None:
    """Post a key event the way the terminal driver does (Pilot.press also waits for idle, which would compete
    with the scoring thread for the GIL and inflate the figure)."""
    from textual import events

    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)


async def presses(db: Path, n: int, model: str = "lexicon") -> tuple[dict[str, list[float]], dict[str, list[int]]]:
    from lorascope.tui.app import LorascopeApp
    from lorascope.tui.screens.inspect import InspectScreen

    app = LorascopeApp(db)
    times: dict[str, list[float]] = {}
    counts: dict[str, list[int]] = {}  # hypotheses scored per press
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, InspectScreen)
        shown = asyncio.Event()
        render = screen.render_current

        def render_and_signal() -> None:  # the screen marks `rendered` when every LM score is on the table
            render()
            if screen.rendered[0] == screen.requested:
                shown.set()

        screen.render_current = render_and_signal  # type: ignore[method-assign]

        async def idle() -> None:
            for _ in range(2000):
                await pilot.pause(0.01)
                if not any(w.is_running for w in app.workers) and screen.inspector.ready:
                    view = screen.inspector.view()
                    if view is not None and view.complete and not view.pending:
                        await pilot.pause(0.3)  # debounced list refreshes and timers run here, not in a timing
                        return
            raise SystemExit("the app did not settle")

        scored: list[int] = []

        async def press(name: str, key: str, char: str | None) -> None:
            shown.clear()
            scored.clear()
            t0 = time.perf_counter()
            send_key(app, key, char)
            await asyncio.wait_for(shown.wait(), 60)
            assert screen.rendered[1] >= t0
            times.setdefault(name, []).append(screen.rendered[1] - t0)
            counts.setdefault(name, []).append(sum(scored))

        await idle()
        screen.nbest.focus()
        ins = screen.inspector
        score = ins.scorer.score

        def counting(texts, **kwargs):  # how many hypotheses each key press sends to the model
            scored.append(len(texts))
            return score(texts, **kwargs)

        ins.scorer.score = counting
        assert len(ins.utterance().hypotheses) >= 8
        screen.select_model(model)   # what M picks
        await idle()
        await pilot.press("m", "m")  # off -> perturb-1 -> perturb-N
        await idle()
        assert ins.settings.mode == "N"
        for _ in range(n):
            await press("perturb-N reroll", "r", "r")
            await idle()
        await pilot.press("m", "m")  # perturb-N -> off -> perturb-1
        await idle()
        assert ins.settings.mode == "1"
        await idle()
        for _ in range(n):
            await press("perturb-1 reroll", "r", "r")
            await idle()
        await pilot.press("m", "m")  # perturb-1 -> perturb-N -> off
        await idle()
        assert ins.settings.mode == "off"
        for k in range(n):
            await press("λ step", *(("plus", "+") if k % 2 == 0 else ("minus", "-")))
            await idle()
        screen.utt_list.table.focus()
        for _ in range(n):  # back and forth between the first two 8-best lists, forgetting the target's scores
            target = 1 - ins.position
            held = ins.loaded.get(target)
            for t in held.texts if held is not None else ():
                ins.cache.of(ins.adapter.key).pop(t, None)
            await press("next utterance (its scores not cached)", *(("down", None) if target == 1
                                                                             else ("up", None)))
            assert ins.position == target
            await idle()

        # the model alone, for comparison: the 8 texts of the first utterance scored directly, in a fresh thread
        # as the app's workers do (torch's thread settings are per thread: this one started before they were set)
        texts = ins.loaded[0].texts[:8]

        def timed_score() -> float:
            t0 = time.perf_counter()
            score(texts)
            return time.perf_counter() - t0

        for _ in range(n):
            elapsed = await asyncio.to_thread(timed_score)
            times.setdefault("model alone: score 8 hypotheses (no UI)", []).append(elapsed)
    return times, counts


def _row(name: str, xs: list[float], scored: str, goal: str) -> str:
    xs = sorted(xs)
    med = statistics.median(xs) * 1e3
    p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))] * 1e3
    return f"| {name} | {len(xs)} | {scored} | {med:.0f} | {p90:.0f} | {goal} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=30, help="timed presses per case (default 30)")
    parser.add_argument("--starts", type=int, default=5, help="timed start-ups (default 5)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads, as $LORASCOPE_TUI_THREADS (default 1, the app's default)")
    parser.add_argument("--adapter", help="an existing MiniLM adapter folder instead of training one")
    parser.add_argument("--model", default="lexicon", choices=["paper", "lexicon"],
                        help="the perturbation model the rerolls draw from (default lexicon: the heaviest)")
    args = parser.parse_args()

    os.environ["LORASCOPE_TUI_THREADS"] = str(args.threads)  # the app sets torch's threads from it
    with tempfile.TemporaryDirectory() as tmp:
        db, data, n_hyp = build(Path(tmp), args.adapter)
        first, rescored = startup(db, args.starts, args.threads)
        keys, counts = asyncio.run(presses(db, args.presses, args.model))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"lorascope TUI benchmark: MiniLM-L6 LoRA adapter (merged for inference) on CPU, "
          f"torch threads {args.threads}, "
          f"{os.cpu_count()} CPUs visible, load average {load:.1f}")
    print(f"data: {data}; timed utterance: {n_hyp}-best; perturbation model {args.model}\n")
    print("| measure | n | hypotheses scored per press (mean) | median ms | p90 ms | goal |")
    print("|---|---:|---:|---:|---:|---|")
    print(_row("start-up to first screen (process start → list and first N-best table)", first, "-", "< 2000 ms"))
    print(_row("start-up to rescored table (torch + MiniLM adapter loaded)", rescored, "-", "-"))
    for name, xs in keys.items():
        if name.startswith("model"):
            print(_row(name, xs, "8", "-"))
        else:
            scored = f"{statistics.fmean(counts[name]):.1f}"
            print(_row(f"key → rescored table: {name}", xs, scored, "< 100 ms"))


if __name__ == "__main__":
    main()

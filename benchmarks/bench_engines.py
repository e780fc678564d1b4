"""lorascope's own scoring and training loop on each engine (hf, packed), real backbone, real N-best lists.

Run: ``python benchmarks/bench_engines.py`` (defaults: the pretrained MiniLM-L6 with the shipped demo LoRA
adapter for scoring; the bundled sample training set, strategies ft, lora and s1, engines hf and packed,
40 steps of the default 4 lists each for training). ``--skip-scoring`` / ``--skip-training``.

Scoring times ``Rescorer.score_token_ids`` over every hypothesis of the sample test set (tokenised
beforehand), as ``lorascope eval`` and the TUI run it: batches of ``--score-batch`` hypotheses sorted by
length (hf pads each batch to its longest; packed does not pad); median of 3 passes after one warm-up pass.

Unlike bench_speed.py (synthetic fixed-length batches, random weights), this times ``core.train.train`` as
``lorascope train`` runs it: real N-best lists (4 utterances, ~16 hypotheses of 5-30 tokens per step), the
MWER loss, gradient clipping, AdamW, AdaLoRA's regulariser and rank allocation. Each (strategy, engine)
runs in its own process, so the peak memory column is that run's alone: the resident-set peak on a CPU,
``torch.cuda.max_memory_allocated`` on CUDA. The step time is the median of the per-step wall times
(from the loop's own StepDone events) after ``--skip`` warm-up steps; dev evaluation is off.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


def one(strategy: str, engine: str, args: argparse.Namespace) -> dict:
    """Train ``args.steps`` steps of ``strategy`` on ``engine`` in this process and return its timings."""
    import torch

    from lorascope.core.data.formats import read_nbest
    from lorascope.core.training.train import StepDone, TrainConfig, train

    if args.threads:
        torch.set_num_threads(args.threads)
    train_utts = read_nbest(Path(args.data))
    dev_utts = train_utts[:8]           # λ tuning at the end needs a dev set; 8 lists keep it short
    config = TrainConfig(strategy=strategy, backbone=args.model, steps=args.steps, batch_size=args.batch_size,
                         device=args.device, engine=engine, eval_every=None, seed=0)
    stamps: list[float] = []

    def on_event(event) -> None:
        if isinstance(event, StepDone):
            stamps.append(event.elapsed_s)

    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    result = train(config, train_utts, dev_utts, on_event=on_event)
    steps = [b - a for a, b in zip(stamps, stamps[1:])][args.skip:]
    if args.device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"strategy": strategy, "engine": result.rescorer.info["engine"], "device": args.device,
            "ms_per_step": 1000 * statistics.median(steps), "steps_timed": len(steps),
            "peak_mib": peak, "trainable_share": result.trainable.share,
            "threads": torch.get_num_threads(), "torch": torch.__version__}


def scoring(engine: str, args: argparse.Namespace) -> dict:
    """Hypotheses per second of the demo adapter on the sample test set with ``engine``, in this process."""
    import time

    import torch

    from lorascope.core.data.formats import read_nbest
    from lorascope.core.scoring.adapter import load_rescorer

    if args.threads:
        torch.set_num_threads(args.threads)
    rescorer = load_rescorer(REPO / "sample_data" / "demo-adapter", device=args.device, engine=engine)
    utts = read_nbest(REPO / "sample_data" / "test.jsonl")
    ids = rescorer.encode([h.text for u in utts for h in u.hypotheses])
    times = []
    for _ in range(4):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        rescorer.score_token_ids(ids, batch_size=args.score_batch)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return {"engine": rescorer.active_engine, "hypotheses": len(ids), "hyps_per_s": len(ids) / statistics.median(times[1:]),
            "threads": torch.get_num_threads(), "torch": torch.__version__}


def _child(passthrough: list[str], what: str, engine: str) -> dict | str:
    """One job in a fresh process: its result row, or a one-line failure."""
    proc = subprocess.run([sys.executable, __file__, *passthrough, "--one", what, engine],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return "failed: " + (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", default="ft,lora,s1", help="comma list of ft, lora, s1, s2, s3")
    parser.add_argument("--engines", default="hf,packed", help="comma list of hf, packed")
    parser.add_argument("--model", default="minilm-l6", help="backbone (default: the pretrained MiniLM-L6)")
    parser.add_argument("--data", default=str(REPO / "sample_data" / "train.jsonl"), help="training N-best file")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--skip", type=int, default=5, help="warm-up steps left out of the median")
    parser.add_argument("--batch-size", type=int, default=4, help="utterances per step")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved runs of every job (median reported)")
    parser.add_argument("--score-batch", type=int, default=128, help="hypotheses per scoring batch")
    parser.add_argument("--skip-scoring", action="store_true")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--json", type=Path, help="write the rows to this file")
    parser.add_argument("--one", nargs=2, metavar=("STRATEGY", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps <= args.skip + 1:
        parser.error("--steps must exceed --skip + 1")
    if args.one:
        print(json.dumps(scoring(args.one[1], args) if args.one[0] == "score" else one(*args.one, args)))
        return

    passthrough = [a for a in sys.argv[1:] if not a.startswith("--json")]
    if args.json is not None:
        passthrough = [a for a in passthrough if a != str(args.json)]
    engines = args.engines.split(",")
    jobs = [] if args.skip_scoring else [("score", e) for e in engines]
    jobs += [] if args.skip_training else [(s, e) for s in args.strategies.split(",") for e in engines]
    runs: dict[tuple[str, str], list[dict]] = {job: [] for job in jobs}
    failed: dict[tuple[str, str], str] = {}
    for repeat in range(args.repeats):       # interleaved, so slow drift of the machine hits every job alike
        for job in jobs:
            print(f"[{repeat + 1}/{args.repeats}] {job[0]} {job[1]}", file=sys.stderr, flush=True)
            out = _child(passthrough, *job)
            if isinstance(out, str):
                failed[job] = out
            else:
                runs[job].append(out)
    rows = [{"kind": "scoring" if what == "score" else "training", **r} for (what, _), rs in runs.items() for r in rs]

    def median(job, key):
        values = [r[key] for r in runs.get(job, [])]
        return statistics.median(values) if values else None

    def measured(job, key, fmt, higher_is_better):
        """'median (min-max)' and the speed-up over the hf engine, or None when the job has no result."""
        values = [r[key] for r in runs.get(job, [])]
        if job in failed or not values:
            return None
        value = statistics.median(values)
        text = fmt.format(value) + (f" ({fmt.format(min(values))}-{fmt.format(max(values))})" if len(values) > 1 else "")
        base = median((job[0], "hf"), key)
        speedup = "" if not base else f"{(value / base if higher_is_better else base / value):.2f}"
        return text, speedup

    tables = []
    if not args.skip_scoring:
        tables.append((["scoring engine", "hypotheses", "hyps/s", "x vs hf"], ["score"], "hyps_per_s", "{:,.0f}", True,
                       lambda job, r: [job[1], str(r["hypotheses"])], lambda job, r: []))
    if not args.skip_training:
        tables.append((["strategy", "engine", "ms/step", "x vs hf", "peak MiB", "trainable %"],
                       args.strategies.split(","), "ms_per_step", "{:.1f}", False,
                       lambda job, r: [job[0], job[1]],
                       lambda job, r: [f"{median(job, 'peak_mib'):.0f}", f"{100 * r['trainable_share']:.2f}"]))
    for columns, groups, key, fmt, higher, lead, tail in tables:
        print("| " + " | ".join(columns) + " |")
        print("|---|" + "---:|" * (len(columns) - 1))
        for group in groups:
            for engine in engines:
                job = (group, engine)
                result = measured(job, key, fmt, higher)
                if result is None:
                    cells = [*lead(job, {"hypotheses": "-"}), failed.get(job, "no result")]
                    print("| " + " | ".join(cells + [""] * (len(columns) - len(cells))) + " |")
                    continue
                first = runs[job][0]
                print("| " + " | ".join([*lead(job, first), *result, *tail(job, first)]) + " |")
        print()
    if not args.skip_training:
        def best(strategy):
            values = [median((strategy, e), "ms_per_step") for e in engines]
            values = [v for v in values if v is not None]
            return min(values) if values else None

        best_ft, best_lora, best_s1 = best("ft"), best("lora"), best("s1")
        if best_ft and best_lora:
            print(f"\nbest ft / best lora: {best_ft / best_lora:.2f}x (goal >= 1.2)")
        if best_lora and best_s1:
            print(f"best s1 / best lora: {best_s1 / best_lora:.2f}x (goal <= 1.2)")
    if rows:
        print(f"device {args.device}, torch {rows[0]['torch']}, {rows[0]['threads']} threads, "
              f"median of {args.repeats} interleaved run(s) (range in brackets)")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()

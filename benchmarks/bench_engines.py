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

    from lorascope.core.formats import read_nbest
    from lorascope.core.train import StepDone, TrainConfig, train

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

    from lorascope.core.formats import read_nbest
    from lorascope.core.rescorer import load_rescorer

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

    rows = []
    passthrough = [a for a in sys.argv[1:] if not a.startswith("--json")]
    if args.json is not None:
        passthrough = [a for a in passthrough if a != str(args.json)]
    if not args.skip_scoring:
        print("| scoring engine | hypotheses | hyps/s | x vs hf |")
        print("|---|---:|---:|---:|", flush=True)
        base = None
        for engine in args.engines.split(","):
            proc = subprocess.run([sys.executable, __file__, *passthrough, "--one", "score", engine],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
                print(f"| {engine} | failed: {tail} | | |", flush=True)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append({"kind": "scoring", **row})
            base = row["hyps_per_s"] if engine == "hf" else base
            speedup = f"{row['hyps_per_s'] / base:.2f}" if base else ""
            print(f"| {row['engine']} | {row['hypotheses']} | {row['hyps_per_s']:,.0f} | {speedup} |", flush=True)
        print()
    if args.skip_training:
        strategies = []
    else:
        strategies = args.strategies.split(",")
        print("| strategy | engine | ms/step | peak MiB | x vs hf | trainable % |")
        print("|---|---|---:|---:|---:|---:|", flush=True)
    for strategy in strategies:
        base = None
        for engine in args.engines.split(","):
            proc = subprocess.run([sys.executable, __file__, *passthrough, "--one", strategy, engine],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
                print(f"| {strategy} | {engine} | failed: {tail} | | | |", flush=True)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append({"kind": "training", **row})
            base = row["ms_per_step"] if engine == "hf" else base
            speedup = f"{base / row['ms_per_step']:.2f}" if base else ""
            print(f"| {strategy} | {row['engine']} | {row['ms_per_step']:.1f} | {row['peak_mib']:.0f} | {speedup} | "
                  f"{100 * row['trainable_share']:.2f} |", flush=True)
    trained = [r for r in rows if r["kind"] == "training"]
    if trained:
        best_ft = min((r["ms_per_step"] for r in trained if r["strategy"] == "ft"), default=None)
        best_lora = min((r["ms_per_step"] for r in trained if r["strategy"] == "lora"), default=None)
        best_s1 = min((r["ms_per_step"] for r in trained if r["strategy"] == "s1"), default=None)
        if best_ft and best_lora:
            print(f"\nbest ft / best lora: {best_ft / best_lora:.2f}x (goal >= 1.2)")
        if best_lora and best_s1:
            print(f"best s1 / best lora: {best_s1 / best_lora:.2f}x (goal <= 1.2)")
    if rows:
        print(f"device {args.device}, torch {rows[0]['torch']}, {rows[0]['threads']} threads")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()

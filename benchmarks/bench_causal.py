"""Causal rescorers: scoring speed (sorted by length vs padded list order) and a quality table on the sample sets.

    python benchmarks/bench_causal.py speed [--model smollm2] [--lists 40] [--batch-size 64] [--threads 2]
    python benchmarks/bench_causal.py quality [--steps 40] [--minilm-steps N] [--eval-lists N] [--only ROWS]
                                              [--threads 2] [--json FILE]

``speed`` scores the hypotheses of the first ``--lists`` lists of the sample test set twice in the same
process, no gradient (bf16 autocast on CUDA, float32 on a CPU): padded batches in list order, then the
rescorer's own path (batches sorted by token length), and prints hypotheses/s of each and checks that both
give the same scores.

``quality`` trains on the bundled sample sets (train / dev / test) and prints, for the test set: 1-best, SmolLM2
``none`` (the pretrained LM, combination tuned on dev), SmolLM2 ``lora`` (``--steps`` optimizer steps, no
periodic dev evaluation: a CPU cannot afford more), MiniLM ``lora`` (the defaults): rescored WER, relative
change and the 95% paired-bootstrap interval of the WER difference (rescored - 1-best, in points).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

from lorascope.core.scoring.backbone import load_backbone, resolve_device  # noqa: E402
from lorascope.core.data.formats import read_nbest  # noqa: E402
from lorascope.core.data.metrics import paired_bootstrap, reference_lengths  # noqa: E402
from lorascope.core.scoring.rescorer import Rescorer, autocast, collate, rescorer_model  # noqa: E402
from lorascope.samples import sample_data_dir  # noqa: E402


def machine(threads: int) -> str:
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    return (f"{dev}; {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, {threads} threads; "
            f"{time.strftime('%Y-%m-%d %H:%M')}")


def speed(args) -> None:
    device = resolve_device(args.device)
    t0 = time.perf_counter()
    encoder, tokenizer = load_backbone(args.model)
    load_s = time.perf_counter() - t0
    rescorer = Rescorer(model=rescorer_model(encoder), tokenizer=tokenizer, backbone=args.model, device=device,
                        engine="hf")
    utts = list(read_nbest(sample_data_dir() / "test.jsonl"))[:args.lists]
    ids = rescorer.encode([h.text for u in utts for h in u.hypotheses])
    lengths = [len(x) for x in ids]
    print(f"## causal scoring speed: {args.model} ({type(encoder).__name__}, "
          f"{sum(p.numel() for p in encoder.parameters()) / 1e6:.1f}M parameters, loaded in {load_s:.1f} s)\n")
    print(f"machine: {machine(args.threads)}; sample test set, first {len(utts)} lists, {len(ids)} hypotheses, "
          f"tokens per hypothesis mean {sum(lengths) / len(lengths):.1f}, max {max(lengths)}; batches of "
          f"{args.batch_size}, no gradient, {'bf16 autocast' if device.type == 'cuda' else 'float32'}\n")
    rows = order_speeds(rescorer, ids, args.batch_size)
    print("| order | seconds | hypotheses/s | speed-up |\n|---|---:|---:|---:|")
    for name, sec, _ in rows:
        print(f"| {name} | {sec:.1f} | {len(ids) / sec:.1f} | {rows[0][1] / sec:.2f}x |")
    diff = max(abs(a - b) for a, b in zip(rows[0][2], rows[1][2]))
    print(f"\nlargest score difference between the two orders: {diff:.2e} nats")


def order_speeds(rescorer: Rescorer, ids: list[list[int]], batch_size: int) -> list[tuple[str, float, list[float]]]:
    """(order, seconds, scores) of scoring ``ids`` padded in list order, then sorted by length, no gradient."""
    model, device = rescorer.model.eval(), rescorer.device

    def plain() -> list[float]:
        out = []
        with torch.no_grad():
            for start in range(0, len(ids), batch_size):
                batch, mask = collate(ids[start:start + batch_size], rescorer.pad_id, device)
                with autocast(device):
                    out.extend(model(batch, mask)[0].tolist())
        return out

    rows = []
    for name, fn in (("padded, list order", plain),
                     ("sorted by length (rescorer)", lambda: rescorer.score_token_ids(ids, batch_size=batch_size))):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        scores = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        rows.append((name, time.perf_counter() - t, scores))
    return rows


def quality(args) -> None:
    from lorascope.core.training.train import TrainConfig, train

    folder = sample_data_dir()
    train_utts, dev, test = (list(read_nbest(folder / f"{n}.jsonl")) for n in ("train", "dev", "test"))
    if args.eval_lists:
        dev, test = dev[:args.eval_lists], test[:args.eval_lists]
    lens = reference_lengths(test)
    print(f"## causal vs [CLS] rescorers on the sample sets\n\nmachine: {machine(args.threads)}; train "
          f"{len(train_utts)}, dev {len(dev)}, test {len(test)} lists"
          f"{' (the first of each file)' if args.eval_lists else ''}\n")
    print("| rescorer | steps | train+score time | test 1-best WER% | oracle | rescored WER% | relative | "
          "95% interval (points) | combination |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|", flush=True)
    runs = [("SmolLM2 none", {"strategy": "none", "backbone": "smollm2"}),
            ("SmolLM2 lora", {"strategy": "lora", "backbone": "smollm2", "steps": args.steps, "eval_every": None}),
            ("MiniLM-L6 lora", {"strategy": "lora", **({"steps": args.minilm_steps} if args.minilm_steps else {})})]
    first = True
    for label, kw in runs:
        if args.only and label.split()[0].lower() + " " + kw["strategy"] not in args.only:
            continue
        res = train(TrainConfig(seed=args.seed, device=args.device, score_batch_size=args.batch_size, **kw),
                    train_utts, dev, eval_sets={"test": test})
        t = res.evals["test"]
        if first:
            print(f"| first pass (1-best) | - | - | {100 * t.one_best_wer:.2f} | {100 * t.oracle_wer:.2f} | "
                  f"{100 * t.one_best_wer:.2f} | - | - | - |", flush=True)
            first = False
        boot = paired_bootstrap(t.first_pass_errors, t.selected_errors, lens, resamples=1000, seed=0)
        rel = (t.rescored_wer - t.one_best_wer) / t.one_best_wer
        search = res.combination_search
        gate = "" if not search.fell_back else f" (gate fell back from {search.best.describe()})"
        print(f"| {label} | {res.total_steps} | {res.wall_time_s:.0f} s | {100 * t.one_best_wer:.2f} | "
              f"{100 * t.oracle_wer:.2f} | {100 * t.rescored_wer:.2f} | {100 * rel:+.1f}% | "
              f"[{100 * boot.low:+.2f}, {100 * boot.high:+.2f}] | {search.combination.describe()}{gate} |", flush=True)
        if args.json:
            with args.json.open("a") as f:
                f.write(json.dumps({"rescorer": label, "steps": res.total_steps, "wall_s": res.wall_time_s,
                                    "one_best": t.one_best_wer, "oracle": t.oracle_wer, "rescored": t.rescored_wer,
                                    "relative": rel, "low": boot.low, "high": boot.high,
                                    "combination": search.combination.describe(), "config": kw}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("speed", "quality"))
    ap.add_argument("--model", default="smollm2", help="speed: the causal backbone (default smollm2)")
    ap.add_argument("--lists", type=int, default=40, help="speed: lists of the sample test set to score")
    ap.add_argument("--batch-size", type=int, default=64, help="hypotheses per scoring batch")
    ap.add_argument("--steps", type=int, default=40, help="quality: SmolLM2 lora optimizer steps")
    ap.add_argument("--minilm-steps", type=int, help="quality: MiniLM lora steps (default: the length rule)")
    ap.add_argument("--eval-lists", type=int, help="quality: only the first N dev and test lists (a CPU budget)")
    ap.add_argument("--only", default="", help="quality: comma-separated subset, e.g. 'smollm2 none,minilm-l6 lora'")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--json", type=Path, help="quality: append every row to this JSON-lines file")
    args = ap.parse_args()
    args.only = [x.strip().lower() for x in args.only.split(",") if x.strip()]
    torch.set_num_threads(args.threads)
    speed(args) if args.what == "speed" else quality(args)


if __name__ == "__main__":
    main()

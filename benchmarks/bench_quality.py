"""Quality benchmark: every strategy's rescored WER against the first pass, on the sample sets and on LibriSpeech.

    python benchmarks/bench_quality.py [--data sample,librispeech] [--strategies ft,lora,s1,s2,s3] [--steps N]
                                       [--batch-size N] [--lr LR] [--lambda-confidence P]

Prints one table per data set: trainable share, train time, 1-best / oracle / rescored WER on the test part,
the relative change and a 95% paired-bootstrap interval of the WER difference (rescored - 1-best, in points),
the chosen λ, the bootstrap share of dev resamples in which the best dev λ beat the first pass, and, where
that share was too low and the gate fell back to λ = 0, the test WER the best dev λ would have given.
LibriSpeech: ../shared/data/hyporadise/test_ls_other.json (rank-only 5-best), split 80/10/10 with a fixed seed;
it is read in place and never copied into the project.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

from lorascope.core.formats import read_nbest  # noqa: E402
from lorascope.core.metrics import paired_bootstrap, reference_lengths  # noqa: E402
from lorascope.core.combine import evaluate_scores  # noqa: E402
from lorascope.core.train import TrainConfig, train  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LIBRISPEECH = REPO.parent / "shared" / "data" / "hyporadise" / "test_ls_other.json"


def split(utts, seed: int = 0, fractions=(0.8, 0.1, 0.1)):
    """A fixed-seed shuffle into train / dev / test parts."""
    order = list(range(len(utts)))
    random.Random(seed).shuffle(order)
    n_train = int(fractions[0] * len(utts))
    n_dev = int(fractions[1] * len(utts))
    pick = lambda idx: [utts[i] for i in idx]  # noqa: E731
    return pick(order[:n_train]), pick(order[n_train:n_train + n_dev]), pick(order[n_train + n_dev:])


def data_sets(names):
    out = {}
    if "sample" in names:
        out["sample sets (Whisper tiny.en on synthesised speech, scored 8-best)"] = tuple(
            read_nbest(REPO / "sample_data" / f"{s}.jsonl") for s in ("train", "dev", "test"))
    if "librispeech" in names:
        if not LIBRISPEECH.exists():
            sys.exit(f"bench_quality: {LIBRISPEECH}: not found (it lives in ../shared beside the checkout)")
        out["LibriSpeech test-other 80/10/10 (HyPoradise, rank-only 5-best)"] = split(read_nbest(LIBRISPEECH))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="sample,librispeech")
    ap.add_argument("--strategies", default="ft,lora,s1,s2,s3")
    ap.add_argument("--steps", type=int, help="optimizer steps (default: the engine's)")
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--lr", type=float, help="learning rate of the trained weights (lr_full for ft, else lr_adapter)")
    ap.add_argument("--lambda-confidence", type=float, help="the λ gate (default: the engine's 0.95; 0: off)")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, threads {torch.get_num_threads()}"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
    for title, (tr, dev, te) in data_sets(args.data.split(",")).items():
        print(f"\n{title}: train {len(tr)}, dev {len(dev)}, test {len(te)}")
        print("| strategy | trainable % | train s | 1-best WER | oracle WER | rescored WER | relative | "
              "95% interval (points) | λ | dev p(better) | test WER at the best dev λ, ungated |")
        print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
        lens = reference_lengths(te)
        for strategy in args.strategies.split(","):
            kw = {"strategy": strategy, "seed": args.seed, "device": args.device}
            if args.steps:
                kw["steps"] = args.steps
            if args.batch_size:
                kw["batch_size"] = args.batch_size
            if args.lr:
                kw["lr_full" if strategy == "ft" else "lr_adapter"] = args.lr
            if args.lambda_confidence is not None:
                kw["lambda_confidence"] = args.lambda_confidence
            res = train(TrainConfig(**kw), tr, dev, eval_sets={"test": te})
            t = res.evals["test"]
            boot = paired_bootstrap(t.first_pass_errors, t.selected_errors, lens, resamples=1000, seed=0)
            rel = (t.rescored_wer - t.one_best_wer) / t.one_best_wer
            search = res.combination_search
            p_better = "-" if search.p_better is None else f"{search.p_better:.3f}"
            ungated = "same"
            if search.fell_back:
                at_best = evaluate_scores(te, t.lm_scores, search.best)   # the test LM scores, recombined
                ungated = f"{100 * at_best.rescored_wer:.2f} ({search.best.describe()})"
            print(f"| {strategy} | {100 * res.trainable.share:.2f} | {res.wall_time_s:.0f} | "
                  f"{100 * t.one_best_wer:.2f} | {100 * t.oracle_wer:.2f} | {100 * t.rescored_wer:.2f} | "
                  f"{100 * rel:+.1f}% | [{100 * boot.low:+.2f}, {100 * boot.high:+.2f}] | {res.lam:.3g} | "
                  f"{p_better} | {ungated} |", flush=True)


if __name__ == "__main__":
    main()

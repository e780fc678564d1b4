"""How often the training gate passes while test gets worse: the in-sample gate (before) and the out-of-fold gate.

    python benchmarks/bench_gate.py --data sample --strategies ft,lora,s1 --steps 150 --resplits 20
    python benchmarks/bench_gate.py --data hyporadise-ls --strategies lora --steps 60 --resplits 20

Each strategy trains once (``core.train.train``, the shipped MiniLM-L6) on the training part; its LM scores of
the dev and test lists are then reused. Both gates decide on dev (the given split, plus ``--resplits - 1``
fixed-seed re-draws of dev and test from the pooled dev + test lists, same sizes), and each decision is checked
on that split's test lists: "passes" = the gate keeps a tuned combination, "test worse" = its test WER is above
the 1-best. Before: :func:`core.combine.tune_combination` with ``min_p_better`` (paired bootstrap of the tuned
combination on the dev lists it was tuned on). After: :func:`core.crossfit.gated_search` (5-fold out-of-fold dev
decisions). Prints one markdown row per strategy.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

import benchmarks.bench_quality as quality  # noqa: E402
from benchmarks.bench_quality import CACHE, data_sets  # noqa: E402
from lorascope.core.combination.tune import FIRST_PASS_COMBINATION, evaluate_scores, tune_combination  # noqa: E402
from lorascope.core.combination.crossfit import gated_search  # noqa: E402
from lorascope.core.training.train import TrainConfig, train  # noqa: E402


def decisions(dev, dev_lm, test, test_lm, resplits: int, confidence: float):
    """Per split: (before passes, before test worse, after passes, after test worse, oof estimate - 1-best,
    test change of the after-gate choice)."""
    pool, lm = list(dev) + list(test), list(dev_lm) + list(test_lm)
    out = []
    for r in range(resplits):
        order = list(range(len(pool)))
        if r:
            random.Random(r).shuffle(order)
        d, t = order[:len(dev)], order[len(dev):]
        dv, dlm = [pool[i] for i in d], [lm[i] for i in d]
        te, tlm = [pool[i] for i in t], [lm[i] for i in t]
        one_best = evaluate_scores(te, tlm, FIRST_PASS_COMBINATION).one_best_wer
        old = tune_combination(dv, dlm, min_p_better=confidence).combination
        new = gated_search(dv, dlm, min_p_better=confidence)
        old_wer = evaluate_scores(te, tlm, old).rescored_wer
        new_wer = evaluate_scores(te, tlm, new.search.combination).rescored_wer
        out.append((not old.is_first_pass, not old.is_first_pass and old_wer > one_best,
                    not new.search.combination.is_first_pass,
                    not new.search.combination.is_first_pass and new_wer > one_best,
                    new.oof_wer - new.search.first_pass_wer, new_wer - one_best, old_wer - one_best))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="sample", help="sample or hyporadise-ls")
    ap.add_argument("--strategies", default="ft,lora,s1")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--train-lists", type=int, help="use only the first N training lists")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resplits", type=int, default=20)
    ap.add_argument("--confidence", type=float, default=0.95)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hyporadise", type=Path, help=f"the HyPoradise file (default {quality.HYPORADISE})")
    args = ap.parse_args()
    if args.hyporadise:
        quality.HYPORADISE = args.hyporadise
    torch.set_num_threads(args.threads)
    label, pool, dev, test = data_sets(args.data, CACHE, None)
    pool = pool[:args.train_lists] if args.train_lists else pool
    print(f"## {label}: {len(pool)} train / {len(dev)} dev / {len(test)} test lists\n\nmachine: "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, torch {torch.__version__}, "
          f"{args.threads} thread(s); {time.strftime('%Y-%m-%d %H:%M')}; {args.steps} steps, seed {args.seed}, "
          f"{args.resplits} dev/test splits (the given one and {args.resplits - 1} re-draws), gate "
          f"{args.confidence}\n", flush=True)
    print("| strategy | train s | splits | before: passes | before: passes, test worse | after: passes | "
          "after: passes, test worse | mean OOF dev Δ | mean test Δ after | mean test Δ before |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    for strategy in args.strategies.split(","):
        started = time.perf_counter()
        res = train(TrainConfig(strategy=strategy, seed=args.seed, steps=args.steps, eval_every=None), pool, dev,
                    eval_sets={"test": test})
        took = time.perf_counter() - started
        rows = decisions(dev, res.dev.lm_scores, test, res.evals["test"].lm_scores, args.resplits, args.confidence)
        n = len(rows)
        mean = lambda k: 100 * sum(r[k] for r in rows) / n  # noqa: E731
        print(f"| {strategy} | {took:.0f} | {n} | {sum(r[0] for r in rows)} | {sum(r[1] for r in rows)} | "
              f"{sum(r[2] for r in rows)} | {sum(r[3] for r in rows)} | {mean(4):+.2f} | {mean(5):+.2f} | "
              f"{mean(6):+.2f} |", flush=True)


if __name__ == "__main__":
    main()

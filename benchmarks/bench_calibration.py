"""Calibration of the perturbation models: how much each changes, and what it does to 1-best and oracle WER.

Run: ``python benchmarks/bench_calibration.py [--seeds N] [--p P] [--lists N]``. No rescorer is involved:
for each model (paper, mined, lexicon) and mode (perturb-1, perturb-N) it prints the share of tokens
changed (over every token of every hypothesis), the first-pass 1-best WER (the first hypothesis in list
order) and the oracle WER, clean and perturbed, as a markdown table.

Data: the LibriSpeech test-other lists in ../shared (when present): the first ``--lists`` (600) are
perturbed and ``mined`` mines its confusions from the rest, so it never sees the lists it perturbs; and the
bundled sample sets: ``mined`` mines sample-train and sample-test is perturbed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRISPEECH = ROOT.parent / "shared" / "data" / "hyporadise" / "test_ls_other.json"
MODELS = ("paper", "mined", "lexicon")


def _wers(utterances) -> tuple[float, float]:
    from lorascope.core.data.metrics import corpus_wer, hypothesis_errors, reference_length

    table = hypothesis_errors(utterances)
    lengths = [reference_length(u.reference or "") for u in utterances]
    return corpus_wer([row[0] for row in table], lengths), corpus_wer([min(row) for row in table], lengths)


def _changed_share(perturbations) -> float:
    tokens = sum(len(h.text.split()) for p in perturbations for h in p.utterance.hypotheses)
    # Tokens before perturbation: a split adds one token, a merge removes one.
    tokens -= sum(len(e.new.split()) - len(e.old.split()) for p in perturbations for e in p.edits)
    return sum(len(e.old.split()) for p in perturbations for e in p.edits) / tokens


def calibrate(name: str, test, mine_from, mine_name: str, seeds, p: float, index) -> list[tuple]:
    from lorascope.core.perturbation.perturb import perturb_utterances
    from lorascope.core.perturbation.models import perturbation_config

    clean_1best, clean_oracle = _wers(test)
    rows = [(name, "clean", "-", "-", clean_1best, clean_oracle, "")]
    for model_name in MODELS:
        if model_name == "mined":
            t0 = time.perf_counter()
            model = perturbation_config("mined", dataset=mine_name).mine(mine_from, index=index)
            note = f"{len(model.confusions.pairs)} pairs from {mine_name} ({time.perf_counter() - t0:.1f} s)"
        else:
            model = perturbation_config(model_name)
            note = ""
        for mode in ("1", "N"):
            shares, ones, oracles = [], [], []
            for seed in seeds:
                out = perturb_utterances(test, mode, p, seed, model=model, index=index)
                one, oracle = _wers([x.utterance for x in out])
                shares.append(_changed_share(out))
                ones.append(one)
                oracles.append(oracle)
            rows.append((name, f"perturb-{mode}", model.spec(), statistics.fmean(shares), statistics.fmean(ones),
                         statistics.fmean(oracles), note))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1, figures are means (default 1)")
    parser.add_argument("--p", type=float, default=0.5, help="replacement probability (default 0.5)")
    parser.add_argument("--lists", type=int, default=600, help="LibriSpeech lists perturbed (default 600)")
    args = parser.parse_args()

    from lorascope.core.data.formats import read_nbest
    from lorascope.core.perturbation.phonetics import load_index

    index = load_index()
    seeds = range(args.seeds)
    rows = []
    if LIBRISPEECH.exists():
        lists = read_nbest(LIBRISPEECH, "hyporadise")
        rows += calibrate(f"LibriSpeech test-other, first {args.lists}", lists[:args.lists], lists[args.lists:],
                          f"the other {len(lists) - args.lists} lists", seeds, args.p, index)
    else:
        print(f"({LIBRISPEECH} not found: LibriSpeech rows skipped)", file=sys.stderr)
    sample = ROOT / "sample_data"
    rows += calibrate("sample-test", read_nbest(sample / "test.jsonl", "jsonl"),
                      read_nbest(sample / "train.jsonl", "jsonl"), "sample-train", seeds, args.p, index)

    print(f"p {args.p}, seeds {', '.join(map(str, seeds))}; 1-best = the first hypothesis in list order")
    print()
    print("| data | perturbation | model | tokens changed | 1-best WER | oracle WER | oracle vs clean | note |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    clean_oracle = {}
    for data, cond, model, share, one, oracle, note in rows:
        if cond == "clean":
            clean_oracle[data] = oracle
            print(f"| {data} | clean | - | - | {100 * one:.2f} | {100 * oracle:.2f} | - | |")
        else:
            rel = oracle / clean_oracle[data] - 1
            print(f"| {data} | {cond} | {model} | {100 * share:.1f}% | {100 * one:.2f} | {100 * oracle:.2f} "
                  f"| {100 * rel:+.1f}% | {note} |")


if __name__ == "__main__":
    main()

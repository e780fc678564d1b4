"""Print the sample sets' figures (size, 1-best WER, oracle WER, by set, voice and SNR) as Markdown tables.

Usage: ``python sample_data/stats.py`` (the figures in sample_data/README.md come from it).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from lorascope.core.data.formats import read_nbest
from lorascope.core.data.metrics import summarize

HERE = Path(__file__).resolve().parent
SETS = ("train", "dev", "test")


def row(name: str, utts) -> str:
    s = summarize(utts)
    return (f"| {name} | {s.utterances} | {s.hypotheses / s.utterances:.1f} | {s.reference_words} | "
            f"{s.one_best_wer:.2%} | {s.oracle_wer:.2%} |")


def main() -> None:
    header = "| {} | utterances | hyps/utt | ref. words | 1-best WER | oracle WER |\n|---|---|---|---|---|---|"
    sets = {name: read_nbest(HERE / f"{name}.jsonl") for name in SETS if (HERE / f"{name}.jsonl").exists()}
    print(header.format("set"))
    for name, utts in sets.items():
        print(row(name, utts))
    everything = [u for utts in sets.values() for u in utts]
    for key, label in (("voice", "voice"), ("snr_db", "SNR (dB)")):
        groups = defaultdict(list)
        for u in everything:
            groups[u.meta.get(key)].append(u)
        print()
        print(header.format(f"{label}, all sets"))
        for value in sorted(groups, key=lambda v: (v is not None, str(v) if key == "voice" else -(v or 0))):
            print(row("clean" if value is None else str(value), groups[value]))


if __name__ == "__main__":
    main()

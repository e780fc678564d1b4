"""Speed of the phonetic index: build, load from the cache file, and one candidate lookup.

Run: ``python benchmarks/bench_phonetics.py [--words N]``. Builds into a temporary cache folder, so the
user's cache is left alone. Lookups are timed one by one: "cold" is the first lookup of a word on a freshly
loaded index (the real work), "memoised" a repeat. Words: the N most frequent vocabulary words (short,
with the largest neighbourhoods, so the slow end) and N drawn at random from the rest.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=1000, help="words per group (default 1000)")
    parser.add_argument("--g2p", action="store_true", help="also time out-of-vocabulary words (loads g2p-en)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LORASCOPE_CACHE_DIR"] = tmp
        from lorascope.core.perturbation import phonetics

        t0 = time.perf_counter()
        index = phonetics.load_index(Path(tmp))
        build = time.perf_counter() - t0
        size = phonetics.index_path(Path(tmp)).stat().st_size

        loads = []
        for _ in range(3):
            phonetics._indexes.clear()  # forget the in-process copy, read the file again
            phonetics._payloads.clear()
            t0 = time.perf_counter()
            index = phonetics.load_index(Path(tmp))
            loads.append(time.perf_counter() - t0)

        vocab = index.vocabulary
        rng = random.Random(0)
        frequent = vocab[: args.words]
        others = rng.sample(vocab[args.words:], min(args.words, len(vocab) - args.words))

        rows = []
        for name, words in (("frequent words", frequent), ("random words", others)):
            cold = []
            for w in words:
                t0 = time.perf_counter()
                index.candidates(w)
                cold.append(time.perf_counter() - t0)
            warm = []
            for w in words:
                t0 = time.perf_counter()
                index.candidates(w)
                warm.append(time.perf_counter() - t0)
            rows.append((f"lookup, {name}, cold", cold))
            rows.append((f"lookup, {name}, memoised", warm))

        pairs = list(zip(frequent, frequent[1:]))
        merge = []
        for a, b in pairs:
            t0 = time.perf_counter()
            index.merge_candidates(a, b)
            merge.append(time.perf_counter() - t0)
        rows.append(("merge lookup, word pair, cold", merge))

        if args.g2p:
            t0 = time.perf_counter()
            index.pronunciations("lorascope")
            rows.append(("g2p-en first use (import + model)", [time.perf_counter() - t0]))
            oov = [f"zq{w}" for w in frequent[:200]]
            times = []
            for w in oov:
                t0 = time.perf_counter()
                index.candidates(w)
                times.append(time.perf_counter() - t0)
            rows.append(("lookup, out-of-vocabulary (g2p), cold", times))

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; vocabulary {len(vocab)} words, "
          f"index file {size / 1e6:.1f} MB")
    print(f"{'what':<40} {'n':>6} {'median ms':>9} {'p90 ms':>9} {'max ms':>9}")
    print(f"{'index build (CMUdict + keys + JSON)':<40} {1:>6} {_ms(build)} {_ms(build)} {_ms(build)}")
    print(f"{'index load (JSON from cache, checked)':<40} {len(loads):>6} {_ms(statistics.median(loads))} "
          f"{_ms(max(loads))} {_ms(max(loads))}")
    for name, times in rows:
        times = sorted(times)
        p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
        print(f"{name:<40} {len(times):>6} {_ms(statistics.median(times))} {_ms(p90)} {_ms(times[-1])}")


if __name__ == "__main__":
    main()

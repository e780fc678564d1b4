#!/usr/bin/env bash
# The README's robustness table: train ft, lora, s1 and s3 on the LibriSpeech test-other lists from ../shared
# (80/10/10 split, fixed seed), then perturb-1 / perturb-N on the test part, then `lorascope report`.
# Usage: benchmarks/librispeech_report.sh [STEPS] [WORKDIR]   (the split files go to WORKDIR, never the repo)
set -euo pipefail
steps=${1:-250}
work=${2:-/tmp/lorascope-librispeech}
mkdir -p "$work"
export LORASCOPE_DB="$work/store.db"
python3 - "$work" <<'PY'
import sys
from benchmarks.bench_quality import HYPORADISE as LIBRISPEECH, split
from lorascope.core.formats import read_nbest, write_jsonl
for name, part in zip(("ls-train", "ls-dev", "ls-test"), split(read_nbest(LIBRISPEECH))):
    write_jsonl(part, f"{sys.argv[1]}/{name}.jsonl")
PY
for s in ft lora s1 s3; do
  lorascope train --strategy "$s" --data "$work/ls-train.jsonl" --dev "$work/ls-dev.jsonl" \
    --test "$work/ls-test.jsonl" --steps "$steps" --checkpoint-every 0
done
for run in $(lorascope runs | awk '$1 ~ /^[0-9]+$/ {print $1}'); do
  lorascope robustness --run "$run" --seeds 2
done
lorascope report --data ls-test

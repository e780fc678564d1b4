"""Make sample_data/demo-adapter: `lorascope train --strategy lora` on the sample sets, copied with its metrics.

    python tools/make_demo_adapter.py [--store /tmp/demo/store.db]

Trains exactly what `lorascope train --strategy lora --seed 0` trains (the defaults: MiniLM-L6, the sample sets,
the length rule), then copies the adapter folder into sample_data/demo-adapter and adds to its lorascope.json
what `lorascope` needs to register it as a finished run on first start: the data sets, the run's dev and test
metric rows, the command that made it. A test checks that the shipped adapter scores sample-test as recorded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "sample_data" / "demo-adapter"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=Path("/tmp/lorascope-demo/store.db"))
    args = ap.parse_args()
    from lorascope.jobs import TrainOptions, train_job
    from lorascope.store import Store

    if args.store.exists():
        sys.exit(f"make_demo_adapter: {args.store} exists; give a fresh --store")
    job = train_job(args.store, TrainOptions(strategy="lora", seed=0))
    with Store(args.store) as store:
        run = store.run(job.run_id)
        metrics = [{k: m[k] for k in ("dataset", "split", "perturbation", "utterances", "one_best_wer", "wer",
                                      "oracle_wer")} for m in store.metrics(job.run_id)]
    if TARGET.exists():
        shutil.rmtree(TARGET)
    shutil.copytree(run.adapter_path, TARGET)
    (TARGET / "adapter" / "README.md").unlink(missing_ok=True)   # peft's empty model card, with this machine's paths
    config_file = TARGET / "lorascope.json"
    config = json.loads(config_file.read_text())
    config.update(made_with="lorascope train --strategy lora --seed 0  (defaults: sample sets, MiniLM-L6, "
                            f"{job.result.steps_rule}; CPU)", train_dataset=run.train_dataset,
                  dev_dataset=run.dev_dataset, test_dataset=run.test_dataset, metrics=metrics,
                  train_config={k: v for k, v in run.config.items() if k in ("strategy", "seed", "steps", "epochs",
                                                                           "batch_size", "backbone")})
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    test = next(m for m in metrics if m["split"] == "test")
    print(f"wrote {TARGET}: test {100 * test['one_best_wer']:.2f} -> {100 * test['wer']:.2f}% WER, "
          f"{job.result.steps_done} steps, kept step {job.result.kept_step}, {job.result.wall_time_s:.0f} s")


if __name__ == "__main__":
    main()

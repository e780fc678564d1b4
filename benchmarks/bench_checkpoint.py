"""What a durable checkpoint costs: size, write (safetensors + JSON, fsync, rename, folder fsync, SHA-256) and
read (SHA-256 check + load) for the real MiniLM backbone under ft (all weights and their AdamW moments) and lora.

    .venv/bin/python benchmarks/bench_checkpoint.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from lorascope.core.training import checkpoint as ck
from lorascope.core.scoring.backbone import load_backbone
from lorascope.core.training.optim import make_optimizer
from lorascope.core.scoring.rescorer import RescorerModel
from lorascope.core.training.train_types import TrainConfig


def payload_for(strategy: str) -> dict:
    encoder, _ = load_backbone("minilm-l6")
    model = RescorerModel(encoder)
    run = TrainConfig(strategy=strategy).strategy_config().start(100)
    run.setup(model, 0)
    optimizer = make_optimizer(model, lr_body=1e-4, lr_head=1e-3)
    ids = torch.randint(1000, 2000, (8, 16))
    model.backbone(input_ids=ids).last_hidden_state.sum().backward()   # every trainable weight gets a moment
    for p in model.head.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    return {"config": TrainConfig(strategy=strategy).to_dict(), "data": "bench", "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "strategy": run.state_dict(model),
            "state": {"step": 1, "history": [], "dev_history": [], "trainable_by_phase": {}, "elapsed_s": 0.0,
                      "best": None, "world_size": 1}, "rng": ck.rng_state()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"{'strategy':<9} {'MB':>7} {'write s':>8} {'read s':>8}")
    for strategy in ("lora", "ft"):
        payload = payload_for(strategy)
        writes, reads = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for step in range(1, args.repeats + 1):
                payload["state"]["step"] = step
                t = time.perf_counter()
                file = ck.write_checkpoint(tmp, payload)
                writes.append(time.perf_counter() - t)
                t = time.perf_counter()
                ck.read_checkpoint(tmp)
                reads.append(time.perf_counter() - t)
            size = sum(p.stat().st_size for p in Path(tmp).glob(file.stem + ".*")) / 1e6
        print(f"{strategy:<9} {size:>7.1f} {statistics.median(writes):>8.2f} {statistics.median(reads):>8.2f}")


if __name__ == "__main__":
    main()

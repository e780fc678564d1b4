"""Data-parallel training on the CPU (gloo, 2 real processes, tiny random BERT, dropout 0).

Two processes with the same global batch and seed must reach the weights one process reaches (to float
tolerance: the gradient is summed in another order), AdaLoRA's importance scores and rank masks must be
identical on every rank, and the store must hold one run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lorascope.store import Store

from .nbest_fixtures import write_set


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp-sets")
    return {"train": write_set(folder / "tr.jsonl", 24, seed=1, prefix="tr"),
            "dev": write_set(folder / "dv.jsonl", 8, seed=2, prefix="dv")}


def train(db: Path, sets, strategy: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, LORASCOPE_DB=str(db), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "lorascope", "train", "--strategy", strategy, "--model", "tiny-random",
           "--data", sets["train"], "--dev", sets["dev"], "--test", "none", "--steps", "12", "--batch-size", "4",
           "--dropout", "0", "--seed", "5", "--checkpoint-every", "0", *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


LAST = 1   # the tiny random BERT's last layer


def adapter_weights(db: Path) -> dict[str, torch.Tensor]:
    with Store(db) as s:
        (run,) = s.runs()
        folder = Path(run.adapter_path)
    out = {}
    for file in sorted(folder.rglob("*.safetensors")):
        out.update({f"{file.relative_to(folder)}:{k}": v for k, v in load_file(file).items()})
    return out


@pytest.mark.parametrize("strategy", ["lora", "s1", "s3"])
def test_two_processes_reach_the_weights_of_one_with_the_same_global_batch(tmp_path, sets, strategy):
    one, two = tmp_path / "one" / "store.db", tmp_path / "two" / "store.db"
    single = train(one, sets, strategy)
    assert single.returncode == 0, single.stderr
    double = train(two, sets, strategy, "--nproc", "2")
    assert double.returncode == 0, double.stderr
    assert "2 processes" in double.stderr
    a, b = adapter_weights(one), adapter_weights(two)
    assert a.keys() == b.keys() and len(a) > 0
    for key in a:
        if key.endswith("head.bias") or key.endswith(f"layer.{LAST}.output.LayerNorm.bias"):
            # MWER is unchanged by a constant added to a list's scores, and so are the head's bias and the last
            # LayerNorm's bias (a shift of every hypothesis's [CLS] vector alike): their gradient is zero but for
            # rounding, and Adam turns that rounding into steps of about the learning rate: nothing to compare.
            continue
        torch.testing.assert_close(b[key], a[key], rtol=1e-3, atol=1e-5, msg=key)
    with Store(two) as s:
        (run,) = s.runs()                       # one run, whatever the number of processes
        assert run.status == "done" and run.processes == 2 and run.steps_done == 12
        assert {m["split"] for m in s.metrics(run.id)} == {"dev"}
    with Store(one) as s:
        ranks_one = [r["new_rank"] for r in s.scores(1)]
    with Store(two) as s:
        assert [r["new_rank"] for r in s.scores(1)] == ranks_one   # the same choices on dev


def _adalora_rank(rank: int, world: int, port: int, sets, out: str) -> None:
    """One training process of the spawn test: train s1 on its share, save what its rank allocator holds."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from lorascope.core.training import distributed as ddp
    from lorascope.core.data.formats import read_nbest
    from lorascope.core.training.strategies import adalora
    from lorascope.core.training.train import TrainConfig, train as core_train

    seen = []   # the importance scores after every update, as the allocator holds them (observed, not changed)
    update = adalora.update_importance

    def observed(allocator, model):
        update(allocator, model)
        seen.append({k: v.clone() for k, v in allocator.exp_avg_ipt.items()})
    adalora.update_importance = observed

    dist = ddp.Distributed(rank, world, rank)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        config = TrainConfig(strategy="s1", backbone="tiny-random", steps=12, batch_size=4, dropout=0.0,
                             strategy_options={"dropout": 0.0}, eval_every=None, device="cpu", seed=5)
        result = core_train(config, read_nbest(sets["train"]), read_nbest(sets["dev"]), distributed=dist)
        tuner = result.rescorer.model.backbone.base_model
        torch.save({"ipt": {f"{i}:{k}": v for i, step in enumerate(seen) for k, v in step.items()},
                    "pattern": tuner.peft_config[tuner.trainable_adapter_name].rank_pattern,
                    "weights": {k: v for k, v in result.rescorer.model.state_dict().items() if "lora_" in k}},
                   f"{out}/rank-{rank}.pt")
    finally:
        ddp.stop(dist)


def test_adalora_importance_and_rank_masks_are_identical_on_every_rank(tmp_path, sets):
    from lorascope.launch import free_port

    torch.multiprocessing.spawn(_adalora_rank, args=(2, free_port(), sets, str(tmp_path)), nprocs=2, join=True)
    r0, r1 = torch.load(tmp_path / "rank-0.pt"), torch.load(tmp_path / "rank-1.pt")
    assert r0["pattern"] is not None and r0["pattern"] == r1["pattern"]     # the same masks
    for table in ("ipt", "weights"):
        assert r0[table].keys() == r1[table].keys() and len(r0[table]) > 0
        for key in r0[table]:
            assert torch.equal(r0[table][key], r1[table][key]), (table, key)   # bit for bit


def test_resume_with_another_number_of_processes_is_refused_in_one_line(tmp_path, sets):
    db = tmp_path / "store.db"
    with Store(db) as s:
        s.create_run(strategy="lora", config={}, processes=1)
        s.update_run(1, status="interrupted")
    env = dict(os.environ, LORASCOPE_DB=str(db))
    res = subprocess.run([sys.executable, "-m", "lorascope", "train", "--resume", "1", "--nproc", "2"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1
    # stderr is a pipe, so the batch log's timestamped loading lines come first; the refusal is one line
    lines = [x for x in res.stderr.strip().splitlines() if not re.match(r"\d\d:\d\d:\d\d lorascope ", x)]
    assert lines == ["lorascope: run 1: was trained by 1 process(es); resume it with the same number (--nproc 1), "
                     "not 2"], res.stderr

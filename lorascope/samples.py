"""The bundled sample sets and demo adapter: where they are (editable checkout or installed wheel), and adding them
to a store on first use."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from lorascope.core.scoring.adapter_config import ADAPTER_CONFIG, read_adapter_config
from lorascope.store.db import DatasetExists

SAMPLE_SETS = ("train", "dev", "test")
DEMO_ADAPTER = "demo-adapter"
ENV_SAMPLE_DATA = "LORASCOPE_SAMPLE_DATA"


def sample_data_dir() -> Path:
    """``$LORASCOPE_SAMPLE_DATA``, else the package data ``lorascope.sample_data``: the repository's sample_data/
    in an editable install, the copy inside the package in a wheel."""
    env = os.environ.get(ENV_SAMPLE_DATA)
    if env:
        return Path(env)
    return Path(str(resources.files("lorascope.sample_data")))


def ensure_sample_sets(store, *, demo: bool = True) -> list[str]:
    """Import the bundled sample sets (and register the demo adapter) that the store lacks; returns what was added."""
    from lorascope.core.data.formats import read_nbest

    added = []
    folder = sample_data_dir()
    for split in SAMPLE_SETS:
        name = f"sample-{split}"
        path = folder / f"{split}.jsonl"
        if path.exists() and not store.has_dataset(name):
            try:
                store.add_dataset(name, read_nbest(path, "jsonl"), source=str(path), format="jsonl")
            except DatasetExists:   # another lorascope process added it a moment ago
                continue
            added.append(name)
    shipped = folder / DEMO_ADAPTER
    if demo and (shipped / ADAPTER_CONFIG).exists() and not any(r.config.get("demo") for r in store.runs()):
        register_adapter(store, shipped, demo=True)
        added.append(f"demo adapter {shipped}")
    return added


def register_adapter(store, folder: Path, *, demo: bool = False) -> int:
    """Record a saved adapter folder as a finished run, so the inspector and `eval` can use it."""
    info = read_adapter_config(folder)
    config = dict(info.get("train_config") or {}, demo=demo, registered_from=str(folder))
    if info.get("combination"):
        config["combination"] = info["combination"]
    with store.atomic():
        run_id = store.create_run(strategy=info.get("strategy", "?"), config=config, seed=info.get("seed"),
                                  backbone=info.get("backbone"), versions=info.get("versions"),
                                  train_dataset=info.get("train_dataset"), dev_dataset=info.get("dev_dataset"),
                                  test_dataset=info.get("test_dataset"), owner=None)
        store.add_adapter(run_id, path=str(Path(folder).resolve()), trainable_params=int(info.get("trainable_params", 0)),
                          total_params=int(info.get("total_params", 0)), ranks=info.get("final_ranks"))
        store.update_run(run_id, status="done", lam=info.get("lam"), steps_done=int(info.get("steps", 0)))
        if info.get("metrics"):
            store.add_metrics(run_id, info["metrics"])
    return run_id

"""Checkpoints of a training run: the resume state, the random-number state, and reading and writing them atomically.

A checkpoint holds the model, the optimizer, the strategy's rank-allocation state, the :class:`TrainState`
(step, curves, best dev snapshot, elapsed time) and the random-number state at the step boundary, so a resumed
run ends with the same weights as an uninterrupted one (on the same device, thread count and process count).
It is written to a temporary file and renamed, so a crash mid-write leaves the previous checkpoint whole.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .errors import InputError
from .nbest import Utterance

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 2   # 2: the resume state as one TrainState
# Fields that may differ between a run and its resumption without changing the result.
RESUME_FREE_FIELDS = {"device", "eval_every", "checkpoint_every", "score_batch_size"}


@dataclass
class BestSnapshot:
    """The trainable weights (and strategy state) at the dev evaluation with the lowest dev WER so far."""

    step: int
    dev_wer: float
    weights: dict[str, torch.Tensor] = field(repr=False)
    strategy: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class TrainState:
    """Everything besides the model, optimizer and strategy that a resumed run needs, as one value."""

    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)         # StepRecord fields per step
    dev_history: list[dict[str, Any]] = field(default_factory=list)     # DevEvaluated fields per evaluation
    trainable_by_phase: dict[str, dict[str, int]] = field(default_factory=dict)
    elapsed_s: float = 0.0
    best: BestSnapshot | None = None
    world_size: int = 1

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["best"] = None if self.best is None else {"step": self.best.step, "dev_wer": self.best.dev_wer,
                                                      "weights": self.best.weights, "strategy": self.best.strategy}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainState":
        data = dict(data)
        best = data.pop("best", None)
        return cls(**data, best=BestSnapshot(**best) if best else None)


def fingerprint(utterances: Sequence[Utterance]) -> str:
    """A short hash of the training lists, so a checkpoint is never resumed on other data."""
    h = hashlib.sha256()
    for u in utterances:
        h.update(repr((u.id, u.reference, u.texts, u.prior_scores())).encode())
    return h.hexdigest()[:16]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_file(path: str | Path) -> Path:
    path = Path(path)
    return path / CHECKPOINT_NAME if path.is_dir() or not path.suffix else path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    file = checkpoint_file(path)
    if not file.exists():
        raise InputError(str(path), "no checkpoint to resume from")
    try:
        payload = torch.load(file, map_location="cpu", weights_only=False)
    except Exception as exc:  # a truncated or foreign file
        raise InputError(str(file), f"cannot be read as a lorascope checkpoint ({exc})") from None
    if not isinstance(payload, dict) or "format" not in payload:
        raise InputError(str(file), "not a lorascope checkpoint")
    if payload["format"] != CHECKPOINT_FORMAT:
        raise InputError(str(file), f"a checkpoint of another lorascope version (format {payload['format']}, this "
                                    f"one reads {CHECKPOINT_FORMAT}); start the run again")
    return payload


def write_checkpoint(directory: str | Path, payload: dict[str, Any]) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    file = directory / CHECKPOINT_NAME
    tmp = file.with_suffix(".tmp")
    torch.save({"format": CHECKPOINT_FORMAT, **payload}, tmp)
    os.replace(tmp, file)
    return file


def check_resumable(checkpoint: dict[str, Any], config: dict[str, Any], defaults: dict[str, Any], data: str,
                    world_size: int) -> None:
    """InputError unless ``checkpoint`` was written by this config (fields added since count as their defaults),
    for this training data and the same number of processes."""
    old = {**defaults, **checkpoint["config"]}
    changed = sorted(k for k in config if k not in RESUME_FREE_FIELDS and old.get(k) != config[k])
    if changed:
        detail = ", ".join(f"{k} {old.get(k)!r} -> {config[k]!r}" for k in changed)
        raise InputError("resume", f"the checkpoint was written with a different config ({detail})")
    if checkpoint["data"] != data:
        raise InputError("resume", "the checkpoint was written for different training data")
    saved_world = checkpoint["state"].get("world_size", 1)
    if saved_world != world_size:
        raise InputError("resume", f"the checkpoint was written by {saved_world} training process(es); resume it "
                                   f"with the same number (--nproc {saved_world}), not {world_size}")

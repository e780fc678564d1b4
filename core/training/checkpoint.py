"""Checkpoints of a training run: the resume state, written durably in data formats, read back without running code.

A checkpoint holds the model, the optimizer, the strategy's rank-allocation state, the :class:`TrainState`
(step, curves, best dev snapshot, elapsed time) and the random-number state at the step boundary, so a resumed
run ends with the same weights as an uninterrupted one (on the same device, thread count and process count).

On disk a checkpoint is two files in the run's checkpoint folder: ``checkpoint-<step>.safetensors`` (every
tensor) and ``checkpoint-<step>.json`` (everything else, the tensors named by reference, see
:mod:`.tensor_state`, and the SHA-256 of the tensor file). Neither format can carry code, so loading one never
unpickles. Each file is written to a temporary name, synced, renamed and its folder synced (:mod:`.durable`); the
JSON goes last, so it exists only for a tensor file that is whole. The newest :data:`KEEP` checkpoints are kept;
reading takes the newest one that reads back whole and reports the newer ones it had to pass over.
Checkpoints of the old pickle format (``checkpoint.pt``) are refused, or converted once on request
(:func:`convert_old_checkpoint`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from lorascope.core import durable
from lorascope.core.errors import InputError
from lorascope.core.data.nbest import Utterance
from lorascope.core.training.tensor_state import StateError, join, split

CHECKPOINT_FORMAT = "lorascope-checkpoint"
CHECKPOINT_VERSION = 3   # 2: one pickle (checkpoint.pt); 3: safetensors + JSON
OLD_CHECKPOINT_NAME = "checkpoint.pt"
KEEP = 2                 # checkpoints kept: the newest, and the one to fall back on when the newest is torn
PAYLOAD_KEYS = ("config", "data", "model", "optimizer", "strategy", "state", "rng")
_NAME = re.compile(r"checkpoint-(\d{8,})\.json")
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
    """Python's, numpy's, torch's and (when present) every CUDA device's random-number state."""
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with torch's usual installs
        pass
    else:
        state["numpy"] = np.random.get_state()
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "numpy" in state:
        import numpy as np

        np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------------------------------------------------
# files


@dataclass
class LoadedCheckpoint:
    """A checkpoint read back whole: its payload, its step and file, and the newer ones passed over."""

    payload: dict[str, Any]
    step: int
    path: Path
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (file name, why it could not be used)


def _step_of(path: Path) -> int | None:
    m = _NAME.fullmatch(path.name)
    return int(m.group(1)) if m else None


def _json_name(step: int) -> str:
    return f"checkpoint-{step:08d}.json"


def checkpoints(folder: str | Path) -> list[tuple[int, Path]]:
    """The (step, JSON file) of every checkpoint in ``folder``, newest first (whole or not)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(s, p) for p in folder.iterdir() if (s := _step_of(p)) is not None]
    return sorted(found, reverse=True)


def has_checkpoint(folder: str | Path) -> bool:
    """Whether ``folder`` holds a checkpoint of either format (whole or not: reading says which)."""
    return bool(checkpoints(folder)) or (Path(folder) / OLD_CHECKPOINT_NAME).is_file()


def _old_format(file: Path) -> InputError:
    return InputError(str(file), "a checkpoint of an older lorascope, stored as a pickle, which is not loaded "
                                 "because unpickling can run code; start the run again, or, if you trust where it "
                                 "came from, convert it once with `lorascope train --resume RUN "
                                 "--convert-old-checkpoint`")


def write_checkpoint(directory: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (the :data:`PAYLOAD_KEYS`) as the checkpoint of step ``payload["state"]["step"]``;
    returns its JSON file. Checkpoints of later steps (a timeline abandoned by a resume) and all but the newest
    :data:`KEEP` are removed afterwards."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    step = int(payload["state"]["step"])
    skeleton, tensors = split(dict(payload))
    file = directory / _json_name(step)
    tensor_file = file.with_suffix(".safetensors")
    from safetensors.torch import save_file

    durable.write_with(tensor_file, lambda tmp: save_file(tensors, str(tmp), metadata={"format": CHECKPOINT_FORMAT}))
    header = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "step": step,
              "tensors": {"file": tensor_file.name, "bytes": tensor_file.stat().st_size,
                          "sha256": durable.sha256_file(tensor_file)},
              "payload": skeleton}
    durable.write_text(file, json.dumps(header, allow_nan=True) + "\n")
    _prune(directory, step)
    return file


def _prune(directory: Path, newest: int) -> None:
    kept = 0
    for step, path in checkpoints(directory):
        if step <= newest and kept < KEEP:
            kept += 1
            continue
        path.unlink(missing_ok=True)                              # the JSON first: no JSON, no checkpoint
        path.with_suffix(".safetensors").unlink(missing_ok=True)
    for stray in directory.glob(".checkpoint-*.tmp"):             # left by a write a crash cut short
        stray.unlink(missing_ok=True)
    durable.fsync_dir(directory)


def _read_one(file: Path, load: bool = True) -> LoadedCheckpoint:
    """The checkpoint whose JSON is ``file`` (only checked, payload empty, unless ``load``); ValueError saying
    why when it does not read back whole."""
    try:
        header = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"its JSON does not parse ({exc.__class__.__name__})") from None
    if not isinstance(header, dict) or header.get("format") != CHECKPOINT_FORMAT:
        raise ValueError("not a lorascope checkpoint")
    if header.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"written by another lorascope version (checkpoint version {header.get('version')!r}, "
                         f"this one reads {CHECKPOINT_VERSION})")
    info = header.get("tensors")
    if not isinstance(info, dict) or not isinstance(info.get("file"), str) or "/" in info["file"] \
            or "\\" in info["file"] or not isinstance(header.get("step"), int):
        raise ValueError("its JSON lacks the tensor file's name or the step")
    tensor_file = file.parent / info["file"]
    if not tensor_file.is_file():
        raise ValueError(f"its tensor file {info['file']} is missing")
    if tensor_file.stat().st_size != info.get("bytes") or durable.sha256_file(tensor_file) != info.get("sha256"):
        raise ValueError(f"its tensor file {info['file']} is torn (size or SHA-256 differs from the one recorded)")
    if not load:
        return LoadedCheckpoint(payload={}, step=header["step"], path=file)
    from safetensors.torch import load_file

    try:
        payload = join(header.get("payload"), load_file(str(tensor_file)))
    except (StateError, OSError, ValueError, RuntimeError) as exc:
        raise ValueError(f"its contents do not fit together ({exc})") from None
    if not isinstance(payload, dict) or any(k not in payload for k in PAYLOAD_KEYS):
        raise ValueError("it lacks part of the resume state")
    return LoadedCheckpoint(payload=payload, step=header["step"], path=file)


def read_checkpoint(path: str | Path, *, load: bool = True) -> LoadedCheckpoint:
    """The newest checkpoint in the folder ``path`` that reads back whole (or the one checkpoint file ``path``
    names); newer ones that do not are listed in ``skipped``. InputError when none can be used. ``load=False``
    only checks (format, size, SHA-256) and leaves the payload empty: a resume's early check."""
    path = Path(path)
    if path.suffix == ".pt" or (path.is_dir() and not checkpoints(path) and (path / OLD_CHECKPOINT_NAME).is_file()):
        raise _old_format(path / OLD_CHECKPOINT_NAME if path.is_dir() else path)
    if path.suffix == ".safetensors":
        path = path.with_suffix(".json")
    candidates = checkpoints(path) if path.is_dir() else [(0, path)] if path.is_file() else []
    if not candidates:
        raise InputError(str(path), "no checkpoint to resume from")
    skipped: list[tuple[str, str]] = []
    for _, file in candidates:
        try:
            loaded = _read_one(file, load)
        except ValueError as exc:
            skipped.append((file.name, str(exc)))
            continue
        loaded.skipped = skipped
        return loaded
    detail = "; ".join(f"{name}: {why}" for name, why in skipped)
    raise InputError(str(path), f"no checkpoint reads back whole ({detail}); start the run again")


def convert_old_checkpoint(folder: str | Path) -> Path:
    """Rewrite the old pickle checkpoint in ``folder`` in the current format, loading it with
    ``torch.load(weights_only=True)`` (tensors and plain containers only, no code); the user chooses to."""
    old = Path(folder) / OLD_CHECKPOINT_NAME
    if not old.is_file():
        raise InputError(str(folder), f"no {OLD_CHECKPOINT_NAME} to convert")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # torch's note on the pickle protocol
            payload = torch.load(old, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever the restricted unpickler refuses
        lines = [ln.strip() for ln in str(exc).splitlines() if "Unsupported" in ln or "WeightsUnpickler" in ln]
        why = (lines or [str(exc).splitlines()[0] if str(exc) else type(exc).__name__])[0]
        raise InputError(str(old), f"cannot be converted: it holds more than tensors and plain values "
                                   f"({why[:160]})") from None
    if not isinstance(payload, dict) or payload.get("format") != 2 or any(k not in payload for k in PAYLOAD_KEYS):
        raise InputError(str(old), "not a lorascope checkpoint of the old format (2)")
    file = write_checkpoint(folder, {k: payload[k] for k in PAYLOAD_KEYS})
    os.replace(old, old.with_name(OLD_CHECKPOINT_NAME + ".converted"))
    durable.fsync_dir(old.parent)
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

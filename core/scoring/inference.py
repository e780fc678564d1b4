"""Inference-time set-up of a loaded rescorer: torch's CPU threads, denormal floats, LoRA weights folded in.

An interactive caller (the inspector) scores a handful of hypotheses per key press. Two things make that
slow on a CPU and neither changes a score beyond rounding: several intra-op threads on a busy machine (a
forward pass of MiniLM with a training run in another terminal can take seconds instead of tens of
milliseconds, as the threads wait on each other; one thread stays fast and leaves a core to the interface),
and tiny weights in trained adapters (denormal floats, slow on CPUs). Folding the LoRA / AdaLoRA products
into the frozen weights saves the adapter's extra products on every call (the same scores to ~1e-6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InferenceSetup:
    """What :func:`prepare_for_inference` did: torch's thread count (None: left as it was) and whether the
    adapter weights were folded into the encoder."""

    threads: int | None
    merged: bool


def configure_threads(threads: int | None) -> int | None:
    """Set torch's CPU threads for this process (``None`` leaves torch's own choice) and flush denormals."""
    import torch

    torch.set_flush_denormal(True)
    if threads is None:
        return None
    threads = max(1, int(threads))
    torch.set_num_threads(threads)
    return threads


def merge_lora(rescorer: Any) -> bool:
    """Fold LoRA/AdaLoRA weights into the encoder of ``rescorer`` for inference; False where peft cannot."""
    backbone = rescorer.model.backbone
    if not hasattr(backbone, "merge_and_unload"):
        return False
    try:
        rescorer.model.backbone = backbone.merge_and_unload()
    except Exception:  # an adapter type peft cannot merge: score through the wrapper
        return False
    rescorer.model.eval()
    return True


def prepare_for_inference(rescorer: Any, *, threads: int | None = 1, merge: bool = True) -> InferenceSetup:
    """Make a loaded rescorer quick to call a few hypotheses at a time (module docstring); no longer trainable."""
    used = configure_threads(threads)
    merged = merge_lora(rescorer) if merge else False
    return InferenceSetup(used, merged)

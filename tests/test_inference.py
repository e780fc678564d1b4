"""core/scoring/inference.py: inference-time set-up of a loaded rescorer (tiny random backbone, for speed)."""

from __future__ import annotations

import pytest
import torch

from lorascope.core.scoring.inference import configure_threads, merge_lora, prepare_for_inference
from lorascope.core.scoring.adapter import load_rescorer

from .test_tui import tiny_adapter  # noqa: F401  (a LoRA adapter trained three steps, shared with the TUI tests)

TEXTS = ["he hoped there would be stew for dinner", "i think their is a right way to know", "x"]


def test_merging_lora_keeps_the_scores_and_drops_the_wrapper_tiny_random(tiny_adapter):  # noqa: F811
    rescorer = load_rescorer(tiny_adapter.adapter_dir)
    before = rescorer.score_texts(TEXTS)
    threads = torch.get_num_threads()
    setup = prepare_for_inference(rescorer, threads=None)
    assert setup.merged and setup.threads is None and torch.get_num_threads() == threads
    assert not hasattr(rescorer.model.backbone, "peft_config")
    assert rescorer.score_texts(TEXTS) == pytest.approx(before, abs=1e-5)
    assert merge_lora(rescorer) is False        # nothing left to fold in


def test_threads_are_set_for_the_process(one_torch_thread):
    assert configure_threads(2) == 2 and torch.get_num_threads() == 2
    assert configure_threads(0) == 1 and torch.get_num_threads() == 1   # at least one

"""Saved adapter folders: writing a trained rescorer to disk and loading it back ready to score.

A folder written by :func:`save_rescorer` holds ``lorascope.json`` (backbone, strategy, tuned combination,
prior weight, scaled step counts...; :mod:`.adapter_config`), ``head.safetensors`` (the head and the feature
scale), ``tokenizer/``, ``adapter/`` (peft ``save_pretrained`` output, for LoRA-family strategies) and
``backbone/`` (the encoder's own weights, when training changed them or the backbone cannot be loaded by name).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from lorascope.core import durable
from lorascope.core.scoring.adapter_config import (ADAPTER_CONFIG, ADAPTER_FORMAT, ADAPTER_VERSION, adapter_combination,
                             check_adapter_folder, read_adapter_config)
from lorascope.core.scoring.backbone import TINY_BACKBONE, _encoder_from_pretrained, _load_tokenizer, load_backbone, quiet_loading
from lorascope.core.scoring.rescorer import Rescorer, RescorerModel, rescorer_model


def encoder_state_dict(model: RescorerModel) -> dict[str, torch.Tensor]:
    """The encoder's own weights without adapter tensors, under the plain transformers names."""
    state = {}
    for key, value in model.base_encoder().state_dict().items():
        if "lora_" in key or ".ranknum." in key:
            continue
        state[key.replace(".base_layer.", ".")] = value.detach().cpu().contiguous()
    return state


def save_rescorer(rescorer: Rescorer, directory: str | Path, *, save_encoder: bool = True) -> Path:
    """Write ``rescorer`` to ``directory`` (see the module docstring); returns the folder.

    ``save_encoder`` writes the encoder weights too; the trainer passes False for strategies that keep the
    named pretrained backbone frozen, so the folder holds only the adapter and the head.
    """
    with durable.folder_durably(directory) as tmp:   # written aside, synced, then renamed into place
        _write_folder(rescorer, tmp, save_encoder)
    return Path(directory)


def _write_folder(rescorer: Rescorer, directory: Path, save_encoder: bool) -> None:
    from safetensors.torch import save_file

    model = rescorer.model
    files = {"head": "head.safetensors", "tokenizer": "tokenizer"}
    with quiet_loading():
        rescorer.tokenizer.save_pretrained(directory / "tokenizer")
        save_file(model.head_state(), directory / "head.safetensors")
        if hasattr(model.backbone, "peft_config"):
            model.backbone.save_pretrained(directory / "adapter")
            files["adapter"] = "adapter"
        if save_encoder or rescorer.backbone == TINY_BACKBONE:
            encoder = model.base_encoder()
            encoder.save_pretrained(directory / "backbone", state_dict=encoder_state_dict(model))
            files["backbone"] = "backbone"
    config = {
        "format": ADAPTER_FORMAT,
        "version": ADAPTER_VERSION,
        "backbone": rescorer.backbone,
        "max_length": rescorer.max_length,
        "lam": rescorer.lam,
        "combination": None if rescorer.combination is None else rescorer.combination.to_dict(),
        "prior_weight": rescorer.prior_weight,
        "hidden_size": model.hidden_size,
        "family": model.family,
        "files": files,
        **rescorer.info,
    }
    (directory / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def load_rescorer(directory: str | Path, *, device: str | torch.device | None = None,
                  engine: str = "auto") -> Rescorer:
    """Restore a rescorer saved by :func:`save_rescorer`, in eval mode, scoring with ``engine``."""
    from safetensors.torch import load_file

    directory = Path(directory)
    config = read_adapter_config(directory)
    check_adapter_folder(directory, config)   # before transformers or peft read any of it
    files = config.get("files", {})
    if "backbone" in files:
        encoder = _encoder_from_pretrained(directory / files["backbone"])
    else:
        encoder, _ = load_backbone(config["backbone"])
    tokenizer = _load_tokenizer(str(directory / files.get("tokenizer", "tokenizer")))
    backbone: nn.Module = encoder
    if "adapter" in files:
        from peft import PeftModel

        with quiet_loading():
            backbone = PeftModel.from_pretrained(encoder, directory / files["adapter"], is_trainable=False)
    model = rescorer_model(backbone)
    model.load_head_state(load_file(directory / files.get("head", "head.safetensors")))
    info = {k: v for k, v in config.items()
            if k not in ("format", "version", "backbone", "max_length", "lam", "combination", "prior_weight",
                         "hidden_size", "family", "files")}
    rescorer = Rescorer(model=model, tokenizer=tokenizer, backbone=config["backbone"],
                        max_length=int(config.get("max_length", 128)), device=device,
                        combination=adapter_combination(config), prior_weight=float(config.get("prior_weight", 1.0)), info=info,
                        engine=engine)
    rescorer.model.eval()
    return rescorer

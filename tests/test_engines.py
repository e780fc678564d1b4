"""The two engines, hf (padded Hugging Face / peft) and packed (core/scoring/packed.py), inside Rescorer and train().

Tiny random BERTs on synthetic lists; the packed engine runs its CPU path here (attention per length group),
the same code as on CUDA except the attention kernel.
"""

from __future__ import annotations

import pytest
import torch
from tests.test_packed import randomise_adapters
from tests.test_train import assert_same_state, make_utts, state_of, tiny_config

from lorascope.core.errors import InputError
from lorascope.core.scoring.adapter import load_rescorer
from lorascope.core.scoring.backbone import load_backbone
from lorascope.core.scoring.rescorer import Rescorer, RescorerModel, resolve_engine
from lorascope.core.training.train import StepDone, TrainStarted, train

peft = pytest.importorskip("peft")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TARGETS = ["query", "key", "value", "dense"]
TEXTS = ["the cat sat", "a", "the big red house by the green river and the small tree", "dog ran to",
         "the cat sat on a mat", "zorp", "saw the small green tree by the river"]


def rescorer_with_lora(engine: str) -> Rescorer:
    encoder, tokenizer = load_backbone("tiny-random", seed=3)
    backbone = peft.get_peft_model(encoder, peft.LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS))
    randomise_adapters(backbone)
    model = RescorerModel(backbone)
    with torch.no_grad():
        model.head.weight.copy_(torch.linspace(-1, 1, model.hidden_size))
        model.head.bias.fill_(0.25)
        model.feature_scale.copy_(torch.linspace(0.5, 2.0, model.hidden_size))
    return Rescorer(model=model, tokenizer=tokenizer, backbone="tiny-random", device="cpu", engine=engine)


def test_packed_scores_and_cls_vectors_match_padded_hf_with_an_unmerged_lora_adapter():
    rescorer = rescorer_with_lora("packed")
    ids = rescorer.encode(TEXTS)
    packed_scores = rescorer.score_token_ids(ids, batch_size=3)
    packed_cls = rescorer.cls_vectors(ids, batch_size=3)
    rescorer.engine = "hf"
    assert rescorer.active_engine == "hf"
    hf_scores = rescorer.score_token_ids(ids, batch_size=3)
    hf_cls = rescorer.cls_vectors(ids, batch_size=3)
    assert len(set(hf_scores)) == len(TEXTS)      # distinct scores, so the order check below means something
    assert packed_scores == pytest.approx(hf_scores, abs=1e-4)
    assert torch.allclose(packed_cls, hf_cls, atol=1e-4)


def test_packed_encoder_is_rebuilt_when_a_weight_changes_and_reused_when_none_does():
    rescorer = rescorer_with_lora("packed")
    ids = rescorer.encode(TEXTS)
    before = rescorer.score_token_ids(ids)
    first = rescorer._packed_encoder()
    assert rescorer._packed_encoder() is first                      # nothing changed: the same copy
    lora_b = next(p for n, p in rescorer.model.backbone.named_parameters() if "lora_B" in n)
    with torch.no_grad():
        lora_b.mul_(3.0)                                            # in place, like an optimizer step
    after = rescorer.score_token_ids(ids)
    assert rescorer._packed_encoder() is not first
    rescorer.engine = "hf"
    assert after == pytest.approx(rescorer.score_token_ids(ids), abs=1e-4)
    assert after != pytest.approx(before, abs=1e-3)


def test_disabled_adapter_is_seen_by_the_packed_engine():
    rescorer = rescorer_with_lora("packed")
    ids = rescorer.encode(TEXTS)
    with_adapter = rescorer.score_token_ids(ids)
    with rescorer.model.backbone.disable_adapter():
        without = rescorer.score_token_ids(ids)
        rescorer.engine = "hf"
        assert without == pytest.approx(rescorer.score_token_ids(ids), abs=1e-4)
    assert without != pytest.approx(with_adapter, abs=1e-3)


def test_engine_choice_auto_unknown_and_unsupported_backbones():
    encoder, _ = load_backbone("tiny-random")
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_engine("auto", encoder, cpu) == "packed"                  # scoring: packed wherever it runs
    assert resolve_engine("auto", encoder, cpu, training=True) == "hf"       # training: packed on CUDA only
    assert resolve_engine("auto", encoder, cuda, training=True) == "packed"
    assert resolve_engine("hf", encoder, cuda) == "hf"
    assert resolve_engine("packed", encoder, torch.device("cpu")) == "packed"
    with pytest.raises(InputError, match="unknown engine 'fast'"):
        resolve_engine("fast", encoder, torch.device("cpu"))
    with pytest.raises(InputError, match="unknown engine"):
        tiny_config(engine="fast")
    from transformers import RobertaConfig, RobertaModel

    roberta = RobertaModel(RobertaConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                         intermediate_size=64), add_pooling_layer=False)
    assert resolve_engine("auto", roberta, cuda) == "hf"
    assert resolve_engine("auto", roberta, cpu, training=True) == "hf"
    with pytest.raises(InputError, match="engine packed: model type 'roberta' is not BERT"):
        resolve_engine("packed", roberta, torch.device("cpu"))


@pytest.mark.parametrize("strategy", ["ft", "lora", "s1", "s2", "s3"])
def test_packed_engine_trains_every_strategy_and_reports_itself(strategy, tmp_path):
    train_utts, dev_utts = make_utts(24, seed=11), make_utts(8, seed=12)
    events = []
    result = train(tiny_config(strategy=strategy, steps=12, engine="packed"), train_utts, dev_utts,
                   on_event=events.append, adapter_dir=tmp_path / "adapter")
    assert events[0].engine == "packed" and isinstance(events[0], TrainStarted)
    assert len([e for e in events if isinstance(e, StepDone)]) == 12
    assert result.rescorer.info["engine"] == "packed"
    # every parameter the strategy trains was reached by the packed graph (it has a gradient)
    trained = [p for n, p in result.rescorer.model.named_parameters() if p.requires_grad and not n.startswith("head")]
    assert trained
    assert all(p.grad is not None for p in trained)
    # the saved adapter scores like the trained model (on the hf engine: the packed engine left peft weights)
    again = load_rescorer(tmp_path / "adapter", device="cpu", engine="hf")
    flat = [s for row in again.score_utterances(dev_utts) for s in row]
    assert flat == pytest.approx([s for row in result.rescorer.score_utterances(dev_utts) for s in row], abs=1e-4)


def test_packed_engine_learns_the_learnable_case():
    train_utts, dev_utts = make_utts(32, seed=1), make_utts(16, seed=2)
    result = train(tiny_config(strategy="ft", steps=24, engine="packed"), train_utts, dev_utts)
    assert result.dev.rescored_wer < result.dev.one_best_wer
    assert result.loss_history[-1].loss < result.loss_history[0].loss


def test_packed_engine_is_deterministic_and_not_bit_identical_to_hf():
    train_utts, dev_utts = make_utts(12, seed=5), make_utts(6, seed=6)
    a = train(tiny_config(strategy="lora", steps=6, engine="packed"), train_utts, dev_utts)
    b = train(tiny_config(strategy="lora", steps=6, engine="packed"), train_utts, dev_utts)
    hf = train(tiny_config(strategy="lora", steps=6, engine="hf"), train_utts, dev_utts)
    assert [r.loss for r in a.loss_history] == [r.loss for r in b.loss_history]
    assert_same_state(state_of(a), state_of(b))
    # same function (test_packed checks forward and gradients against peft), other dropout draws
    assert [r.loss for r in a.loss_history] != [r.loss for r in hf.loss_history]


def test_packed_engine_resumes_across_the_s3_switch_to_the_same_weights(tmp_path):
    train_utts, dev_utts = make_utts(12, seed=7), make_utts(6, seed=8)
    config = tiny_config(strategy="s3", steps=12, eval_every=3, engine="packed")
    whole = train(config, train_utts, dev_utts)
    events = []
    first = train(config, train_utts, dev_utts, on_event=events.append, checkpoint_dir=tmp_path,
                  should_stop=lambda: len([e for e in events if isinstance(e, StepDone)]) == 7)
    assert first.status == "interrupted"
    resumed = train(config, train_utts, dev_utts, resume_from=tmp_path)
    assert [r.loss for r in resumed.loss_history] == [r.loss for r in whole.loss_history]
    assert_same_state(state_of(whole), state_of(resumed))
    assert resumed.final_ranks == whole.final_ranks


def test_resuming_with_another_engine_is_refused(tmp_path):
    train_utts, dev_utts = make_utts(12, seed=7), make_utts(6, seed=8)
    events = []
    train(tiny_config(strategy="lora", steps=6, engine="packed"), train_utts, dev_utts, on_event=events.append,
          checkpoint_dir=tmp_path, should_stop=lambda: len([e for e in events if isinstance(e, StepDone)]) == 2)
    with pytest.raises(InputError, match="engine 'packed' -> 'hf'"):
        train(tiny_config(strategy="lora", steps=6, engine="hf"), train_utts, dev_utts, resume_from=tmp_path)


def test_a_half_precision_backbone_folder_loads_in_float32(tmp_path):
    encoder, tokenizer = load_backbone("tiny-random", seed=4)
    encoder.half().save_pretrained(tmp_path / "half")
    tokenizer.save_pretrained(tmp_path / "half")
    loaded, _ = load_backbone(str(tmp_path / "half"))
    assert {p.dtype for p in loaded.parameters()} == {torch.float32}
    expected = {k: v.float() for k, v in encoder.state_dict().items()}
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_the_command_lines_torch_free_name_lists_match_the_engines():
    from lorascope.core.names import ENGINE_NAMES, STRATEGY_NAMES
    from lorascope.core.scoring.rescorer import ENGINES
    from lorascope.core.training.strategies import STRATEGIES

    assert ENGINE_NAMES == ENGINES
    assert tuple(STRATEGY_NAMES) == tuple(STRATEGIES)


def test_gpu_check_runs_on_a_cpu_in_its_reduced_form(tmp_path):
    """benchmarks/gpu_check.py is the one prepared GPU command; here its reduced form runs on the CPU, so the
    script is known to work before device time is spent on it (the figures themselves mean nothing here)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    res = subprocess.run([sys.executable, str(script), "--reduced", "--device", "cpu"], capture_output=True,
                         text=True, timeout=900, cwd=tmp_path, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout
    for heading in ("## 1. Dev WER on both engines", "## 2. Training step", "## 3. Scoring", "## 4. Causal rescorer"):
        assert heading in out
    assert "tiny random Llama: lora step" in out and "| sorted by length (rescorer) |" in out
    assert out.count("| lora | packed |") == 2 and out.count("| s1 | hf |") == 2   # both tables, both engines
    assert "best LoRA step" in out and "packed " in out and "padded list order (goal >= 4x" in out

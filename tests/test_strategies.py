"""Which parameters each strategy trains, s2's switch, s3's budget, the layers option and the registry.

All on a tiny random BERT (2 layers, hidden 32, intermediate 64) for speed.
"""

import pytest
import torch

from lorascope.core.errors import InputError
from lorascope.core.scoring.backbone import tiny_backbone
from lorascope.core.scoring.rescorer import RescorerModel
from lorascope.core.training.strategies import (STRATEGIES, TARGETS, count_parameters, orthogonal_penalty, scale_steps,
                                       strategy_config)

HIDDEN, INTER, LAYERS, MATRICES = 32, 64, 2, 12


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model(seed=0):
    encoder, _ = tiny_backbone(seed)
    return RescorerModel(encoder)


def trainable_names(model):
    return [n for n, p in model.named_parameters() if p.requires_grad]


def fake_batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, 5000, (6, 9), generator=g)
    ids[:, 0] = 101
    return ids, torch.ones_like(ids)


def lora_param_count(r, layers):
    per_layer = 4 * r * (HIDDEN + HIDDEN) + r * (HIDDEN + INTER) + r * (INTER + HIDDEN)
    return per_layer * layers + HIDDEN + 1  # + head


def test_registry_names_the_five_strategies():
    assert list(STRATEGIES) == ["ft", "lora", "s1", "s2", "s3", "none"]


def test_ft_trains_everything():
    model = tiny_model()
    run = strategy_config("ft").start(30)
    run.setup(model)
    count = count_parameters(model)
    assert count.trainable == count.total
    assert count.share == 1.0 and count.head == HIDDEN + 1


def test_lora_trains_only_adapters_and_the_head():
    model = tiny_model()
    total_before = count_parameters(model).total
    run = strategy_config("lora").start(30)
    run.setup(model)
    names = trainable_names(model)
    assert names and all(".lora_" in n or n.startswith("head.") for n in names)
    assert {"head.weight", "head.bias"} <= set(names)
    count = count_parameters(model)
    assert count.trainable == lora_param_count(8, LAYERS)
    assert count.total == total_before + count.trainable - (HIDDEN + 1)
    assert 0 < count.share < 0.01
    assert len(run.adapted) == MATRICES
    suffixes = {n.split(".", 3)[-1] for n in run.adapted}
    assert suffixes == {"attention.self.query", "attention.self.key", "attention.self.value",
                        "attention.output.dense", "intermediate.dense", "output.dense"}


def test_lora_config_defaults_are_the_papers():
    config = strategy_config("lora")
    assert (config.r, config.alpha, config.dropout, config.targets) == (8, 32, 0.1, TARGETS)


def test_layers_option_restricts_adaptation():
    model = tiny_model()
    run = strategy_config("lora", layers=[1]).start(30)
    run.setup(model)
    assert len(run.adapted) == MATRICES // LAYERS
    assert all(n.startswith("encoder.layer.1.") for n in run.adapted)
    assert not any("layer.0." in n and ".lora_" in n for n in trainable_names(model))
    assert count_parameters(model).trainable == lora_param_count(8, 1)


def test_layers_option_on_ft_freezes_other_layers_and_embeddings():
    model = tiny_model()
    strategy_config("ft", layers=(0,)).start(30).setup(model)
    names = trainable_names(model)
    assert any("encoder.layer.0." in n for n in names)
    assert not any("encoder.layer.1." in n or "embeddings" in n for n in names)


def test_layer_that_does_not_exist_is_an_input_error():
    with pytest.raises(InputError, match="layer 5 does not exist"):
        strategy_config("lora", layers=[5]).start(30).setup(tiny_model())


def test_s1_trains_adalora_triplets_and_allocates_to_the_target_budget():
    model = tiny_model()
    run = strategy_config("s1").start(12)
    run.setup(model)
    names = trainable_names(model)
    kinds = {n.split(".lora_")[1].split(".")[0] for n in names if ".lora_" in n}
    assert kinds == {"A", "B", "E"}
    assert all(".lora_" in n or n.startswith("head.") for n in names)
    assert run.steps == {"tinit": 2, "tfinal": 2, "target_from": 10, "total_steps": 12}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    ids, mask = fake_batch()
    for step in range(12):
        scores, _ = model(ids, mask)
        loss = (scores * torch.linspace(-1, 1, len(scores))).sum() + run.regularizer(model)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.after_step(model, step + 1)
    ranks = run.final_ranks(model)
    assert len(ranks) == MATRICES
    assert sum(ranks.values()) == 8 * MATRICES      # the target budget, spread unevenly
    assert all(0 <= r <= 12 for r in ranks.values())


def test_orthogonal_penalty_is_zero_for_orthonormal_factors():
    model = tiny_model()
    strategy_config("s1").start(12).setup(model)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".lora_A." in name:
                p.copy_(torch.eye(*p.shape))
            elif ".lora_B." in name:
                p.copy_(torch.eye(*p.shape))
    assert orthogonal_penalty(model).item() == pytest.approx(0.0, abs=1e-6)


def test_s2_trains_everything_then_switches_to_lora_on_the_warmed_weights():
    model = tiny_model()
    run = strategy_config("s2").start(12)
    assert run.steps == {"warmup_steps": 2, "total_steps": 12}
    run.setup(model)
    assert count_parameters(model).share == 1.0
    assert run.phase(1) == "full" and not run.switches_at(1) and run.switches_at(2) and run.phase(2) == "adapter"
    ids, mask = fake_batch()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scores, _ = model(ids, mask)
    scores.sum().backward()
    optimizer.step()   # the head moves off zero...
    optimizer.zero_grad()
    scores, _ = model(ids, mask)
    scores.sum().backward()
    optimizer.step()   # ...and the encoder moves with it
    model.eval()
    with torch.no_grad():
        warmed = model(ids, mask)[0]
        warmed_weight = model.backbone.encoder.layer[0].attention.self.query.weight.clone()
    run.switch(model)
    model.eval()
    with torch.no_grad():
        switched = model(ids, mask)[0]
    names = trainable_names(model)
    assert all(".lora_" in n or n.startswith("head.") for n in names)
    base = model.backbone.base_model.model.encoder.layer[0].attention.self.query.base_layer.weight
    assert torch.equal(base, warmed_weight)         # LoRA sits on the warmed weights...
    assert torch.allclose(warmed, switched)         # ...and starts as a no-op (B = 0)


def test_s3_budget_follows_the_rank_schedule():
    total = 24
    model = tiny_model()
    run = strategy_config("s3").start(total)
    assert run.steps == {"warmup_steps": 4, "t_init": 8, "target_from": 20, "t_final": 4, "total_steps": total}
    run.setup(model)
    assert count_parameters(model).share == 1.0
    schedule = run.schedule
    ids, mask = fake_batch()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    kept = {}
    for step in range(total):
        if run.switches_at(step):
            run.switch(model)
            assert all(".lora_" in n or n.startswith("head.") for n in trainable_names(model))
            optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        scores, _ = model(ids, mask)
        reg = run.regularizer(model)
        loss = (scores * torch.linspace(-1, 1, len(scores))).sum() + (0 if reg is None else reg)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.after_step(model, step + 1)
        if step + 1 > 4:
            kept[step + 1] = sum(int((p != 0).sum()) for n, p in model.named_parameters() if ".lora_E." in n)
    assert run.rank_budget(0) == HIDDEN * MATRICES       # full rank during warm-up
    for t, n in kept.items():
        if t >= 8 + 1:
            # during the decay and after it the unmasked triplets are exactly the scheduled budget
            assert n == schedule.budget(t, MATRICES) == run.rank_budget(t), t
    assert kept[total] == 8 * MATRICES
    assert kept[9] > kept[19]
    ranks = run.final_ranks(model)
    assert sum(ranks.values()) == 8 * MATRICES


def test_steps_scale_with_the_papers_proportions():
    assert scale_steps(5000, 30000) == 5000
    assert strategy_config("s3").scaled_steps(300) == {
        "warmup_steps": 50, "t_init": 100, "target_from": 250, "t_final": 50, "total_steps": 300}
    assert strategy_config("s1").scaled_steps(300) == {"tinit": 50, "tfinal": 50, "target_from": 250,
                                                       "total_steps": 300}
    assert strategy_config("s2").scaled_steps(300) == {"warmup_steps": 50, "total_steps": 300}
    assert strategy_config("s2", warmup_steps=10).scaled_steps(300)["warmup_steps"] == 10


def test_unknown_strategy_lists_the_known_ones():
    with pytest.raises(InputError, match="unknown strategy 'dora' .known: ft, lora, s1, s2, s3"):
        strategy_config("dora")


@pytest.mark.parametrize("name, options, message", [
    ("lora", {"rank": 4}, "unknown option rank"),
    ("lora", {"dropout": 1.5}, "dropout"),
    ("lora", {"r": 0}, "r must be"),
    ("lora", {"targets": ["query", "ffn"]}, "unknown target ffn"),
    ("s1", {"init_r": 4, "target_r": 8}, "init_r >= target_r"),
    ("s3", {"layers": [-1]}, "non-negative"),
])
def test_invalid_options_are_input_errors(name, options, message):
    with pytest.raises(InputError, match=message):
        strategy_config(name, **options)


def test_step_counts_that_do_not_fit_the_run_are_input_errors():
    with pytest.raises(InputError, match="warm-up of 5000 steps"):
        strategy_config("s2", warmup_steps=5000).scaled_steps(300)
    with pytest.raises(InputError, match="do not fit"):
        strategy_config("s3", target_from=10).scaled_steps(300)

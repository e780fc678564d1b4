"""The packed encoder and the training fast path against Hugging Face / peft on tiny random BERTs.

Every model here is a tiny random BertModel (hidden 32, 2 layers) so the suite stays fast; the same code
runs the real MiniLM backbone and the BERT-base shape in benchmarks/bench_speed.py.
"""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertModel

from benchmarks.graphed_step import AdaLoraImportance, fast_path, make_optimizer
from lorascope.core.scoring.packed import PackedBertEncoder, adapted_linear, pack, score_cls
from lorascope.core.training.strategies.adalora import AdaLoraOrthogonal, foreach_update_ipt

peft = pytest.importorskip("peft")

TARGETS = (r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense"
           r"|intermediate\.dense|output\.dense)")
LENGTHS = [5, 1, 40, 2, 17, 3, 5, 2, 33]       # very different lengths, a lone [CLS], out of order


def tiny_bert(seed: int = 0, dropout: float = 0.1) -> BertModel:
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, hidden_dropout_prob=dropout,
                        attention_probs_dropout_prob=dropout)
    return BertModel(config, add_pooling_layer=False)


def sequences(lengths=LENGTHS, seed: int = 1) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [[101 % 120] + torch.randint(2, 120, (n - 1,), generator=g).tolist() for n in lengths]


def padded_cls(model, seqs) -> torch.Tensor:
    width = max(map(len, seqs))
    ids = torch.zeros(len(seqs), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    return model(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0]


def randomise_adapters(model, seed: int = 2) -> None:
    """peft starts B (and AdaLoRA's E) at zero, which would hide a wrong adapter path."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name or "lora_E" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)


def lora_model(dropout: float = 0.0, model_dropout: float = 0.0):
    config = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=dropout, target_modules=TARGETS)
    model = peft.get_peft_model(tiny_bert(dropout=model_dropout), config)
    randomise_adapters(model)
    return model


def adalora_model():
    config = peft.AdaLoraConfig(init_r=6, target_r=4, lora_alpha=8, lora_dropout=0.0, tinit=2, tfinal=2,
                                deltaT=1, total_step=20, orth_reg_weight=0.3, target_modules=TARGETS)
    model = peft.get_peft_model(tiny_bert(dropout=0.0), config)
    randomise_adapters(model)
    return model


@pytest.mark.parametrize("attention", ["grouped", "nested", "auto"])
def test_packed_cls_matches_padded_forward_on_tiny_random_bert(attention):
    model = tiny_bert().eval()
    seqs = sequences()
    with torch.no_grad():
        ref = padded_cls(model, seqs)
        out = PackedBertEncoder(model, dtype=torch.float32, attention=attention).eval()(pack(seqs))
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, atol=2e-5, rtol=1e-4)


def test_dense_backend_on_equal_lengths_matches_unmasked_forward_tiny_random():
    model = tiny_bert().eval()
    ids = torch.tensor(sequences([7] * 6))
    with torch.no_grad():
        ref = model(input_ids=ids).last_hidden_state[:, 0]
        out = PackedBertEncoder(model, dtype=torch.float32, attention="dense").eval()(pack(ids))
    torch.testing.assert_close(out, ref, atol=2e-5, rtol=1e-4)


def test_pack_keeps_a_device_tensor_batch_on_its_device():
    """Packing a (B, L) tensor must leave every index on the tensor's device (a CPU cu_seqlens broke CUDA
    training steps); the meta device stands in for CUDA here."""
    batch = pack(torch.zeros(3, 4, dtype=torch.long, device="meta"))
    assert {t.device.type for t in (batch.input_ids, batch.position_ids, batch.cu_seqlens, batch.cls_index)} \
        == {"meta"}
    assert batch.lengths == [4, 4, 4] and batch.equal_lengths


def test_dense_backend_refuses_ragged_batch():
    model = tiny_bert().eval()
    with pytest.raises(ValueError, match="one length"):
        PackedBertEncoder(model, dtype=torch.float32, attention="dense").eval()(pack(sequences([3, 4])))


def test_lora_model_unmerged_merged_and_unloaded_tiny_random():
    model = lora_model().eval()
    seqs = sequences()
    with torch.no_grad():
        ref = padded_cls(model, seqs)
        unmerged = PackedBertEncoder(model, dtype=torch.float32).eval()(pack(seqs))
        torch.testing.assert_close(unmerged, ref, atol=2e-5, rtol=1e-4)
        with model.disable_adapter():
            plain = padded_cls(model, seqs)
        assert (plain - ref).abs().max() > 1e-3          # the adapters do change the output
        model.merge_adapter()
        merged = PackedBertEncoder(model, dtype=torch.float32).eval()(pack(seqs))
        torch.testing.assert_close(merged, ref, atol=2e-5, rtol=1e-4)
        unloaded = model.merge_and_unload()
        torch.testing.assert_close(PackedBertEncoder(unloaded, dtype=torch.float32).eval()(pack(seqs)), ref,
                                   atol=2e-5, rtol=1e-4)


def test_adalora_model_matches_peft_forward_tiny_random():
    model = adalora_model().eval()
    seqs = sequences()
    with torch.no_grad():
        ref = padded_cls(model, seqs)
        out = PackedBertEncoder(model, dtype=torch.float32).eval()(pack(seqs))
    torch.testing.assert_close(out, ref, atol=2e-5, rtol=1e-4)


def test_score_cls_keeps_input_order_across_batches_tiny_random():
    model = tiny_bert().eval()
    seqs = sequences(LENGTHS * 3, seed=4)
    with torch.no_grad():
        ref = padded_cls(model, seqs)
    out = score_cls(model, seqs, batch_size=5)
    torch.testing.assert_close(out, ref, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("separate_lora_input", [False, True])
def test_adapted_linear_gradients_match_finite_differences(separate_lora_input):
    torch.manual_seed(3)
    x = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    x_lora = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    w0 = torch.randn(9, 5, dtype=torch.float64)
    bias = torch.randn(9, dtype=torch.float64)
    a = [torch.randn(r, 5, dtype=torch.float64, requires_grad=True) for r in (2, 3, 1)]
    b = [torch.randn(o, r, dtype=torch.float64, requires_grad=True) for o, r in ((4, 2), (2, 3), (3, 1))]
    scale = 1.5

    if separate_lora_input:
        def f(x, x_lora, *ab):
            return adapted_linear(x, w0, bias, ab[:3], ab[3:], scale, x_lora)
        inputs = (x, x_lora, *a, *b)
    else:
        def f(x, *ab):
            return adapted_linear(x, w0, bias, ab[:3], ab[3:], scale)
        inputs = (x, *a, *b)
    assert torch.autograd.gradcheck(f, inputs)
    # and the value is the LoRA formula, each adapter on its own block of output rows
    xl = x_lora if separate_lora_input else x
    ref = x @ w0.T + bias + torch.cat([scale * (xl @ ai.T) @ bi.T for ai, bi in zip(a, b)], dim=1)
    torch.testing.assert_close(f(*inputs), ref)


def test_adapted_linear_keeps_rows_aligned_for_odd_total_rank():
    """AdaLoRA's Q, K, V at rank 12 give R = 36; a row stride of 3H + 36 elements faulted in the CUDA
    attention kernels, so the summed rank is padded to a multiple of 8 (and the result is unchanged)."""
    torch.manual_seed(4)
    x = torch.randn(10, 16)
    w0, bias = torch.randn(48, 16), torch.randn(48)
    a = [torch.randn(12, 16) for _ in range(3)]
    b = [torch.randn(16, 12) for _ in range(3)]
    out = adapted_linear(x, w0, bias, a, b, 0.5)
    assert out.stride(0) % 8 == 0
    ref = x @ w0.T + bias + torch.cat([0.5 * (x @ ai.T) @ bi.T for ai, bi in zip(a, b)], dim=1)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


def _loss(cls: torch.Tensor) -> torch.Tensor:
    return (cls.sum(dim=1) ** 2).mean() + cls[:, 0].sin().sum()


def _grads(model, loss_of_model):
    model.zero_grad(set_to_none=True)
    loss_of_model().backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("kind", ["ft", "lora", "s1"])
def test_trainable_encoder_gradients_match_hf_tiny_random(kind):
    model = {"ft": lambda: tiny_bert(dropout=0.0), "lora": lora_model, "s1": adalora_model}[kind]()
    model.train()
    seqs = sequences()
    ref = _grads(model, lambda: _loss(padded_cls(model, seqs)))
    path = fast_path(model, kind, dtype=torch.float32)
    got = _grads(model, lambda: _loss(path.encoder(pack(seqs))))
    assert set(got) == set(ref) and len(ref) > 0
    assert {id(p) for p in path.params} == {id(p) for p in model.parameters() if p.requires_grad}
    for name in ref:
        torch.testing.assert_close(got[name], ref[name], atol=1e-5, rtol=1e-4, msg=name)


def test_lora_dropout_reaches_the_adapters_only_in_training_tiny_random():
    model = lora_model(dropout=0.5).train()
    path = fast_path(model, "lora", dtype=torch.float32)
    batch = pack(sequences())
    first, second = path.encoder(batch), path.encoder(batch)
    assert (first - second).abs().max() > 1e-4      # fresh dropout masks on the adapter input
    path.encoder.eval()
    with torch.no_grad():
        torch.testing.assert_close(path.encoder(batch), padded_cls(model.eval(), sequences()), atol=2e-5, rtol=1e-4)


def test_adalora_regulariser_and_importance_match_peft_tiny_random():
    model = adalora_model().train()
    inner = model.base_model
    seqs = sequences()
    # peft's regulariser, as AdaLoraModel.forward writes it
    ref, count = 0.0, 0
    for n, p in inner.model.named_parameters():
        if ("lora_A" in n or "lora_B" in n) and "default" in n:
            cov = p @ p.T if "lora_A" in n else p.T @ p
            ref = ref + torch.norm(cov - torch.eye(*cov.shape), p="fro")
            count += 1
    reg = AdaLoraOrthogonal(inner)
    torch.testing.assert_close(reg(), 0.3 * ref / count)

    fast = AdaLoraImportance(inner)
    for _ in range(3):                              # three steps of sensitivity smoothing
        model.zero_grad()
        _loss(padded_cls(model, seqs)).backward()
        inner.rankallocator.update_ipt(inner.model)
        fast.update()
    for name, avg, unc in zip(fast.names, fast.exp_avg_ipt, fast.exp_avg_unc):
        torch.testing.assert_close(avg, inner.rankallocator.exp_avg_ipt[name], atol=1e-7, rtol=1e-5)
        torch.testing.assert_close(unc, inner.rankallocator.exp_avg_unc[name], atol=1e-7, rtol=1e-5)
    fast.install()
    assert inner.rankallocator.exp_avg_ipt[fast.names[0]] is fast.exp_avg_ipt[0]


def test_foreach_update_ipt_is_pefts_bit_for_bit_and_survives_a_reset_tiny_random():
    models = [adalora_model().train(), adalora_model().train()]
    ours = models[1].base_model.rankallocator
    ours.update_ipt = foreach_update_ipt(ours)
    seqs = sequences()
    for step in range(4):
        if step == 2:                                # S3 resets the scores when its decay ends
            for m in models:
                m.base_model.rankallocator.reset_ipt()
        for m in models:
            m.zero_grad()
            _loss(padded_cls(m, seqs)).backward()
            m.base_model.rankallocator.update_ipt(m.base_model.model)
    theirs = models[0].base_model.rankallocator
    assert theirs.exp_avg_ipt.keys() == ours.exp_avg_ipt.keys() and len(ours.ipt) > 0
    for table in ("ipt", "exp_avg_ipt", "exp_avg_unc"):
        for name, value in getattr(theirs, table).items():
            assert torch.equal(value, getattr(ours, table)[name]), (table, name)
    # the masks it leads to are the same too
    budget = theirs.init_bgt // 2
    assert theirs.mask_to_budget(models[0].base_model.model, budget) == \
        ours.mask_to_budget(models[1].base_model.model, budget)


def test_train_step_runs_on_cpu_and_trains_the_adapters_tiny_random():
    model = lora_model(dropout=0.1, model_dropout=0.1)
    path = fast_path(model, "lora")
    head = torch.nn.Linear(32, 1)
    opt = make_optimizer([*path.params, *head.parameters()], lr=1e-2)
    step = path.train_step(lambda h: head(h).squeeze(-1), lambda s, y: ((s - y) ** 2).mean(), opt)
    batch = pack(sequences())
    target = torch.linspace(-1, 1, batch.num_sequences)
    before = [p.detach().clone() for p in path.params]
    losses = [float(step(batch, target)) for _ in range(15)]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    assert all(not torch.equal(b, p) for b, p in zip(before, path.params))

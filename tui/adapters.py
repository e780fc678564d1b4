"""The adapters the inspector can score with: stored runs and the bare backbone, loading one, and its LM scores.

Loading goes through core (:func:`lorascope.core.scoring.adapter.load_rescorer`, then
:func:`lorascope.core.scoring.inference.prepare_for_inference`); nothing here changes a model itself.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorascope.core.combination.tune import Combination, training_combination

BARE_KEY = "bare"
#: torch CPU threads for the app's scoring: a number, or ``auto`` for torch's own choice; 1 by default
#: (see lorascope.core.scoring.inference for why).
THREADS_ENV = "LORASCOPE_TUI_THREADS"

# One forward pass at a time on the CPU: interactive scoring and data-set scoring take turns per chunk.
_MODEL_LOCK = threading.Lock()
CHUNK = 32


@dataclass(frozen=True)
class AdapterChoice:
    """One entry of the adapter picker: a stored run with an adapter, or the bare backbone."""

    key: str
    label: str
    run_id: int | None = None
    path: str | None = None
    strategy: str | None = None
    status: str | None = None
    lam: float | None = None
    backbone: str | None = None
    test_dataset: str | None = None
    dev_dataset: str | None = None
    train_dataset: str | None = None  # the run's training set: what the mined perturbation model mines
    combination: dict | None = None   # the run's tuned combination as stored (Combination.to_dict())

    @property
    def is_bare(self) -> bool:
        return self.run_id is None

    @property
    def short(self) -> str:
        """A few words for the title bar."""
        if self.is_bare:
            return "bare backbone (LM 0)"
        return f"run {self.run_id} {self.strategy}"

    def stored_combination(self) -> Combination | None:
        """The tuned combination as the store holds it; None when only the adapter folder knows it.

        The bare backbone scores every hypothesis 0, so its combination is the first pass with a λ to step."""
        if self.is_bare:
            return Combination.of({"rank": 1.0}, 1.0)
        if self.combination:
            return Combination.from_dict(self.combination)
        if self.lam is not None:     # a run stored before combinations: prior + λ·LM
            return Combination.of({"prior": 1.0}, self.lam)
        return None


BARE = AdapterChoice(
    BARE_KEY,
    "bare backbone: untrained MiniLM-L6 with a zero head, so every LM score is 0 and the order is the first pass",
    backbone="minilm-l6")


def adapter_choices(runs: Sequence[Any]) -> list[AdapterChoice]:
    """Every run with an adapter (newest first), then the bare backbone."""
    out = []
    for r in sorted(runs, key=lambda r: -r.id):
        if not r.adapter_path:
            continue
        status = "" if r.status == "done" else f" [{r.status}]"
        lam = "" if r.lam is None else f", λ {r.lam:.3g}"
        backbone = Path(r.backbone).name if r.backbone else "?"
        family = f" ({r.config['family']})" if r.config.get("family") else ""
        out.append(AdapterChoice(
            key=f"run:{r.id}", label=f"run {r.id}: {r.strategy} on {backbone}{family}{lam}{status}", run_id=r.id,
            path=r.adapter_path, strategy=r.strategy, status=r.status, lam=r.lam, backbone=r.backbone,
            test_dataset=r.test_dataset, dev_dataset=r.dev_dataset, train_dataset=r.train_dataset,
            combination=r.config.get("combination")))
    out.append(BARE)
    return out


def default_choice(choices: Sequence[AdapterChoice]) -> AdapterChoice:
    """The newest finished run whose adapter folder exists, else the bare backbone."""
    for c in choices:
        if not c.is_bare and c.status == "done" and c.path and Path(c.path).exists():
            return c
    return choices[-1] if choices else BARE


class Cancelled(Exception):
    """A worker's job was superseded or stopped."""


class Scorer:
    """LM scores of texts from one adapter; the bare backbone scores 0 without loading anything.

    (A zero head maps every [CLS] vector to exactly 0, so running the untrained MiniLM would only cost time.)
    """

    def __init__(self, choice: AdapterChoice, rescorer: Any = None):
        self.choice = choice
        self.rescorer = rescorer

    @property
    def trained_lam(self) -> float:
        """The λ the model was trained at (1 / prior weight); 1 for the bare backbone."""
        if self.rescorer is None:
            return 1.0
        return 1.0 / float(self.rescorer.prior_weight or 1.0)

    @property
    def tuned_combination(self) -> Combination:
        """The dev-tuned combination (store first, then the adapter folder), else the training combination."""
        found = self.choice.stored_combination()
        if found is not None:
            return found
        found = getattr(self.rescorer, "combination", None)
        if found is not None:
            return found
        return training_combination(1.0 / self.trained_lam)

    @property
    def tuned_lam(self) -> float:
        return self.tuned_combination.lam

    def score(self, texts: Sequence[str], *, on_chunk: Callable[[int], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> list[float]:
        """LM score of each text, in chunks of :data:`CHUNK` under the shared model lock."""
        if self.rescorer is None:
            if on_chunk:
                on_chunk(len(texts))
            return [0.0] * len(texts)
        out: list[float] = []
        for start in range(0, len(texts), CHUNK):
            if should_stop is not None and should_stop():
                raise Cancelled()
            part = list(texts[start:start + CHUNK])
            with _MODEL_LOCK:
                out.extend(self.rescorer.score_texts(part))
            if on_chunk:
                on_chunk(len(part))
        return out


def tui_threads() -> int | None:
    """torch threads for the app from ``$LORASCOPE_TUI_THREADS`` (default 1; ``auto``: torch's own, None)."""
    value = os.environ.get(THREADS_ENV, "1").strip().lower() or "1"
    return None if value == "auto" else max(1, int(value))


def load_scorer(choice: AdapterChoice) -> Scorer:
    """Load the adapter of ``choice`` through core (slow: imports torch and transformers on first use)."""
    if choice.is_bare:
        return Scorer(choice)
    from lorascope.core.scoring.inference import prepare_for_inference
    from lorascope.core.scoring.adapter import load_rescorer

    assert choice.path is not None
    rescorer = load_rescorer(choice.path)
    prepare_for_inference(rescorer, threads=tui_threads())
    return Scorer(choice, rescorer)


#: λ's fine grid around the tuned value: steps of 2^(1/4) (about 19 %), from tuned/16 to 16·tuned.
LAMBDA_STEP = 2 ** 0.25
LAMBDA_SPAN = 16


def lambda_steps(trained: float, tuned: float) -> list[float]:
    """The λ values + and - step through: 0 (the first pass alone), then a geometric grid of ratio
    :data:`LAMBDA_STEP` around the tuned λ (the training-time λ where the tuned one is not positive), spanning a
    factor :data:`LAMBDA_SPAN` either way; the tuned λ is on it exactly."""
    centre = tuned if tuned > 0 else trained if trained > 0 else 1.0
    k = round(math.log(LAMBDA_SPAN, LAMBDA_STEP))
    grid = {0.0, round(tuned, 10)} | {round(centre * LAMBDA_STEP ** i, 10) for i in range(-k, k + 1)}
    return sorted(g for g in grid if g >= 0)

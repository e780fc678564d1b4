"""What the inspect screen shows, computed without Textual: adapter choices, cached LM scores, rescored rows.

The screen keeps one :class:`Inspector`; workers call the slow parts (:func:`load_scorer`,
:meth:`Scorer.score`, :func:`dataset_robustness`) and hand their results back to the main thread, which
merges them into the :class:`ScoreCache` and asks :meth:`Inspector.view` for the rows again.

LM scores are cached per (adapter, hypothesis text): moving λ only recombines cached numbers, and a perturbation
rescores only the hypotheses whose text changed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lorascope.core.fmt import pct
from lorascope.core.combine import Combination, lambda_grid, new_ranks, training_combination
from lorascope.core.metrics import reference_length, word_errors
from lorascope.core.nbest import Utterance
from lorascope.core.text import normalize

from .diff import DiffToken, word_diff

BARE_KEY = "bare"
PERTURB_MODES = ("off", "1", "N")
MODE_NAMES = {"off": "off", "1": "perturb-1", "N": "perturb-N"}
SORTS = ("order", "flips", "wer-up", "wer-down")
SORT_NAMES = {"order": "data-set order", "flips": "rank flips, most first", "wer-up": "WER change, most improved first",
              "wer-down": "WER change, most harmed first"}

# One forward pass at a time on the CPU: interactive scoring and data-set scoring take turns per chunk.
_MODEL_LOCK = threading.Lock()
CHUNK = 32


# ------------------------------------------------------------------------------------------------ adapters


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
        out.append(AdapterChoice(
            key=f"run:{r.id}", label=f"run {r.id}: {r.strategy} on {backbone}{lam}{status}", run_id=r.id,
            path=r.adapter_path, strategy=r.strategy, status=r.status, lam=r.lam, backbone=r.backbone,
            test_dataset=r.test_dataset, dev_dataset=r.dev_dataset, combination=r.config.get("combination")))
    out.append(BARE)
    return out


def default_choice(choices: Sequence[AdapterChoice]) -> AdapterChoice:
    """The newest finished run whose adapter folder exists, else the bare backbone."""
    for c in choices:
        if not c.is_bare and c.status == "done" and c.path and Path(c.path).exists():
            return c
    return choices[-1] if choices else BARE


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
        """The dev-tuned combination (store first, then the adapter folder), else the training combination.

        The bare backbone scores every hypothesis 0, so its combination is the first pass with a λ to step."""
        if self.rescorer is None and self.choice.is_bare:
            return Combination.of({"rank": 1.0}, 1.0)
        if self.choice.combination:
            return Combination.from_dict(self.choice.combination)
        if self.choice.lam is not None:     # a run stored before combinations: prior + λ·LM
            return Combination.of({"prior": 1.0}, self.choice.lam)
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


class Cancelled(Exception):
    """A worker's job was superseded."""


#: torch CPU threads for the app's scoring; 1 by default (see :func:`configure_torch`).
THREADS_ENV = "LORASCOPE_TUI_THREADS"


def configure_torch() -> int | None:
    """Set torch's CPU threads for this process: ``$LORASCOPE_TUI_THREADS``, default 1 (``auto``: torch's own).

    The app scores a handful of hypotheses per key press. With two or more intra-op threads, a forward pass
    of MiniLM on a busy CPU (a training run in another terminal, say) can take seconds instead of tens of
    milliseconds, as the threads wait on each other; one thread stays fast and leaves a core to the interface.
    Denormal floats are flushed to zero (trained adapters can hold tiny weights, which are slow on CPUs).
    """
    import torch

    torch.set_flush_denormal(True)
    value = os.environ.get(THREADS_ENV, "1").strip().lower() or "1"
    if value == "auto":
        return None
    threads = max(1, int(value))
    torch.set_num_threads(threads)
    return threads


def merge_lora(rescorer: Any) -> bool:
    """Fold LoRA/AdaLoRA weights into the encoder for inference (the same scores to ~1e-6, fewer operations)."""
    backbone = rescorer.model.backbone
    if not hasattr(backbone, "merge_and_unload"):
        return False
    try:
        rescorer.model.backbone = backbone.merge_and_unload()
    except Exception:  # an adapter type peft cannot merge: score through the wrapper
        return False
    rescorer.model.eval()
    return True


def load_scorer(choice: AdapterChoice) -> Scorer:
    """Load the adapter of ``choice`` through core (slow: imports torch and transformers on first use)."""
    if choice.is_bare:
        return Scorer(choice)
    from lorascope.core.adapter import load_rescorer

    assert choice.path is not None
    configure_torch()
    rescorer = load_rescorer(choice.path)
    merge_lora(rescorer)
    return Scorer(choice, rescorer)


def lambda_steps(trained: float, tuned: float) -> list[float]:
    """The λ values + and - step through: the training-time λ times the dev search's multiples, and the tuned λ."""
    grid = set(round(x, 10) for x in lambda_grid(trained)) | {round(tuned, 10)}
    return sorted(grid)


# ------------------------------------------------------------------------------------------------ caches


class ScoreCache:
    """LM score per (adapter key, hypothesis text)."""

    def __init__(self) -> None:
        self._by_adapter: dict[str, dict[str, float]] = {}

    def of(self, key: str) -> dict[str, float]:
        return self._by_adapter.setdefault(key, {})

    def get(self, key: str, text: str) -> float | None:
        return self._by_adapter.get(key, {}).get(text)

    def put(self, key: str, scores: dict[str, float]) -> None:
        self.of(key).update(scores)

    def missing(self, key: str, texts: Sequence[str]) -> list[str]:
        """Texts without a score, each once, in order."""
        have = self._by_adapter.get(key, {})
        seen: set[str] = set()
        out = []
        for t in texts:
            if t not in have and t not in seen:
                seen.add(t)
                out.append(t)
        return out

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_adapter.values())


class ErrorCache:
    """Word errors per (reference, hypothesis text)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], int] = {}

    def __call__(self, reference: str | None, text: str) -> int | None:
        if reference is None:
            return None
        key = (reference, text)
        if key not in self._seen:
            self._seen[key] = word_errors(reference, text)
        return self._seen[key]


# ------------------------------------------------------------------------------------------------ perturbation


@dataclass(frozen=True)
class PerturbSettings:
    mode: str = "off"   # "off", "1" (perturb-1) or "N" (perturb-N)
    p: float = 0.5
    seed: int = 0
    model: str = "lexicon"   # the perturbation model spec (core/perturbation_models.py)

    def describe(self) -> str:
        if self.mode == "off":
            return "off"
        return f"{MODE_NAMES[self.mode]} p {self.p:.2f} seed {self.seed}"


@dataclass(frozen=True)
class ManualEdit:
    """A sound-alike candidate applied by hand to word ``position`` of hypothesis ``hypothesis``."""

    hypothesis: int
    position: int
    candidate: Any  # lorascope.core.phonetics.Candidate


@dataclass(frozen=True)
class Perturbed:
    """The utterance as shown: after the automatic perturbation and the manual edits on top."""

    utterance: Utterance
    edits: tuple[Any, ...]  # lorascope.core.perturb.Edit

    @property
    def changed(self) -> bool:
        return bool(self.edits)


def perturb_utterance(utt: Utterance, settings: PerturbSettings, manual: Sequence[ManualEdit],
                      index: Any) -> Perturbed:
    """Apply ``settings`` (perturb-1 or perturb-N with p and seed), then the manual edits in order."""
    if settings.mode == "off" and not manual:
        return Perturbed(utt, ())
    from lorascope.core.perturb import apply_candidate, perturb_all, perturb_one

    edits: list[Any] = []
    current = utt
    if settings.mode != "off":
        fn = perturb_one if settings.mode == "1" else perturb_all
        result = fn(utt, settings.p, settings.seed, model=settings.model, index=index)
        current, edits = result.utterance, list(result.edits)
    for m in manual:
        result = apply_candidate(current, m.hypothesis, m.position, m.candidate, index=index)
        current = result.utterance
        edits.extend(result.edits)
    return Perturbed(current, tuple(edits))


# ------------------------------------------------------------------------------------------------ views


@dataclass(frozen=True)
class Row:
    """One hypothesis as the N-best table shows it (``index`` is its first-pass rank)."""

    index: int
    text: str
    diff: tuple[DiffToken, ...]
    first_pass_score: float | None
    prior: float
    lm: float | None
    combined: float | None
    errors: int | None
    wer: float | None
    new_rank: int | None
    clean_rank: int | None      # its rank on the unperturbed list, same adapter and λ
    perturbed: bool
    edits: tuple[Any, ...]
    oracle: bool                # fewest word errors in the list

    @property
    def move(self) -> int | None:
        """Places gained against the first pass (positive: moved up)."""
        return None if self.new_rank is None else self.index - self.new_rank

    @property
    def perturb_move(self) -> int | None:
        """Places gained against the unperturbed list under the same rescorer."""
        if self.new_rank is None or self.clean_rank is None:
            return None
        return self.clean_rank - self.new_rank


@dataclass(frozen=True)
class UtteranceView:
    """One utterance rescored at one λ: its rows in first-pass order and its WERs (fractions)."""

    utterance: Utterance
    clean: Utterance
    rows: tuple[Row, ...]
    lam: float
    complete: bool              # every LM score (clean and shown lists) is known
    reference_words: int | None
    chosen: int | None
    clean_chosen: int | None
    wer: float | None
    oracle_wer: float | None
    clean_wer: float | None
    clean_oracle_wer: float | None
    first_pass_wer: float | None
    edits: tuple[Any, ...]
    pending: bool = False       # the perturbed version is still being computed (the clean list is shown)

    @property
    def perturbed(self) -> bool:
        return bool(self.edits)

    @property
    def delta_wer(self) -> float | None:
        """The paper's ΔWER for this utterance as shown: WER of the choice minus the list's oracle WER."""
        if self.wer is None or self.oracle_wer is None:
            return None
        return self.wer - self.oracle_wer

    @property
    def clean_delta_wer(self) -> float | None:
        if self.clean_wer is None or self.clean_oracle_wer is None:
            return None
        return self.clean_wer - self.clean_oracle_wer


@dataclass(frozen=True)
class UtteranceSummary:
    """An utterance's line in the list: rescored (clean) against the first pass under the current adapter and λ."""

    id: str
    position: int
    flips: int | None           # hypotheses whose rank moved
    choice_changed: bool | None
    wer_change: float | None    # WER of the rescored choice minus the first-pass 1-best's (fraction)


def _ranks(utt: Utterance, lm: Sequence[float | None], combination: Combination) -> tuple[list[float] | None,
                                                                                          list[int] | None]:
    if any(s is None for s in lm):
        return None, None
    combined = combination.scores(utt, [float(s) for s in lm])  # type: ignore[arg-type]
    return combined, new_ranks(combined)


@dataclass
class Inspector:
    """The state behind the inspect screen: data set, adapter, λ, perturbation and the caches."""

    cache: ScoreCache = field(default_factory=ScoreCache)
    errors: ErrorCache = field(default_factory=ErrorCache)
    dataset: str | None = None
    utterances: list[Utterance] = field(default_factory=list)
    adapter: AdapterChoice = BARE
    scorer: Scorer | None = None
    base: Combination = field(default_factory=lambda: training_combination(1.0))   # first-pass part; λ below
    lam: float = 1.0
    lam_grid: list[float] = field(default_factory=lambda: [1.0])
    settings: PerturbSettings = field(default_factory=PerturbSettings)
    manual: list[ManualEdit] = field(default_factory=list)
    current: int = 0
    _perturbed: dict[tuple, Perturbed] = field(default_factory=dict)

    # -- set-up -----------------------------------------------------------------------------------------

    def set_dataset(self, name: str, utterances: list[Utterance]) -> None:
        self.dataset = name
        self.utterances = utterances
        self.current = 0
        self.manual = []
        self._perturbed.clear()

    def set_scorer(self, scorer: Scorer) -> None:
        """Make ``scorer`` current and put λ at its tuned value."""
        self.scorer = scorer
        self.adapter = scorer.choice
        self.base = scorer.tuned_combination
        self.lam = self.base.lam
        self.lam_grid = lambda_steps(scorer.trained_lam, self.lam)

    @property
    def combination(self) -> Combination:
        """The combination as shown: the tuned one at the current λ."""
        return self.base.with_lam(self.lam)

    @property
    def ready(self) -> bool:
        """The current adapter is loaded (its LM scores can be computed)."""
        return self.scorer is not None and self.scorer.choice.key == self.adapter.key

    def step_lam(self, direction: int) -> float:
        """Move λ to the next grid value up (+1) or down (-1)."""
        grid = self.lam_grid
        if direction > 0:
            bigger = [g for g in grid if g > self.lam + 1e-12]
            self.lam = bigger[0] if bigger else self.lam
        else:
            smaller = [g for g in grid if g < self.lam - 1e-12]
            self.lam = smaller[-1] if smaller else self.lam
        return self.lam

    def reset_lam(self) -> float:
        if self.scorer is not None:
            self.lam = self.scorer.tuned_lam
        return self.lam

    # -- perturbation -----------------------------------------------------------------------------------

    def set_settings(self, settings: PerturbSettings) -> bool:
        """New perturbation settings; manual edits are dropped (their word positions refer to the old text).

        Returns True when manual edits were dropped.
        """
        if settings == self.settings:
            return False
        dropped = bool(self.manual)
        self.settings = settings
        self.manual = []
        return dropped

    def set_mode(self, mode: str) -> bool:
        """Perturbation off, perturb-1 or perturb-N; True when manual edits were dropped."""
        return self.set_settings(replace(self.settings, mode=mode))

    def step_p(self, delta: float) -> bool:
        p = min(1.0, max(0.0, round(self.settings.p + delta, 2)))
        return self.set_settings(replace(self.settings, p=p))

    def reroll(self) -> bool:
        """The next seed."""
        return self.set_settings(replace(self.settings, seed=self.settings.seed + 1))

    def utterance(self) -> Utterance | None:
        if not self.utterances:
            return None
        return self.utterances[self.current]

    def perturb_key(self, utt: Utterance | None = None) -> tuple | None:
        """What the shown version of ``utt`` depends on; None when it is shown unperturbed."""
        utt = utt or self.utterance()
        if utt is None:
            return None
        manual = tuple(self.manual) if utt is self.utterance() else ()
        if self.settings.mode == "off" and not manual:
            return None
        return (utt.id, self.settings, manual)

    def perturbed(self, utt: Utterance | None = None) -> Perturbed | None:
        """The current (or given) utterance as shown; None while its perturbation is being computed."""
        utt = utt or self.utterance()
        if utt is None:
            return None
        key = self.perturb_key(utt)
        if key is None:
            return Perturbed(utt, ())
        return self._perturbed.get(key)

    def store_perturbed(self, key: tuple, result: Perturbed) -> None:
        if len(self._perturbed) > 256:
            self._perturbed.clear()
        self._perturbed[key] = result

    def texts_to_score(self, utt: Utterance | None = None, shown: Perturbed | None = None) -> list[str]:
        """Texts of the current utterance (clean and shown) that the current adapter has not scored yet."""
        utt = utt or self.utterance()
        if utt is None:
            return []
        shown = shown or self.perturbed(utt)
        texts = utt.texts + (shown.utterance.texts if shown is not None else [])
        return self.cache.missing(self.adapter.key, texts)

    # -- views ------------------------------------------------------------------------------------------

    def view(self, utt: Utterance | None = None) -> UtteranceView | None:
        """The rows of the current utterance as shown (perturbed when perturbation is on)."""
        clean = utt or self.utterance()
        if clean is None:
            return None
        shown_p = self.perturbed(clean)
        shown = shown_p.utterance if shown_p is not None else clean
        edits = shown_p.edits if shown_p is not None else ()
        key = self.adapter.key
        prior = shown.prior_scores()
        lm = [self.cache.get(key, h.text) for h in shown.hypotheses]
        clean_lm = [self.cache.get(key, h.text) for h in clean.hypotheses]
        combined, ranks = _ranks(shown, lm, self.combination)
        _, clean_ranks = _ranks(clean, clean_lm, self.combination)
        ref = clean.reference
        ref_words = reference_length(ref) if ref is not None else None
        errs = [self.errors(ref, h.text) for h in shown.hypotheses]
        clean_errs = [self.errors(ref, h.text) for h in clean.hypotheses]

        def wer(e: int | None) -> float | None:
            if e is None or not ref_words:
                return None
            return e / ref_words

        best = min((e for e in errs if e is not None), default=None)
        changed = {e.hypothesis for e in edits}
        rows = []
        for i, h in enumerate(shown.hypotheses):
            rows.append(Row(
                index=i, text=h.text, diff=word_diff(ref, h.text), first_pass_score=h.score, prior=prior[i],
                lm=lm[i], combined=None if combined is None else combined[i], errors=errs[i], wer=wer(errs[i]),
                new_rank=None if ranks is None else ranks[i],
                clean_rank=None if clean_ranks is None else clean_ranks[i],
                perturbed=i in changed, edits=tuple(e for e in edits if e.hypothesis == i),
                oracle=best is not None and errs[i] == best))
        chosen = None if ranks is None else ranks.index(0)
        clean_chosen = None if clean_ranks is None else clean_ranks.index(0)
        clean_best = min((e for e in clean_errs if e is not None), default=None)
        return UtteranceView(
            utterance=shown, clean=clean, rows=tuple(rows), lam=self.lam,
            complete=ranks is not None and clean_ranks is not None, reference_words=ref_words,
            chosen=chosen, clean_chosen=clean_chosen,
            wer=None if chosen is None else wer(errs[chosen]),
            oracle_wer=wer(best),
            clean_wer=None if clean_chosen is None else wer(clean_errs[clean_chosen]),
            clean_oracle_wer=wer(clean_best),
            first_pass_wer=wer(clean_errs[0]) if clean_errs else None,
            edits=edits, pending=shown_p is None)

    def summary(self, position: int) -> UtteranceSummary:
        """The list line of utterance ``position``: rank flips and WER change of the rescored choice (clean lists)."""
        u = self.utterances[position]
        lm = [self.cache.get(self.adapter.key, h.text) for h in u.hypotheses]
        _, ranks = _ranks(u, lm, self.combination)
        if ranks is None or not u.hypotheses:
            return UtteranceSummary(u.id, position, None, None, None)
        chosen = ranks.index(0)
        flips = sum(r != i for i, r in enumerate(ranks))
        change = None
        ref_words = reference_length(u.reference) if u.reference is not None else 0
        if ref_words:
            e0 = self.errors(u.reference, u.hypotheses[0].text)
            ec = self.errors(u.reference, u.hypotheses[chosen].text)
            change = (ec - e0) / ref_words  # type: ignore[operator]
        return UtteranceSummary(u.id, position, flips, chosen != 0, change)

    def summaries(self) -> list[UtteranceSummary]:
        return [self.summary(k) for k in range(len(self.utterances))]

    def dataset_texts_to_score(self) -> list[str]:
        """Every clean hypothesis text of the data set the current adapter has not scored."""
        return self.cache.missing(self.adapter.key, [t for u in self.utterances for t in u.texts])


def matches(utt: Utterance, query: str) -> bool:
    """Search: the query is found in the utterance id, or its normalised words in the reference or a hypothesis."""
    q = query.strip().lower()
    if not q:
        return True
    if q in utt.id.lower():
        return True
    words = normalize(q)
    if not words:
        return False
    texts = [utt.reference or ""] + utt.texts
    return any(f" {words} " in f" {normalize(t)} " for t in texts)


def order(summaries: Sequence[UtteranceSummary], sort: str) -> list[UtteranceSummary]:
    """The list in one of :data:`SORTS`; utterances not scored yet go last, ties keep data-set order."""
    if sort == "order":
        return list(summaries)
    if sort == "flips":
        return sorted(summaries, key=lambda s: (s.flips is None, -(s.flips or 0), s.position))
    sign = 1 if sort == "wer-up" else -1
    return sorted(summaries, key=lambda s: (s.wer_change is None, sign * (s.wer_change or 0.0), s.position))


# ------------------------------------------------------------------------------------------------ data set NPRR


@dataclass(frozen=True)
class DatasetRobustness:
    """The data set's WER, oracle WER, ΔWER and NPRR for one adapter, λ and perturbation setting."""

    adapter_key: str
    lam: float
    settings: PerturbSettings
    modes: tuple[str, ...]
    report: Any                 # lorascope.core.robustness.RobustnessReport
    new_scores: dict[str, float]


def dataset_robustness(utterances: Sequence[Utterance], scorer: Scorer, known: dict[str, float], lam: float,
                       settings: PerturbSettings, index: Any, *, base: Combination | None = None,
                       on_progress: Callable[[int, int], None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> DatasetRobustness:
    """Run core's robustness evaluation with cached LM scores; perturbation off means both perturb-1 and perturb-N."""
    from lorascope.core.combine import combined_scores
    from lorascope.core.robustness import evaluate_robustness

    combination = (base or scorer.tuned_combination).with_lam(lam)
    modes = ("1", "N") if settings.mode == "off" else (settings.mode,)
    scores = dict(known)
    new: dict[str, float] = {}
    hyps = sum(len(u.hypotheses) for u in utterances)
    total = hyps * (1 + len(modes))
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if on_progress:
            on_progress(min(done, total), total)

    def rescore(lists: list[Utterance]) -> list[list[float]]:
        texts = [t for u in lists for t in u.texts]
        missing = list(dict.fromkeys(t for t in texts if t not in scores))
        advance(len(texts) - len(missing))
        got = scorer.score(missing, on_chunk=advance, should_stop=should_stop)
        fresh = dict(zip(missing, got))
        scores.update(fresh)
        new.update(fresh)
        return combined_scores(lists, [[scores[t] for t in u.texts] for u in lists], combination)

    report = evaluate_robustness(list(utterances), rescore, modes=modes, p=settings.p, seeds=(settings.seed,),
                                 model=settings.model, index=index)
    return DatasetRobustness(scorer.choice.key, lam, settings, modes, report, new)


def fmt_pct(x: float | None, digits: int = 1, signed: bool = False) -> str:
    """A fraction as percent; '–' for unknown, '∞' for an infinite NPRR."""
    return pct(x, digits, signed=signed, missing="–", infinity="∞")

"""What the inspect screen shows of one utterance, computed without Textual: cached LM scores and rescored rows.

The screen keeps one :class:`Inspector`, changed only on the main thread; workers load utterances from the
store, score what the cache lacks and hand the results back, and :meth:`Inspector.view` builds the rows again.
LM scores are cached per (adapter, hypothesis text): moving λ only recombines cached numbers, and a perturbation
rescores only the hypotheses whose text changed. The data set as a whole (the utterance list) lives in
:mod:`.listing`; only the utterances looked at are held here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lorascope.core.combination.tune import Combination, new_ranks, training_combination
from lorascope.core.fmt import pct
from lorascope.core.data.metrics import delta_wer, reference_length, word_errors
from lorascope.core.data.nbest import Utterance

from .adapters import BARE, AdapterChoice, Scorer, lambda_steps
from .diff import DiffToken, word_diff
from .perturbation import ManualEdit, Perturbed, PerturbSettings, perturb_key
from .tuning import TunedHere, incompatibility

#: Utterances (and perturbed versions) kept in memory; the rest stay in the store.
KEEP = 256


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
        return [t for t in dict.fromkeys(texts) if t not in have]

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_adapter.values())




class Recent(OrderedDict):
    """A dict that forgets its oldest entries beyond ``keep``."""

    def __init__(self, keep: int = KEEP) -> None:
        super().__init__()
        self.keep = keep

    def remember(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.keep:
            self.popitem(last=False)


# ------------------------------------------------------------------------------------------------ views


@dataclass(frozen=True)
class Row:
    """One hypothesis as the N-best table shows it (``index`` is its first-pass rank: its place in the list)."""

    index: int
    text: str
    diff: tuple[DiffToken, ...]
    first_pass_score: float | None
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
    first_pass_wer: float | None  # WER of hypothesis 0, the first pass's choice
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
        return delta_wer(self.wer, self.oracle_wer)

    @property
    def clean_delta_wer(self) -> float | None:
        if self.clean_wer is None or self.clean_oracle_wer is None:
            return None
        return delta_wer(self.clean_wer, self.clean_oracle_wer)


def _ranks(utt: Utterance, lm: Sequence[float | None], combination: Combination) -> tuple[list[float] | None,
                                                                                          list[int] | None]:
    if any(s is None for s in lm):
        return None, None
    combined = combination.scores(utt, [float(s) for s in lm])  # type: ignore[arg-type]
    return combined, new_ranks(combined)


@dataclass
class Inspector:
    """The state behind the inspect screen: data set, current utterance, adapter, λ, perturbation and caches."""

    cache: ScoreCache = field(default_factory=ScoreCache)
    dataset: str | None = None
    size: int = 0                          # utterances in the data set
    position: int = 0                      # the current utterance's place in the data set
    adapter: AdapterChoice = BARE
    scorer: Scorer | None = None
    base: Combination = field(default_factory=lambda: training_combination(1.0))   # first-pass part; λ below
    lam: float = 1.0
    lam_grid: list[float] = field(default_factory=lambda: [1.0])
    combination_known: bool = False        # base and λ belong to the current adapter
    tuned: TunedHere | None = None         # a combination tuned on this data set (T / K) for this adapter
    notice: str | None = None              # why ranks are not shown: the set lacks a feature the combination weighs
    settings: PerturbSettings = field(default_factory=PerturbSettings)
    manual: list[ManualEdit] = field(default_factory=list)
    loaded: Recent = field(default_factory=Recent)        # position -> Utterance
    _perturbed: Recent = field(default_factory=Recent)    # perturb key -> Perturbed

    # -- set-up -----------------------------------------------------------------------------------------

    def set_dataset(self, name: str, size: int) -> None:
        self.tuned = None
        self.dataset = name
        self.size = size
        self.position = 0
        self.manual = []
        self.loaded.clear()
        self._perturbed.clear()

    def set_adapter(self, choice: AdapterChoice) -> None:
        """Make ``choice`` current before its model is loaded: where the store holds its tuned combination, stored
        LM scores can be shown at once (λ moves once the model is loaded and knows its training λ)."""
        self.adapter = choice
        self.tuned = None
        found = choice.stored_combination()
        self.combination_known = found is not None
        if found is not None:
            self.base, self.lam, self.lam_grid = found, found.lam, [found.lam]

    def set_scorer(self, scorer: Scorer) -> None:
        """Make ``scorer`` current and put λ at its tuned value."""
        self.scorer = scorer
        self.adapter = scorer.choice
        self.base = scorer.tuned_combination
        self.combination_known = True
        self.lam = self.base.lam
        self.lam_grid = lambda_steps(scorer.trained_lam, self.lam)

    @property
    def combination(self) -> Combination:
        """The combination as shown: the tuned one at the current λ."""
        return self.base.with_lam(self.lam)

    def combination_for(self, utt: Utterance) -> Combination:
        """The combination an utterance is shown with: one tuned on this set (T / K), else the adapter's."""
        if self.tuned is not None and self.tuned.adapter_key == self.adapter.key and self.tuned.dataset == self.dataset:
            return self.tuned.for_utterance(utt.id)
        return self.combination

    def set_tuned(self, tuned: TunedHere) -> None:
        self.tuned = tuned
        self.base, self.lam, self.lam_grid = tuned.combination, tuned.combination.lam, [tuned.combination.lam]
        self.combination_known = True

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

    # -- the current utterance --------------------------------------------------------------------------

    def move_to(self, position: int) -> None:
        """Pick another utterance; hand-made swaps belong to the one they were made on and are dropped."""
        self.position = position
        self.manual = []

    def utterance(self) -> Utterance | None:
        """The current utterance, or None while it is being read from the store."""
        return self.loaded.get(self.position) if self.size else None

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

    def perturb_key(self, utt: Utterance | None = None) -> tuple | None:
        """What the shown version of ``utt`` depends on; None when it is shown unperturbed."""
        utt = utt or self.utterance()
        return None if utt is None else perturb_key(utt.id, self.settings, self.manual)

    def perturbed(self, utt: Utterance | None = None) -> Perturbed | None:
        """The current utterance as shown; None while its perturbation is being computed."""
        utt = utt or self.utterance()
        if utt is None:
            return None
        key = self.perturb_key(utt)
        if key is None:
            return Perturbed(utt, ())
        return self._perturbed.get(key)

    def store_perturbed(self, key: tuple, result: Perturbed) -> None:
        self._perturbed.remember(key, result)

    def texts_to_score(self, utt: Utterance | None = None, shown: Perturbed | None = None) -> list[str]:
        """Texts of the current utterance (clean and shown) that the current adapter has not scored yet."""
        utt = utt or self.utterance()
        if utt is None:
            return []
        shown = shown or self.perturbed(utt)
        texts = utt.texts + (shown.utterance.texts if shown is not None else [])
        return self.cache.missing(self.adapter.key, texts)

    # -- views ------------------------------------------------------------------------------------------

    def view(self) -> UtteranceView | None:
        """The rows of the current utterance as shown (perturbed when perturbation is on)."""
        clean = self.utterance()
        if clean is None:
            return None
        shown_p = self.perturbed(clean)
        shown = shown_p.utterance if shown_p is not None else clean
        edits = shown_p.edits if shown_p is not None else ()
        key = self.adapter.key
        lm = [self.cache.get(key, h.text) for h in shown.hypotheses]
        clean_lm = [self.cache.get(key, h.text) for h in clean.hypotheses]
        unknown: tuple[None, None] = (None, None)   # the adapter's combination comes with its model
        combination = self.combination_for(clean)
        self.notice = None
        if self.combination_known:
            self.notice = incompatibility(self.dataset or "this set", self.adapter.short, combination, clean)
        known = self.combination_known and self.notice is None
        combined, ranks = _ranks(shown, lm, combination) if known else unknown
        _, clean_ranks = _ranks(clean, clean_lm, combination) if known else unknown
        ref = clean.reference
        ref_words = reference_length(ref) if ref is not None else None
        # core's word_errors counts each (reference, text) pair once and remembers it
        errs = [None if ref is None else word_errors(ref, h.text) for h in shown.hypotheses]
        clean_errs = [None if ref is None else word_errors(ref, h.text) for h in clean.hypotheses]

        def wer(e: int | None) -> float | None:
            if e is None or not ref_words:
                return None
            return e / ref_words

        best = min((e for e in errs if e is not None), default=None)
        changed = {e.hypothesis for e in edits}
        rows = []
        for i, h in enumerate(shown.hypotheses):
            rows.append(Row(
                index=i, text=h.text, diff=word_diff(ref, h.text), first_pass_score=h.score,
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
            first_pass_wer=wer(clean_errs[clean.first_pass_index]) if clean_errs else None,
            edits=edits, pending=shown_p is None)


def fmt_pct(x: float | None, digits: int = 1, signed: bool = False) -> str:
    """A fraction as percent; '–' for unknown, '∞' for an infinite NPRR."""
    return pct(x, digits, signed=signed, missing="–", infinity="∞")

"""The inspect screen: one utterance's N-best list rescored by a chosen adapter, live λ, perturbation and word swaps.

Slow work runs in thread workers that post messages back: loading a data set, loading an adapter (torch and
transformers are imported there, never before the first screen), scoring the hypotheses the cache lacks,
scoring the whole data set for the list's columns, and the data set's NPRR. State lives in one
:class:`~lorascope.tui.inspector.Inspector`, changed only on the main thread.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, ProgressBar, Static
from textual.worker import get_current_worker

from lorascope.store import Store

from ..diff import diff_text
from ..inspector import (BARE, MODE_NAMES, PERTURB_MODES, SORT_NAMES, SORTS, AdapterChoice, Cancelled,
                         DatasetRobustness, Inspector, ManualEdit, Perturbed, PerturbSettings, Scorer,
                         adapter_choices, dataset_robustness, default_choice, fmt_pct, load_scorer, matches, order,
                         perturb_utterance)
from ..widgets.nbest_table import NbestTable
from ..widgets.perturb_bar import PerturbBar
from ..widgets.utterance_list import UtteranceList
from .dialogs import ChoiceScreen, InputScreen, WordSwapScreen

EMPTY_STORE = """[b]The store is empty.[/b]

lorascope looks at N-best lists and the rescorers trained on them.
To get started:

  [b]lorascope import FILE[/b]
      load N-best lists (JSONL, HyPoradise, mlm-scoring, NeMo TSV)
  [b]lorascope train --strategy lora[/b]
      train a LoRA rescorer on them (headless, with a progress bar)
  [b]lorascope[/b]
      come back here to look inside

Store: {path}
Press [b]q[/b] to quit, [b]?[/b] for help."""


#: How long the N-best table waits for a worker before it redraws with … for the values still missing.
PENDING_DELAY = 0.15


def index_loader():
    """The phonetic index (built into the user cache on first use)."""
    from lorascope.core.phonetics import load_index

    return load_index()


def pick_dataset(names: list[str], choice: AdapterChoice) -> str | None:
    """The adapter's test set, else a sample test/dev set, else the first data set."""
    for name in (choice.test_dataset, "sample-test", "sample-dev", choice.dev_dataset):
        if name and name in names:
            return name
    return names[0] if names else None


# ---------------------------------------------------------------------------------------------- messages


class DatasetLoaded(Message):
    def __init__(self, name: str, utterances: list, stored: dict[str, dict[str, float]]) -> None:
        super().__init__()
        self.name = name
        self.utterances = utterances
        self.stored = stored  # adapter key -> {text: LM score} read from the store


class AdapterLoaded(Message):
    def __init__(self, scorer: Scorer | None, choice: AdapterChoice, error: str | None = None) -> None:
        super().__init__()
        self.scorer = scorer
        self.choice = choice
        self.error = error


class ScoresReady(Message):
    """LM scores for one adapter; ``perturbed`` is the shown version of an utterance, when one was computed."""

    def __init__(self, adapter_key: str, scores: dict[str, float], *, token: int = 0, final: bool = True,
                 perturb_key: tuple | None = None, perturbed: Perturbed | None = None,
                 kind: str = "current", error: str | None = None) -> None:
        super().__init__()
        self.adapter_key = adapter_key
        self.scores = scores
        self.token = token
        self.final = final
        self.perturb_key = perturb_key
        self.perturbed = perturbed
        self.kind = kind
        self.error = error


class Progress(Message):
    def __init__(self, job: str, done: int, total: int) -> None:
        super().__init__()
        self.job = job
        self.done = done
        self.total = total


class RobustnessDone(Message):
    def __init__(self, result: DatasetRobustness | None, error: str | None = None) -> None:
        super().__init__()
        self.result = result
        self.error = error


class IndexReady(Message):
    def __init__(self, error: str | None = None) -> None:
        super().__init__()
        self.error = error


# ---------------------------------------------------------------------------------------------- screen


class InspectScreen(Screen):
    """Utterance list, N-best table, perturb panel."""

    AUTO_FOCUS = "#nbest"  # the search field takes focus only on /
    BINDINGS = [
        Binding("a", "pick_adapter", "Adapter"),
        Binding("d", "pick_dataset", "Data", show=False),
        Binding("plus,equals_sign", "lam(1)", "λ", key_display="+/-"),
        Binding("minus", "lam(-1)", "λ-", show=False),
        Binding("0", "lam_reset", "tuned λ", show=False),
        Binding("m", "cycle_mode", "Perturb"),
        Binding("r", "reroll", "Reroll"),
        Binding("w", "swap_word", "Swap"),
        Binding("x", "clear_swaps", "Undo swaps", show=False),
        Binding("left_square_bracket", "p_down", "p-", show=False),
        Binding("right_square_bracket", "p_up", "p+", show=False),
        Binding("p", "edit_settings", "p/seed", show=False),
        Binding("c", "dataset_nprr", "NPRR"),
        Binding("s", "cycle_sort", "Sort", show=False),
        Binding("slash", "search", "Search", show=False),
        Binding("o", "toggle_order", "Order", show=False),
        Binding("e", "export", "Export", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.inspector = Inspector()
        self.choices: list[AdapterChoice] = [BARE]
        self.datasets: list[str] = []
        self.scorers: dict[str, Scorer] = {}
        self.query_text = ""
        self.sort = SORTS[0]
        self.robustness: DatasetRobustness | None = None
        self.robustness_running = False
        self.status = ""
        self._token = 0
        self._list_timer = None
        #: (token, perf_counter) of the last table shown with every LM score known; the benchmark reads it.
        self.rendered: tuple[int, float] = (0, 0.0)
        self.requested: int = 0

    # -- layout ----------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Store(self.db_path) as store:
            self.datasets = [d.name for d in store.datasets()]
            self.choices = adapter_choices(store.runs())
        yield Static(id="context")
        if not self.datasets:  # nothing focusable, so the app's keys (q, 2, ?) stay live
            yield Static(EMPTY_STORE.format(path=self.db_path), id="empty")
            yield Footer(compact=True)
            return
        with Container(id="body"):
            yield UtteranceList(id="utt-pane")
            with Vertical(id="utt-detail"):
                yield Static(id="reference")
                yield PerturbBar(id="perturb")
                yield ProgressBar(id="progress", show_eta=False)
                yield NbestTable(id="nbest")
                yield Static(id="hyp-detail")
                yield Static(id="hint")
        yield Footer(compact=True)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """An empty store has nothing to inspect: its keys are hidden and inactive."""
        return bool(self.datasets)

    @property
    def db_path(self) -> Path:
        return self.app.db_path  # type: ignore[attr-defined]

    @property
    def nbest(self) -> NbestTable:
        return self.query_one(NbestTable)

    @property
    def utt_list(self) -> UtteranceList:
        return self.query_one(UtteranceList)

    def on_mount(self) -> None:
        if not self.datasets:
            self.query_one("#context", Static).update(Text.assemble((" Inspect ", "bold reverse"), " empty store"))
            return
        self.query_one("#progress").display = False
        choice = default_choice(self.choices)
        self.inspector.adapter = choice
        hint = self.query_one("#hint", Static)
        hint.display = not any(not c.is_bare for c in self.choices)
        hint.update("No trained rescorers yet: [b]lorascope train --strategy lora[/b] makes one. "
                    "Until then the bare backbone shows the first-pass order; perturbation works on it too.")
        name = pick_dataset(self.datasets, choice)
        assert name is not None
        self.load_dataset(name)
        self.load_adapter(choice)
        self.warm_index()
        self.render_context()

    # -- rendering -------------------------------------------------------------------------------------

    def render_context(self) -> None:
        ins = self.inspector
        utt = ins.utterance()
        parts = [Text(" Inspect ", style="bold reverse")]
        if ins.dataset:
            pos = f" {ins.current + 1}/{len(ins.utterances)}" if ins.utterances else ""
            parts.append(Text(f" {ins.dataset}{pos}", style="bold"))
        if utt is not None:
            parts.append(Text(f" {utt.id}"))
        parts.append(Text(" │ "))
        parts.append(Text(ins.adapter.short, style="bold"))
        if ins.adapter.is_bare:
            pass  # λ has nothing to weigh: every LM score is 0
        elif not ins.ready:
            parts.append(Text(" loading…", style="yellow"))
        else:
            parts.append(Text(f" λ {ins.lam:.3g}"))
            if abs(ins.lam - ins.scorer.tuned_lam) > 1e-9:  # type: ignore[union-attr]
                parts.append(Text(f" (tuned {ins.scorer.tuned_lam:.3g})", style="dim"))  # type: ignore[union-attr]
        if self.status:
            parts.append(Text(f" │ {self.status}", style="dim"))
        self.query_one("#context", Static).update(Text.assemble(*parts, no_wrap=True, overflow="ellipsis"))

    def render_current(self) -> None:
        """Show the current utterance from what is known now (missing LM scores show as …)."""
        ins = self.inspector
        view = ins.view()
        self.nbest.show(view)
        ref = Text("ref ", style="dim")
        if view is not None:
            ref.append(view.clean.reference if view.clean.reference is not None else "(no reference)")
        self.query_one("#reference", Static).update(ref)
        self.query_one(PerturbBar).show(ins.settings, view, self.nprr_text(), len(ins.manual))
        self.render_detail()
        self.render_context()
        if view is not None and view.complete and not view.pending:
            self.rendered = (self.requested, time.perf_counter())

    def render_detail(self) -> None:
        row = self.nbest.highlighted_row()
        detail = self.query_one("#hyp-detail", Static)
        if row is None:
            detail.update("")
            return
        text = Text(f"#{row.index} ", style="bold")
        if row.new_rank is not None:
            text.append(f"→ {row.new_rank}  ", style="bold")
        if row.edits:
            text.append("swapped ", style="dim")
            for e in row.edits:
                text.append(f"{e.old}→{e.new}", style="magenta")
                text.append(f" {e.kind}, ", style="dim")
            text.append("now: ", style="dim")
        text.append_text(diff_text(row.diff, show_reference=True))
        detail.update(text)

    def nprr_text(self) -> str:
        """The data set's NPRR for the current adapter, λ and perturbation, or how to get it."""
        r = self.robustness
        if self.robustness_running:
            return "…"
        if r is None:
            return "[dim](c)[/]"
        if not self.robustness_is_current():
            return "[dim]stale (c)[/]"
        if len(r.modes) == 1:
            return f"{fmt_pct(r.report.summaries[0].nprr_mean, 1)}%"
        return " ".join(f"p-{s.mode} {fmt_pct(s.nprr_mean, 1)}%" for s in r.report.summaries)

    def robustness_is_current(self) -> bool:
        """The stored NPRR was computed with this adapter, λ, p, seed and mode (off: both modes)."""
        r, ins = self.robustness, self.inspector
        if r is None or r.adapter_key != ins.adapter.key or abs(r.lam - ins.lam) > 1e-12:
            return False
        s = ins.settings
        if (r.settings.p, r.settings.seed) != (s.p, s.seed):
            return False
        return s.mode in r.modes if s.mode != "off" else len(r.modes) == 2

    def refresh_list(self) -> None:
        """Rebuild the utterance list (filter, summaries, order)."""
        self._list_timer = None
        ins = self.inspector
        if not ins.utterances:
            return
        summaries = [s for s in ins.summaries() if matches(ins.utterances[s.position], self.query_text)]
        refs = {s.position: ins.utterances[s.position].reference or "" for s in summaries}
        self.utt_list.show(order(summaries, self.sort), refs, ins.current)

    def schedule_list_refresh(self, delay: float = 0.2) -> None:
        """Refresh the list soon, once: λ keys and scoring chunks come in bursts."""
        if self._list_timer is not None:
            self._list_timer.stop()
        self._list_timer = self.set_timer(max(delay, 0.01), self.refresh_list)

    # -- requests --------------------------------------------------------------------------------------

    def request_current(self) -> None:
        """Show the current utterance, computing what it still lacks (perturbation, LM scores) in a worker.

        When a worker is needed the screen stays as it is for up to :data:`PENDING_DELAY` seconds: a fast
        answer then changes it in one redraw, and no interim redraw (with … for the missing values) competes
        with the scoring thread for the CPU and the GIL.
        """
        ins = self.inspector
        self._token += 1
        self.requested = self._token
        utt = ins.utterance()
        key = ins.perturb_key(utt) if utt is not None else None
        need_perturb = key is not None and ins.perturbed(utt) is None
        missing = ins.texts_to_score(utt) if ins.ready and utt is not None else []
        if utt is None or not (need_perturb or missing):
            self.render_current()
            return
        self.score_current(self._token, utt, key, ins.settings, tuple(ins.manual),
                           ins.scorer if ins.ready else None, missing)
        token = self._token
        self.set_timer(PENDING_DELAY, lambda: self._render_if_pending(token))

    def _render_if_pending(self, token: int) -> None:
        if token == self._token and self.rendered[0] != token:
            self.render_current()

    @work(thread=True, exclusive=True, group="current", exit_on_error=False)
    def score_current(self, token: int, utt, perturb_key, settings: PerturbSettings, manual: tuple,
                      scorer: Scorer | None, missing: list[str]) -> None:
        worker = get_current_worker()
        perturbed = None
        try:
            if perturb_key is not None:
                perturbed = perturb_utterance(utt, settings, manual, index_loader())
                if scorer is not None:
                    cache, key = self.inspector.cache, scorer.choice.key
                    missing = list(dict.fromkeys(
                        missing + [t for t in perturbed.utterance.texts if cache.get(key, t) is None]))
            scores: dict[str, float] = {}
            if scorer is not None and missing:
                scores = dict(zip(missing, scorer.score(missing, should_stop=lambda: worker.is_cancelled)))
        except Cancelled:
            return
        except Exception as exc:  # shown, never fatal
            self.post_message(ScoresReady(scorer.choice.key if scorer else "", {}, token=token,
                                          error=f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(ScoresReady(scorer.choice.key if scorer else self.inspector.adapter.key, scores,
                                      token=token, perturb_key=perturb_key, perturbed=perturbed))

    @work(thread=True, exclusive=True, group="dataset", exit_on_error=False)
    def score_dataset(self, scorer: Scorer, texts: list[str]) -> None:
        """Clean LM scores of the whole data set, for the list's flips and ΔWER columns."""
        worker = get_current_worker()
        done = 0
        step = 64
        for start in range(0, len(texts), step):
            if worker.is_cancelled:
                return
            part = texts[start:start + step]
            try:
                got = scorer.score(part, should_stop=lambda: worker.is_cancelled)
            except Cancelled:
                return
            except Exception as exc:
                self.post_message(ScoresReady(scorer.choice.key, {}, kind="dataset",
                                              error=f"{type(exc).__name__}: {exc}"))
                return
            done += len(part)
            self.post_message(ScoresReady(scorer.choice.key, dict(zip(part, got)), kind="dataset",
                                          final=done >= len(texts)))
            self.post_message(Progress("scoring data set", done, len(texts)))

    @work(thread=True, exclusive=True, group="load-data", exit_on_error=False)
    def load_dataset(self, name: str) -> None:
        with Store(self.db_path) as store:
            utts = store.load_dataset(name)
            stored: dict[str, dict[str, float]] = {}
            for c in self.choices:
                if c.run_id is None:
                    continue
                rows = store.scores(c.run_id, name)
                if rows:
                    stored[c.key] = {r["text"]: r["lm_score"] for r in rows}
        self.post_message(DatasetLoaded(name, utts, stored))

    @work(thread=True, exclusive=True, group="adapter", exit_on_error=False)
    def load_adapter(self, choice: AdapterChoice) -> None:
        if choice.key in self.scorers:
            self.post_message(AdapterLoaded(self.scorers[choice.key], choice))
            return
        try:
            scorer = load_scorer(choice)
        except Exception as exc:
            self.post_message(AdapterLoaded(None, choice, f"{type(exc).__name__}: {exc}".splitlines()[0]))
            return
        self.post_message(AdapterLoaded(scorer, choice))

    @work(thread=True, exclusive=True, group="index", exit_on_error=False)
    def warm_index(self) -> None:
        """Load the phonetic index, and g2p with it, so the first perturbation does not wait for them."""
        try:
            index = index_loader()
            index.pronunciations("qxzvbrt")  # an out-of-vocabulary word loads the g2p model now
        except Exception as exc:
            self.post_message(IndexReady(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(IndexReady())

    @work(thread=True, exclusive=True, group="nprr", exit_on_error=False)
    def run_robustness(self, utts: list, scorer: Scorer, known: dict[str, float], lam: float,
                       settings: PerturbSettings) -> None:
        worker = get_current_worker()
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] > 0.1 or done >= total:
                last[0] = now
                self.post_message(Progress("data set NPRR", done, total))

        try:
            result = dataset_robustness(utts, scorer, known, lam, settings, index_loader(),
                                        on_progress=progress, should_stop=lambda: worker.is_cancelled)
        except Cancelled:
            return
        except Exception as exc:
            self.post_message(RobustnessDone(None, f"{type(exc).__name__}: {exc}".splitlines()[0]))
            return
        self.post_message(RobustnessDone(result))

    # -- message handlers ------------------------------------------------------------------------------

    def on_dataset_loaded(self, message: DatasetLoaded) -> None:
        ins = self.inspector
        ins.set_dataset(message.name, message.utterances)
        for key, scores in message.stored.items():
            ins.cache.put(key, scores)
        self.robustness = None
        self.refresh_list()
        self.request_current()
        self.start_dataset_scoring()

    def on_adapter_loaded(self, message: AdapterLoaded) -> None:
        ins = self.inspector
        if message.choice.key != ins.adapter.key:
            return  # the user moved on to another adapter meanwhile
        if message.scorer is None:
            self.status = f"cannot load {message.choice.short}: {message.error}"
            self.notify(f"{message.choice.label}: {message.error}", title="adapter not loaded", severity="error")
            self.render_context()
            return
        self.scorers[message.choice.key] = message.scorer
        while len(self.scorers) > 3:  # keep a few loaded adapters for quick switching back
            self.scorers.pop(next(k for k in self.scorers if k != message.choice.key))
        ins.set_scorer(message.scorer)
        self.request_current()
        self.start_dataset_scoring()
        self.schedule_list_refresh(0)

    def start_dataset_scoring(self) -> None:
        ins = self.inspector
        if not ins.ready or not ins.utterances:
            return
        texts = ins.dataset_texts_to_score()
        if texts:
            self.score_dataset(ins.scorer, texts)

    def on_scores_ready(self, message: ScoresReady) -> None:
        ins = self.inspector
        if message.error:
            self.notify(message.error, title="scoring failed", severity="error")
            return
        ins.cache.put(message.adapter_key, message.scores)
        if message.perturb_key is not None and message.perturbed is not None:
            ins.store_perturbed(message.perturb_key, message.perturbed)
        if message.kind == "current":
            self.render_current()  # an older request's scores are shown too: they are still correct
            utt = ins.utterance()
            if message.adapter_key == ins.adapter.key and utt is not None and \
                    any(t in message.scores for t in utt.texts):  # the list shows clean lists only
                self.schedule_list_refresh()
        else:
            if message.final:
                self.query_one("#progress").display = self.robustness_running
                self.refresh_list()
            utt = ins.utterance()
            if utt is not None and message.adapter_key == ins.adapter.key and \
                    any(t in message.scores for t in utt.texts):
                self.render_current()

    def on_progress(self, message: Progress) -> None:
        bar = self.query_one("#progress", ProgressBar)
        bar.display = message.done < message.total or self.robustness_running
        bar.update(total=message.total, progress=message.done)
        self.status = f"{message.job} {message.done}/{message.total}" if message.done < message.total else ""
        self.render_context()

    def on_robustness_done(self, message: RobustnessDone) -> None:
        self.robustness_running = False
        self.query_one("#progress").display = False
        self.status = ""
        if message.result is None:
            self.notify(message.error or "failed", title="data set NPRR", severity="error")
        else:
            self.robustness = message.result
            self.inspector.cache.put(message.result.adapter_key, message.result.new_scores)
            r = message.result.report
            lines = [f"clean ΔWER {fmt_pct(r.clean.delta_wer, 2)}"]
            for s in r.summaries:
                lines.append(f"{MODE_NAMES[s.mode]}: ΔWER {fmt_pct(s.delta_wer_mean, 2)}  NPRR "
                             f"{fmt_pct(s.nprr_mean, 2)}%  flips {fmt_pct(s.flip_rate_mean, 1)}%")
            self.notify("\n".join(lines), title=f"{self.inspector.dataset}: NPRR", timeout=8)
        self.render_current()

    def on_index_ready(self, message: IndexReady) -> None:
        if message.error:
            self.notify(message.error, title="phonetic index", severity="error")

    def on_utterance_list_picked(self, message: UtteranceList.Picked) -> None:
        ins = self.inspector
        if message.position == ins.current or message.position >= len(ins.utterances):
            return
        ins.current = message.position
        ins.manual = []
        self.request_current()

    def on_utterance_list_searched(self, message: UtteranceList.Searched) -> None:
        self.query_text = message.query
        self.refresh_list()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.nbest:
            self.render_detail()

    # -- actions ---------------------------------------------------------------------------------------

    def action_pick_adapter(self) -> None:
        with Store(self.db_path) as store:  # runs trained while the app is open appear too
            self.choices = adapter_choices(store.runs())
        options = [(c.key, c.label) for c in self.choices]

        def chosen(key: str | None) -> None:
            if key is not None:
                self.select_adapter(key)

        self.app.push_screen(ChoiceScreen("adapter", options, self.inspector.adapter.key,
                                          note="runs with an adapter, newest first"), chosen)

    def select_adapter(self, key: str) -> None:
        choice = next((c for c in self.choices if c.key == key), None)
        if choice is None or choice.key == self.inspector.adapter.key:
            return
        self.inspector.adapter = choice
        self.status = ""
        self.robustness = None
        if choice.key in self.scorers:
            self.inspector.set_scorer(self.scorers[choice.key])
            self.request_current()
            self.start_dataset_scoring()
            self.schedule_list_refresh(0)
        else:
            self.request_current()
            self.load_adapter(choice)

    def action_pick_dataset(self) -> None:
        def chosen(name: str | None) -> None:
            if name is not None and name != self.inspector.dataset:
                self.load_dataset(name)

        self.app.push_screen(ChoiceScreen("data set", [(n, n) for n in self.datasets], self.inspector.dataset),
                             chosen)

    def action_lam(self, direction: int) -> None:
        ins = self.inspector
        if not ins.ready or ins.adapter.is_bare:
            self.notify("λ has no effect: every LM score is 0" if ins.adapter.is_bare else "the adapter is loading",
                        timeout=2)
            return
        self._token += 1
        self.requested = self._token
        ins.step_lam(direction)
        self.render_current()
        self.schedule_list_refresh()

    def action_lam_reset(self) -> None:
        self.inspector.reset_lam()
        self.render_current()
        self.schedule_list_refresh()

    def _settings_changed(self, dropped: bool) -> None:
        if dropped:
            self.notify("hand-made swaps dropped (new perturbation)", timeout=2)
        self.request_current()

    def action_cycle_mode(self) -> None:
        modes = PERTURB_MODES
        self.action_set_mode(modes[(modes.index(self.inspector.settings.mode) + 1) % len(modes)])

    def action_set_mode(self, mode: str) -> None:
        self._settings_changed(self.inspector.set_mode(mode))

    def action_p_down(self) -> None:
        self._settings_changed(self.inspector.step_p(-0.05))

    def action_p_up(self) -> None:
        self._settings_changed(self.inspector.step_p(0.05))

    def action_reroll(self) -> None:
        if self.inspector.settings.mode == "off":
            self.notify("perturbation is off: m turns it on", timeout=2)
            return
        self._settings_changed(self.inspector.reroll())

    def action_edit_settings(self) -> None:
        ins = self.inspector

        def done(value: str | None) -> None:
            if value is None:
                return
            try:
                p_text, seed_text = value.split()
                p, seed = float(p_text), int(seed_text)
                if not 0 <= p <= 1:
                    raise ValueError
            except ValueError:
                self.notify(f"expected 'p seed' with p from 0 to 1, got {value!r}", severity="error")
                return
            mode = ins.settings.mode if ins.settings.mode != "off" else "N"
            self._settings_changed(ins.set_settings(PerturbSettings(mode, p, seed)))

        self.app.push_screen(InputScreen("perturbation: p and seed", f"{ins.settings.p:g} {ins.settings.seed}",
                                         note="e.g. 0.5 3 (turns perturb-N on when perturbation is off)"), done)

    def action_swap_word(self) -> None:
        ins = self.inspector
        view = ins.view()
        row = self.nbest.highlighted_row()
        if view is None or row is None:
            return
        if view.pending:
            self.notify("the perturbation is still being computed", timeout=2)
            return
        hypothesis = row.index

        def done(result) -> None:
            if result is None:
                return
            position, candidate = result
            ins.manual.append(ManualEdit(hypothesis, position, candidate))
            self.request_current()

        self.app.push_screen(WordSwapScreen(view.utterance, hypothesis, index_loader), done)

    def action_clear_swaps(self) -> None:
        if self.inspector.manual:
            self.inspector.manual = []
            self.request_current()

    def action_dataset_nprr(self) -> None:
        ins = self.inspector
        if not ins.utterances:
            return
        if not ins.ready:
            self.notify("the adapter is still loading", timeout=2)
            return
        if any(u.reference is None for u in ins.utterances):
            self.notify(f"{ins.dataset} has utterances without a reference: no WER, no NPRR", severity="warning")
            return
        self.robustness_running = True
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        modes = "perturb-1 and perturb-N" if ins.settings.mode == "off" else MODE_NAMES[ins.settings.mode]
        self.status = f"data set NPRR ({modes})…"
        self.render_current()
        self.run_robustness(list(ins.utterances), ins.scorer, dict(ins.cache.of(ins.adapter.key)), ins.lam,
                            ins.settings)

    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.notify(f"list sorted by {SORT_NAMES[self.sort]}", timeout=2)
        self.refresh_list()

    def action_search(self) -> None:
        self.utt_list.search.focus()

    def action_toggle_order(self) -> None:
        by_new = self.nbest.toggle_order()
        self.notify("rows by new rank" if by_new else "rows by first-pass rank", timeout=2)
        self.render_detail()

    def action_export(self) -> None:
        view = self.inspector.view()
        if view is None:
            return
        default = str(Path(self.app.export_dir) / f"nbest-{view.clean.id}.csv")  # type: ignore[attr-defined]

        def done(path: str | None) -> None:
            if path:
                written = export_nbest(Path(path).expanduser(), view, self.inspector)
                self.notify(f"wrote {written}", title="export", timeout=4)

        self.app.push_screen(InputScreen("export the N-best table to CSV", default), done)


def export_nbest(path: Path, view, inspector: Inspector) -> Path:
    """The N-best table as shown (full precision) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["utterance", "adapter", "lam", "perturbation", "first_pass_rank", "text", "first_pass_score",
                    "lm_score", "combined_score", "errors", "wer", "new_rank", "clean_rank", "perturbed"])
        for r in view.rows:
            w.writerow([view.clean.id, inspector.adapter.key, view.lam, inspector.settings.describe(), r.index,
                        r.text, r.first_pass_score, r.lm, r.combined, r.errors, r.wer, r.new_rank, r.clean_rank,
                        int(r.perturbed)])
    return path

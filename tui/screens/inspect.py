"""The inspect screen: one utterance's N-best list rescored by a chosen adapter, live λ, perturbation and word swaps,
over an utterance list of any length.

The screen composes widgets (tui/widgets/) and keeps the state (one :class:`~lorascope.tui.inspector.Inspector`,
the data set's arrays); workers (:mod:`.inspect_work`) do everything slow, every store read included, and post
their results back, handled here on the main thread.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from lorascope.store.browse import SearchState

from ..adapters import BARE, AdapterChoice, Scorer
from ..export import export_nbest
from ..inspector import Inspector
from ..listing import SORT_NAMES, SORTS, DatasetTable, ListFigures, TextIndex
from ..nprr import DatasetRobustness
from ..perturbation import DEFAULT_MODEL, MinedModels
from ..widgets.context_bar import ContextBar
from ..widgets.hypothesis_detail import HypothesisDetail
from ..widgets.job_progress import JobProgress
from ..widgets.nbest_table import NbestTable
from ..widgets.perturb_bar import PerturbBar
from ..widgets.utterance_list import UtteranceList
from .dialogs import InputScreen
from .inspect_compare import ComparePart
from .inspect_dataset import DatasetPart
from .inspect_extras import ExtrasPart
from .inspect_perturb import MINING, PerturbPart
from .inspect_tune import TunePart
from .inspect_work import InspectWork

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


class InspectScreen(ComparePart, DatasetPart, PerturbPart, ExtrasPart, TunePart, InspectWork, Screen):
    """Utterance list, N-best table, perturb panel."""

    AUTO_FOCUS = ""  # the utterance list takes focus once the store has been read; the search field only on /
    BINDINGS = [
        Binding("a", "pick_adapter", "Adapter"),
        Binding("d", "pick_dataset", "Data", show=False),
        Binding("plus,equals_sign", "lam(1)", "λ", key_display="+/-"),
        Binding("minus", "lam(-1)", "λ-", show=False),
        Binding("0", "lam_reset", "tuned λ", show=False),
        Binding("m", "cycle_mode", "Perturb"),
        Binding("M", "cycle_model", "Model"),
        Binding("r", "reroll", "Reroll"),
        Binding("w", "swap_word", "Swap"),
        Binding("x", "clear_swaps", "Undo swaps", show=False),
        Binding("left_square_bracket", "p_down", "p-", show=False),
        Binding("right_square_bracket", "p_up", "p+", show=False),
        Binding("p", "edit_settings", "p/seed", show=False),
        Binding("c", "dataset_nprr", "NPRR"),
        Binding("g", "score_dataset", "Score set", show=False),
        Binding("escape", "stop_jobs", "Stop", show=False),
        Binding("s", "cycle_sort", "Sort", show=False),
        Binding("slash", "search", "Search", show=False),
        Binding("o", "toggle_order", "Order", show=False),
        Binding("e", "export", "Export", show=False),
        Binding("E", "export_list", "Export list", show=False),
        Binding("y", "copy_hypothesis", "Copy hyp.", show=False),
        Binding("Y", "copy_reference", "Copy ref.", show=False),
        Binding("T", "tune_fraction", "Tune here", show=False),
        Binding("K", "cross_fit", "Cross-fit", show=False),
        Binding("b", "pick_adapter_b", "Adapter B", show=False),
        Binding("D", "disagreements", "A≠B lists", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.inspector = Inspector()
        self.choices: list[AdapterChoice] = [BARE]
        self.datasets: list[str] = []
        self.info = None                          # DatasetInfo of the data set shown
        self.scored_runs: frozenset[int] = frozenset()
        self.table: DatasetTable | None = None
        self.texts: TextIndex | None = None
        self.stored_lm: dict[int, np.ndarray] = {}
        self.figures: ListFigures | None = None
        self.scorers: dict[str, Scorer] = {}
        self.search_state: SearchState | None = None
        self.matches: int | None = None
        self.robustness: DatasetRobustness | None = None
        self.robustness_running = False
        self.nprr_token = 0                       # of the NPRR run asked for last; others' answers are stale
        self.mined = MinedModels()
        self.mining: str | None = None            # the training set being mined
        self.mining_token = 0                     # of the mining asked for last; others' answers are stale
        self.model_asked = DEFAULT_MODEL          # the model last asked for (M goes on from it)
        self.before_mined = DEFAULT_MODEL         # the model a mined one falls back to
        self.perturb_note = ""                    # why a model could not be used, in the perturb bar
        self.status = ""
        self._token = 0
        self._figures_timer = None
        self._warmed = False
        self._index_started = False
        #: (token, perf_counter) of the last table shown with every LM score known; the benchmark reads it.
        self.rendered: tuple[int, float] = (0, 0.0)
        self.requested: int = 0

    # -- layout ----------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield ContextBar(id="context")
        yield Static(EMPTY_STORE.format(path=self.db_path), id="empty")
        with Container(id="body"):
            yield UtteranceList(id="utt-pane")
            with Vertical(id="utt-detail"):
                yield Static(id="reference")
                yield PerturbBar(id="perturb")
                yield JobProgress(id="progress")
                yield NbestTable(id="nbest")
                yield HypothesisDetail(id="hyp-detail")
                yield Static(id="hint")
        yield Footer(compact=True)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """An empty store has nothing to inspect: its keys are hidden and inactive."""
        if action == "stop_jobs":
            jobs = self.query(JobProgress)
            return bool(jobs) and any(jobs.first().running(j) for j in ("scoring data set", "data set NPRR", MINING))
        return bool(self.datasets)

    @property
    def nbest(self) -> NbestTable:
        return self.query_one(NbestTable)

    @property
    def utt_list(self) -> UtteranceList:
        return self.query_one(UtteranceList)

    @property
    def jobs(self) -> JobProgress:
        return self.query_one(JobProgress)

    def on_unmount(self) -> None:
        self.remember_now()

    def on_mount(self) -> None:
        self.query_one("#empty").display = False
        self.query_one("#body").display = False
        self.query_one(ContextBar).show(self.inspector)
        self.read_store()

    # -- rendering -------------------------------------------------------------------------------------

    def render_context(self) -> None:
        self.query_one(ContextBar).show(self.inspector, status=self.status)

    def render_current(self) -> None:
        """Show the current utterance from what is known now (missing LM scores show as …)."""
        ins = self.inspector
        view = ins.view()
        self.render_context()
        if view is None:
            return  # still being read: the previous utterance stays until it arrives
        self.nbest.second, self.nbest.second_ranks = self.second is not None, self.second_ranks(view)
        self.nbest.show(view)
        self.show_notice()
        ref = Text("ref ", style="dim")
        ref.append(view.clean.reference if view.clean.reference is not None else "(no reference)")
        self.query_one("#reference", Static).update(ref)
        self.query_one(PerturbBar).show(ins.settings, view, self.nprr_text(), len(ins.manual),
                                        coming="mined" if self.mining else None, note=self.perturb_note)
        self.query_one(HypothesisDetail).show(self.nbest.highlighted_row())
        self.explain_perturbation(view)
        if view.complete and not view.pending:
            self.rendered = (self.requested, time.perf_counter())

    # -- the current utterance ---------------------------------------------------------------------------

    def request_current(self) -> None:
        """Show the current utterance, reading or computing what it still lacks in a worker.

        When a worker is needed the screen stays as it is for up to :data:`PENDING_DELAY` seconds: a fast
        answer then changes it in one redraw, and no interim redraw (with … for the missing values) competes
        with the worker for the CPU and the GIL.
        """
        ins = self.inspector
        self._token += 1
        self.requested = self._token
        if self.info is None or not ins.size:
            return
        utt = ins.utterance()
        perturbing = ins.settings.mode != "off" or bool(ins.manual)
        need_perturb = perturbing and (utt is None or ins.perturbed(utt) is None)
        stored = ins.adapter.run_id if ins.adapter.run_id in self.scored_runs else None
        missing = ins.texts_to_score(utt) if utt is not None else []
        if utt is not None and not need_perturb and not (missing and (ins.ready or stored is not None)):
            self.render_current()
            return
        key = ins.adapter.key
        self.prepare_current(self._token, self.info.id, ins.position, utt, key,
                             stored if missing or utt is None else None, ins.scorer if ins.ready else None,
                             ins.cache.of(key).__contains__, need_perturb, ins.settings, tuple(ins.manual),
                             self.perturbation_model())
        token = self._token
        self.set_timer(PENDING_DELAY, lambda: self._render_if_pending(token))

    def _render_if_pending(self, token: int) -> None:
        if token == self._token and self.rendered[0] != token:
            self.render_current()

    def _on_current(self, ready, stopped: bool = False) -> None:
        ins = self.inspector
        if ready is None:
            return
        ins.loaded.remember(ready.position, ready.utterance)
        ins.cache.put(ready.adapter_key, ready.scores)
        if ready.perturbed is not None and ready.perturb_key is not None:
            ins.store_perturbed(ready.perturb_key, ready.perturbed)
        if ready.position == ins.position:
            self.render_current()

    def on_utterance_list_picked(self, message: UtteranceList.Picked) -> None:
        ins = self.inspector
        if message.position == ins.position or message.position >= ins.size:
            self.render_context()
            return
        ins.move_to(message.position)
        self.perturb_note = ""
        self.request_current()
        self.remember_soon()

    def on_utterance_list_searched(self, message: UtteranceList.Searched) -> None:
        self.matches = message.matches
        self.render_list_status()
        self.render_context()

    def on_data_table_row_highlighted(self, event) -> None:
        if event.data_table is self.nbest:
            self.query_one(HypothesisDetail).show(self.nbest.highlighted_row())

    # -- actions: λ ----------------------------------------------------------------------------------------

    def action_lam(self, direction: int) -> None:
        ins = self.inspector
        if not ins.ready or ins.adapter.is_bare:
            self.notify("λ has no effect: every LM score is 0" if ins.adapter.is_bare else "the adapter is loading",
                        timeout=2)
            return
        before = ins.lam
        if ins.step_lam(direction) == before:
            end, other = ("top", "-") if direction > 0 else ("bottom", "+")
            self.notify(f"λ {before:.3g} is the {end} of its range ({ins.lam_grid[0]:.3g} to "
                        f"{ins.lam_grid[-1]:.3g}); {other} goes back, 0 resets to the tuned λ", timeout=3)
            return
        self._token += 1
        self.requested = self._token
        self.render_current()
        self.schedule_figures()

    def action_lam_reset(self) -> None:
        self.inspector.reset_lam()
        self.render_current()
        self.schedule_figures()

    # -- actions: the list and the table -----------------------------------------------------------------

    def action_cycle_sort(self) -> None:
        lst = self.utt_list
        sort = SORTS[(SORTS.index(lst.sort) + 1) % len(SORTS)]
        lst.set_sort(sort)
        pending = "" if self.figures is not None or sort == "order" else " (once the figures are computed)"
        self.notify(f"list sorted by {SORT_NAMES[sort]}{pending}", timeout=2)
        self.render_context()

    def action_search(self) -> None:
        self.utt_list.search.focus()

    def action_toggle_order(self) -> None:
        by_new = self.nbest.toggle_order()
        self.notify("rows by new rank" if by_new else "rows by first-pass rank", timeout=2)
        self.query_one(HypothesisDetail).show(self.nbest.highlighted_row())

    def action_export(self) -> None:
        ins = self.inspector
        view = ins.view()
        if view is None:
            return
        default = str(Path(self.app.export_dir) / f"nbest-{view.clean.id}.csv")  # type: ignore[attr-defined]

        def done(path: str | None) -> None:
            if path:
                written = export_nbest(Path(path).expanduser(), view, ins.adapter.key, ins.settings.describe(),
                                       ins.settings.model)
                self.notify(f"wrote {written}", title="export", timeout=4)

        self.app.push_screen(InputScreen("export the N-best table to CSV", default), done)

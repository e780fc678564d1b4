"""The inspect screen's data-set side: reading the store, opening a data set, switching adapters, the list's
figures (flips, ΔWER and the data set's WERs), scoring the whole set in the background, the search index, and
the data set's NPRR. Mixed into :class:`~lorascope.tui.screens.inspect.InspectScreen`; runs on the main thread,
the work itself in :mod:`.inspect_work`.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from lorascope.store.browse import SearchState

from ..adapters import AdapterChoice, Scorer, default_choice
from ..inspector import fmt_pct
from ..listing import TextIndex
from ..nprr import DatasetRobustness
from ..perturbation import MODE_NAMES
from ..widgets.context_bar import ContextBar
from .inspect_work import DatasetScores, Done, Failed, Progress
from .pickers import AdapterPicker, DatasetPicker

STOPPABLE = ("dataset-score", "nprr")   # and mining (stop_mining)
#: The progress line's name of a job whose worker reports under another name.
JOB_NAMES = {"nprr": "data set NPRR", "mined": "mining confusions", "disagreements": "A vs B"}


def pick_dataset(names: list[str], choice: AdapterChoice) -> str | None:
    """The adapter's test set, else a sample test/dev set, else the first data set."""
    for name in (choice.test_dataset, "sample-test", "sample-dev", choice.dev_dataset):
        if name and name in names:
            return name
    return names[0] if names else None


class DatasetPart:
    """The handlers and actions of the data set as a whole (module docstring)."""

    # -- the store and the data set --------------------------------------------------------------

    def on_done(self, message: Done) -> None:
        handler = getattr(self, f"_on_{message.kind.replace('-', '_').replace(' ', '_')}", None)
        if handler is not None:
            handler(message.result, **message.context)

    def on_failed(self, message: Failed) -> None:
        if message.job == "store":  # a store this lorascope cannot read: say so where the lists would be
            empty = self.query_one("#empty", Static)
            empty.update(Text(f"cannot open the store: {message.error}", style="red"))
            empty.display = True
            return
        if message.job == "adapter":
            choice = message.context.get("choice")
            if choice is None or choice.key != self.inspector.adapter.key:
                return
            self.status = f"cannot load {choice.short}: {message.error}"
            self.notify(f"{choice.label}: {message.error}", title="adapter not loaded", severity="error")
            self.render_context()
            return
        if message.job == "nprr":
            if message.context.get("token") != self.nprr_token:
                return
            self.nprr_token += 1
            self.robustness_running = False
        if message.job == "mined":
            self._mining_failed(message.error, message.context["dataset"], message.context["token"])
            return
        self.jobs.finish(JOB_NAMES.get(message.job, message.job))
        self.notify(message.error, title=message.job, severity="error")
        self.render_current()

    def _on_store(self, contents) -> None:
        self.datasets = [d.name for d in contents.datasets]
        self.choices = contents.choices
        if not self.datasets:  # nothing focusable, so the app's keys (q, 2, ?) stay live
            self.query_one("#empty").display = True
            self.query_one(ContextBar).show_empty()
            self.refresh_bindings()
            return
        self.query_one("#body").display = True
        self.utt_list.table.focus()
        choice = self.remembered_adapter(self.choices) or default_choice(self.choices)
        self.inspector.set_adapter(choice)
        hint = self.query_one("#hint", Static)
        hint.display = not any(not c.is_bare for c in self.choices)
        hint.update("No trained rescorers yet: [b]lorascope train --strategy lora[/b] makes one. "
                    "Until then the bare backbone shows the first-pass order; perturbation works on it too.")
        self.open_dataset(self.remembered_dataset(self.datasets)
                          or pick_dataset(self.datasets, choice))  # type: ignore[arg-type]
        self.load_adapter(choice)
        self.refresh_bindings()

    def open_dataset(self, name: str) -> None:
        for group in ("dataset-score", "figures", "table", "search-index", "nprr"):
            self.workers.cancel_group(self, group)
        for job in ("scoring data set", "indexing for search", "data set NPRR"):
            self.jobs.finish(job)
        self.robustness_running = False
        self.nprr_token += 1
        self.table = self.texts = self.figures = None
        self.stored_lm = {}
        self.status = f"opening {name}…"
        if self.utt_list.clear_search():
            self.notify(f"search cleared: it was for the data set before {name}", timeout=3)
        self.render_context()
        self.read_dataset(name, [c.run_id for c in self.choices if c.run_id is not None])

    def _on_dataset(self, opened, name: str) -> None:
        ins, info = self.inspector, opened.info
        self.info, self.scored_runs, self.search_state = info, opened.scored_runs, opened.search
        if info.name not in self.datasets:
            self.datasets.append(info.name)
        ins.set_dataset(info.name, info.utterances)
        if opened.first is not None:
            ins.loaded.remember(0, opened.first)
        for run_id, lm in opened.stored.items():
            ins.cache.put(f"run:{run_id}", dict(zip(opened.first.texts, lm)))
        self.robustness = None
        self.status = ""
        self.matches = None
        self.utt_list.reset(info.id, info.utterances, opened.rows, indexed=opened.search.ready)
        self.request_current()
        self._index_started = opened.search.ready
        self.read_table(info.id)
        self.start_dataset_scoring()
        self.render_list_status()
        self.restore_utterance()
        self.remember_soon()

    def action_pick_dataset(self) -> None:
        def chosen(name: str | None) -> None:
            if name is not None and name != self.inspector.dataset:
                self.open_dataset(name)

        self.app.push_screen(DatasetPicker(self.inspector.dataset), chosen)

    # -- the adapter -----------------------------------------------------------------------------

    def _on_adapter(self, scorer: Scorer, choice: AdapterChoice) -> None:
        ins = self.inspector
        if choice.key != ins.adapter.key:
            return  # the user moved on to another adapter meanwhile
        self.scorers[choice.key] = scorer
        while len(self.scorers) > 3:  # keep a few loaded adapters for quick switching back
            self.scorers.pop(next(k for k in self.scorers if k != choice.key))
        ins.set_scorer(scorer)
        self.request_current()
        self.start_dataset_scoring()
        self.schedule_figures(0)

    def select_adapter(self, choice: AdapterChoice) -> None:
        ins = self.inspector
        if choice.key == ins.adapter.key:
            return
        if choice.key not in {c.key for c in self.choices}:
            self.choices.insert(0, choice)
        self.workers.cancel_group(self, "dataset-score")
        self.jobs.finish("scoring data set")
        ins.set_adapter(choice)
        self.status = ""
        self.perturb_note = ""
        self.robustness = None
        self.figures = None
        self.utt_list.set_figures(None)
        self.follow_adapter()
        self.remember_soon()
        if choice.key in self.scorers:
            self._on_adapter(self.scorers[choice.key], choice)
        else:
            self.request_current()
            self.schedule_figures(0)
            self.load_adapter(choice)

    def action_pick_adapter(self) -> None:
        def chosen(choice: AdapterChoice | None) -> None:
            if choice is not None:
                self.select_adapter(choice)

        self.app.push_screen(AdapterPicker(self.inspector.adapter.key), chosen)

    def _on_phonetic_index(self, result) -> None:
        pass

    # -- the list's figures ----------------------------------------------------------------------

    def _on_table(self, ready, stopped: bool = False) -> None:
        if not self._warmed:  # after the first table: both hold the GIL for a while, the table is wanted first
            self._warmed = True
            self.warm_index()
        if ready is None or self.info is None or ready.dataset_id != self.info.id:
            return
        self.table = ready.table
        self.utt_list.set_row_ids(ready.rows)
        if self.lm_source() is None:
            self.start_search_index()   # no figures to wait for
        self.schedule_figures(0)

    def start_search_index(self) -> None:
        """Build the search index after the list's first figures: both want the disk and the CPU, the figures
        are wanted first (until the index is complete, a search scans)."""
        if not self._index_started and self.info is not None:
            self._index_started = True
            self.build_search_index(self.info.id)

    def _on_texts(self, texts: TextIndex, dataset_id: int) -> None:
        if self.info is not None and dataset_id == self.info.id:
            self.texts = texts

    def lm_source(self) -> str | None:
        """Where the list's LM scores come from for the current adapter (None: nowhere yet)."""
        ins = self.inspector
        if ins.adapter.is_bare:
            return "zero"
        if ins.adapter.run_id in self.scored_runs:
            return "stored" if ins.combination_known else None
        return "cache" if ins.ready else None

    def schedule_figures(self, delay: float = 0.2) -> None:
        """Compute the list's figures soon, once: λ keys and scoring chunks come in bursts."""
        if self._figures_timer is not None:
            self._figures_timer.stop()
        self._figures_timer = self.set_timer(max(delay, 0.01), self.start_figures)

    def start_figures(self) -> None:
        self._figures_timer = None
        ins, source = self.inspector, self.lm_source()
        if self.table is None or self.info is None or source is None:
            return
        run_id = ins.adapter.run_id
        self.compute_figures(self.info.id, self.table, ins.adapter.key, ins.combination, source,
                             self.stored_lm.get(run_id) if run_id is not None else None, run_id, self.texts,
                             ins.cache.of(ins.adapter.key))

    def _on_figures(self, result, dataset_id: int, adapter_key: str, combination, stopped: bool = False) -> None:
        if result is None or self.info is None or dataset_id != self.info.id:
            return
        figures, stored, texts = result
        ins = self.inspector
        if stored is not None and ins.adapter.run_id is not None and adapter_key == ins.adapter.key:
            self.stored_lm[ins.adapter.run_id] = stored
        if texts is not None:
            self.texts = texts
        if adapter_key != ins.adapter.key or combination != ins.combination:
            return  # stale: another computation is on its way
        self.figures = figures
        self.utt_list.set_figures(figures)
        self.render_list_status()
        self.render_context()
        self.start_search_index()

    def render_list_status(self) -> None:
        size = self.inspector.size
        parts = [f"{self.matches} of {size} lists" if self.matches is not None else f"{size} lists"]
        f = self.figures
        if f is not None and f.first_pass_wer is not None:
            rescored = fmt_pct(f.rescored_wer, 2) if f.rescored_wer is not None else "…"
            parts.append(f"1-best {fmt_pct(f.first_pass_wer, 2)}% → {rescored}%")
            parts.append(f"oracle {fmt_pct(f.oracle_wer, 2)}%")
        state = self.search_state
        if state is not None and not state.ready and self.utt_list.query_text.strip():
            parts.append("substring matches until indexed")
        self.utt_list.show_status(Text(" · ".join(parts), style="dim", no_wrap=True, overflow="ellipsis"))

    # -- scoring the data set --------------------------------------------------------------------

    def start_dataset_scoring(self) -> None:
        """Score the data set's clean texts for the list, where the store holds no scores of the adapter."""
        ins = self.inspector
        if self.info is None or not ins.ready or ins.adapter.is_bare or ins.adapter.run_id in self.scored_runs:
            return
        self.score_dataset(self.info.id, ins.scorer, self.texts, ins.cache.of(ins.adapter.key))

    def on_dataset_scores(self, message: DatasetScores) -> None:
        ins = self.inspector
        if self.info is None or message.dataset_id != self.info.id:
            return
        ins.cache.put(message.adapter_key, message.scores)
        if message.final:
            self.jobs.finish("scoring data set")
            self.refresh_bindings()
            if message.stopped:
                self.status = f"data-set scoring stopped at {message.done}/{message.total} (g goes on)"
            elif message.adapter_key == ins.adapter.key:
                self.keep_dataset_scores()
        if message.adapter_key != ins.adapter.key:
            return
        self.schedule_figures(0 if message.final else 1.0)
        utt = ins.utterance()
        if utt is not None and any(t in message.scores for t in utt.texts):
            self.render_current()

    def on_progress(self, message: Progress) -> None:
        if (message.job == JOB_NAMES["mined"] and self.mining is None
                or message.job == JOB_NAMES["nprr"] and not self.robustness_running):
            return   # from a worker stopped meanwhile
        self.jobs.update_job(message.job, message.done, message.total, stoppable=message.stoppable)
        self.refresh_bindings()

    def action_score_dataset(self) -> None:
        if self.inspector.adapter.run_id in self.scored_runs or self.inspector.adapter.is_bare:
            self.notify("the list's figures come from the store for this adapter", timeout=2)
            return
        self.status = ""
        self.start_dataset_scoring()

    def action_stop_jobs(self) -> None:
        for group in STOPPABLE:
            self.workers.cancel_group(self, group)
        if self.robustness_running:   # said here: a worker stopped before it started never answers
            self._on_nprr(None, self.nprr_token, stopped=True)
        self.stop_mining()

    # -- search index ----------------------------------------------------------------------------

    def _on_search_index(self, state: SearchState | None, dataset_id: int, stopped: bool = False) -> None:
        self.jobs.finish("indexing for search")
        if state is None or self.info is None or dataset_id != self.info.id:
            return
        self.search_state = state
        self.utt_list.set_indexed(state.ready)
        self.render_list_status()

    # -- data-set NPRR ---------------------------------------------------------------------------

    def action_dataset_nprr(self) -> None:
        ins = self.inspector
        if self.info is None:
            return
        if not ins.ready:
            self.notify("the adapter is still loading", timeout=2)
            return
        if self.info.one_best_wer is None:
            self.notify(f"{ins.dataset} has utterances without a reference: no WER, no NPRR", severity="warning")
            return
        self.robustness_running = True
        modes = "perturb-1 and perturb-N" if ins.settings.mode == "off" else MODE_NAMES[ins.settings.mode]
        self.status = f"data set NPRR ({modes})…"
        self.jobs.update_job("data set NPRR", 0, None, stoppable=True)
        self.render_current()
        self.nprr_token += 1
        self.run_robustness(self.info, ins.scorer, dict(ins.cache.of(ins.adapter.key)), ins.lam, ins.settings,
                            ins.base, self.perturbation_model(), self.nprr_token)

    def _on_nprr(self, result: DatasetRobustness | None, token: int, stopped: bool = False) -> None:
        if token != self.nprr_token:
            return   # a run stopped or replaced meanwhile
        self.nprr_token += 1
        self.robustness_running = False
        self.jobs.finish("data set NPRR")
        self.status = "data set NPRR stopped" if stopped else ""
        if result is not None:
            self.robustness = result
            self.inspector.cache.put(result.adapter_key, result.new_scores)
            r = result.report
            lines = [f"clean ΔWER {fmt_pct(r.clean.delta_wer, 2)}"]
            for s in r.summaries:
                lines.append(f"{MODE_NAMES[s.mode]}: ΔWER {fmt_pct(s.delta_wer_mean, 2)}  NPRR "
                             f"{fmt_pct(s.nprr_mean, 2)}%  flips {fmt_pct(s.flip_rate_mean, 1)}%")
            if result.metric_ids:
                lines.append(f"stored with run {result.run_id}: Table 3 on the Runs screen (2)")
            else:
                lines.append(f"not stored: {result.not_stored}")
            self.notify("\n".join(lines), title=f"{result.dataset}: NPRR ({r.perturbation.get('name')})",
                        timeout=8)
        self.refresh_bindings()
        self.render_current()

    def nprr_text(self) -> str:
        """The data set's NPRR for the current adapter, λ and perturbation, or how to get it."""
        r, ins = self.robustness, self.inspector
        if self.robustness_running:
            return "…"
        if r is None:
            return "[dim](c)[/]"
        if r.dataset != ins.dataset or not r.matches(ins.adapter.key, ins.lam, ins.settings):
            return "[dim]stale (c)[/]"
        if len(r.modes) == 1:
            return f"{fmt_pct(r.report.summaries[0].nprr_mean, 1)}%"
        return " ".join(f"p-{s.mode} {fmt_pct(s.nprr_mean, 1)}%" for s in r.report.summaries)

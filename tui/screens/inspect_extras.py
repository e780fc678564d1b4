"""The inspect screen's everyday helpers: notices for keys that cannot act, copying a hypothesis or the reference,
exporting the utterance list as filtered and sorted, storing a whole data set's scores once they are all known,
and the memory between sessions (:mod:`lorascope.tui.session`). Mixed into
:class:`~lorascope.tui.screens.inspect.InspectScreen`; file writes and store reads run in workers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from textual import work

from .. import store_reads
from ..adapters import AdapterChoice
from ..export_views import LIST_FIELDS, write_csv
from ..listing import SORT_NAMES
from ..perturbation import MODE_NAMES, model_name
from ..session import Session, load_session, save_session
from .dialogs import InputScreen

#: Seconds the session waits after a move before it is written (cursor keys come in bursts).
SAVE_DELAY = 0.5


class ExtrasPart:
    """The helpers of the module docstring."""

    # -- notices -----------------------------------------------------------------------------------------

    def expect_perturbation(self) -> None:
        """A key changed the perturbation: once it is computed, say why when it changed nothing."""
        self._explain_perturbation = True

    def explain_perturbation(self, view) -> None:
        if not getattr(self, "_explain_perturbation", False) or view is None or view.pending:
            return
        self._explain_perturbation = False
        ins = self.inspector
        if ins.settings.mode == "off" or view.edits:
            return
        shown = ins.perturbed()
        eligible = None if shown is None else shown.eligible
        model = model_name(ins.settings.model)
        where = "the worst hypothesis" if ins.settings.mode == "1" else "this list"
        if eligible == 0:
            text = (f"no sound-alike in {where} under {model}: {MODE_NAMES[ins.settings.mode]} has nothing to "
                    f"change; M changes the model (lexicon knows the most)")
        elif eligible:
            text = (f"seed {ins.settings.seed} at p {ins.settings.p:.2f} left all {eligible} words of {where} that "
                    f"have a sound-alike under {model} unchanged; r rerolls, ] raises p")
        else:
            return
        self.notify(text, title="perturbation unchanged", timeout=5)

    # -- copy --------------------------------------------------------------------------------------------

    def action_copy_hypothesis(self) -> None:
        row = self.nbest.highlighted_row()
        if row is None:
            self.notify("no hypothesis to copy yet", timeout=2)
            return
        self.app.copy_to_clipboard(row.text)
        self.notify(f"hypothesis {row.index}: {row.text}", title="copied", timeout=3)

    def action_copy_reference(self) -> None:
        view = self.inspector.view()
        if view is None:
            self.notify("no utterance to copy from yet", timeout=2)
            return
        if view.clean.reference is None:
            self.notify(f"{view.clean.id} has no reference to copy", timeout=3)
            return
        self.app.copy_to_clipboard(view.clean.reference)
        self.notify(f"reference of {view.clean.id}: {view.clean.reference}", title="copied", timeout=3)

    # -- export of the list ------------------------------------------------------------------------------

    def action_export_list(self) -> None:
        if self.info is None:
            return
        lst, ins = self.utt_list, self.inspector
        order = np.array(lst.table.order, copy=True)
        figures = self.figures
        about = {"dataset": self.info.name, "adapter": ins.adapter.key, "lam": ins.lam,
                 "combination": ins.combination.describe(),
                 "sort": SORT_NAMES[lst.sort], "search": lst.query_text.strip()}
        default = str(Path(self.app.export_dir) / f"list-{self.info.name}.csv")  # type: ignore[attr-defined]
        shown = f"{len(order)} of {self.info.utterances} lists" if lst.query_text.strip() else f"{len(order)} lists"

        def done(path: str | None) -> None:
            if path:
                self.write_list(Path(path).expanduser(), self.info.id, order, figures, about)

        self.app.push_screen(InputScreen(f"export the utterance list ({shown}) to CSV", default,
                                         note=f"in the order shown: {SORT_NAMES[lst.sort]}; WERs as fractions"),
                             done)

    @work(thread=True, group="export", exit_on_error=False)
    def write_list(self, path: Path, dataset_id: int, order: np.ndarray, figures, about: dict) -> None:
        def rows():
            for k, row in store_reads.list_rows(self.db_path, dataset_id, order):
                p = row.position
                known = figures is not None and figures.chosen[p] >= 0
                yield dict(about, order=k, position=p, utterance=row.utt_id, reference=row.reference,
                           flips=int(figures.flips[p]) if known else None,
                           chosen=int(figures.chosen[p]) if known else None,
                           wer_change=float(figures.wer_change[p]) if known else None)

        try:
            n = write_csv(path, LIST_FIELDS, rows())
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"cannot write {path}: {exc.strerror or exc}",
                                      title="export", severity="error")
            return
        self.app.call_from_thread(self.notify, f"wrote {path} ({n} lists)", title="export", timeout=4)

    # -- a whole data set's scores, stored once ----------------------------------------------------------

    def keep_dataset_scores(self) -> None:
        """Every clean text of the data set has a score of the current run: store them (as ``lorascope eval``
        does), so that the next start reads them instead of scoring the set again."""
        ins = self.inspector
        run_id = ins.adapter.run_id
        if not hasattr(self, "_storing"):
            self._storing: set[tuple[int, int]] = set()
        if (self.info is None or run_id is None or run_id in self.scored_runs or not ins.ready
                or (run_id, self.info.id) in self._storing):
            return
        self._storing.add((run_id, self.info.id))   # once a session; this session's cache has them all anyway
        self.store_scores(run_id, self.info.name, dict(ins.cache.of(ins.adapter.key)),
                          ins.scorer.tuned_combination)

    @work(thread=True, group="store-scores", exit_on_error=False)
    def store_scores(self, run_id: int, dataset: str, lm: dict, combination) -> None:
        try:
            stored = store_reads.store_dataset_scores(self.db_path, run_id, dataset, lm, combination)
        except Exception as exc:  # a store that cannot be written: the app goes on scoring each start
            self.app.call_from_thread(self.notify, f"scores of {dataset} not stored: {exc}", severity="warning")
            return
        if stored:
            self.app.call_from_thread(
                self.notify, f"run {run_id}'s scores of {dataset} stored (split eval, as lorascope eval stores "
                             f"them): the next start reads them", title="scores stored", timeout=4)

    # -- memory between sessions -------------------------------------------------------------------------

    def remembered(self) -> Session:
        if not hasattr(self, "_session"):
            self._session = load_session(self.db_path)
        return self._session

    def remembered_adapter(self, choices: list[AdapterChoice]) -> AdapterChoice | None:
        key = self.remembered().adapter
        found = next((c for c in choices if c.key == key), None)
        if found is None or (not found.is_bare and not (found.path and Path(found.path).exists())):
            return None
        return found

    def remembered_dataset(self, names: list[str]) -> str | None:
        name = self.remembered().dataset
        return name if name in names else None

    def restore_utterance(self) -> None:
        """After the remembered data set opened: go to the remembered utterance (found by id in a worker)."""
        s = self.remembered()
        if self.info is None or s.dataset != self.info.name or not s.utterance:
            return
        self._restoring = True
        self.find_remembered(self.info.id, s.utterance, s.position)

    @work(thread=True, group="session", exit_on_error=False)
    def find_remembered(self, dataset_id: int, utt_id: str, hint: int | None) -> None:
        position = store_reads.find_position(self.db_path, dataset_id, utt_id, hint)
        self.app.call_from_thread(self._go_to_remembered, dataset_id, position)

    def _go_to_remembered(self, dataset_id: int, position: int | None) -> None:
        self._restoring = False
        if position is None or self.info is None or self.info.id != dataset_id:
            return
        table = self.utt_list.table
        where = np.flatnonzero(table.order == position)
        if len(where):
            table.move_cursor(int(where[0]))

    def remember_soon(self) -> None:
        """Write the session shortly (once per burst of moves)."""
        if getattr(self, "_restoring", False):
            return   # the remembered utterance is still being looked for: keep it
        timer = getattr(self, "_save_timer", None)
        if timer is not None:
            timer.stop()
        self._save_timer = self.set_timer(SAVE_DELAY, self.remember_now)

    def remember_now(self) -> None:
        self._save_timer = None
        ins = self.inspector
        if ins.dataset is None or getattr(self, "_restoring", False):
            return
        utt = ins.utterance()
        self._session = Session(ins.dataset, ins.adapter.key, utt.id if utt is not None else None,
                                ins.position if utt is not None else None)
        save_session(self.db_path, self._session)

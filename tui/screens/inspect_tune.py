"""The inspect screen's answer to a data set the adapter's combination does not fit: a notice, and the keys T
(tune on a fraction of this set) and K (cross-fit), worked in a thread (tui/tuning.py). Mixed into
:class:`~lorascope.tui.screens.inspect.InspectScreen`."""

from __future__ import annotations

from textual import work

from lorascope.store import Store

from ..tuning import FOLDS, FRACTION, tune_here


class TunePart:
    """Handlers and actions of T / K (module docstring)."""

    _noticed: tuple | None = None

    def show_notice(self) -> None:
        """Say once per (data set, adapter, combination) why the ranks are not shown, and what the keys do."""
        ins = self.inspector
        key = (ins.dataset, ins.adapter.key, ins.base)
        if ins.notice is None or self._noticed == key:
            return
        self._noticed = key
        self.notify(ins.notice, title="combination", severity="warning", timeout=12)

    def action_tune_fraction(self) -> None:
        self._start_tuning("fraction")

    def action_cross_fit(self) -> None:
        self._start_tuning("cross-fit")

    def _start_tuning(self, mode: str) -> None:
        ins = self.inspector
        if ins.dataset is None:
            return
        if not ins.ready:
            self.notify("the adapter is loading; press again when it is ready", timeout=3)
            return
        what = f"tuning on {FRACTION:g} of {ins.dataset}" if mode == "fraction" else f"cross-fitting {FOLDS} folds"
        self.notify(f"{what}: scoring the whole set first", timeout=3)
        self.tune_combination(mode, ins.dataset, ins.scorer)

    @work(thread=True, exclusive=True, group="tune", exit_on_error=False)
    def tune_combination(self, mode: str, dataset: str, scorer) -> None:
        def job():
            with Store(self.db_path, readonly=True) as store:
                utts = store.load_dataset(dataset)
            texts = [h.text for u in utts for h in u.hypotheses]
            flat, lm, pos = scorer.score(texts), [], 0
            for u in utts:
                lm.append(flat[pos:pos + len(u.hypotheses)])
                pos += len(u.hypotheses)
            return tune_here(dataset, scorer.choice.key, utts, lm, mode)

        self._run("tuned", job)

    def _on_tuned(self, tuned, stopped: bool = False) -> None:
        ins = self.inspector
        if tuned is None or tuned.dataset != ins.dataset or tuned.adapter_key != ins.adapter.key:
            return
        ins.set_tuned(tuned)
        self.notify(tuned.label, title="combination", timeout=12)
        self.render_current()
        self.schedule_figures(0)

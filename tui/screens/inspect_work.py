"""The inspect screen's workers: each runs one job of tui/store_reads.py in a thread and posts its result back as a message.

Nothing here touches a widget or the :class:`~lorascope.tui.inspector.Inspector`; the screen's handlers do, on
the main thread. Workers of one group replace each other (``exclusive``); the long ones (data-set scoring, NPRR,
search index) check ``is_cancelled`` between chunks, so esc and a new data set stop them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from textual import work
from textual.message import Message
from textual.worker import get_current_worker

from lorascope.core.combination.tune import Combination
from lorascope.core.errors import InputError
from lorascope.store.db import DatasetInfo

from .. import store_reads
from ..adapters import AdapterChoice, Cancelled, Scorer, load_scorer
from ..listing import DatasetTable, ListFigures, TextIndex
from ..nprr import DatasetRobustness, dataset_robustness
from ..perturbation import PerturbSettings, index_loader

#: Texts per chunk of data-set scoring (one message each).
SCORE_CHUNK = 64


def _error(exc: BaseException) -> str:
    """One line: an InputError says the place and the problem itself; anything else says what it is too."""
    return (str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}").splitlines()[0]


class Failed(Message):
    """A job failed; ``job`` names it for the notification."""

    def __init__(self, job: str, error: str, **context: Any) -> None:
        super().__init__()
        self.job = job
        self.error = error
        self.context = context


class Done(Message):
    """A job's result: ``kind`` names the job (the screen's ``_on_<kind>`` takes it), ``result`` is what its
    function returned (None with ``stopped`` when it was stopped), ``context`` what the handler needs besides."""

    def __init__(self, kind: str, result: Any, **context: Any) -> None:
        super().__init__()
        self.kind = kind
        self.result = result
        self.context = context


class Progress(Message):
    def __init__(self, job: str, done: int, total: int | None, *, stoppable: bool = False) -> None:
        super().__init__()
        self.job = job
        self.done = done
        self.total = total
        self.stoppable = stoppable


class DatasetScores(Message):
    """A chunk of the data set's clean LM scores for ``adapter_key``; ``final`` after the last (or a stop)."""

    def __init__(self, dataset_id: int, adapter_key: str, scores: dict[str, float], done: int, total: int, *,
                 final: bool = False, stopped: bool = False) -> None:
        super().__init__()
        self.dataset_id = dataset_id
        self.adapter_key = adapter_key
        self.scores = scores
        self.done = done
        self.total = total
        self.final = final
        self.stopped = stopped


def _throttled(post: Callable[[int, int], None], every: float = 0.1) -> Callable[[int, int], None]:
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > every or done >= total:
            last[0] = now
            post(done, total)
    return progress


class InspectWork:
    """Mixed into :class:`~lorascope.tui.screens.inspect.InspectScreen` (a Textual Screen)."""

    post_message: Callable[[Message], bool]

    @property
    def db_path(self) -> Path:
        return self.app.db_path  # type: ignore[attr-defined]

    def _run(self, kind: str, fn: Callable[[], Any], **context: Any) -> None:
        try:
            result = fn()
        except Cancelled:
            self.post_message(Done(kind, None, stopped=True, **context))
            return
        except Exception as exc:  # shown, never fatal
            self.post_message(Failed(kind, _error(exc), **context))
            return
        self.post_message(Done(kind, result, **context))

    @work(thread=True, exclusive=True, group="store", exit_on_error=False)
    def read_store(self) -> None:
        self._run("store", lambda: store_reads.read_store(self.db_path))

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def read_dataset(self, name: str, run_ids: list[int]) -> None:
        self._run("dataset", lambda: store_reads.open_dataset(self.db_path, name, run_ids), name=name)

    @work(thread=True, exclusive=True, group="adapter", exit_on_error=False)
    def load_adapter(self, choice: AdapterChoice) -> None:
        self._run("adapter", lambda: load_scorer(choice), choice=choice)

    @work(thread=True, exclusive=True, group="current", exit_on_error=False)
    def prepare_current(self, token: int, dataset_id: int, position: int, held, adapter_key: str,
                        stored_run: int | None, scorer: Scorer | None, known: Callable[[str], bool], perturb: bool,
                        settings: PerturbSettings, manual: tuple, model) -> None:
        worker = get_current_worker()
        self._run("current", lambda: store_reads.prepare_current(
            self.db_path, token, dataset_id, position, held, adapter_key, stored_run, scorer, known, perturb,
            settings, manual, model, should_stop=lambda: worker.is_cancelled))

    @work(thread=True, exclusive=True, group="table", exit_on_error=False)
    def read_table(self, dataset_id: int) -> None:
        worker = get_current_worker()
        self._run("table", lambda: store_reads.read_table(self.db_path, dataset_id, lambda: worker.is_cancelled))

    @work(thread=True, exclusive=True, group="figures", exit_on_error=False)
    def compute_figures(self, dataset_id: int, table: DatasetTable, adapter_key: str, combination: Combination,
                        lm_source: str, stored: np.ndarray | None, run_id: int | None, texts: TextIndex | None,
                        cache: dict[str, float]) -> None:
        """The list's figures under ``combination``; LM scores ``lm_source``: "zero" (the bare backbone),
        "stored" (the run's stored scores, read here unless given) or "cache" (what the app scored so far)."""

        def job() -> tuple[ListFigures, np.ndarray | None, TextIndex | None]:
            nonlocal stored, texts
            for name in table.missing_features(combination):
                if name == "words" and texts is None:
                    texts = store_reads.read_text_index(self.db_path, dataset_id)
                table.set_feature(name, store_reads.read_feature(self.db_path, dataset_id, name, texts))
            if lm_source == "zero":
                lm = np.zeros(table.hypotheses)
            elif lm_source == "stored":
                if stored is None:
                    stored = store_reads.read_stored_lm(self.db_path, run_id, dataset_id)  # type: ignore[arg-type]
                lm = stored
            else:
                if texts is None:
                    texts = store_reads.read_text_index(self.db_path, dataset_id)
                lm = texts.values(cache)
            return table.figures(combination, lm), stored, texts

        self._run("figures", job, dataset_id=dataset_id, adapter_key=adapter_key, combination=combination)

    @work(thread=True, exclusive=True, group="dataset-score", exit_on_error=False)
    def score_dataset(self, dataset_id: int, scorer: Scorer, texts: TextIndex | None,
                      cache: dict[str, float]) -> None:
        """Clean LM scores of every distinct text of the data set the cache lacks, with progress; stoppable."""
        worker = get_current_worker()
        key = scorer.choice.key
        try:
            if texts is None:
                texts = store_reads.read_text_index(self.db_path, dataset_id)
                self.post_message(Done("texts", texts, dataset_id=dataset_id))
            missing = [t for t in texts.texts if t not in cache]
            total = len(missing)
            self.post_message(Progress("scoring data set", 0, total, stoppable=True))

            def chunk(scores: dict[str, float], done: int) -> None:
                self.post_message(DatasetScores(dataset_id, key, scores, done, total))
                self.post_message(Progress("scoring data set", done, total, stoppable=True))

            finished = store_reads.score_texts(scorer, missing, chunk=SCORE_CHUNK, on_chunk=chunk,
                                        should_stop=lambda: worker.is_cancelled)
        except Exception as exc:
            self.post_message(Failed("scoring data set", _error(exc)))
            return
        self.post_message(DatasetScores(dataset_id, key, {}, 0, total, final=True, stopped=not finished))

    @work(thread=True, exclusive=True, group="search-index", exit_on_error=False)
    def build_search_index(self, dataset_id: int) -> None:
        worker = get_current_worker()
        progress = _throttled(lambda done, total: self.post_message(Progress("indexing for search", done, total)))
        self._run("search-index", lambda: store_reads.build_index(self.db_path, dataset_id, progress,
                                                           lambda: worker.is_cancelled), dataset_id=dataset_id)

    @work(thread=True, exclusive=True, group="phonetic", exit_on_error=False)
    def warm_index(self) -> None:
        """Load the phonetic index, and g2p with it, so the first perturbation does not wait for them."""
        self._run("phonetic index", lambda: index_loader().pronunciations("qxzvbrt"))

    @work(thread=True, exclusive=True, group="mining", exit_on_error=False)
    def mine_confusions(self, dataset: str, token: int) -> None:
        """The mined perturbation model of ``dataset`` (a run's training set), with progress; stoppable."""
        worker = get_current_worker()
        job = "mining confusions"   # inspect_perturb.MINING

        def progress(done: int, total: int) -> None:
            # reading the set, then mining it whole: no figures for the second part
            self.post_message(Progress(job, done, total, stoppable=True) if done < total
                              else Progress(job, 0, None, stoppable=True))

        self._run("mined", lambda: store_reads.mine_model(self.db_path, dataset, on_progress=_throttled(progress),
                                                   should_stop=lambda: worker.is_cancelled),
                  dataset=dataset, token=token)

    @work(thread=True, exclusive=True, group="nprr", exit_on_error=False)
    def run_robustness(self, dataset: DatasetInfo, scorer: Scorer, known: dict[str, float], lam: float,
                       settings: PerturbSettings, base: Combination, model, token: int) -> None:
        """The data set's NPRR, page by page, stored with the run (``Store.add_robustness``) unless the adapter is
        the bare backbone; a failure to store is reported with the result."""
        worker = get_current_worker()
        progress = _throttled(lambda done, total: self.post_message(
            Progress("data set NPRR", done, total, stoppable=True)))

        def job() -> DatasetRobustness:
            self.post_message(Progress("data set NPRR", 0, None, stoppable=True))
            result = dataset_robustness(dataset.name, store_reads.read_pages(self.db_path, dataset.id), dataset.hypotheses,
                                        scorer, known, lam, settings, index_loader(), model=model, base=base,
                                        on_progress=progress, should_stop=lambda: worker.is_cancelled)
            if result.run_id is None:
                return replace(result, not_stored="the bare backbone is no stored run")
            try:
                ids = store_reads.store_robustness(self.db_path, result.run_id, dataset.name, result.report,
                                             result.combination)
            except Exception as exc:  # the figures stand; say why they are not in the store
                return replace(result, not_stored=_error(exc))
            return replace(result, metric_ids=tuple(ids))

        self._run("nprr", job, token=token)

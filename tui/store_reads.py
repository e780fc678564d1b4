"""The inspector's store reads and slow work as plain functions: every store read (through store/browse.py), the
whole-data-set arrays, and scoring the current utterance. The screen's workers call them and post the results back.

Reads open the store read-only, one connection per call (SQLite in WAL mode lets them run while a training
command writes); only the search index build and a data-set NPRR (stored as `lorascope robustness` stores its
results) write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lorascope.core.data.nbest import Utterance
from lorascope.store import Store
from lorascope.store import browse
from lorascope.store.browse import ListRow, SearchState
from lorascope.store.db import DatasetInfo

from .adapters import AdapterChoice, Cancelled, Scorer, adapter_choices
from .listing import DatasetTable, TextIndex
from .perturbation import Perturbed, PerturbSettings, index_loader, perturb_key, perturb_utterance

#: List rows read with a data set's first screen.
FIRST_ROWS = 80
#: Lists per page when a job goes through a whole data set (data-set NPRR, mining confusions).
PAGE = 500


@dataclass(frozen=True)
class StoreContents:
    datasets: list[DatasetInfo]
    choices: list[AdapterChoice]


@dataclass(frozen=True)
class OpenedDataset:
    """What a data set's first screen needs: its counts, the first rows, the first utterance, which runs stored
    scores for it, and how far its search index goes."""

    info: DatasetInfo
    rows: list[ListRow]
    first: Utterance | None
    stored: dict[int, list[float]]     # run id -> LM scores of the first utterance
    scored_runs: frozenset[int]
    search: SearchState


@dataclass(frozen=True)
class CurrentReady:
    """The current utterance (read when it was not held), LM scores for the texts it lacked, its perturbed form."""

    token: int
    position: int
    utterance: Utterance
    adapter_key: str
    scores: dict[str, float]
    perturb_key: tuple | None
    perturbed: Perturbed | None


@dataclass(frozen=True)
class TableReady:
    """The data set as flat arrays for the list's figures; ``rows`` maps positions to ``utterances.id``."""

    dataset_id: int
    table: DatasetTable
    rows: np.ndarray


def read_store(db: Path) -> StoreContents:
    """Data sets and adapter choices; creates (or migrates) the store file."""
    with Store(db) as store:
        return StoreContents(store.datasets(), adapter_choices(store.runs()))


def read_choices(db: Path) -> list[AdapterChoice]:
    with Store(db, readonly=True) as store:
        return adapter_choices(store.runs())


def read_datasets(db: Path) -> list[DatasetInfo]:
    with Store(db, readonly=True) as store:
        return store.datasets()


def open_dataset(db: Path, name: str, run_ids: list[int]) -> OpenedDataset:
    with Store(db, readonly=True) as store:
        info = store.dataset(name)
        rows = browse.page(store, info.id, range(min(FIRST_ROWS, info.utterances)))
        found = browse.utterance(store, info.id, 0)
        scored = browse.scored_runs(store, info.id, run_ids)
        stored: dict[int, list[float]] = {}
        if found is not None:
            for run in scored:
                lm = browse.stored_lm(store, run, found[0])
                if lm is not None:
                    stored[run] = lm
        return OpenedDataset(info, rows, None if found is None else found[1], stored, frozenset(scored),
                             browse.search_state(store, info.id))


def prepare_current(db: Path, token: int, dataset_id: int, position: int, held: Utterance | None,
                    adapter_key: str, stored_run: int | None, scorer: Scorer | None, known: Callable[[str], bool],
                    perturb: bool, settings: PerturbSettings, manual: tuple, model: Any,
                    should_stop: Callable[[], bool]) -> CurrentReady | None:
    """The utterance at ``position``: read unless it is ``held``, with the LM scores run ``stored_run`` stored for
    it; perturbed (``perturb``, drawn from ``model``: the settings' model ready to use); and the texts neither the
    store nor ``known`` has scored by ``scorer``. None when the position is not in the data set."""
    utt = held
    scores: dict[str, float] = {}
    if utt is None or stored_run is not None:
        with Store(db, readonly=True) as store:
            found = browse.utterance(store, dataset_id, position)
            if found is None:
                return None
            rowid, utt = found
            if stored_run is not None:
                lm = browse.stored_lm(store, stored_run, rowid)
                if lm is not None:
                    scores.update(zip(utt.texts, lm))
    key = perturb_key(utt.id, settings, manual) if perturb else None
    perturbed = perturb_utterance(utt, settings, manual, index_loader(), model) if key is not None else None
    if scorer is not None:
        texts = utt.texts + (perturbed.utterance.texts if perturbed is not None else [])
        missing = [t for t in dict.fromkeys(texts) if t not in scores and not known(t)]
        if missing:
            scores.update(zip(missing, scorer.score(missing, should_stop=should_stop)))
    return CurrentReady(token, position, utt, adapter_key, scores, key, perturbed)


def read_table(db: Path, dataset_id: int, should_stop: Callable[[], bool]) -> TableReady | None:
    with Store(db, readonly=True) as store:
        columns = browse.hypothesis_columns(store, dataset_id, should_stop=should_stop)
        if columns is None:
            return None
        table = DatasetTable.from_columns(columns, browse.reference_words(store, dataset_id))
        return TableReady(dataset_id, table, browse.row_ids(store, dataset_id))


def read_stored_lm(db: Path, run_id: int, dataset_id: int) -> np.ndarray:
    with Store(db, readonly=True) as store:
        return browse.stored_lm_scores(store, run_id, dataset_id)


def read_text_index(db: Path, dataset_id: int) -> TextIndex:
    with Store(db, readonly=True) as store:
        return TextIndex(browse.hypothesis_texts(store, dataset_id))


def read_feature(db: Path, dataset_id: int, name: str, texts: TextIndex | None) -> np.ndarray:
    """A feature the table does not hold: ``words`` (from the texts) or a value a reader kept."""
    if name == "words":
        if texts is None:
            texts = read_text_index(db, dataset_id)
        return texts.word_counts()
    with Store(db, readonly=True) as store:
        return browse.extra_values(store, dataset_id, name)


def search(db: Path, dataset_id: int, query: str, rows: np.ndarray, indexed: bool) -> np.ndarray:
    with Store(db, readonly=True) as store:
        return browse.search(store, dataset_id, query, rows, indexed=indexed)


def build_index(db: Path, dataset_id: int, on_progress: Callable[[int, int], None],
                should_stop: Callable[[], bool]) -> SearchState:
    with Store(db) as store:
        return browse.build_search_index(store, dataset_id, on_progress=on_progress, should_stop=should_stop)


def read_pages(db: Path, dataset_id: int, size: int = PAGE) -> Iterator[list[Utterance]]:
    """The data set's utterances, ``size`` at a time in list order: only one page is held at once."""
    with Store(db, readonly=True) as store:
        start = 0
        while page := browse.utterances(store, dataset_id, start, start + size):
            yield [utt for _, utt in page]
            start += size


def mine_model(db: Path, dataset: str, *, on_progress: Callable[[int, int], None],
               should_stop: Callable[[], bool]) -> Any:
    """The ``mined`` perturbation model of data set ``dataset``, its confusions attached (core's
    ``MinedConfig.mine``: the whole set at once); reading reports progress per page. Raises Cancelled when
    stopped, InputError when the set has no references to mine."""
    from lorascope.core.errors import InputError
    from lorascope.core.perturbation.models import perturbation_for

    with Store(db, readonly=True) as store:
        info = store.dataset(dataset)
    utts: list[Utterance] = []
    for page in read_pages(db, info.id):
        if should_stop():
            raise Cancelled()
        utts.extend(page)
        on_progress(len(utts), info.utterances)
    if not any(u.reference for u in utts):
        raise InputError(f"data set {dataset}", "has no references to mine")
    return perturbation_for("mined", mined_from=dataset).mine(utts, index=index_loader())


def store_robustness(db: Path, run_id: int, dataset: str, report: Any, combination: Any = None) -> list[int]:
    """A data-set NPRR as `lorascope robustness` stores it (Store.add_robustness: the model and its settings,
    p, the seeds and the combination with every metric row, one transaction); the metric ids, clean first."""
    with Store(db) as store:
        return store.add_robustness(run_id, dataset, report, combination=combination)


def score_texts(scorer: Scorer, texts: list[str], *, chunk: int, on_chunk: Callable[[dict[str, float], int], None],
                should_stop: Callable[[], bool]) -> bool:
    """Score ``texts`` ``chunk`` at a time, handing each chunk's scores on; False when stopped."""
    done = 0
    for start in range(0, len(texts), chunk):
        if should_stop():
            return False
        part = texts[start:start + chunk]
        try:
            got = scorer.score(part, should_stop=should_stop)
        except Cancelled:
            return False
        done += len(part)
        on_chunk(dict(zip(part, got)), done)
    return True


# -- everyday use: session memory, exports, stored scores, the adapter picker's details ---------------------------


def find_position(db: Path, dataset_id: int, utt_id: str, hint: int | None) -> int | None:
    """The position of utterance ``utt_id`` in the data set (``hint`` first), or None when it is not there."""
    with Store(db, readonly=True) as store:
        if hint is not None:
            rows = browse.page(store, dataset_id, [hint])
            if rows and rows[0].utt_id == utt_id:
                return hint
        row = store.db.execute("SELECT position FROM utterances WHERE dataset_id = ? AND utt_id = ?",
                               [dataset_id, utt_id]).fetchone()
        return None if row is None else int(row[0])


def list_rows(db: Path, dataset_id: int, order: np.ndarray, chunk: int = 900) -> Iterator[tuple[int, browse.ListRow]]:
    """(place in ``order``, list row) for every position of ``order``, read a chunk at a time."""
    with Store(db, readonly=True) as store:
        for start in range(0, len(order), chunk):
            part = [int(p) for p in order[start:start + chunk]]
            found = {r.position: r for r in browse.page(store, dataset_id, part)}
            for k, p in enumerate(part):
                if p in found:
                    yield start + k, found[p]


def store_dataset_scores(db: Path, run_id: int, dataset: str, lm: dict[str, float], combination: Any) -> bool:
    """The app's LM scores of a whole data set stored as ``lorascope eval`` stores them (split ``eval``, at the
    run's tuned combination), so the next start reads them instead of scoring again; False when a text of the
    set has no score in ``lm`` (nothing is stored then)."""
    from lorascope.core.combination.tune import evaluate_scores

    with Store(db, readonly=True) as store:
        info = store.dataset(dataset)
    utts = [u for page in read_pages(db, info.id) for u in page]
    if any(t not in lm for u in utts for t in u.texts):
        return False
    result = evaluate_scores(utts, [[lm[t] for t in u.texts] for u in utts], combination)
    with Store(db) as store:
        store.add_evaluation(run_id, dataset, "eval", result)
    return True


def adapter_details(db: Path) -> dict[int, str]:
    """Per run: training data, steps done of total and the stored dev / test WER, for the adapter picker."""
    from lorascope.core.fmt import pct

    out = {}
    with Store(db, readonly=True) as store:
        for run in store.runs():
            wer = {}
            for m in store.metrics(run.id):
                if m["perturbation"] == "clean" and m["split"] in ("dev", "test"):
                    wer[m["split"]] = (m["wer"], m["dataset"])   # the latest of each split
            total = run.config.get("steps") if isinstance(run.config, dict) else None
            steps = f"{run.steps_done or 0}/{total} steps" if total else f"{run.steps_done or 0} steps"
            parts = [f"trained on {run.train_dataset or '?'}", steps]
            for split in ("dev", "test"):
                if split in wer:
                    parts.append(f"{split} WER {pct(wer[split][0], 2)}% ({wer[split][1]})")
                else:
                    parts.append(f"{split} WER –")
            out[run.id] = " · ".join(parts)
    return out

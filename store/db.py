"""The result store: one SQLite file (WAL mode) that training commands fill and the TUI and reports read.

:class:`Store` is that file opened, with every table family's reads and writes on it. Each family has its module:

- store/connection.py: opening the file (guard, migrate), :meth:`~Store.atomic` transactions, raw row reads;
- store/datasets.py: datasets, utterances and hypotheses (:class:`DatasetInfo`);
- store/runs.py: runs and their owners, adapters, training-curve events (:class:`RunInfo`);
- store/results.py: metric rows, per-hypothesis scores, rank changes, whole evaluations and robustness reports;
- store/errors.py: what the store raises.

Everything a caller imports from here (``from lorascope.store.db import ...``) is named below.
"""

from __future__ import annotations

from .connection import ENV_DB, default_db_path, now
from .datasets import DatasetInfo, DatasetTables
from .errors import DatasetExists, RunTakenOver, StoreError
from .results import ResultTables
from .runs import RunInfo, RunTables
from .schema import SCHEMA_VERSION

__all__ = ["ENV_DB", "SCHEMA_VERSION", "DatasetExists", "DatasetInfo", "RunInfo", "RunTakenOver", "Store",
           "StoreError", "default_db_path", "now"]


class Store(ResultTables, RunTables, DatasetTables):
    """Open (creating or migrating as needed) the store at ``path`` (default: :func:`default_db_path`).

    A file written by a newer schema is refused before anything is written to it. Use it as a context manager,
    or :meth:`close` it.
    """

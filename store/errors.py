"""The store's errors: what it raises when a request cannot be met (missing run, dataset taken, run taken over)."""

from __future__ import annotations

from lorascope.core.errors import LorascopeError


class StoreError(LorascopeError):
    """A problem with the store or with what was asked of it (missing run, unknown dataset, newer schema)."""


class RunTakenOver(StoreError):
    """Another process took the run over (this one was thought dead): this process must stop writing to it."""


class DatasetExists(StoreError):
    """A dataset of that name is already stored (perhaps just now, by another process)."""

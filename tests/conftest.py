"""Shared fixtures: an isolated store, cache and offline model hub for every test."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Nothing in the suite may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Pronunciation data and the phonetic index are built once per test session, outside the user's cache.
os.environ.setdefault("LORASCOPE_CACHE_DIR", tempfile.mkdtemp(prefix="lorascope-test-cache-"))

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
HYPORADISE = SHARED_DATA / "hyporadise" / "test_ls_other.json"


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    """Every test gets its own store path, so no test reads or writes the user's real store."""
    monkeypatch.setenv("LORASCOPE_DB", str(tmp_path / "store.db"))
    monkeypatch.setenv("LORASCOPE_STATE_DIR", str(tmp_path / "state"))  # the inspector's session memory


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run faster on one thread, and far faster when other work shares the cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def phonetic_cache(tmp_path_factory) -> Path:
    """One cache folder for the session's phonetic index (never the user's cache): the first test that needs the
    index builds it there, every later one (any module) loads it."""
    folder = tmp_path_factory.getbasetemp() / "lorascope-cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LORASCOPE_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="session")
def index(phonetic_cache):
    """The real phonetic index without g2p: every word the tests perturb is in CMUdict, so no g2p start-up cost."""
    from lorascope.core.perturbation.phonetics import load_index

    return load_index(phonetic_cache, use_g2p=False)


@pytest.fixture(scope="session")
def g2p_index(phonetic_cache):
    """The real phonetic index with g2p-en's model for out-of-vocabulary words."""
    from lorascope.core.perturbation.phonetics import load_index

    return load_index(phonetic_cache)

"""Snapshots pin the look of every screen at a fixed size on fixed data (tests/__snapshots__/, SVG).

The store is the one tests/test_tui.py builds: the fixture N-best lists, run 1 (LoRA) with stored LM scores and
Table 3 rows, run 2 (S1) with final ranks. Both point at the tiny random adapter with its head set to zero, so
every LM score the app computes itself (run 2's, perturbed hypotheses') is exactly 0 on any CPU: a live score
of the trained tiny adapter differs in its last digit between CPUs and would move the pictures. Run 1's stored
scores carry the ranking. Update after a deliberate change with ``pytest tests/test_tui_snapshots.py
--snapshot-update`` and look at the SVGs before committing them.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from lorascope.tui.app import LorascopeApp

# The fixtures come along by name: the session's tiny adapter and phonetic index folder are shared.
from .test_tui import _phonetic_cache, build_store, phonetic_cache, settle, tiny_adapter  # noqa: F401


@pytest.fixture(scope="session")
def zero_head_adapter(tiny_adapter, tmp_path_factory):  # noqa: F811
    """The tiny adapter with a zero head: it scores every text exactly 0 (the encoder's rounding cannot show)."""
    from safetensors.torch import load_file, save_file

    folder = tmp_path_factory.mktemp("zero-head") / "run-1"
    shutil.copytree(tiny_adapter.adapter_dir, folder)
    head = load_file(folder / "head.safetensors")
    for name in ("head.weight", "head.bias"):
        head[name].zero_()
    save_file(head, folder / "head.safetensors")
    return SimpleNamespace(adapter_dir=str(folder))


@pytest.fixture
def app(db_path, zero_head_adapter, tmp_path):
    build_store(db_path, zero_head_adapter)
    return LorascopeApp(db_path, export_dir=tmp_path)


def test_zero_head_adapter_scores_exactly_zero_tiny_random(zero_head_adapter):
    """What the snapshots rely on."""
    from lorascope.core.scoring.adapter import load_rescorer

    rescorer = load_rescorer(Path(zero_head_adapter.adapter_dir))
    assert rescorer.score_texts(["he hoped there would be stew", "wee ore hunting ether"]) == [0.0, 0.0]


def steps(*groups: tuple[str, ...]):
    """A run_before that presses each group of keys and lets the workers finish after each, then clears the
    notifications (a toast times out, so whether it still shows would depend on the machine's speed)."""
    async def run(pilot) -> None:
        await settle(pilot)
        pilot.app.clear_notifications()   # before a dialog covers them too (e.g. "scores stored" at the start)
        await settle(pilot)
        for keys in groups:
            await pilot.press(*keys)
            await settle(pilot)
            pilot.app.clear_notifications()
            await settle(pilot)
    return run


RUN_1 = ("a", "down", "enter")     # the picker opens on run 2 (newest); run 1 has the stored LM scores
SECOND_UTTERANCE = ("down",)  # the utterance list has the focus (after a dialog too): one down


def test_empty_store(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative store path keeps the tmp folder out of the picture
    assert snap_compare(LorascopeApp("store.db"), terminal_size=(80, 24), run_before=steps())


def test_inspect_80x24(snap_compare, app):
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(RUN_1, SECOND_UTTERANCE, ("tab",)))


def test_inspect_opens_focused_on_the_list(snap_compare, app):
    """The first screen: the utterance list has the focus (its header in the accent colour)."""
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps())


def test_inspect_wide_160x45(snap_compare, app):
    """Extra width goes to the utterance list (its reference column and figures line)."""
    assert snap_compare(app, terminal_size=(160, 45), run_before=steps(RUN_1, SECOND_UTTERANCE, ("tab",)))


def test_inspect_perturb_n(snap_compare, app):
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(RUN_1, ("m", "m")))


def test_adapter_picker(snap_compare, app):
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(("a",)))


def test_word_swap_dialog(snap_compare, app):
    """The paper model (the default) on hypothesis 0's "there": its one round-trip spelling."""
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(RUN_1, ("w",), ("down", "down")))


def test_word_swap_dialog_mined(snap_compare, app):
    """The mined model (run 1's training set, toy-dev) on the same word: each candidate with its count."""
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(RUN_1, ("M",), ("w",), ("down", "down")))


def test_runs_screen(snap_compare, app):
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(("2",), ("down", "down", "down")))


def test_runs_screen_wide_160x45(snap_compare, app):
    assert snap_compare(app, terminal_size=(160, 45), run_before=steps(("2",), ("down", "down", "down")))


def test_fragility_view(snap_compare, app, db_path):
    """f on the Runs screen: run 1's lists by flips under its stored perturbations."""
    from .test_tui_everyday import add_curves_and_rank_changes

    add_curves_and_rank_changes(db_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(("2",), ("f",)))


def test_help_screen(snap_compare, app):
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(("question_mark",)))

"""The inspector explains itself (issue 21): focus, notices of keys that cannot act, the search reset, the adapter
picker's fields, the memory between sessions, copy, the list export and the stored scores of a whole data set.

The store and the tiny random adapter are tests/test_tui.py's (run 1 has stored LM scores, run 2 has none).
"""

from __future__ import annotations

import csv
import json

import pytest
from textual.widgets import OptionList

from lorascope.store import Store
from lorascope.store.browse import scored_runs
from lorascope.tui.adapters import lambda_steps
from lorascope.tui.app import LorascopeApp
from lorascope.tui.session import Session, load_session, save_session, state_path
from lorascope.tui.widgets.utterance_rows import UtteranceRows
from tools.capture import screen_text

from .test_tui import UTTERANCES, _phonetic_cache, inspect_screen, phonetic_cache, settle, tiny_adapter  # noqa: F401
from .test_tui import build_store


@pytest.fixture
def store_path(db_path, tiny_adapter):  # noqa: F811
    return build_store(db_path, tiny_adapter)


def notices(app) -> list[str]:
    return [n.message for n in app._notifications]


# ---------------------------------------------------------------------------------------------- pure parts


def test_lambda_steps_are_a_fine_grid_around_the_tuned_value():
    grid = lambda_steps(1.0, 9.15)
    assert 9.15 in grid and grid[0] == 0.0
    k = grid.index(9.15)
    assert 1.15 < grid[k + 1] / 9.15 < 1.25 and 1.15 < 9.15 / grid[k - 1] < 1.25   # about 19 % a step
    assert grid[-1] == pytest.approx(16 * 9.15) and grid[1] == pytest.approx(9.15 / 16)
    ratios = [b / a for a, b in zip(grid[1:], grid[2:])]
    assert max(ratios) < 1.2                                  # nothing like the old gap from 1.86 to 29.7


def test_session_file_remembers_each_store_and_survives_a_broken_file(tmp_path):
    path = tmp_path / "state" / "inspector.json"
    assert load_session(tmp_path / "a.db", path) == Session()
    assert save_session(tmp_path / "a.db", Session("toy-test", "run:1", "1089-0003", 2), path)
    save_session(tmp_path / "b.db", Session("toy-dev", "bare", None, None), path)
    assert load_session(tmp_path / "a.db", path) == Session("toy-test", "run:1", "1089-0003", 2)
    assert load_session(tmp_path / "b.db", path).dataset == "toy-dev"
    path.write_text("{not json")
    assert load_session(tmp_path / "a.db", path) == Session()   # ignored, never fatal


def test_state_file_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LORASCOPE_STATE_DIR", str(tmp_path / "s"))
    assert state_path() == tmp_path / "s" / "inspector.json"


# ---------------------------------------------------------------------------------------------- the app


async def test_focus_starts_on_the_utterance_list_and_down_moves_the_list(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.focused, UtteranceRows)
        await pilot.press("down")
        await settle(pilot)
        assert inspect_screen(app).inspector.position == 1
        # the focused pane's header is drawn in the accent colour, and not once the focus moves on
        rows = app.focused
        focused = rows.get_component_rich_style("utterance-rows--header", partial=True).bgcolor
        await pilot.press("tab")
        await settle(pilot)
        assert not isinstance(app.focused, UtteranceRows)
        blurred = rows.get_component_rich_style("utterance-rows--header", partial=True).bgcolor
        assert focused != blurred


@pytest.mark.parametrize("width", [140, 160])
async def test_wide_terminal_gives_the_list_its_reference_and_figures(store_path, width):
    """At 140 columns the list pane used to stay 35 wide: its headline was cut and the reference column gone.
    A headline of a large set ("2939 lists · 1-best 18.73% → 15.90% · oracle 11.35%") needs 52 columns."""
    app = LorascopeApp(store_path)
    async with app.run_test(size=(width, 45)) as pilot:
        await settle(pilot)
        rows = inspect_screen(app).utt_list.table
        assert rows.size.width >= 60
        labels = [label for label, _ in rows.columns()]
        assert labels == ["utterance", "flips", "Δ1st", "reference"]
        assert "5 lists · 1-best 5.00% →" in screen_text(app) and "· oracle 0.00%" in screen_text(app)  # not cut


async def test_lambda_at_the_end_of_its_range_says_so(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        ins = inspect_screen(app).inspector
        top = ins.lam_grid[-1]
        for _ in range(len(ins.lam_grid)):
            await pilot.press("plus")
        await settle(pilot)
        assert ins.lam == top
        assert any("top of its range" in m for m in notices(app))
        await pilot.press("0")
        assert ins.lam == ins.scorer.tuned_lam


async def test_perturbation_that_changes_nothing_says_why(store_path):
    """Utterance 0's worst hypothesis has no word with a paper round-trip spelling (perturb-1 has nothing to
    change); under perturb-N some words have one."""
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        assert screen.inspector.settings.model == "paper"
        await pilot.press("m")            # perturb-1
        await settle(pilot)
        view = screen.inspector.view()
        assert not view.edits
        assert any("no sound-alike in the worst hypothesis under paper" in m for m in notices(app))
        app.clear_notifications()
        await pilot.press("m")            # perturb-N: something changes, no notice
        await settle(pilot)
        assert screen.inspector.view().edits
        assert not any("unchanged" in m or "no sound-alike" in m for m in notices(app))


async def test_search_is_cleared_when_the_data_set_changes(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        await pilot.press("slash", *"knight")
        await settle(pilot)
        assert screen.matches == 1
        await pilot.press("enter", "d")
        await settle(pilot)
        picker = app.screen.query_one(OptionList)
        picker.highlighted = next(k for k in range(picker.option_count) if picker.get_option_at_index(k).id == "toy-dev")
        await pilot.press("enter")
        await settle(pilot)
        assert screen.inspector.dataset == "toy-dev"
        assert screen.utt_list.search.value == "" and screen.matches is None
        assert screen.utt_list.table.row_count == 3
        assert any("search cleared" in m for m in notices(app))


async def test_adapter_picker_shows_training_data_steps_and_wers(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        options = app.screen.query_one(OptionList)
        texts = [str(options.get_option_at_index(k).prompt) for k in range(options.option_count)]
        run2 = next(t for t in texts if "run 2:" in t)
        assert "s1 on tiny-random" in run2 and "trained on toy-dev" in run2 and "20 steps" in run2
        assert "test WER 6.02% (toy-test)" in run2 and "dev WER –" in run2


async def test_last_data_set_adapter_and_utterance_are_remembered(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a", "down", "enter")     # run 1
        await settle(pilot)
        await pilot.press("down", "down")
        await settle(pilot)
        assert inspect_screen(app).inspector.position == 2
    saved = json.loads(state_path().read_text())
    assert list(saved.values()) == [{"dataset": "toy-test", "adapter": "run:1", "utterance": UTTERANCES[2].id,
                                     "position": 2}]
    again = LorascopeApp(store_path)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        ins = inspect_screen(again).inspector
        assert (ins.dataset, ins.adapter.key, ins.position) == ("toy-test", "run:1", 2)
        assert ins.utterance().id == UTTERANCES[2].id


async def test_copy_hypothesis_and_reference(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("Y")
        assert app.clipboard == UTTERANCES[0].reference
        await pilot.press("tab", "down", "y")
        assert app.clipboard == UTTERANCES[0].hypotheses[1].text
        assert any("hypothesis 1" in m for m in notices(app))


async def test_export_of_the_filtered_sorted_list(store_path, tmp_path):
    app = LorascopeApp(store_path, export_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a", "down", "enter")     # run 1: stored scores, figures for every list
        await settle(pilot)
        await pilot.press("slash", *"the", "enter")
        await settle(pilot)
        screen = inspect_screen(app)
        shown = [int(p) for p in screen.utt_list.table.order]
        await pilot.press("E", "enter")
        await settle(pilot)
    with (tmp_path / "list-toy-test.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["position"]) for r in rows] == shown and len(shown) < len(UTTERANCES)
    assert {r["search"] for r in rows} == {"the"} and {r["adapter"] for r in rows} == {"run:1"}
    assert all(r["flips"] != "" for r in rows)
    assert rows[0]["utterance"] == UTTERANCES[shown[0]].id


async def test_whole_data_set_scores_are_stored_for_the_next_start(store_path):
    """Run 2 has no stored scores: the app scores toy-test once and stores them as `lorascope eval` would."""
    with Store(store_path, readonly=True) as store:
        assert scored_runs(store, store.dataset("toy-test").id, [1, 2]) == [1]
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert inspect_screen(app).inspector.adapter.run_id == 2
    with Store(store_path, readonly=True) as store:
        assert sorted(scored_runs(store, store.dataset("toy-test").id, [1, 2])) == [1, 2]
        assert any(m["split"] == "eval" and m["dataset"] == "toy-test" for m in store.metrics(2))


# ---------------------------------------------------------------------------------------------- the Runs screen


def add_curves_and_rank_changes(path) -> None:
    """Run 2 (s1): a learning rate, rank budget and dev WER per step; run 1: rank changes under its stored
    perturb-1 / perturb-N rows (1089-0002 flips under all three, 2300-0004 under one, the rest never)."""
    with Store(path) as store:
        store.add_events(2, [{"step": s, "loss": 1.0 / s, "lr": 1e-3 * s / 20, "rank_budget": 120 - 2 * s,
                              "dev_wer": 0.2 - 0.001 * s if s % 5 == 0 else None} for s in range(1, 21)])
        perturbed = [m["id"] for m in store.metrics(1) if m["perturbation"].startswith("perturb")]
        assert len(perturbed) == 3
        for k, mid in enumerate(perturbed):
            rows = [(u.id, list(range(len(u.hypotheses))), list(range(len(u.hypotheses))),
                     u.id == "1089-0002" or (u.id == "2300-0004" and k == 0),
                     1 if u.id == "1089-0002" else 0) for u in UTTERANCES]
            store.add_rank_changes(1, mid, "toy-test", rows)


def test_fragile_lists_count_flips_over_every_stored_perturbation(store_path):
    from lorascope.store.fragility import fragile_lists

    add_curves_and_rank_changes(store_path)
    with Store(store_path, readonly=True) as store:
        rows = fragile_lists(store, 1)
        assert [(r["utterance"], r["flips"], r["perturbations"]) for r in rows] == [("1089-0002", 3, 3),
                                                                                    ("2300-0004", 1, 3)]
        assert rows[0]["delta_errors"] == 3 and rows[0]["flip_share"] == 1.0
        assert set(rows[0]["conditions"].split(",")) == {"perturb-1", "perturb-N"}
        assert len(fragile_lists(store, 1, flipped_only=False)) == len(UTTERANCES)
        assert fragile_lists(store, 2) == []


async def test_runs_screen_curves_and_their_export(store_path, tmp_path):
    add_curves_and_rank_changes(store_path)
    app = LorascopeApp(store_path, export_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        await pilot.press("ctrl+end")      # run 2
        await settle(pilot)
        assert screen.shown[0] == 2
        seen = []
        for _ in range(4):
            seen.append((screen.curve, screen_text(app)))
            await pilot.press("v")
            await settle(pilot)
        assert [k for k, _ in seen] == ["loss", "dev_wer", "lr", "rank_budget"]
        for (_, text), title in zip(seen, ("training loss", "dev WER %", "learning rate", "rank budget")):
            assert f"run 2 s1: {title}" in text
        await pilot.press("x", "enter")
        await settle(pilot)
    with (tmp_path / "curves-run-2.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 20 and rows[19]["step"] == "20"
    assert float(rows[19]["lr"]) == pytest.approx(1e-3) and rows[19]["rank_budget"] == "80"
    assert rows[18]["dev_wer"] == "" and float(rows[19]["dev_wer"]) == pytest.approx(0.18)


async def test_fragility_view_lists_and_exports(store_path, tmp_path):
    from lorascope.tui.screens.fragility import FragilityScreen

    add_curves_and_rank_changes(store_path)
    app = LorascopeApp(store_path, export_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, FragilityScreen) and app.screen.run_id == 1
        assert [r["utterance"] for r in app.screen.rows] == ["1089-0002", "2300-0004"]
        await pilot.press("e", "enter")
        await settle(pilot)
    with (tmp_path / "fragility-run-1.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["utterance"], r["flips"], r["perturbations"]) for r in rows] == [("1089-0002", "3", "3"),
                                                                                ("2300-0004", "1", "3")]

"""The inspector with adapter B beside A (Pilot, the real app on a real store, a tiny random adapter): b picks B,
column B shows each hypothesis's rank under B, D lists the lists where A and B choose differently."""

from __future__ import annotations

from textual.widgets import DataTable

from lorascope.core.combination.model import best_index
from lorascope.core.data.metrics import word_errors
from lorascope.tui.app import LorascopeApp
from lorascope.tui.screens.disagreements import DisagreementsScreen

import pytest

from lorascope.store import Store

from .test_tui import (UTTERANCES, _phonetic_cache, build_store, inspect_screen, phonetic_cache,  # noqa: F401
                       settle, tiny_adapter)

#: Run 2's tuned combination here: a strong length penalty (shorter hypotheses win), so A leaves the first pass
#: on some lists (0, 1 and 4) whatever the tiny adapter's LM scores.
SHORTER = {"weights": {"rank": 1.0, "words": -5.0}, "lam": 1.0}


@pytest.fixture
def store_path(db_path, tiny_adapter):
    build_store(db_path, tiny_adapter)
    with Store(db_path) as store:
        store.update_run(2, config={**store.run(2).config, "combination": SHORTER})
    return db_path


def column(table: DataTable, key: str) -> list[str]:
    at = table.get_column_index(key)
    return [str(getattr(c, "plain", c)).strip() for c in (table.get_row_at(k)[at] for k in range(table.row_count))]


async def test_adapter_b_column_and_the_lists_where_a_and_b_differ(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        assert screen.inspector.adapter.run_id == 2 and screen.inspector.ready
        nbest = screen.nbest
        assert "b" not in [c.key.value for c in nbest.ordered_columns]
        await pilot.press("b", "end", "enter")   # B = the bare backbone: LM 0, so B keeps the first-pass order
        await settle(pilot)
        assert screen.second is not None and screen.second.choice.is_bare
        n = len(screen.inspector.utterance().hypotheses)
        assert column(nbest, "b") == [str(i) for i in range(n)]
        ranks_a = [int(x.split()[0]) for x in column(nbest, "new")]
        assert sorted(ranks_a) == list(range(n))

        # every list where A's choice is not the first hypothesis, computed here from A's own scores
        ins = screen.inspector
        expected = []
        for k, u in enumerate(UTTERANCES):
            lm = ins.scorer.score(u.texts)
            choice = best_index(ins.combination.scores(u, lm))
            if choice != 0:
                expected.append((k, choice, word_errors(u.reference, u.texts[choice]),
                                 word_errors(u.reference, u.texts[0])))
        assert expected, "the tiny adapter moves no choice: the test would prove nothing"
        await pilot.press("D")
        await settle(pilot)
        found = app.screen
        assert isinstance(found, DisagreementsScreen)
        rows = [(d.position, d.choice_a, d.errors_a, d.errors_b) for d in found.found.rows]
        assert rows == expected and all(d.choice_b == 0 for d in found.found.rows)
        assert f"choose differently on {len(expected)} of {len(UTTERANCES)} lists" in str(
            found.query_one("#disagreements-title").render())
        if expected:
            table = found.query_one(DataTable)
            await pilot.press("s")                 # by the difference in word errors, B's gains first
            gaps = [int(g) for g in column(table, "gap")]
            assert gaps == sorted(gaps, reverse=True)
            target = int(column(table, "position")[0])
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen is screen and screen.inspector.position == target
        await pilot.press("b")
        await settle(pilot)                        # the picker reads the store, then highlights B
        await pilot.press("home", "enter")         # A's own adapter (run 2, first in the picker): B off
        await settle(pilot)
        assert screen.second is None and "b" not in [c.key.value for c in nbest.ordered_columns]


async def test_c_stores_the_seeds_and_the_combination_on_screen(store_path):
    """The inspector's data-set NPRR (c) records how it was made like `lorascope robustness` does."""
    import json

    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        await pilot.press("plus")                  # a λ other than the tuned one: the row must say which
        await pilot.press("m", "m", "c")           # perturb-N, the paper model, run 2
        await settle(pilot)
        result = screen.robustness
        assert result is not None and result.run_id == 2 and result.metric_ids
        shown = screen.inspector.combination
        assert shown.lam != SHORTER["lam"]
        with Store(store_path) as store:
            rows = [m for m in store.metrics(2) if m["id"] in result.metric_ids]
        assert [(m["perturbation"], m["p"], json.loads(m["seeds"]), m["role"]) for m in rows] == [
            ("clean", 0.5, [0], "test"), ("perturb-N", 0.5, [0], "test")]
        assert all(json.loads(m["combination"]) == shown.to_dict() and m["lam"] == shown.lam for m in rows)

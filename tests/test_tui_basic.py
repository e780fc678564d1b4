"""The main job opens the real Textual app on a real store and closes cleanly."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from lorascope.core.nbest import Hypothesis, Utterance
from lorascope.store import Store
from lorascope.tui.app import LorascopeApp


async def test_empty_store_shows_what_to_do(db_path):
    app = LorascopeApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        status = str(app.query_one("#status", Static).render())
        assert "lorascope import" in status
        await pilot.press("q")
    assert app.return_code == 0


async def test_datasets_listed(db_path):
    with Store(db_path) as s:
        s.add_dataset("toy", [Utterance("u", (Hypothesis("a b", -1.0),), "a c")])
    app = LorascopeApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one("#datasets", DataTable)
        assert table.row_count == 1
        assert table.get_row_at(0)[0] == "toy" and table.get_row_at(0)[4] == "50.00"
        await pilot.press("q")

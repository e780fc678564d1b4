"""The inspector's data-set side, driven by Pilot on real stores: one first pass (the list order) in every figure,
a paged list of thousands of lists (move, search, sort), and background scoring with progress and a stop key.
"""

from __future__ import annotations

import pytest

from lorascope.core.data.metrics import reference_length, word_errors
from lorascope.core.data.nbest import Hypothesis as H
from lorascope.core.data.nbest import Utterance as U
from lorascope.store import Store
from lorascope.tui.app import LorascopeApp
from lorascope.tui.inspector import fmt_pct
from tools.capture import screen_text

from .nbest_fixtures import make_utterances
from .test_tui import _phonetic_cache, inspect_screen, phonetic_cache, settle, tiny_adapter  # noqa: F401

# First-pass scores that disagree with the list order: the recogniser's order is the first pass.
DISAGREE = [
    U("d-1", (H("the cat sat on a mat", -3.0), H("the cat sat on the mat", -0.5), H("a cat sat on the mat", -1.0)),
      "the cat sat on the mat"),
    U("d-2", (H("we went to the market", -2.0), H("we want to the market", -0.1)), "we went to the market"),
    U("d-3", (H("there is a red house", -0.3), H("their is a red house", -0.2), H("there is red house", -0.9)),
      "there is a red house"),
]


async def test_first_pass_is_the_list_order_in_every_figure_and_bare_choices(db_path):
    with Store(db_path) as store:
        assert all(u.scores_disagree for u in DISAGREE)
        store.add_dataset("disagree", DISAGREE, source="fixture")
        stored = store.dataset("disagree")
    app = LorascopeApp(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        ins = screen.inspector
        assert ins.adapter.is_bare
        figures = screen.figures
        assert figures.first_pass_wer == stored.one_best_wer          # the data-set figure the store reports
        assert figures.rescored_wer == stored.one_best_wer            # the bare backbone keeps the first pass
        assert list(figures.chosen) == [0] * len(DISAGREE) and list(figures.flips) == [0] * len(DISAGREE)
        assert f"1-best {fmt_pct(stored.one_best_wer, 2)}%" in screen_text(app)
        screen.utt_list.table.focus()
        for k, utt in enumerate(DISAGREE):
            view = ins.view()
            assert view.clean.id == utt.id and view.rows[0].text == utt.texts[0]
            first = word_errors(utt.reference, utt.texts[0]) / reference_length(utt.reference)
            assert view.first_pass_wer == first and view.rows[0].wer == first
            assert view.chosen == 0 and [r.new_rank for r in view.rows] == list(range(len(utt.texts)))
            await pilot.press("down")
            await settle(pilot)


def many_lists(n: int) -> list[U]:
    """``n`` lists whose texts are all different (so each needs its own LM score)."""
    return [U(u.id, tuple(H(f"{h.text} item{k}", h.score) for h in u.hypotheses), f"{u.reference} item{k}")
            for k, u in enumerate(make_utterances(n, seed=5))]


@pytest.fixture
def big_store(db_path):
    with Store(db_path) as store:
        store.add_dataset("many", many_lists(3000), source="fixture")
    return db_path


async def test_a_long_list_pages_moves_searches_and_sorts(big_store):
    app = LorascopeApp(big_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        table = screen.utt_list.table
        assert table.row_count == 3000
        assert len(table.rows) < 3000      # only the rows around the screen were read
        assert screen.search_state.ready   # the search index was built on this first open
        table.focus()
        await pilot.press("end")
        await settle(pilot)
        assert screen.inspector.position == 2999 and screen.inspector.view().clean.id == "u2999"
        assert table.cells(2999)[0] == "u2999" and "u2999" in screen_text(app)
        await pilot.press("pageup", "up")
        await settle(pilot)
        assert screen.inspector.position == 2999 - (table.size.height - 2) - 1
        await pilot.press("slash", *"item1234")
        await settle(pilot)
        assert table.row_count == 1 and table.cells(0)[0] == "u1234" and screen.inspector.position == 1234
        await pilot.press("enter")
        for _ in "item1234":
            screen.utt_list.search.action_delete_left()
        await settle(pilot)
        assert table.row_count == 3000 and screen.inspector.position == 1234   # the cursor stays on it
        await pilot.press("s")                                       # rank flips: all 0 (bare), order kept
        await settle(pilot)
        assert screen.utt_list.sort == "flips" and list(table.order) == list(range(3000))
        assert table.cells(table.cursor)[0] == "u1234"


async def test_dataset_scoring_shows_progress_stops_on_esc_and_goes_on_with_g(db_path, tiny_adapter):
    with Store(db_path) as store:
        store.add_dataset("many", many_lists(1500), source="fixture")
        rid = store.create_run(strategy="lora", config={}, backbone="tiny-random", test_dataset="many")
        store.add_adapter(rid, path=tiny_adapter.adapter_dir, trainable_params=1, total_params=2)
        store.update_run(rid, status="done", lam=1.0)
    total = len({t for u in many_lists(1500) for t in u.texts})
    app = LorascopeApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = None
        for _ in range(3000):      # until the scoring worker has reported a first chunk
            await pilot.pause(0.01)
            if app.screen.__class__.__name__ == "InspectScreen" and app.screen.jobs.running("scoring data set") \
                    and 0 < app.screen.jobs.jobs["scoring data set"][0]:
                screen = app.screen
                break
        assert screen is not None, "the data-set scoring never started"
        done, of, stoppable = screen.jobs.jobs["scoring data set"]
        assert total - 8 <= of <= total and stoppable and "esc stops" in screen_text(app)  # less the current list
        await pilot.press("escape")
        await settle(pilot)
        key = screen.inspector.adapter.key
        scored = len(screen.inspector.cache.of(key))
        assert scored < total and "stopped" in screen.status and not screen.jobs.display
        assert screen.figures is not None and screen.figures.known < 1500
        await pilot.press("g")
        await settle(pilot)
        assert len(screen.inspector.cache.of(key)) == total and screen.figures.known == 1500

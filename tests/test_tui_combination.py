"""The inspector on a data set the adapter's combination does not fit (a notice and the keys T / K, never a
crash), and the app-wide handler: an unexpected error is one line and a log file, exit code 1 (Pilot, real store,
a run of a tiny random backbone trained for two steps on lists with first-pass scores)."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from lorascope.core.data.formats import write_jsonl
from lorascope.tui.app import LorascopeApp

from .test_combination_sets import informative, run
from .test_tui import settle


@pytest.fixture(scope="module")
def store_with_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tui-combination")
    for name, n, seed, scored in [("tr", 16, 1, True), ("dv", 24, 2, True), ("ro", 15, 4, False)]:
        write_jsonl(informative(n, seed, name, scored), folder / f"{name}.jsonl")
    db = folder / "store.db"
    res = run(db, "train", "--model", "tiny-random", "--strategy", "lora", "--steps", "2", "--batch-size", "4",
              "--data", str(folder / "tr.jsonl"), "--dev", str(folder / "dv.jsonl"), "--test", "none")
    assert res.exit_code == 0, res.output
    assert run(db, "import", str(folder / "ro.jsonl")).exit_code == 0
    return db


async def test_rank_only_set_gives_a_notice_and_k_cross_fits(store_with_run, tmp_path):
    db = tmp_path / "store.db"
    shutil.copy(store_with_run, db)
    app = LorascopeApp(db)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        ins = screen.inspector
        assert ins.adapter.run_id == 1 and ins.base.weight("score") > 0
        await pilot.press("d")
        await settle(pilot)
        names = app.screen.query_one("OptionList")
        index = next(i for i in range(names.option_count) if "ro" == str(names.get_option_at_index(i).prompt).split()[0])
        names.highlighted = index
        await pilot.press("enter")
        await settle(pilot)
        assert ins.dataset == "ro"
        assert ins.notice is not None and "ro has no score values" in ins.notice and "K: cross-fit" in ins.notice
        assert any("ro has no score values" in n.message for n in app._notifications)
        assert all(r.new_rank is None for r in ins.view().rows)        # no ranks from a combination that cannot apply
        await pilot.press("K")
        await settle(pilot)
        assert ins.notice is None and ins.tuned is not None and ins.tuned.per_utterance
        assert sorted(r.new_rank for r in ins.view().rows) == list(range(len(ins.view().rows)))
        assert any(n.message.startswith("out-of-fold:") for n in app._notifications)
        await pilot.press("T")
        await settle(pilot)
        assert ins.tuned is not None and len(ins.tuned.tuned_ids) == 4 and not ins.tuned.per_utterance
    assert not app.return_code and app.crash_log is None


async def test_an_unexpected_error_is_one_line_and_a_log_file_with_exit_code_1(store_with_run, tmp_path):
    db = tmp_path / "store.db"
    shutil.copy(store_with_run, db)
    app = LorascopeApp(db)

    def broken() -> None:
        raise RuntimeError("something no one expected")

    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        app.screen.call_later(broken)
        await asyncio.sleep(0.5)         # the app closes itself; the pilot has no screen left to wait for
    assert app.return_code == 1
    assert app.crash_log is not None and app.crash_log.parent == tmp_path / "logs"
    log = app.crash_log.read_text()
    assert "Traceback" in log and "something no one expected" in log and "broken" in log

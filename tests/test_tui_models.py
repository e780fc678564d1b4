"""The inspector's perturbation models, driven by Pilot on real stores with the tiny adapter: switching paper /
mined / lexicon (M), mined confusions from the adapter's training set, source labels in the swap dialog, and the
data-set NPRR stored with the run and shown on the Runs screen.
"""

from __future__ import annotations

import json

import pytest
from textual.widgets import DataTable, OptionList

from lorascope.core.perturbation.confusions import mine_confusions
from lorascope.core.data.nbest import Hypothesis as H
from lorascope.core.data.nbest import Utterance as U
from lorascope.core.perturbation.models import DEFAULT_PERTURBATION, PERTURBATIONS
from lorascope.core.data.tokens import word_of
from lorascope.store import Store
from lorascope.tui.app import LorascopeApp
from lorascope.tui.perturbation import DEFAULT_MODEL, MODELS
from lorascope.tui.screens.inspect_perturb import MINING
from tools.capture import screen_text

from .test_tui import (UTTERANCES, _phonetic_cache, build_store, inspect_screen, phonetic_cache,  # noqa: F401
                       settle, table_cell, tiny_adapter, use_model)

# A training set whose only confusions are night -> knight and blew -> blue (each in half of the hypotheses);
# the set under test (UTTERANCES) has others of its own (there / their, see / sea, ...).
TRAIN = [
    U("t-1", (H("the knight was cold", -1.0), H("the night was cold", -2.0)), "the night was cold"),
    U("t-2", (H("a knight fell on the town", -1.0), H("a night fell on the town", -2.0)), "a night fell on the town"),
    U("t-3", (H("the wind blue hard", -1.0), H("the wind blew hard", -2.0)), "the wind blew hard"),
    U("t-4", (H("it blue away", -1.0), H("it blew away", -2.0)), "it blew away"),
]
COPIES = 750  # 3000 lists: reading them takes a few pages, so the progress line shows


def training_set() -> list[U]:
    return [U(f"{u.id}-{k}", u.hypotheses, u.reference) for k in range(COPIES) for u in TRAIN]


@pytest.fixture
def mined_store(db_path, tiny_adapter):  # noqa: F811
    """toy-test (the set under test) and toy-train; run 1 has no training set, run 2 (the newest) trained on
    toy-train."""
    with Store(db_path) as store:
        store.add_dataset("toy-test", UTTERANCES, source="fixture", format="jsonl")
        store.add_dataset("toy-train", training_set(), source="fixture", format="jsonl")
        for train in (None, "toy-train"):
            rid = store.create_run(strategy="lora", config={}, seed=0, backbone="tiny-random", train_dataset=train,
                                   test_dataset="toy-test")
            store.add_adapter(rid, path=tiny_adapter.adapter_dir, trainable_params=1, total_params=2)
            store.update_run(rid, status="done", lam=1.0)
    return db_path


@pytest.fixture
def store_path(db_path, tiny_adapter):  # noqa: F811
    return build_store(db_path, tiny_adapter)


async def perturb_all_words(pilot) -> None:
    """perturb-N with p 1: every word with a candidate is replaced."""
    await pilot.press("p")
    await settle(pilot)
    await pilot.press("ctrl+a", "ctrl+k", *"1 0", "enter")
    await settle(pilot)


def bar_text(app) -> str:
    screen = inspect_screen(app)
    return screen_text(app).splitlines()[screen.query_one("#perturb").region.y]


def candidate_labels(app) -> list[str]:
    options = app.screen.query_one("#candidates", OptionList)
    return [str(options.get_option_at_index(k).prompt) for k in range(options.option_count)]


def test_the_bar_names_core_models_and_default():
    assert MODELS == tuple(PERTURBATIONS) and DEFAULT_MODEL == DEFAULT_PERTURBATION == "paper"


async def test_switching_the_model_changes_the_perturbed_text_and_the_bar(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        ins = screen.inspector
        assert ins.settings.model == "paper" and "perturb paper" in bar_text(app)   # the command line's default
        await perturb_all_words(pilot)
        paper = ins.view()
        assert paper.perturbed and {e.source for e in paper.edits} == {"round trip"}
        await pilot.press("M")        # mined: run 2's training set, toy-dev
        await settle(pilot)
        assert ins.settings.model == "mined:dataset=toy-dev" and "perturb mined" in bar_text(app)
        assert {e.source for e in ins.view().edits} <= {"mined"}
        await pilot.press("M")        # lexicon
        await settle(pilot)
        lexicon = ins.view()
        assert ins.settings.model == "lexicon" and "perturb lexicon" in bar_text(app)
        assert {e.source for e in lexicon.edits} == {"lexicon"} and len(lexicon.edits) > len(paper.edits)
        assert [r.text for r in lexicon.rows] != [r.text for r in paper.rows]
        assert ins.settings.p == 1.0 and ins.settings.mode == "N"   # the model changes nothing else
        await pilot.press("M")        # and round to paper: the same text as before
        await settle(pilot)
        assert [r.text for r in ins.view().rows] == [r.text for r in paper.rows]


async def test_mined_confusions_come_from_the_runs_training_set(mined_store):
    app = LorascopeApp(mined_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        ins = screen.inspector
        assert ins.adapter.run_id == 2 and ins.dataset == "toy-test"
        await perturb_all_words(pilot)
        screen.action_cycle_model()   # M, without waiting for the app to be idle
        assert "perturb mined…" in bar_text(app)
        seen = set()
        for _ in range(3000):  # the mining worker reads toy-train page by page, then mines it
            await pilot.pause(0.005)
            seen |= {line.strip() for line in screen_text(app).splitlines() if MINING in line}
            if not screen.jobs.running(MINING):
                break
        await settle(pilot)
        assert any(line.startswith(f"{MINING} ") and "esc stops" in line for line in seen), seen
        assert "perturb mined " in bar_text(app)
        assert ins.settings.model == "mined:dataset=toy-train"
        # utterance 5 holds the training set's confusions: night / knight, blew / blue
        screen.utt_list.table.focus()
        await pilot.press("end")
        await settle(pilot)
        view = ins.view()
        assert view.clean.id == "2300-0005" and view.edits
        mined = {(p.reference, p.hypothesis) for p in mine_confusions(training_set()).pairs}
        mined |= {(h, r) for r, h in mined}
        assert {e.source for e in view.edits} == {"mined"}
        assert {(word_of(e.old), e.new) for e in view.edits} <= mined
        assert {e.new for e in view.edits} <= {"night", "knight", "blew", "blue"}
        # the set under test's own confusions (there / their, ...) are not drawn: utterance 1 has none of toy-train's
        await pilot.press("home")
        await settle(pilot)
        assert ins.view().clean.id == "1089-0001" and not ins.view().edits
        # c stores the NPRR with the mined model and the data set it was mined from
        await pilot.press("c")
        await settle(pilot)
        with Store(mined_store) as store:
            rows = [m for m in store.metrics(2) if m["split"] == "robustness"]
        assert [m["perturbation"] for m in rows] == ["clean", "perturb-N"]
        assert {m["perturbation_model"] for m in rows} == {"mined"}
        assert {json.loads(m["settings"])["dataset"] for m in rows} == {"toy-train"}


async def test_no_training_set_says_so_in_the_bar_and_keeps_the_model(mined_store):
    app = LorascopeApp(mined_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        ins = screen.inspector
        await pilot.press("a", "down", "enter")  # run 1: no training set
        await settle(pilot)
        assert ins.adapter.run_id == 1
        await pilot.press("M")
        await settle(pilot)
        assert ins.settings.model == "paper" and "run 1 has no training set" in bar_text(app)
        await pilot.press("M")                   # the cycle goes on: lexicon
        await settle(pilot)
        assert ins.settings.model == "lexicon" and "no training set" not in bar_text(app)
        await pilot.press("a", "end", "enter")   # the bare backbone
        await settle(pilot)
        await pilot.press("M")                   # paper, then mined
        await settle(pilot)
        await pilot.press("M")
        await settle(pilot)
        assert ins.adapter.is_bare and ins.settings.model == "paper"
        assert "bare backbone has no training set" in bar_text(app)
        # mined on run 2, then back to the bare backbone: the model before mined comes back, and the bar says why
        await pilot.press("a", "home", "enter")
        await settle(pilot)
        assert ins.adapter.run_id == 2 and ins.settings.model == "paper"   # no mining unasked
        for _ in range(3):                       # lexicon (after the refused mined), paper, mined
            assert not ins.settings.model.startswith("mined")
            await pilot.press("M")
            await settle(pilot)
        assert ins.settings.model == "mined:dataset=toy-train"
        await pilot.press("a", "end", "enter")
        await settle(pilot)
        assert ins.settings.model == "paper" and "back to paper" in bar_text(app)


async def test_the_swap_dialog_labels_each_candidate_with_its_source(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        screen.nbest.focus()
        expected = {"paper": ["their  round trip homophone 0.00"], "lexicon": "lexicon"}
        for name in ("paper", "mined", "lexicon"):
            await use_model(pilot, name)
            await pilot.press("w")                  # hypothesis 0: "he hoped there would be stew for dinner"
            await settle(pilot)
            await pilot.press("down", "down")       # word 2: "there"
            await settle(pilot)
            labels = candidate_labels(app)
            if name == "paper":
                assert labels == expected["paper"]
            elif name == "mined":                   # toy-dev: "their" written for "there" twice
                assert labels and labels[0].startswith("their  mined ×2 ")
                assert all("  mined ×" in label for label in labels)
            else:
                assert len(labels) > 3 and all(label.split("  ")[1].startswith("lexicon") for label in labels)
            assert f"{name} sound-alike" in screen_text(app)
            await pilot.press("escape")
            await settle(pilot)


async def test_c_stores_the_nprr_with_its_model_and_the_runs_screen_shows_it(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        await pilot.press("m", "m", "c")   # perturb-N, paper, run 2
        await settle(pilot)
        result = screen.robustness
        assert result is not None and result.run_id == 2 and len(result.metric_ids) == 2
        with Store(store_path) as store:
            rows = [m for m in store.metrics(2) if m["split"] == "robustness"]
            changes = store.db.execute("SELECT count(*) FROM rank_changes WHERE run_id = 2").fetchone()[0]
        assert [m["id"] for m in rows] == list(result.metric_ids)
        assert [(m["perturbation"], m["perturbation_model"], m["p"]) for m in rows] == [
            ("clean", "paper", 0.5), ("perturb-N", "paper", 0.5)]
        assert json.loads(rows[1]["settings"]) == result.report.perturbation == {
            "name": "paper", "margin": 1.0, "phrase_weight": 0.01}
        assert rows[1]["nprr"] == pytest.approx(result.report.summary("N").nprr_mean)
        assert changes == len(UTTERANCES)   # every utterance's rank changes, as lorascope robustness stores them
        await pilot.press("2")
        await settle(pilot)
        table = app.screen.query_one("#table3", DataTable)

        def cell(row: int, column: str) -> str:
            return table_cell(table, row, column)

        shown = [(cell(k, "run"), cell(k, "model"), cell(k, "perturbation")) for k in range(table.row_count)]
        assert shown == [("1", "lexicon", "clean"), ("1", "lexicon", "p-1"), ("1", "lexicon", "p-N"),
                         ("2", "paper", "clean"), ("2", "paper", "p-N")]
        assert cell(4, "wer") == f"{100 * rows[1]['wer']:.2f}"
        assert "test*" not in screen_text(app)   # run 2 has a robustness result now


async def test_c_on_the_bare_backbone_computes_but_stores_nothing(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        await pilot.press("a", "end", "enter")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        result = screen.robustness
        assert result is not None and result.run_id is None and not result.metric_ids
        assert "bare backbone" in result.not_stored
        with Store(store_path) as store:
            assert [m["run_id"] for m in store.metrics() if m["split"] == "robustness"] == [1, 1, 1, 1]


async def test_a_training_set_without_references_or_a_stop_leaves_the_model(db_path, tiny_adapter):  # noqa: F811
    with Store(db_path) as store:
        store.add_dataset("toy-test", UTTERANCES, source="fixture", format="jsonl")
        store.add_dataset("toy-train", training_set(), source="fixture", format="jsonl")
        store.add_dataset("no-refs", [U(u.id, u.hypotheses) for u in UTTERANCES], source="fixture", format="jsonl")
        for train in ("toy-train", "no-refs"):   # run 2, trained on no-refs, is the newest
            rid = store.create_run(strategy="lora", config={}, seed=0, backbone="tiny-random", train_dataset=train,
                                   test_dataset="toy-test")
            store.add_adapter(rid, path=tiny_adapter.adapter_dir, trainable_params=1, total_params=2)
            store.update_run(rid, status="done", lam=1.0)
    app = LorascopeApp(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        ins = screen.inspector
        assert ins.adapter.run_id == 2
        await pilot.press("M")
        await settle(pilot)
        assert ins.settings.model == "paper" and not screen.jobs.display
        assert "mined: data set no-refs: has no references to mine" in bar_text(app)
        await pilot.press("a", "down", "enter")   # run 1, trained on toy-train: M starts mining, esc stops it
        await settle(pilot)
        await pilot.press("M")                    # lexicon (after the refused mined)
        await settle(pilot)
        screen.action_cycle_model()               # paper, then mined, each without waiting
        screen.action_cycle_model()
        assert screen.mining == "toy-train" and screen.jobs.running(MINING)
        screen.action_stop_jobs()                 # esc
        await settle(pilot)
        assert screen.mining is None and not screen.jobs.display and "mining toy-train stopped" in bar_text(app)
        assert ins.settings.model == "paper"
        await pilot.press("M")                    # and M mines it again
        await settle(pilot)
        assert ins.settings.model == "mined:dataset=toy-train"

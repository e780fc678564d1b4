"""The Textual app on a real store: Pilot drives the main flows (pick, adapter, perturb, word swap, runs, export).

The adapter in these tests is trained for three steps on a tiny random backbone (fast; its LM scores hardly
vary). Where a test needs LM scores that move ranks, the store holds per-hypothesis scores for the run, the
way `lorascope train` stores its test-set evaluation; the app reads them before it scores anything itself.
"""

from __future__ import annotations

import csv
import math

import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable, OptionList

from lorascope.core.data.nbest import Hypothesis as H
from lorascope.core.data.nbest import Utterance as U
from lorascope.store import Store
from lorascope.tui.app import LorascopeApp
from lorascope.tui.adapters import BARE, Scorer
from lorascope.tui.diff import DEL, EQUAL, INS, SUB, word_diff
from lorascope.tui.inspector import Inspector, ManualEdit
from lorascope.tui.perturbation import PerturbSettings
from lorascope.tui.screens.inspect import InspectScreen
from tools import capture
from tools.capture import screen_text
from lorascope.tui.widgets.nbest_table import NbestTable
from lorascope.tui.widgets.rank_grid import parse_module, rank_grid

# Every word is in CMUdict, so the phonetic index never needs g2p here.
UTTERANCES = [
    U("1089-0001", (H("he hoped there would be stew for dinner", -2.10),
                    H("he hoped their would be stew for dinner", -2.35),
                    H("he hoped there would be stu for dinner", -3.02),
                    H("he hope there would be stew for the dinner", -3.40),
                    H("he hoped there'd be stew for dinner", -4.12)),
      "he hoped there would be stew for dinner"),
    U("1089-0002", (H("i think their is a right way to know", -1.20),
                    H("i think there is a right way to know", -1.45),
                    H("i think there is a write way to no", -2.80),
                    H("i think there is right way to know", -3.10)),
      "i think there is a right way to know"),
    U("1089-0003", (H("we went to sea the play last night", -0.90),
                    H("we went to see the play last night", -1.05),
                    H("we want to see the play last night", -2.20),
                    H("we went to see a play last night", -2.60)),
      "we went to see the play last night"),
    U("2300-0004", (H("she read the book by the fire", -0.70),
                    H("she red the book by the fire", -1.60),
                    H("she read a book by the fire", -1.90)),
      "she read the book by the fire"),
    U("2300-0005", (H("the night was cold and the wind blew", -0.50),
                    H("the knight was cold and the wind blue", -1.75),
                    H("the night was cold and wind blew", -2.05)),
      "the night was cold and the wind blew"),
]

# LM scores "from the training run's test evaluation" for the clean lists: they favour the reference-like
# hypotheses, so rescoring moves ranks in utterances 1 and 2 (at the run's λ of 1).
STORED_LM = {
    "1089-0001": [0.10, -0.20, -0.90, -0.50, -0.30],
    "1089-0002": [-0.60, 0.40, -1.10, -0.20],
    "1089-0003": [-0.70, 0.30, -0.40, -0.10],
    "2300-0004": [0.20, -0.30, -0.80],
    "2300-0005": [0.30, -0.90, -0.20],
}
RANKS = {f"encoder.layer.{layer}.{m}": r for layer, rs in enumerate([(8, 6, 10, 4, 12, 9), (6, 3, 8, 2, 10, 7)])
         for m, r in zip(("attention.self.query", "attention.self.key", "attention.self.value",
                          "attention.output.dense", "intermediate.dense", "output.dense"), rs)}


@pytest.fixture(scope="session")
def phonetic_cache(tmp_path_factory):
    """One phonetic index for the session, built in a session folder (shared with test_perturb's)."""
    return tmp_path_factory.getbasetemp() / "lorascope-cache"


@pytest.fixture(autouse=True)
def _phonetic_cache(phonetic_cache, monkeypatch):
    monkeypatch.setenv("LORASCOPE_CACHE_DIR", str(phonetic_cache))
    # the app would set torch to one CPU thread for the whole process; leave the rest of the suite alone
    monkeypatch.setenv("LORASCOPE_TUI_THREADS", "auto")


@pytest.fixture(scope="session")
def tiny_adapter(tmp_path_factory):
    """A LoRA adapter trained for three steps on the tiny random backbone (a few seconds)."""
    from lorascope.core.training.train import TrainConfig, train

    folder = tmp_path_factory.mktemp("adapter") / "run-1"
    config = TrainConfig(strategy="lora", backbone="tiny-random", steps=3, batch_size=2, eval_every=None,
                         device="cpu", seed=0)
    result = train(config, UTTERANCES, UTTERANCES, adapter_dir=folder)
    return result


def store_lm_scores(store, run_id: int, dataset: str, utterances, lm: dict[str, list[float]]) -> None:
    """LM scores for a run's data set as `lorascope train` stores its test evaluation (core's evaluate_scores at the
    run's combination: prior + λ·LM, λ = the run's)."""
    from lorascope.core.combination.tune import Combination, evaluate_scores

    lam = store.run(run_id).lam
    result = evaluate_scores(utterances, [lm[u.id] for u in utterances], Combination.of({"prior": 1.0}, lam))
    store.add_evaluation(run_id, dataset, "test", result)


def build_store(path, adapter=None, *, runs: bool = True):
    """A real store: the fixture set as 'toy-test' (and a copy as 'toy-dev'), and, with ``adapter``, two runs.

    Run 1 (lora) has the tiny adapter, its training curve, stored LM scores and Table 3 rows; run 2 (s1)
    points at the same adapter folder and carries a final rank per matrix.
    """
    with Store(path) as store:
        store.add_dataset("toy-test", UTTERANCES, source="fixture", format="jsonl")
        store.add_dataset("toy-dev", UTTERANCES[:3], source="fixture", format="jsonl")
        if not runs or adapter is None:
            return path
        for strategy, ranks in (("lora", None), ("s1", RANKS)):
            rid = store.create_run(strategy=strategy, config={"strategy": strategy, "strategy_options": {"r": 8}},
                                   seed=0, backbone="tiny-random", train_dataset="toy-dev", dev_dataset="toy-dev",
                                   test_dataset="toy-test")
            store.add_adapter(rid, path=adapter.adapter_dir, trainable_params=1000, total_params=100000,
                              ranks=ranks)
            store.add_events(rid, [{"step": s, "loss": 1.0 / (1 + 0.3 * s) + (0.05 if strategy == "s1" else 0)}
                                   for s in range(1, 21)])
            store.update_run(rid, status="done", lam=1.0, steps_done=20)
        store_lm_scores(store, 1, "toy-test", UTTERANCES, STORED_LM)
        store.add_metrics(2, [{"dataset": "toy-test", "split": "test", "perturbation": "clean",
                               "wer": 0.0602, "oracle_wer": 0.0361}])
        common = {"dataset": "toy-test", "split": "robustness", "utterances": 5, "p": 0.5}
        store.add_metrics(1, [dict(common, perturbation="clean", wer=0.0487, oracle_wer=0.0359)])
        for cond, seed, wer, oracle, nprr in (("perturb-1", 0, 0.0510, 0.0360, 0.1718),
                                              ("perturb-1", 1, 0.0512, 0.0361, 0.1800),
                                              ("perturb-N", 0, 0.0537, 0.0356, 0.4140)):
            store.add_metrics(1, [dict(common, perturbation=cond, seed=seed, wer=wer, oracle_wer=oracle,
                                       nprr=nprr)])
    return path


@pytest.fixture
def store_path(db_path, tiny_adapter):
    return build_store(db_path, tiny_adapter)


async def settle(pilot) -> None:
    """Wait until no worker runs and no message is pending (workers start further workers, timers start workers)."""
    await capture.settle(pilot, 500, step=0.01, quiet=4, final=None)


def inspect_screen(app) -> InspectScreen:
    screen = app.screen
    assert isinstance(screen, InspectScreen), type(screen)
    return screen


def table_cell(table: DataTable, row: int, column: str) -> str:
    """The text of a cell of the Runs screen's table, by row and column key."""
    return table.get_cell_at(Coordinate(row, table.get_column_index(column))).plain.strip()


async def use_model(pilot, name: str) -> InspectScreen:
    """Pick perturbation model ``name`` as the M key does (for tests whose figures are one model's)."""
    screen = inspect_screen(pilot.app)
    screen.select_model(name)
    await settle(pilot)
    assert screen.inspector.settings.model.startswith(name)
    return screen


# ---------------------------------------------------------------------------------------------- pure parts


def test_word_diff_marks_substitutions_insertions_and_deletions():
    tokens = word_diff("he hoped there would be stew", "He hoped their would be be stew!")
    kinds = [(t.kind, t.word) for t in tokens]
    assert (SUB, "their") in kinds and (INS, "be") in kinds
    assert [t.ref for t in tokens if t.kind == SUB] == ["there"]
    deleted = word_diff("a b c", "a c")
    assert [(t.kind, t.word) for t in deleted] == [(EQUAL, "a"), (DEL, "b"), (EQUAL, "c")]
    assert [t.kind for t in word_diff(None, "x y")] == [EQUAL, EQUAL]


def test_lambda_moves_use_cached_scores_and_never_rescore():
    """The Inspector recombines cached LM scores when λ moves; a scorer that fails if called proves it."""

    class Refuses(Scorer):
        def score(self, texts, **kwargs):  # pragma: no cover - failing is the point
            raise AssertionError(f"rescored {texts}")

    ins = Inspector()
    ins.set_dataset("toy", len(UTTERANCES))
    for k, u in enumerate(UTTERANCES):
        ins.loaded.remember(k, u)
    choice = BARE.__class__("run:9", "fixture", run_id=9, lam=1.0)
    ins.set_scorer(Refuses(choice))
    for u in UTTERANCES:
        ins.cache.put("run:9", dict(zip(u.texts, STORED_LM[u.id])))
    ins.move_to(1)
    at_one = ins.view()
    assert at_one.complete and [r.new_rank for r in at_one.rows] == [1, 0, 3, 2]
    ins.lam = 0.0
    at_zero = ins.view()
    assert [r.new_rank for r in at_zero.rows] == [0, 1, 2, 3]
    assert ins.texts_to_score() == []


def test_rank_grid_places_every_bert_and_distilbert_matrix():
    assert parse_module("base_model.model.encoder.layer.11.attention.output.dense") == (11, "o")
    assert parse_module("encoder.layer.0.output.dense") == (0, "f2")
    assert parse_module("transformer.layer.2.ffn.lin1") == (2, "f1")
    grid, unknown = rank_grid(RANKS)
    assert not unknown and grid[1] == {"q": 6, "k": 3, "v": 8, "o": 2, "f1": 10, "f2": 7}


# ---------------------------------------------------------------------------------------------- the app


async def test_empty_store_says_what_to_do_next(db_path):
    app = LorascopeApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)  # the store is read in a worker
        text = screen_text(app)
        assert "The store is empty" in text and "lorascope import FILE" in text
        await pilot.press("2")
        await settle(pilot)
        assert "No runs yet" in screen_text(app)
        await pilot.press("q")
    assert app.return_code == 0


async def test_store_without_runs_opens_on_the_bare_backbone(db_path):
    build_store(db_path, runs=False)
    app = LorascopeApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        assert screen.inspector.adapter.is_bare
        view = screen.inspector.view()
        assert view.complete and all(r.lm == 0.0 for r in view.rows)
        assert [r.new_rank for r in view.rows] == list(range(len(view.rows)))  # first-pass order
        text = screen_text(app)
        assert "bare backbone" in text and "lorascope train" in text


async def test_start_opens_newest_adapter_on_its_test_set_with_stored_scores(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        ins = screen.inspector
        assert ins.dataset == "toy-test" and ins.adapter.run_id == 2 and ins.ready
        assert screen.utt_list.table.row_count == len(UTTERANCES)
        assert screen.nbest.row_count == len(UTTERANCES[0].hypotheses)
        text = screen_text(app)
        assert "he hoped there would be stew for dinner" in text  # the reference line
        assert "1089-0001" in text


async def test_pick_utterance_and_change_adapter(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        # run 2 (newest) has no stored scores: its LM scores come from the tiny model itself.
        assert screen.inspector.adapter.run_id == 2
        # pick the second utterance with the cursor in the list
        screen.utt_list.table.focus()
        await pilot.press("down")
        await settle(pilot)
        assert screen.inspector.position == 1
        assert screen.nbest.row_count == 4
        # change adapter: run 1 (stored LM scores favour the reference, so ranks move)
        await pilot.press("a")
        await settle(pilot)
        options = app.screen.query_one(OptionList)
        assert options.option_count == 3  # run 2, run 1, bare backbone
        await pilot.press("down", "enter")
        await settle(pilot)
        ins = screen.inspector
        assert ins.adapter.run_id == 1 and ins.ready
        view = ins.view()
        assert [r.lm for r in view.rows] == STORED_LM["1089-0002"]
        assert view.chosen == 1 and view.rows[0].move == -1 and view.rows[1].move == 1
        assert "↑1" in screen_text(app)
        # and the bare backbone: LM 0, first-pass order
        await pilot.press("a", "end", "enter")  # the picker opens on the current adapter
        await settle(pilot)
        assert ins.adapter.is_bare and [r.new_rank for r in ins.view().rows] == [0, 1, 2, 3]


async def test_lambda_keys_recombine_without_rescoring(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        await pilot.press("a", "down", "enter")  # run 1
        await settle(pilot)
        screen.utt_list.table.focus()
        await pilot.press("down")
        await settle(pilot)
        screen.nbest.focus()
        ins = screen.inspector
        cached = len(ins.cache)
        start = ins.lam
        for _ in range(30):
            await pilot.press("minus")
        assert ins.lam == 0.0
        assert [r.new_rank for r in ins.view().rows] == [0, 1, 2, 3]
        assert not [w for w in app.workers if w.group == "current" and w.is_running]
        await pilot.press("plus", "0")
        assert ins.lam == pytest.approx(start)
        assert len(ins.cache) == cached  # no new scores: λ only recombines


async def test_search_and_sort_the_utterance_list(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        await pilot.press("a", "down", "enter")  # run 1 with its stored scores
        await settle(pilot)
        await pilot.press("slash")
        await pilot.press(*"knight")
        await settle(pilot)
        table = screen.utt_list.table
        assert table.row_count == 1 and table.cells(0)[0] == "2300-0005"
        assert screen.inspector.position == 4  # the list jumped to the only match
        await pilot.press("enter")
        for _ in "knight":
            screen.utt_list.search.action_delete_left()
        await settle(pilot)
        assert table.row_count == len(UTTERANCES)
        await pilot.press("s")  # rank flips, most first
        await settle(pilot)
        flips = [int(table.cells(k)[1]) for k in range(table.row_count)]
        assert flips == sorted(flips, reverse=True) and flips[0] > 0
        await pilot.press("s")  # WER change, most improved first
        await settle(pilot)
        assert table.cells(0)[0] == "1089-0003"  # 1 of 8 words fixed beats 1 of 9


async def test_perturb_modes_reroll_and_utterance_delta_wer(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await use_model(pilot, "lexicon")  # its many candidates make every reroll differ
        ins = screen.inspector
        await pilot.press("m")  # perturb-1
        await settle(pilot)
        assert ins.settings.mode == "1"
        await pilot.press("right_square_bracket", "right_square_bracket")  # p 0.60: more edits
        await settle(pilot)
        seen = set()
        for _ in range(6):
            view = ins.view()
            assert view.complete and not view.pending
            worst = UTTERANCES[0].worst_index()
            assert all(e.hypothesis == worst for e in view.edits)
            seen.add(view.rows[worst].text)
            await pilot.press("r")
            await settle(pilot)
        assert len(seen) > 1  # rerolling gives other perturbations
        assert ins.settings.seed == 6
        await pilot.press("m")  # perturb-N
        await settle(pilot)
        view = ins.view()
        assert view.perturbed and len({e.hypothesis for e in view.edits}) > 1
        assert view.delta_wer is not None and view.clean_delta_wer is not None
        perturbed = [r.index for r in view.rows if r.perturbed]
        text = screen_text(app)
        assert f"{perturbed[0]}*" in text and "Δp" in text and "ΔWER" in text
        await pilot.press("m")  # off again: the clean list
        await settle(pilot)
        assert not ins.view().perturbed


async def test_manual_word_swap_rescores_only_the_changed_hypothesis(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await use_model(pilot, "lexicon")  # lexicon offers their -> there (the round trip does not)
        ins = screen.inspector
        scored = []
        original = ins.scorer.score

        def spy(texts, **kwargs):
            scored.append(list(texts))
            return original(texts, **kwargs)

        ins.scorer.score = spy
        screen.nbest.focus()
        await pilot.press("down")  # hypothesis 1: "he hoped their would be stew for dinner"
        await pilot.press("w")
        await settle(pilot)
        words = app.screen.query_one("#words", OptionList)
        await pilot.press("down", "down")  # word 2: "their"
        await settle(pilot)
        assert words.highlighted == 2
        candidates = app.screen.query_one("#candidates", OptionList)
        labels = [str(candidates.get_option_at_index(k).prompt) for k in range(candidates.option_count)]
        assert any(label.startswith("there ") for label in labels)
        await pilot.press("enter")  # to the candidates
        target = next(k for k, label in enumerate(labels) if label.startswith("there "))
        for _ in range(target):
            await pilot.press("down")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, InspectScreen)
        view = ins.view()
        assert view.rows[1].text == "he hoped there would be stew for dinner"
        assert view.rows[1].perturbed and [e.kind for e in view.edits] == ["homophone"]
        assert ins.manual == [ManualEdit(1, 2, ins.manual[0].candidate)]
        # the swap made hypothesis 1 equal to hypothesis 0, whose score is cached: nothing new to score
        assert scored == []
        await pilot.press("x")
        await settle(pilot)
        assert not ins.view().perturbed


async def test_dataset_nprr_runs_in_a_worker_with_progress(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        await pilot.press("m", "m")  # perturb-N
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        bar = screen.jobs.bar
        hypotheses = sum(len(u.hypotheses) for u in UTTERANCES)
        assert bar.total == 2 * hypotheses and bar.progress == bar.total  # clean + perturb-N, all reported
        assert not screen.robustness_running and not screen.jobs.display
        result = screen.robustness
        assert result is not None and result.modes == ("N",)
        summary = result.report.summary("N")
        assert math.isfinite(summary.wer_mean) and summary.seeds == (0,)
        assert "set NPRR" in screen_text(app) and "stale" not in screen_text(app)
        await pilot.press("r")  # other settings: the figure is stale until recomputed
        await settle(pilot)
        assert "stale" in screen_text(app)


async def test_runs_screen_table3_curve_ranks_and_export(store_path, tmp_path):
    app = LorascopeApp(store_path, export_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        table = app.screen.query_one("#table3", DataTable)
        # run 1: clean + perturb-1 (2 seeds, averaged) + perturb-N; run 2: its test evaluation
        assert table.row_count == 4

        def cell(row: int, column: str) -> str:
            return table_cell(table, row, column)

        conditions = [cell(k, "perturbation") for k in range(4)]
        assert conditions == ["clean", "p-1", "p-N", "test*"]
        assert cell(1, "wer") == "5.11" and cell(1, "nprr").startswith("17.59±")
        # rows stored before the perturbation models came from today's lexicon
        assert [cell(k, "model") for k in range(4)] == ["lexicon"] * 3 + ["–"]
        text = screen_text(app)
        assert "training loss" in text and "no rank allocation" in text
        await pilot.press("down", "down", "down")  # run 2 (s1): its final ranks
        await settle(pilot)
        text = screen_text(app)
        assert "(s1) final ranks" in text and "total 85 over 12 matrices" in text
        # sort by NPRR, highest first, then export what is shown
        for _ in range(9):
            await pilot.press("s")
        await pilot.press("S")
        await settle(pilot)
        assert app.screen.sort_key == "nprr" and app.screen.reverse
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        with (tmp_path / "table3.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        assert [r["perturbation"] for r in rows[:2]] == ["perturb-N", "perturb-1"]
        assert float(rows[0]["nprr"]) == pytest.approx(0.414)
        assert rows[-1]["source"].startswith("training test evaluation")


async def test_inspect_export_writes_the_nbest_table(store_path, tmp_path):
    app = LorascopeApp(store_path, export_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a", "down", "enter")  # run 1
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        with (tmp_path / "nbest-1089-0001.csv").open() as fh:
            rows = list(csv.DictReader(fh))
        assert [float(r["lm_score"]) for r in rows] == STORED_LM["1089-0001"]
        assert rows[0]["adapter"] == "run:1" and rows[0]["perturbation"] == "off"


async def test_help_screen_lists_keys_and_closes(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(100, 110)) as pilot:  # tall enough to show all of it without scrolling
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)   # the help screen is drawn on the next refresh
        text = screen_text(app)
        assert "perturbation mode" in text and "Bare backbone" in text
        await pilot.press("escape")
        assert isinstance(app.screen, InspectScreen)


async def test_nbest_table_marks_and_arrows_at_80_columns(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a", "down", "enter")  # run 1
        await settle(pilot)
        table = app.screen.query_one(NbestTable)
        assert table.size.width <= 80
        row = table.get_row_at(0)
        assert row[1].plain.startswith("he hoped there")
        assert str(row[-1]).startswith("0 ")


def test_perturb_settings_describe():
    assert PerturbSettings().describe() == "off"
    assert PerturbSettings("N", 0.5, 3).describe() == "perturb-N p 0.50 seed 3"


async def test_typed_perturbation_settings_and_a_missing_adapter_folder(store_path):
    with Store(store_path) as store:  # a run whose adapter folder was moved away
        rid = store.create_run(strategy="lora", config={}, backbone="tiny-random")
        store.add_adapter(rid, path=str(store_path.parent / "gone"), trainable_params=1, total_params=2)
        store.update_run(rid, status="done", lam=1.0)
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        ins = screen.inspector
        assert ins.adapter.run_id == 2  # the newest run whose folder exists
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("ctrl+a", "ctrl+k", *"0.8 7", "enter")
        await settle(pilot)
        assert ins.settings == PerturbSettings("N", 0.8, 7) and ins.view().perturbed
        await pilot.press("a")  # the picker opens on run 2; run 3 (missing folder) is the first entry
        await pilot.press("home", "enter")
        await settle(pilot)
        assert ins.adapter.run_id == 3 and not ins.ready
        assert "cannot load" in screen_text(app)


async def test_mouse_clicks_pick_rows_and_perturbation_modes(store_path):
    app = LorascopeApp(store_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = inspect_screen(app)
        bar = screen.query_one("#perturb")
        text = screen_text(app).splitlines()[bar.region.y]
        await pilot.click("#perturb", offset=(text.index(" N ") + 1, 0))
        await settle(pilot)
        assert screen.inspector.settings.mode == "N"
        table = screen.utt_list.table
        await pilot.click(table, offset=(3, 3))  # the third utterance (row 2, under the header)
        await settle(pilot)
        assert screen.inspector.position == 2

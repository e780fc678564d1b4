"""The help screen: every key, what the columns and marks mean, and what the bare backbone is."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..diff import legend

KEYS = {
    "Everywhere": [
        ("1 / 2 / 3", "Inspect screen / Runs screen / Study screen"),
        ("?", "this help (esc closes)"),
        ("q", "quit"),
        ("tab", "next pane"),
    ],
    "Inspect": [
        ("/", "search utterances by id or whole words (substrings while the index is built; enter returns)"),
        ("s", "sort the list: data-set order, rank flips, Δ1st (improved / harmed first)"),
        ("↑ ↓", "move in the focused list; the utterance list picks as it moves (pgup / pgdn, home / end)"),
        ("d", "pick the data set"),
        ("a", "pick the adapter: a stored run, or the bare backbone"),
        ("+ / -", "λ up / down in steps of about 19 % (tuned/16 to 16·tuned, and 0); 0 back to the tuned λ"),
        ("o", "order the N-best rows by first-pass rank or by new rank"),
        ("m", "perturbation mode: off, perturb-1 (lowest-scored hypothesis), perturb-N (all)"),
        ("M", "perturbation model: paper (round trip), mined (the recogniser's confusions in the adapter's "
              "training set, mined in the background), lexicon (every kind of sound-alike)"),
        ("[ / ]", "perturbation probability p down / up by 0.05"),
        ("r", "reroll: next perturbation seed"),
        ("p", "type p and seed"),
        ("w", "swap a word of the highlighted hypothesis for one of the model's sound-alikes, each labelled "
              "with where it came from: round trip, mined ×count, lexicon"),
        ("x", "undo the hand-made swaps"),
        ("c", "data set NPRR for the current adapter, λ and perturbation (in the background), stored with the "
              "run like lorascope robustness (not for the bare backbone)"),
        ("g", "score the whole data set for the list's columns (goes on after esc)"),
        ("esc", "stop the data-set scoring, NPRR or mining running in the background"),
        ("e", "export the N-best table to CSV"),
        ("E", "export the utterance list as filtered and sorted to CSV"),
        ("y / Y", "copy the highlighted hypothesis / the reference to the clipboard"),
        ("b / D", "adapter B beside A (its rank in column B; A's adapter again turns it off) / the lists where "
                  "A and B choose differently"),
        ("T / K", "a data set the adapter's combination does not fit: tune one on 0.3 of it / cross-fit 5 folds"),
    ],
    "Runs": [
        ("↑ ↓", "pick a run: its training curves and final ranks show below; model = the perturbation "
                "model of its robustness rows"),
        ("v", "next curve: training loss, dev WER, learning rate, rank budget"),
        ("x", "export the highlighted run's curves to CSV"),
        ("f", "fragility: the lists whose choice flips most under the run's stored perturbations"),
        ("s / S", "sort by the next column / reverse (or click a column header)"),
        ("e", "export the table to CSV"),
        ("g", "reload from the store"),
    ],
}

COLUMNS = [
    ("#", "first-pass rank (0 = the recogniser's 1-best); * = perturbed"),
    ("hypothesis", "normalised words against the reference"),
    ("1st", "first-pass score (– for rank-only lists, whose prior is -rank)"),
    ("LM", "the rescorer's score ([CLS] head, or a causal LM's log-probability); … while it is computed"),
    ("comb", "combined score: Σ w·first-pass feature + λ·LM (the tuned combination); the highest is chosen"),
    ("WER%", "this hypothesis' WER; cyan = the oracle (fewest errors)"),
    ("new", "rank after rescoring (0 = chosen), with the move against the first pass: ↑2 two places up, "
            "↓1 one down, · stayed"),
    ("Δp", "with a perturbation: the move against the same rescorer on the clean list"),
]


def help_text() -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(ratio=1)
    for section, keys in KEYS.items():
        table.add_row(Text(section, style="bold underline"), "")
        for key, what in keys:
            table.add_row(key, what)
        table.add_row("", "")
    table.add_row(Text("N-best columns", style="bold underline"), "")
    for key, what in COLUMNS:
        table.add_row(key, what)
    table.add_row("", "")
    table.add_row(Text("Word diff", style="bold underline"), legend())
    table.add_row("", "")
    table.add_row(Text("Utterance list", style="bold underline"),
                  "flips = hypotheses whose rank the rescorer moved (bold: it chose another one); Δ1st = the "
                  "utterance's WER under the rescored choice minus the first-pass 1-best's (clean lists, "
                  "current adapter and λ; negative = better); under it, the data set's 1-best → rescored WER "
                  "and oracle WER")
    table.add_row(Text("Perturb bar", style="bold underline"),
                  "model (M; click cycles), mode (m), p, seed, ΔWER (the paper's, as in the Runs table: WER "
                  "of the choice minus the list's oracle WER, clean → perturbed; not the list's Δ1st) and the data set's NPRR (c)")
    table.add_row(Text("Detail line", style="bold underline"),
                  "hyp 0 → rank 3: the highlighted hypothesis (first-pass rank 0) is ranked 3rd after rescoring; "
                  "then its swaps and its words against the reference")
    table.add_row(Text("Bare backbone", style="bold underline"),
                  "the untrained MiniLM-L6 with the rescorer's zero-initialised head: every LM score is "
                  "exactly 0, so the combined score is the first-pass prior and the order is the first pass. "
                  "The model is not run: a zero head gives 0 whatever the encoder says.")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help", classes="dialog wide"):
            yield Static("lorascope · keys and marks", classes="dialog-title")
            yield Static(help_text())
            yield Static("esc close", classes="dialog-keys")

    def action_close(self) -> None:
        self.dismiss(None)

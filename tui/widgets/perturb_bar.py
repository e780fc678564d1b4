"""The perturb panel's status line: mode, probability, seed, the utterance's ΔWER and the data set's NPRR.

Every part is also a mouse target (Textual's ``@click`` markup) for the key that changes it.
"""

from __future__ import annotations

from textual.widgets import Static

from ..inspector import UtteranceView, fmt_pct
from ..perturbation import PERTURB_MODES, PerturbSettings


def _utterance_delta(view: UtteranceView | None) -> str:
    if view is None or view.clean_delta_wer is None:
        return "ΔWER –"
    clean = fmt_pct(view.clean_delta_wer, 1)
    if not view.perturbed and not view.pending:
        return f"ΔWER {clean}"
    shown = "…" if view.pending or view.delta_wer is None else fmt_pct(view.delta_wer, 1)
    return f"ΔWER {clean}→{shown}"


class PerturbBar(Static):
    """One line: ``perturb off 1 N │ p 0.50 │ seed 0 ↻ │ utt ΔWER 0.0→12.5 │ set NPRR 41.4%``."""

    def show(self, settings: PerturbSettings, view: UtteranceView | None, nprr: str, edits: int) -> None:
        modes = []
        for m in PERTURB_MODES:
            label = "off" if m == "off" else m
            style = "reverse bold" if m == settings.mode else "dim"
            modes.append(f"[{style}][@click=screen.set_mode('{m}')] {label} [/][/]")
        swaps = f" [b]+{edits} swap{'s' if edits != 1 else ''}[/]" if edits else ""
        line = (f"[b]perturb[/]{''.join(modes)}"
                f" │ [@click=screen.p_down]p[/] {settings.p:.2f}"
                f" │ [@click=screen.reroll]seed {settings.seed} ↻[/]{swaps}"
                f" │ utt {_utterance_delta(view)}"
                f" │ [@click=screen.dataset_nprr]set NPRR {nprr}[/]")
        self.update(line)


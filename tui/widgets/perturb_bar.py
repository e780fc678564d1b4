"""The perturb panel's status line: perturbation model, mode, probability, seed, the utterance's ΔWER and the data
set's NPRR, or a note about the model in place of the figures.

Every part is also a mouse target (Textual's ``@click`` markup) for the key that changes it.
"""

from __future__ import annotations

from textual.markup import escape
from textual.widgets import Static

from ..inspector import UtteranceView, fmt_pct
from ..perturbation import PERTURB_MODES, PerturbSettings, model_name


def _utterance_delta(view: UtteranceView | None) -> str:
    """The paper's ΔWER of the utterance: the chosen hypothesis' WER minus the list's oracle WER, as in the Runs
    table (the utterance list's Δ1st subtracts the first pass's WER instead)."""
    if view is None or view.clean_delta_wer is None:
        return "ΔWER –"
    clean = fmt_pct(view.clean_delta_wer, 1)
    if not view.perturbed and not view.pending:
        return f"ΔWER {clean}"
    shown = "…" if view.pending or view.delta_wer is None else fmt_pct(view.delta_wer, 1)
    return f"ΔWER {clean}→{shown}"


class PerturbBar(Static):
    """One line: ``perturb paper off 1 N │ p 0.50 │ seed 0 ↻ │ ΔWER 0.0→12.5 │ set NPRR 41.4%`` (ΔWER is the
    utterance's).

    ``coming`` names a model being made ready (mined confusions being mined); ``note`` (why a model could not
    be used) takes the place of p, seed and the figures until the next change.
    """

    def show(self, settings: PerturbSettings, view: UtteranceView | None, nprr: str, edits: int, *,
             coming: str | None = None, note: str = "") -> None:
        model = f"{coming}…" if coming else model_name(settings.model)
        modes = []
        for m in PERTURB_MODES:
            label = "off" if m == "off" else m
            style = "reverse bold" if m == settings.mode else "dim"
            modes.append(f"[{style}][@click=screen.set_mode('{m}')] {label} [/][/]")
        line = f"[b]perturb[/] [@click=screen.cycle_model][b u]{model}[/][/]{''.join(modes)}"
        if note:
            line += f" │ [$warning]{escape(note)}[/]"
        else:
            swaps = f" [b]+{edits} swap{'s' if edits != 1 else ''}[/]" if edits else ""
            line += (f" │ [@click=screen.p_down]p[/] {settings.p:.2f}"
                     f" │ [@click=screen.reroll]seed {settings.seed} ↻[/]{swaps}"
                     f" │ {_utterance_delta(view)}"
                     f" │ [@click=screen.dataset_nprr]set NPRR {nprr}[/]")
        self.update(line)

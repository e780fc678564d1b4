"""Modal dialogs: type one value, and swap a word for a sound-alike candidate."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker


class InputScreen(ModalScreen[str | None]):
    """One line of input; Enter returns it, Escape returns None."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, title: str, value: str = "", note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield Input(value=self.value, id="value")
            if self.note:
                yield Static(self.note, classes="dialog-note")
            yield Static("enter accept · esc cancel", classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class WordSwapScreen(ModalScreen[tuple[int, object] | None]):
    """Pick a word of one hypothesis (left), then one of its sound-alike candidates (right).

    Returns ``(word position, Candidate)``. Candidates are the current perturbation model's
    (core.perturb.token_candidates with ``model``: a config or a spec; ``model_label`` names it), each labelled
    with where it came from (round trip, mined ×count, lexicon); looked up in a worker because an
    out-of-vocabulary word may need the g2p model.
    """

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    class CandidatesFound(Message):
        def __init__(self, position: int, candidates: tuple) -> None:
            super().__init__()
            self.position = position
            self.candidates = candidates

    def __init__(self, utterance, hypothesis: int, index_loader, model, model_label: str) -> None:
        super().__init__()
        self.utterance = utterance
        self.hypothesis = hypothesis
        self.index_loader = index_loader
        self.model = model
        self.model_label = model_label
        self.tokens = utterance.hypotheses[hypothesis].text.split()
        self.candidates: tuple = ()
        self.position: int | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text.assemble(f"swap a word of hypothesis {self.hypothesis}: ",
                                       (self.utterance.hypotheses[self.hypothesis].text, "italic")),
                         classes="dialog-title")
            with Horizontal(id="swap-lists"):
                yield OptionList(*[Option(Text(f"{k:>2} {t}"), id=str(k)) for k, t in enumerate(self.tokens)],
                                 id="words")
                yield OptionList(id="candidates")
            yield Static("", id="swap-note", classes="dialog-note")
            yield Static("↑↓ word · enter/tab candidates · enter apply · esc cancel", classes="dialog-keys")

    def on_mount(self) -> None:
        words = self.query_one("#words", OptionList)
        words.focus()
        if self.tokens:
            words.highlighted = 0

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "words" and event.option.id is not None:
            self.position = int(event.option.id)
            self.query_one("#swap-note", Static).update(f"looking up sound-alikes of {self.tokens[self.position]!r}…")
            self.lookup(self.position)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "words":
            self.query_one("#candidates", OptionList).focus()
        elif event.option.id is not None and self.position is not None:
            self.dismiss((self.position, self.candidates[int(event.option.id)]))

    @work(thread=True, exclusive=True, group="candidates")
    def lookup(self, position: int) -> None:
        from lorascope.core.perturbation.perturb import token_candidates

        index = self.index_loader()
        found = token_candidates(self.utterance, self.hypothesis, position, model=self.model, index=index, limit=12)
        if not get_current_worker().is_cancelled:
            self.post_message(self.CandidatesFound(position, found))

    def on_word_swap_screen_candidates_found(self, event: CandidatesFound) -> None:
        if event.position != self.position:
            return
        self.candidates = event.candidates
        options = self.query_one("#candidates", OptionList)
        options.clear_options()
        for k, c in enumerate(event.candidates):
            span = " (+next word)" if c.span == 2 else ""
            options.add_option(Option(Text.assemble(c.text, (f"  {c.label}", "bold"),
                                                    (f" {c.kind} {c.distance:.2f}{span}", "dim")), id=str(k)))
        if event.candidates:
            options.highlighted = 0
        note = self.query_one("#swap-note", Static)
        word = self.tokens[event.position]
        n = len(event.candidates)
        note.update(f"{n or 'no'} {self.model_label} sound-alike{'' if n == 1 else 's'} of {word!r}"
                    + ("" if n else "; esc, then M changes the model"))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

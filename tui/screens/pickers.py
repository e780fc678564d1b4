"""The adapter and data-set pickers: modal lists read from the store in a worker when they open, so runs trained
and sets imported while the app is open appear too."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from .. import store_reads


class StorePicker(ModalScreen[Any]):
    """A titled list of what :meth:`read` finds; Enter returns the chosen value, Escape None."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]
    TITLE_TEXT = ""
    NOTE = ""
    CLASSES = "dialog"

    class Read(Message):
        def __init__(self, options: list[tuple[str, str, Any]], error: str | None = None) -> None:
            super().__init__()
            self.options = options
            self.error = error

    def __init__(self, current: str | None = None) -> None:
        super().__init__()
        self.current = current
        self.options: list[tuple[str, str, Any]] = []

    def read(self) -> list[tuple[str, str, Any]]:
        """(key, label, value) of every entry; runs in a worker thread."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(classes=self.CLASSES):
            yield Static(self.TITLE_TEXT, classes="dialog-title")
            yield OptionList(Option(Text("reading the store…", style="dim"), disabled=True), id="choices")
            if self.NOTE:
                yield Static(self.NOTE, classes="dialog-note")
            yield Static("enter choose · esc cancel", classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._read()

    @work(thread=True, exit_on_error=False)
    def _read(self) -> None:
        try:
            self.post_message(self.Read(self.read()))
        except Exception as exc:
            self.post_message(self.Read([], f"{type(exc).__name__}: {exc}"))

    def on_store_picker_read(self, message: Read) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        if message.error:
            options.add_option(Option(Text(message.error, style="red"), disabled=True))
            return
        self.options = message.options
        for key, label, _ in message.options:
            options.add_option(Option(Text(("● " if key == self.current else "  ") + label), id=key))
        keys = [k for k, _, _ in message.options]
        if keys:
            options.highlighted = keys.index(self.current) if self.current in keys else 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        value = next((v for k, _, v in self.options if k == event.option.id), None)
        if value is not None:
            self.dismiss(value)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class AdapterPicker(StorePicker):
    """Every stored run with an adapter, newest first, and the bare backbone; returns an AdapterChoice."""

    TITLE_TEXT = "adapter"
    CLASSES = "dialog wide"
    NOTE = "runs with an adapter, newest first: strategy, backbone, λ; training data, steps, dev / test WER"

    def read(self) -> list[tuple[str, str, Any]]:
        db = self.app.db_path  # type: ignore[attr-defined]
        details = store_reads.adapter_details(db)
        return [(c.key, c.label + (f"\n    {details[c.run_id]}" if c.run_id in details else ""), c)
                for c in store_reads.read_choices(db)]


class DatasetPicker(StorePicker):
    """Every stored data set; returns its name."""

    TITLE_TEXT = "data set"

    def read(self) -> list[tuple[str, str, Any]]:
        infos = store_reads.read_datasets(self.app.db_path)  # type: ignore[attr-defined]
        return [(d.name, f"{d.name}  ({d.utterances} lists, {d.hypotheses} hypotheses)", d.name) for d in infos]

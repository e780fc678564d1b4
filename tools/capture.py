"""Plain-text captures of the running app's screens (docs/how-to/inspector.md) and a helper that reads the screen as text.

``python -m tools.capture --db STORE [--size 80x24] [--out docs/how-to/inspector.md] [--svg docs/img/screens]``
opens the app headless on STORE, walks through every screen (keys below), waits for the workers after each step
and writes one text capture per screen (and SVG screenshots with ``--svg``). A file given to ``--out`` that holds
the two marker lines below gets its captures replaced between them and keeps the rest; any other file is
overwritten with a document of captures alone.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
from pathlib import Path

from rich.console import Console
from textual.app import App

# (title, what it shows, key groups; the app settles after each group)
FLOWS = [
    ("Inspect", "The inspect screen as it opens: the newest finished run on its test set, the utterance list "
                "(rank flips and WER change under this adapter), the reference, the perturb panel and the "
                "N-best table. The list is sorted by rank flips (s) and the first utterance picked.",
     [("s",), ("ctrl+home",), ("tab",)]),
    ("Inspect, perturb-N", "The same utterance under perturb-N (m twice) with the mined model (M: the "
                           "recogniser's confusions in the adapter's training set, sample-dev, mined in the "
                           "background): * marks perturbed hypotheses, Δp the move against the clean list under the "
                           "same rescorer; the detail line lists the swaps.",
     [("s",), ("ctrl+home",), ("tab", "M"), ("m", "m")]),
    ("Word swap", "w on a hypothesis: its words on the left, the highlighted word's sound-alike candidates under "
                  "the current model (here mined, each with how often the recogniser made that confusion) on the "
                  "right; enter applies one and the table is rescored.",
     [("s",), ("ctrl+home",), ("tab", "M"), ("down", "w"), ("down", "down")]),
    ("Adapter picker", "a: every stored run with an adapter, newest first, and the bare backbone.", [("a",)]),
    ("Runs", "2: the Table 3 comparison of stored runs (sortable with s, or by clicking a header; e exports "
             "CSV), and the highlighted run's training curves (v: loss, dev WER, learning rate, rank budget; x "
             "exports them) and final ranks (S1/S3).",
     [("2",), ("ctrl+end",)]),
    ("Fragile lists", "f on the Runs screen: the highlighted run's lists by how often its choice flipped under the "
                      "stored perturbations (conditions × seeds), most first; e exports them.",
     [("2",), ("f",)]),
    ("Help", "?: every key, the columns and the marks.", [("question_mark",)]),
]


def screen_text(app: App) -> str:
    """The current screen as text, one line per terminal row, trailing spaces removed."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system=None,
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    lines = console.export_text(styles=False).splitlines()
    return "\n".join(line.rstrip() for line in lines[:height])


async def settle(pilot, rounds: int = 3000, *, step: float = 0.02, quiet: int = 5,
                 final: float | None = 0.3) -> None:
    """Wait until no worker has run for ``quiet`` pauses of ``step`` seconds (workers start further workers, timers
    start workers), then ``final`` seconds (None: until the screen is idle) for it to be redrawn."""
    app = pilot.app
    calm = 0
    for _ in range(rounds):
        await pilot.pause(step)
        busy = [w for w in app.workers if w.is_running]
        if busy:
            calm = 0
            await app.workers.wait_for_complete(busy)
            continue
        calm += 1
        if calm >= quiet:
            await pilot.pause(final)
            return
    raise RuntimeError("the app did not settle")


async def capture(db: Path, size: tuple[int, int], flows=FLOWS, svg: Path | None = None) -> list[tuple[str, str, str]]:
    """(title, description, text) for every flow, each from a fresh app."""
    from lorascope.tui.app import LorascopeApp

    out = []
    for k, (title, about, groups) in enumerate(flows):
        app = LorascopeApp(db, export_dir=tempfile.gettempdir())
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            for keys in groups:
                await pilot.press(*keys)
                await settle(pilot)
            app.clear_notifications()
            await pilot.pause(0.2)
            out.append((title, about, screen_text(app)))
            if svg is not None:
                svg.mkdir(parents=True, exist_ok=True)
                name = f"{k + 1}-{title.lower().replace(' ', '-').replace(',', '')}.svg"
                (svg / name).write_text(app.export_screenshot(title=f"lorascope: {title}"))
    return out


async def capture_empty(size: tuple[int, int]) -> str:
    from lorascope.tui.app import LorascopeApp

    with tempfile.TemporaryDirectory() as tmp:
        app = LorascopeApp(Path(tmp) / "lorascope.db")
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            return screen_text(app).replace(str(Path(tmp) / "lorascope.db"), "~/.local/share/lorascope/lorascope.db")


#: The lines between which ``--out`` replaces the captures of a longer document.
START = "<!-- captures: written by tools/capture.py from here to the end marker -->"
END = "<!-- captures: end -->"


def captures_markdown(shots: list[tuple[str, str, str]], level: int) -> str:
    """One heading (at ``level``), its description and a text block per capture."""
    hashes = "#" * level
    return "\n".join(f"{hashes} {title}\n\n{about}\n\n```text\n{text}\n```\n" for title, about, text in shots)


def into_document(doc: str, captures: str) -> str | None:
    """``doc`` with its captures between START and END replaced by ``captures``; None if it has no markers."""
    if START not in doc or END not in doc:
        return None
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n\n{captures}\n{END}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="the store to capture")
    parser.add_argument("--size", default="80x24", help="terminal size, WIDTHxHEIGHT (default 80x24)")
    parser.add_argument("--out", type=Path, help="Markdown file to write, or to update between its capture markers "
                        "(docs/how-to/inspector.md); default: standard output")
    parser.add_argument("--svg", type=Path, help="also write SVG screenshots into this folder")
    parser.add_argument("--intro", default="", help="a paragraph under the heading (how the store was made)")
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.lower().split("x"))
    shots = asyncio.run(capture(args.db, (width, height), svg=args.svg))
    empty = asyncio.run(capture_empty((width, height)))
    shots = shots + [("Empty store", "A store with no data sets says what to do next.", empty)]
    existing = args.out.read_text(encoding="utf-8") if args.out and args.out.exists() else ""
    doc = into_document(existing, captures_markdown(shots, 3))
    if doc is None:
        parts = [f"# lorascope's screens ({width}x{height} text captures)\n"]
        if args.intro:
            parts.append(args.intro.strip() + "\n")
        doc = "\n".join(parts + [captures_markdown(shots, 2)])
    if args.out:
        args.out.write_text(doc, encoding="utf-8")
    else:
        print(doc)


if __name__ == "__main__":
    main()

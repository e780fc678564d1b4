"""How long the inspector takes to show the utterance list's figures for sample-test under the demo adapter: on
the first start (it scores every list, then stores the scores as `lorascope eval` would) and on the next
(it reads the stored scores). ``python -m benchmarks.bench_tui_start``; prints one line per start."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path


async def _start(db: Path, folder: Path, label: str) -> None:
    from lorascope.store import Store
    from lorascope.tui.app import LorascopeApp

    app = LorascopeApp(db, export_dir=folder)
    t0 = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        figures = None
        while time.perf_counter() - t0 < 900:
            await pilot.pause(0.2)
            figures = getattr(app.screen, "figures", None)
            if figures is not None and figures.rescored_wer is not None:
                break
        took = time.perf_counter() - t0
        ins = app.screen.inspector
        wer = "–" if figures is None or figures.rescored_wer is None else f"{100 * figures.rescored_wer:.2f}%"
        print(f"{label}: list figures complete after {took:.1f} s ({ins.adapter.key} on {ins.dataset}, "
              f"rescored WER {wer})")
        await app.workers.wait_for_complete([w for w in app.workers if w.is_running])  # the store write
    with Store(db, readonly=True) as store:
        rows = [(m["run_id"], m["dataset"]) for m in store.metrics() if m["split"] == "eval"]
    print(f"  stored eval rows (run, data set): {rows}")


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="lorascope-bench-start-"))
    os.environ["LORASCOPE_STATE_DIR"] = str(folder / "state")
    from lorascope.samples import ensure_sample_sets
    from lorascope.store import Store

    db = folder / "store.db"
    with Store(db) as store:
        ensure_sample_sets(store)
    asyncio.run(_start(db, folder, "first start"))
    asyncio.run(_start(db, folder, "second start"))


if __name__ == "__main__":
    main()

"""A run's training curves on the Runs screen (textual-plotext): loss, dev WER, learning rate or rank budget over
steps, one at a time (``v`` goes to the next)."""

from __future__ import annotations

from typing import Any

from textual_plotext import PlotextPlot

#: (event key, title, how a value is shown): the curves in the order ``v`` goes through them.
CURVES = (
    ("loss", "training loss", 1.0),
    ("dev_wer", "dev WER % (best λ)", 100.0),     # the best of the dev λ grid: what selects the kept step
    ("lr", "learning rate", 1.0),
    ("rank_budget", "rank budget (Σ rank)", 1.0),  # total rank over the adapted matrices (S1/S3)
)
CURVE_KEYS = tuple(k for k, _, _ in CURVES)


def curve_points(events: list[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    """(step, value) of every logged step with a value of ``key``."""
    return [(e["step"], e[key]) for e in events if e.get(key) is not None]


class RunCurves(PlotextPlot):
    """One curve of one run; says when the run stored none of that kind."""

    def show(self, run_id: int, strategy: str, events: list[dict[str, Any]], key: str) -> None:
        title, scale = next((t, s) for k, t, s in CURVES if k == key)
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        points = curve_points(events, key)
        marker = "braille" if len(points) > 1 else "dot"
        if points:
            plt.plot([s for s, _ in points], [v * scale for _, v in points], marker=marker)
            plt.title(f"run {run_id} {strategy}: {title}")
            plt.xlabel("step  (v: next curve)")
        else:
            why = {"rank_budget": "fixed-rank strategies have no rank budget",
                   "lr": "runs stored before the learning rate was logged",
                   "dev_wer": "no dev evaluation logged"}.get(key, "nothing logged")
            plt.title(f"run {run_id}: no {title.split(' (')[0]} stored ({why}); v: next curve")
        self.refresh()

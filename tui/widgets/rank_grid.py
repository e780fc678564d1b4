"""Final rank of every adapted matrix (S1/S3 runs) as a layer x matrix grid."""

from __future__ import annotations

import re

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

# Wq, Wk, Wv, Wo, Wf1, Wf2 under BERT-style names and DistilBERT's; longest suffix first.
MATRICES = ("q", "k", "v", "o", "f1", "f2")
_SUFFIXES = (
    ("attention.self.query", "q"), ("attention.q_lin", "q"),
    ("attention.self.key", "k"), ("attention.k_lin", "k"),
    ("attention.self.value", "v"), ("attention.v_lin", "v"),
    ("attention.output.dense", "o"), ("attention.out_lin", "o"),
    ("intermediate.dense", "f1"), ("ffn.lin1", "f1"),
    ("output.dense", "f2"), ("ffn.lin2", "f2"),
)
_LAYER = re.compile(r"(?:^|\.)layer\.(\d+)\.(.+)$")


def parse_module(name: str) -> tuple[int, str] | None:
    """(layer, matrix) of an adapted module name such as ``encoder.layer.3.attention.self.query``."""
    m = _LAYER.search(name)
    if not m:
        return None
    rest = m.group(2)
    for suffix, matrix in _SUFFIXES:
        if rest == suffix or rest.startswith(suffix + "."):
            return int(m.group(1)), matrix
    return None


def rank_grid(ranks: dict[str, int]) -> tuple[dict[int, dict[str, int]], list[str]]:
    """Ranks by layer and matrix, and the module names that did not parse."""
    grid: dict[int, dict[str, int]] = {}
    unknown = []
    for name, rank in ranks.items():
        where = parse_module(name)
        if where is None:
            unknown.append(name)
            continue
        layer, matrix = where
        grid.setdefault(layer, {})[matrix] = int(rank)
    return grid, unknown


class RankGrid(Static):
    """Rows are layers, columns Wq Wk Wv Wo Wf1 Wf2; brighter cells hold more rank, 0 is a pruned matrix."""

    def show_ranks(self, ranks: dict[str, int] | None, note: str = "") -> None:
        if not ranks:
            self.update(Text(note or "no rank allocation stored", style="dim"))
            return
        grid, unknown = rank_grid(ranks)
        top = max(ranks.values()) or 1
        table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
        table.add_column("layer", justify="right")
        for m in MATRICES:
            table.add_column(m, justify="right")
        table.add_column("Σ", justify="right", style="bold")
        for layer in sorted(grid):
            cells = []
            for m in MATRICES:
                r = grid[layer].get(m)
                if r is None:
                    cells.append(Text("·", style="dim"))
                    continue
                share = r / top
                style = "red" if r == 0 else "bold green" if share >= 0.75 else "green" if share >= 0.4 else "yellow"
                cells.append(Text(str(r), style=style))
            table.add_row(str(layer), *cells, str(sum(grid[layer].values())))
        caption = f"total {sum(ranks.values())} over {len(ranks)} matrices"
        if unknown:
            caption += f", {len(unknown)} unplaced"
        table.caption = caption
        self.update(table)

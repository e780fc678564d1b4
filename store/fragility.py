"""The fragility of a run's choices: per utterance, how often the rescorer's choice flipped under the perturbations
that ``lorascope robustness`` (or the inspector's data-set NPRR) stored for it, from the ``rank_changes`` table."""

from __future__ import annotations

from typing import Any

from .db import Store
from .reports import BEFORE_MODELS


def fragile_lists(store: Store, run_id: int, *, flipped_only: bool = True) -> list[dict[str, Any]]:
    """One row per (data set, utterance) that run ``run_id``'s stored perturbations touched, most flips first.

    ``perturbations``: stored perturbed versions of the list (conditions x seeds); ``flips``: how many of them
    changed the chosen hypothesis; ``flip_share`` = flips / perturbations; ``delta_errors``: word errors of the
    choice after minus before, summed over them; ``conditions`` and ``model``: which perturbations (comma-joined).
    With ``flipped_only`` lists that never flipped are left out. Ties: more added errors first, then list order.
    """
    store.run(run_id)   # a missing run: StoreError naming it
    rows = store._rows(
        "SELECT d.name AS dataset, u.utt_id AS utterance, u.reference AS reference, COUNT(*) AS perturbations, "
        "SUM(rc.top_flipped) AS flips, SUM(rc.delta_errors) AS delta_errors, "
        "GROUP_CONCAT(DISTINCT m.perturbation) AS conditions, "
        "GROUP_CONCAT(DISTINCT COALESCE(m.perturbation_model, ?)) AS model "
        "FROM rank_changes rc JOIN metrics m ON m.id = rc.metric_id "
        "JOIN utterances u ON u.id = rc.utterance_id JOIN datasets d ON d.id = u.dataset_id "
        "WHERE rc.run_id = ? GROUP BY rc.utterance_id "
        "ORDER BY flips DESC, delta_errors DESC, d.id, u.position", [BEFORE_MODELS, run_id])
    out = []
    for r in rows:
        if flipped_only and not r["flips"]:
            continue
        r["run"] = run_id
        r["flip_share"] = r["flips"] / r["perturbations"] if r["perturbations"] else None
        out.append(r)
    return out

"""How a stored result was made: the data set's role for its run, and the settings that tell results apart.

Every metric row carries the data set, its split and role, the perturbation model and its settings, p, the
perturbation seeds of its measurement and the combination whose choices it scores (docs/reference/provenance.md). Reports
group by :func:`setting_key`, so rows made under different settings are never averaged together.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

#: What a reader needs to tell two results apart besides the run, data set and condition.
SETTING_FIELDS = ("role", "model", "p", "seeds", "lam", "combination")
MISSING = "?"


def combination_dict(combination: Any) -> dict[str, Any] | None:
    """A combination as stored: None, its dict as given, or a core Combination's ``to_dict()``."""
    if combination is None or isinstance(combination, Mapping):
        return None if combination is None else dict(combination)
    return combination.to_dict()


def data_role(run: Any, dataset: str, split: str | None) -> str | None:
    """The data set's role for ``run`` as far as its record tells: ``tuning`` for its dev set (the combination
    was tuned there), ``test``, ``train``, else ``held-out``; None without a run."""
    if run is None:
        return None
    if split in ("dev", "test", "train"):
        return "tuning" if split == "dev" else split
    for role, name in (("tuning", run.dev_dataset), ("test", run.test_dataset), ("train", run.train_dataset)):
        if dataset == name:
            return role
    return "held-out"


def model_spec(name: str | None, settings: str | Mapping[str, Any] | None) -> str:
    """``lexicon:max_distance=0.0``: the perturbation model and the settings that differ from its defaults
    (the model's own spec where core can rebuild it; else the name and every stored setting)."""
    if name is None:
        return MISSING
    values = json.loads(settings) if isinstance(settings, str) else dict(settings or {})
    values.pop("name", None)
    values.pop("combination", None)   # stored beside the model's settings (the combination that scored the lists)
    try:
        from lorascope.core.perturbation.models import perturbation_config

        return perturbation_config(name, **values).spec()
    except Exception:  # a setting this version no longer knows: show them all
        shown = ",".join(f"{k}={v}" for k, v in sorted(values.items()) if not isinstance(v, (dict, list)))
        return name + (":" + shown if shown else "")


def seeds_text(seeds: str | Sequence[int] | None) -> str:
    """``0,1,2`` (``?`` when not recorded, ``-`` for none)."""
    if seeds is None:
        return MISSING
    values = json.loads(seeds) if isinstance(seeds, str) else list(seeds)
    return ",".join(str(s) for s in values) if values else "-"


def describe_combination(combination: str | Mapping[str, Any] | None) -> str:
    """``1·rank + 0.31·score + 0.056·LM`` (``?`` when not recorded)."""
    if combination is None:
        return MISSING
    data = json.loads(combination) if isinstance(combination, str) else combination
    try:
        from lorascope.core.combination.model import Combination

        return Combination.from_dict(data).describe()
    except Exception:
        return json.dumps(data, sort_keys=True)


def setting_key(row: Mapping[str, Any]) -> tuple:
    """What must match for two metric rows to belong to one table row (besides run, data set, condition)."""
    return (row.get("role"), row.get("perturbation_model"), row.get("settings"), row.get("p"), row.get("seeds"),
            row.get("combination"))


def differing(rows: Sequence[Mapping[str, Any]], fields: Sequence[str] = SETTING_FIELDS) -> list[str]:
    """The ``fields`` whose values are not the same in every row (the columns a table must show)."""
    return [f for f in fields if len({json.dumps(r.get(f), sort_keys=True, default=str) for r in rows}) > 1]

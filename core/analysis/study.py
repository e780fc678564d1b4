"""A study as data: the grid of the papers' experiments (strategies x backbones x training seeds x training sizes,
then perturbation models x p x perturbation seeds), read from TOML or options, checked before anything runs, and
enumerated into cells.

A cell is one training run (strategy, backbone, training seed, training size) and everything measured on it: its
test WER (stored by the training job) and one robustness result per perturbation model and p value. Cells are
numbered in a fixed order (``position``), so ``study cells`` and ``--cell K`` mean the same cell on every machine.
"""

from __future__ import annotations

import json
import random
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

from lorascope.core.errors import InputError
from lorascope.core.names import TRAINED_STRATEGY_NAMES as STRATEGY_NAMES   # a grid compares strategies that train

MODES = ("1", "N")
#: Training options a study may set for every cell (the training length policy among them); the grid keys and
#: the data sets are set per cell.
TRAIN_KEYS = {"steps": int, "epochs": float, "batch_size": int, "lr": float, "cor_weight": float,
              "dropout": float, "lambda_confidence": float, "checkpoint_every": int, "engine": str,
              "nproc": int}     # nproc: training processes per cell (lorascope train --nproc: torchrun's environment)
SECTIONS: dict[str, dict[str, str]] = {
    "": {"name": "the study's name (unique in a store)"},
    "data": {"train": "training set", "dev": "dev set", "test": "test set"},
    "grid": {"backbones": "backbones", "strategies": "strategies", "seeds": "training seeds",
             "sizes": "training-set sizes (nested subsets)", "size_seed": "the seed of the nested subsets"},
    "train": {k: "training option" for k in TRAIN_KEYS},
    "robustness": {"models": "perturbation models", "p": "p values", "seeds": "perturbation seeds",
                   "modes": "perturb-1 / perturb-N"},
}


@dataclass(frozen=True)
class StudySpec:
    """What a study measures; ``to_dict()`` is its identity (stored; a second ``run`` must match it)."""

    name: str
    train: str = "sample-train"
    dev: str = "sample-dev"
    test: str = "sample-test"
    backbones: tuple[str, ...] = ("minilm-l6",)
    strategies: tuple[str, ...] = ("lora",)
    seeds: tuple[int, ...] = (0,)
    sizes: tuple[int, ...] = ()                  # empty: the whole training set
    size_seed: int = 0
    train_options: dict[str, Any] = field(default_factory=dict)
    models: tuple[str, ...] = ()                 # perturbation model specs; empty: no robustness
    p: tuple[float, ...] = (0.5,)
    perturbation_seeds: tuple[int, ...] = (0, 1, 2)
    modes: tuple[str, ...] = MODES

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StudySpec":
        d = dict(d)
        for key in ("backbones", "strategies", "seeds", "sizes", "models", "p", "perturbation_seeds", "modes"):
            d[key] = tuple(d.get(key, ()))
        return cls(**d)

    def model_name(self, spec: str) -> str:
        return spec.partition(":")[0].strip()

    def describe(self) -> str:
        """One line saying how the study's figures were made."""
        length = ", ".join(f"{k} {v}" for k, v in sorted(self.train_options.items())) or "the length rule"
        return (f"study {self.name}: train {self.train}, dev {self.dev}, test {self.test}; {length}; "
                f"training seeds {', '.join(map(str, self.seeds))}")


@dataclass(frozen=True)
class Cell:
    position: int
    backbone: str
    strategy: str
    size: int | None                             # None: the whole training set
    seed: int

    @property
    def key(self) -> str:
        size = "all" if self.size is None else str(self.size)
        return f"{self.strategy} {self.backbone} seed {self.seed} size {size}"


def cells(spec: StudySpec) -> list[Cell]:
    """The study's cells in their fixed order: backbone, size (largest first), strategy, seed."""
    sizes: list[int | None] = sorted(spec.sizes, reverse=True) if spec.sizes else [None]
    grid = product(spec.backbones, sizes, spec.strategies, spec.seeds)
    return [Cell(k, b, s, n, seed) for k, (b, n, s, seed) in enumerate(grid)]


def subset_order(count: int, seed: int) -> list[int]:
    """A fixed permutation of ``count`` lists; the first n of it is the size-n subset, so subsets nest."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return order


def subset_name(train: str, size: int, seed: int) -> str:
    return f"{train}~{size}s{seed}"


# ------------------------------------------------------------------------------------------------ reading


def _list(where: str, value: Any, kind: type) -> tuple:
    values = value if isinstance(value, list) else [value]
    out = []
    for v in values:
        if kind is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, kind) or isinstance(v, bool):
            raise InputError(where, f"expected {kind.__name__} values, got {v!r}")
        out.append(v)
    if not out:
        raise InputError(where, "is empty")
    return tuple(out)


def _check(spec: StudySpec, place: str) -> StudySpec:
    """Names a study may use: known strategies, perturbation models and their settings, sane numbers."""
    from lorascope.core.perturbation.models import PERTURBATIONS, perturbation_for

    if not spec.name or not spec.name.strip():
        raise InputError(f"{place}name", "a study needs a name")
    for s in spec.strategies:
        if s not in STRATEGY_NAMES:
            raise InputError(f"{place}grid.strategies", f"unknown strategy {s!r} (known: {', '.join(STRATEGY_NAMES)})")
    seen = set()
    for m in spec.models:
        name = spec.model_name(m)
        if name not in PERTURBATIONS:
            raise InputError(f"{place}robustness.models", f"unknown perturbation model {name!r} "
                                                          f"(known: {', '.join(PERTURBATIONS)})")
        if name in seen:
            raise InputError(f"{place}robustness.models", f"{name} appears twice (one setting per model)")
        seen.add(name)
        try:   # mined without from= mines each run's training set: a placeholder checks the rest
            perturbation_for(m, mined_from="the run's training set")
        except InputError as exc:
            raise InputError(f"{place}robustness.models", str(exc)) from None
    for mode in spec.modes:
        if mode not in MODES:
            raise InputError(f"{place}robustness.modes", f"unknown mode {mode!r} (1 or N)")
    for p in spec.p:
        if not 0 < p <= 1:
            raise InputError(f"{place}robustness.p", f"must lie in (0, 1], got {p}")
    for n in spec.sizes:
        if n < 1:
            raise InputError(f"{place}grid.sizes", f"must be positive, got {n}")
    if spec.train_options.get("nproc", 1) < 1:
        raise InputError(f"{place}train.nproc", "must be 1 or more")
    if "steps" in spec.train_options and "epochs" in spec.train_options:
        raise InputError(f"{place}train", "give steps or epochs, not both")
    return spec


def spec_from_mapping(doc: dict[str, Any], place: str = "") -> StudySpec:
    """A spec from a TOML-shaped mapping; an unknown section or key is an InputError naming it."""
    kw: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            if key not in SECTIONS or key == "":
                raise InputError(f"{place}{key}", f"unknown section (known: {', '.join(s for s in SECTIONS if s)})")
            for sub in value:
                if sub not in SECTIONS[key]:
                    raise InputError(f"{place}{key}.{sub}", f"unknown key (known in [{key}]: "
                                                            f"{', '.join(SECTIONS[key])})")
        elif key not in SECTIONS[""]:
            raise InputError(f"{place}{key}", "unknown key (top level: name; sections: data, grid, train, robustness)")
    if "name" in doc:
        if not isinstance(doc["name"], str):
            raise InputError(f"{place}name", "expected a string")
        kw["name"] = doc["name"]
    data, grid = doc.get("data", {}), doc.get("grid", {})
    train, rob = doc.get("train", {}), doc.get("robustness", {})
    for split in ("train", "dev", "test"):
        if split in data:
            kw[split] = _list(f"{place}data.{split}", data[split], str)[0]
    for key, kind in (("backbones", str), ("strategies", str), ("seeds", int)):
        if key in grid:
            kw[key] = _list(f"{place}grid.{key}", grid[key], kind)
    if "sizes" in grid:
        kw["sizes"] = _list(f"{place}grid.sizes", grid["sizes"], int) if grid["sizes"] != [] else ()
    if "size_seed" in grid:
        kw["size_seed"] = _list(f"{place}grid.size_seed", grid["size_seed"], int)[0]
    kw["train_options"] = {k: _list(f"{place}train.{k}", v, TRAIN_KEYS[k])[0] for k, v in train.items()}
    if "models" in rob:
        kw["models"] = _list(f"{place}robustness.models", rob["models"], str) if rob["models"] != [] else ()
    if "p" in rob:
        kw["p"] = _list(f"{place}robustness.p", rob["p"], float)
    if "seeds" in rob:
        kw["perturbation_seeds"] = _list(f"{place}robustness.seeds", rob["seeds"], int)
    if "modes" in rob:
        kw["modes"] = tuple(str(m) for m in _list(f"{place}robustness.modes", rob["modes"], str))
    if "name" not in kw:
        raise InputError(f"{place}name", "a study needs a name (name = \"...\" or --name)")
    return _check(StudySpec(**kw), place)


def read_spec(path: str | Path | None, overrides: dict[str, Any] | None = None) -> StudySpec:
    """The spec in TOML file ``path`` (or none), with ``overrides`` (the command line's options, in the TOML's
    shape: ``{"grid": {"strategies": [...]}}``) on top."""
    doc: dict[str, Any] = {}
    place = ""
    if path is not None:
        path = Path(path)
        place = f"{path}: "
        try:
            doc = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise InputError(str(path), "no such file") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(str(path), f"not valid TOML ({exc})") from None
    for key, value in (overrides or {}).items():
        if isinstance(value, dict):
            doc.setdefault(key, {}).update(value)
        else:
            doc[key] = value
    return spec_from_mapping(doc, place)


def overrides_from_options(**options: Sequence[Any] | Any) -> dict[str, Any]:
    """The command line's study options in the TOML's shape (options left unset are left out)."""
    where = {"name": "", "train": "data", "dev": "data", "test": "data", "backbones": "grid",
             "strategies": "grid", "seeds": "grid", "sizes": "grid", "size_seed": "grid", "steps": "train",
             "epochs": "train", "batch_size": "train", "lr": "train", "models": "robustness", "p": "robustness",
             "perturbation_seeds": "robustness", "modes": "robustness"}
    out: dict[str, Any] = {}
    for key, value in options.items():
        if value is None or value == ():
            continue
        section = where[key]
        name = "seeds" if key == "perturbation_seeds" else key
        value = list(value) if isinstance(value, tuple) else value
        if section:
            out.setdefault(section, {})[name] = value
        else:
            out[name] = value
    return out

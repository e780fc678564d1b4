"""The ``lorascope.json`` of a saved adapter folder: its format constants, reading it, and its tuned combination.

Kept free of torch so that the store and the command line can read an adapter's description quickly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .combine import Combination
from .errors import InputError

ADAPTER_CONFIG = "lorascope.json"
ADAPTER_FORMAT = "lorascope-adapter"
ADAPTER_VERSION = 1


def read_adapter_config(directory: str | Path) -> dict[str, Any]:
    """The ``lorascope.json`` of an adapter folder (InputError when it is not one)."""
    path = Path(directory) / ADAPTER_CONFIG
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(str(directory), f"not a lorascope adapter folder (no {ADAPTER_CONFIG})") from None
    except ValueError as exc:
        raise InputError(str(path), f"not valid JSON ({exc})") from None
    if config.get("format") != ADAPTER_FORMAT:
        raise InputError(str(path), f"not a lorascope adapter config (format {config.get('format')!r})")
    if config.get("version", 0) > ADAPTER_VERSION:
        raise InputError(str(path), f"written by a newer lorascope (version {config['version']})")
    return config


def adapter_combination(config: dict[str, Any]) -> Combination | None:
    """The tuned combination an adapter config holds; configs from before the combination hold λ only, which
    weighed the training prior: ``prior + λ·LM``."""
    if config.get("combination"):
        return Combination.from_dict(config["combination"])
    if config.get("lam") is not None:
        return Combination.of({"prior": 1.0}, float(config["lam"]))
    return None

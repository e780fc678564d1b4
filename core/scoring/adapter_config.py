"""The ``lorascope.json`` of a saved adapter folder: its format constants, reading it, and its tuned combination.

Kept free of torch so that the store and the command line can read an adapter's description quickly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lorascope.core.combination.tune import Combination
from lorascope.core.errors import InputError

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


# ---------------------------------------------------------------------------------------------------------
# checking a folder for what it claims to be, before transformers, peft or safetensors touch it

_MAX_HEADER = 100 << 20


def safetensors_header(path: Path) -> dict[str, Any]:
    """The parsed header of a safetensors file, each tensor's byte range checked against the file's size
    (InputError when the file is missing, foreign or cut short)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if size < 8 or not 2 <= n <= min(size - 8, _MAX_HEADER):
                raise ValueError("no safetensors header")
            header = json.loads(fh.read(n))
    except FileNotFoundError:
        raise InputError(str(path), "missing") from None
    except (OSError, ValueError) as exc:
        raise InputError(str(path), f"not a safetensors file ({exc})") from None
    data = size - 8 - n
    ok = isinstance(header, dict) and all(
        k == "__metadata__" or (isinstance(v, dict) and isinstance(v.get("dtype"), str)
                                and isinstance(v.get("data_offsets"), list) and len(v["data_offsets"]) == 2
                                and all(isinstance(o, int) and 0 <= o <= data for o in v["data_offsets"]))
        for k, v in header.items())
    if not ok:
        raise InputError(str(path), "not a whole safetensors file (its header names data the file does not hold)")
    return header


def _json_object(path: Path, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), "missing") from None
    except (OSError, ValueError) as exc:
        raise InputError(str(path), f"not valid JSON ({exc})") from None
    if not isinstance(value, dict) or any(k not in value for k in keys):
        raise InputError(str(path), f"not the expected JSON object (needs {', '.join(keys) or 'an object'})")
    if "auto_map" in value:
        raise InputError(str(path), "asks for code of its own (auto_map), which lorascope never runs")
    return value


def _part(directory: Path, files: dict[str, Any], key: str, default: str | None = None) -> Path | None:
    name = files.get(key, default)
    if name is None:
        return None
    if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(name).parts:
        raise InputError(str(directory / ADAPTER_CONFIG), f"files.{key} is not a name inside the folder")
    return directory / name


def check_adapter_folder(directory: str | Path, config: dict[str, Any]) -> None:
    """InputError (one line) unless every part ``config`` names is what it claims to be: the head a whole
    safetensors file, the tokenizer a folder of JSON configs, the peft adapter its config and a safetensors file
    (never a pickled ``.bin``), the backbone a config with a model type and a safetensors file."""
    directory = Path(directory)
    files = config.get("files", {})
    if not isinstance(files, dict):
        raise InputError(str(directory / ADAPTER_CONFIG), "files is not a mapping")
    safetensors_header(_part(directory, files, "head", "head.safetensors"))
    tokenizer = _part(directory, files, "tokenizer", "tokenizer")
    configs = [p for p in (tokenizer / "tokenizer_config.json", tokenizer / "tokenizer.json") if p.is_file()]
    if not tokenizer.is_dir() or not configs:
        raise InputError(str(tokenizer), "not a tokenizer folder (no tokenizer_config.json or tokenizer.json)")
    for p in configs:
        _json_object(p)
    adapter = _part(directory, files, "adapter")
    if adapter is not None:
        _json_object(adapter / "adapter_config.json", ("peft_type", "target_modules"))
        safetensors_header(adapter / "adapter_model.safetensors")
    backbone = _part(directory, files, "backbone")
    if backbone is not None:
        _json_object(backbone / "config.json", ("model_type",))
        safetensors_header(backbone / "model.safetensors")


def check_model_folder(folder: str | Path) -> None:
    """InputError (one line) unless ``folder`` looks like a transformers model folder lorascope may load: a
    ``config.json`` with a model type and no code of its own, weights in safetensors (one file or an index of
    shards), and tokenizer configs, where present, that parse."""
    folder = Path(folder)
    _json_object(folder / "config.json", ("model_type",))
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        _json_object(index, ("weight_map",))
    else:
        safetensors_header(folder / "model.safetensors")
    for name in ("tokenizer_config.json", "tokenizer.json"):
        if (folder / name).is_file():
            _json_object(folder / name)

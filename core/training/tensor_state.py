"""A nested state (model, optimizer, RNG...) split into its tensors and a JSON skeleton, and joined back.

:func:`split` walks dicts, lists and tuples: every tensor goes into a flat ``{name: tensor}`` dict (for
safetensors) and is replaced by ``{"$tensor": name}``; what JSON cannot say directly is tagged: a tuple
``{"$tuple": [...]}``, a dict with keys other than strings ``{"$dict": [[key, value], ...]}``, a numpy array
``{"$ndarray": {"dtype", "shape", "data"}}``. :func:`join` undoes exactly these tags and nothing else, so a
skeleton can name data but never code; anything unknown is a :class:`StateError`.
"""

from __future__ import annotations

from typing import Any

import torch

_NUMPY_KINDS = "biuf"   # bool, signed, unsigned, float: the only numpy arrays a checkpoint holds (RNG states)


class StateError(ValueError):
    """The skeleton or the tensors are not what :func:`split` writes."""


def split(obj: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """``obj`` as a JSON-ready skeleton and the tensors it names (on the CPU, contiguous, storage not shared)."""
    tensors: dict[str, torch.Tensor] = {}
    seen: set[tuple[int, int]] = set()

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            ptr = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
            if ptr in seen or t.untyped_storage().nbytes() != t.numel() * t.element_size():
                t = t.clone()   # safetensors refuses tensors that share memory (tied weights, views)
            else:
                seen.add(ptr)
            name = path or "."
            while name in tensors:
                name += "'"
            tensors[name] = t
            return {"$tensor": name}
        if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
            return value
        if isinstance(value, dict):
            if all(isinstance(k, str) and not k.startswith("$") for k in value):
                return {k: walk(v, f"{path}/{k}") for k, v in value.items()}
            return {"$dict": [[walk(k, f"{path}/{k}#key"), walk(v, f"{path}/{k}")] for k, v in value.items()]}
        if isinstance(value, tuple):
            return {"$tuple": [walk(v, f"{path}/{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(value)]
        if type(value).__module__ == "numpy":
            import numpy as np

            if isinstance(value, np.ndarray) and value.dtype.kind in _NUMPY_KINDS:
                return {"$ndarray": {"dtype": value.dtype.str, "shape": list(value.shape),
                                     "data": value.ravel().tolist()}}
            if isinstance(value, np.generic):
                return value.item()
        raise TypeError(f"{path or 'the state'}: a {type(value).__name__} cannot be stored in a checkpoint")

    return walk(obj, ""), tensors


def join(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The state :func:`split` made ``skeleton`` and ``tensors`` from (StateError when they do not fit)."""

    def walk(value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, dict):
            raise StateError(f"unexpected {type(value).__name__} in the state")
        tags = [k for k in value if k.startswith("$")]
        if not tags:
            return {k: walk(v) for k, v in value.items()}
        if len(value) != 1:
            raise StateError(f"a tagged value with other keys ({sorted(value)})")
        tag, body = tags[0], value[tags[0]]
        if tag == "$tensor":
            if not isinstance(body, str) or body not in tensors:
                raise StateError(f"names a tensor the tensor file does not hold ({body!r})")
            return tensors[body]
        if tag == "$tuple" and isinstance(body, list):
            return tuple(walk(v) for v in body)
        if tag == "$dict" and isinstance(body, list) and all(isinstance(p, list) and len(p) == 2 for p in body):
            return {_hashable(walk(k)): walk(v) for k, v in body}
        if tag == "$ndarray" and isinstance(body, dict):
            return _ndarray(body)
        raise StateError(f"unknown or malformed tag {tag!r}")

    return walk(skeleton)


def _hashable(key: Any) -> Any:
    if isinstance(key, (str, int, float, bool, tuple)) or key is None:
        return key
    raise StateError(f"a dict key of type {type(key).__name__}")


def _ndarray(body: dict[str, Any]) -> Any:
    import numpy as np

    try:
        dtype = np.dtype(str(body["dtype"]))
        if dtype.kind not in _NUMPY_KINDS:
            raise StateError(f"an array of dtype {dtype}")
        return np.asarray(body["data"], dtype=dtype).reshape([int(n) for n in body["shape"]])
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(f"a malformed array ({exc})") from None


__all__ = ["StateError", "join", "split"]

"""Readers for N-best lists in one JSON document, streamed item by item: HyPoradise JSON and mlm-scoring JSON.

HyPoradise: a list of ``{"input": [hypotheses, best first], "output": reference}`` with an optional ``am_score``
or ``score`` list (one value a hypothesis; both at once is an error, as it is unclear which ranks) and an
optional ``id`` or ``utt_id`` (default: the item's index). Other keys (``instruction``) are ignored.

mlm-scoring: ``{utterance id: {"hyp_1": {"score": s, "text": t} or "t", ..., "ref": reference}}``, hypotheses
in the numeric order of their keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from lorascope.core.errors import InputError
from lorascope.core.data.nbest import Hypothesis, Utterance
from . import fields
from lorascope.core.data.formats.source import InputFile, JsonStream


def _objects(src: InputFile, kind: str, what: str, place: Callable[[Any], str]) -> Iterator[tuple[str, Any, dict]]:
    """``(place, index or key, object)`` of each top-level entry of a JSON list (``kind`` "list") or object."""
    doc = JsonStream(src)
    if doc.kind() != kind:
        raise InputError(str(src.path), f"{what}, found {doc.kind()}")
    for key, value in doc.items(place) if kind == "list" else doc.members(place):
        where = place(key)
        if not isinstance(value, dict):
            raise InputError(where, f"expected an object, found {type(value).__name__}")
        yield where, key, value


def read_hyporadise(src: InputFile) -> Iterator[tuple[str, Utterance]]:
    for where, i, item in _objects(src, "list", "HyPoradise JSON must be a list", lambda i: f"{src.path}: item {i}"):
        yield where, _hyporadise_item(where, i, item)


def _hyporadise_item(where: str, index: int, item: dict[str, Any]) -> Utterance:
    if "id" in item and "utt_id" in item and item["id"] != item["utt_id"]:
        raise InputError(where, f"gives both 'id' {item['id']!r} and 'utt_id' {item['utt_id']!r}; keep one")
    uid = fields.utterance_id(where, item.get("id", item.get("utt_id", index)))
    where = f"{where} (utterance {uid})"
    hyps_raw = item.get("input")
    if not isinstance(hyps_raw, list):
        raise InputError(where, "'input' must be a list of hypotheses")
    fields.hypothesis_count(where, len(hyps_raw))
    texts = [fields.hyp_text(f"{where}: hypothesis {j}", h) for j, h in enumerate(hyps_raw, 1)]
    keys = [k for k in ("am_score", "score") if item.get(k) is not None]
    if len(keys) == 2:
        raise InputError(where, "gives both 'am_score' and 'score'; keep the one the recogniser ranked by")
    scores: list[float | None] = [None] * len(texts)
    if keys:
        raw = item[keys[0]]
        if not isinstance(raw, list):
            raise InputError(where, f"'{keys[0]}' must be a list")
        if len(raw) != len(texts):
            raise InputError(where, f"'{keys[0]}' has {len(raw)} values for {len(texts)} hypotheses")
        scores = [fields.score(f"{where}: hypothesis {j}", s) for j, s in enumerate(raw, 1)]
    ref = fields.reference(where, item.get("output"))
    return Utterance(uid, tuple(Hypothesis(t, s) for t, s in zip(texts, scores)), ref)


def _hyp_key_index(key: str) -> int | None:
    digits = key[4:]
    if key.startswith("hyp_") and digits.isascii() and digits.isdigit() and len(digits) <= 9:
        return int(digits)
    return None


def read_mlm(src: InputFile) -> Iterator[tuple[str, Utterance]]:
    for where, key, entry in _objects(src, "dict", "mlm-scoring JSON must be an object of utterances",
                                      lambda k: f"{src.path}: utterance {k}"):
        yield where, _mlm_entry(where, fields.utterance_id(where, key), entry)


def _mlm_entry(where: str, uid: str, entry: dict[str, Any]) -> Utterance:
    keyed: dict[int, str] = {}
    for k in entry:
        idx = _hyp_key_index(k)
        if idx is not None:
            if idx in keyed:
                raise InputError(where, f"{keyed[idx]} and {k} both name hypothesis {idx}")
            keyed[idx] = k
    if not keyed:
        raise InputError(where, "empty hypothesis list (no hyp_1, hyp_2, ... keys)")
    fields.hypothesis_count(where, len(keyed))
    hyps = []
    for idx in sorted(keyed):
        key = keyed[idx]
        hwhere = f"{where}: {key}"
        h = entry[key]
        if isinstance(h, str):
            hyps.append(Hypothesis(fields.check_string(hwhere, h, "text")))
        elif isinstance(h, dict):
            hyps.append(Hypothesis(fields.hyp_text(hwhere, h.get("text")), fields.score(hwhere, h.get("score"))))
        else:
            raise InputError(hwhere, "is neither an object nor a string")
    fields.scores_all_or_none(where, hyps)
    return Utterance(uid, tuple(hyps), fields.reference(where, entry.get("ref")))

"""Native JSONL, one utterance a line: the reader (streamed line by line), the writer and the dict mapping.

::

    {"id": "u1", "reference": "the cat sat",
     "hypotheses": [{"text": "the cat sat", "score": -0.21}, {"text": "the cats at", "score": -0.35}],
     "meta": {"voice": "kal", "snr_db": 10}}

``reference``, ``score`` and ``meta`` are optional; a hypothesis may be a bare string; further keys of a
hypothesis are kept in its ``extra`` (features such as ``total_logprob``). Any other key of an utterance is an
error: a misspelt ``"refrence"`` would otherwise import lists without references.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lorascope.core.errors import InputError
from lorascope.core.data.nbest import Hypothesis, Utterance
from . import fields
from lorascope.core.data.formats.source import InputFile, loads

UTTERANCE_KEYS = ("id", "reference", "hypotheses", "meta")


def read_jsonl(src: InputFile) -> Iterator[tuple[str, Utterance]]:
    """``(place, utterance)`` for every non-blank line of a native JSONL file, streamed."""
    for lineno, line in src.lines(text_format=False):
        if line.strip():
            where = f"{src.path} line {lineno}"
            hint = "; the file may use CR-only line endings" if "\r" in line else ""
            yield where, utterance_from_dict(loads(where, line, hint), where)


def iter_jsonl(path: Path, text: str, *, invalid_hint: str = "") -> Iterator[tuple[str, Utterance]]:
    """``(place, utterance)`` for every non-blank line of native JSONL ``text``; ``invalid_hint`` ends JSON errors."""
    for lineno, line in enumerate(text.split("\n"), 1):
        if line.strip():
            where = f"{path} line {lineno}"
            yield where, utterance_from_dict(loads(where, line, invalid_hint), where)


def utterance_from_dict(obj: Any, where: str) -> Utterance:
    """Build an :class:`Utterance` from one native JSONL object, validating it."""
    if not isinstance(obj, dict):
        raise InputError(where, f"expected a JSON object, found {type(obj).__name__}")
    uid = fields.utterance_id(where, obj.get("id"))
    uwhere = f"{where}: utterance {uid}"
    unknown = [k for k in obj if k not in UTTERANCE_KEYS]
    if unknown:
        raise InputError(uwhere, f"unknown key {unknown[0]!r} (an utterance has {', '.join(UTTERANCE_KEYS)})")
    hyps_raw = obj.get("hypotheses")
    if not isinstance(hyps_raw, list):
        raise InputError(where, f"utterance {uid}: 'hypotheses' must be a list")
    fields.hypothesis_count(uwhere, len(hyps_raw))
    hyps = []
    for i, h in enumerate(hyps_raw, 1):
        hwhere = f"{uwhere}: hypothesis {i}"
        if isinstance(h, str):
            hyps.append(Hypothesis(fields.check_string(hwhere, h, "text")))
            continue
        if not isinstance(h, dict):
            raise InputError(hwhere, "is neither an object nor a string")
        if len(h) > 2 or any(k not in ("text", "score") for k in h):
            extra = {k: v for k, v in h.items() if k not in ("text", "score")}
            fields.features(hwhere, extra, "the hypothesis' features")
        else:
            extra = {}
        hyps.append(Hypothesis(fields.hyp_text(hwhere, h.get("text")), fields.score(hwhere, h.get("score")), extra))
    fields.scores_all_or_none(uwhere, hyps)
    meta = obj.get("meta")
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        raise InputError(where, f"utterance {uid}: 'meta' must be an object")
    elif meta:
        fields.features(uwhere, meta, "meta")
    return Utterance(uid, tuple(hyps), fields.reference(uwhere, obj.get("reference")), meta)


def utterance_to_dict(u: Utterance) -> dict[str, Any]:
    """The native JSONL object for ``u``."""
    hyps = []
    for h in u.hypotheses:
        d: dict[str, Any] = {"text": h.text}
        if h.score is not None:
            d["score"] = h.score
        d.update(h.extra)
        hyps.append(d)
    obj: dict[str, Any] = {"id": u.id}
    if u.reference is not None:
        obj["reference"] = u.reference
    obj["hypotheses"] = hyps
    if u.meta:
        obj["meta"] = u.meta
    return obj


def write_jsonl(utterances: Iterable[Utterance], path: str | Path, *, append: bool = False) -> int:
    """Write utterances as native JSONL; returns how many were written."""
    n = 0
    with open(path, "a" if append else "w", encoding="utf-8") as f:
        for u in utterances:
            f.write(json.dumps(utterance_to_dict(u), ensure_ascii=False) + "\n")
            n += 1
    return n

"""Readers and the writer for N-best list files: native JSONL, HyPoradise JSON, mlm-scoring JSON, NeMo TSV.

Every reader validates strictly and raises :class:`InputError` naming the file, the line or utterance,
and the problem. Scores are first-pass log-probabilities, higher is better.

Native JSONL, one utterance a line::

    {"id": "u1", "reference": "the cat sat",
     "hypotheses": [{"text": "the cat sat", "score": -0.21}, {"text": "the cats at", "score": -0.35}],
     "meta": {"voice": "kal", "snr_db": 10}}

``reference``, ``score`` and ``meta`` are optional; further keys of a hypothesis are kept in its ``extra``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import InputError
from .nbest import Hypothesis, Utterance, is_finite_number

FORMATS = ("jsonl", "hyporadise", "mlm", "nemo")


def read_bytes(path: Path) -> bytes:
    """The bytes of a user's input file; a missing, unreadable or folder path is an InputError naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, not a file") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot be read ({exc.strerror})") from None


def _read_text(path: Path) -> str:
    raw = read_bytes(path)
    if b"\x00" in raw[:4096]:
        raise InputError(str(path), "binary data, not an N-best text file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(str(path), f"not UTF-8 text (bad byte at offset {exc.start})") from None
    if not text.strip():
        raise InputError(str(path), "empty file")
    return text


def sniff_format(path: str | Path, text: str | None = None) -> str:
    """Guess the format of ``path`` from its content (and, for TSV, its name)."""
    path = Path(path)
    text = _read_text(path) if text is None else text
    stripped = text.lstrip()
    first_line = stripped.split("\n", 1)[0].strip()
    if stripped.startswith("["):
        return "hyporadise"
    if stripped.startswith("{"):
        try:
            first = json.loads(first_line)
        except ValueError:
            first = None
        if isinstance(first, dict) and ("hypotheses" in first or "id" in first):
            return "jsonl"
        return "mlm"
    if "\t" in first_line or path.suffix.lower() == ".tsv":
        return "nemo"
    raise InputError(str(path), "unknown format (expected JSONL, HyPoradise JSON, mlm-scoring JSON or NeMo TSV); "
                     "name one with --format")


def read_nbest(path: str | Path, format: str | None = None, *, manifest: str | Path | None = None,
               beam_size: int | None = None) -> list[Utterance]:
    """Read an N-best file; ``format`` is sniffed when ``None``. NeMo TSV needs ``manifest`` (and may take ``beam_size``)."""
    path = Path(path)
    if format is not None and format not in FORMATS:
        raise InputError(str(path), f"unknown format {format!r} (choose from {', '.join(FORMATS)})")
    text = _read_text(path)
    fmt = format or sniff_format(path, text)
    if fmt == "jsonl":
        utts = list(_parse_jsonl(path, text))
    elif fmt == "hyporadise":
        utts = _parse_hyporadise(path, text)
    elif fmt == "mlm":
        utts = _parse_mlm(path, text)
    else:
        utts = _parse_nemo(path, text, manifest, beam_size)
    _check_unique(path, utts)
    return utts


def _check_unique(path: Path, utts: list[Utterance]) -> None:
    seen: set[str] = set()
    for u in utts:
        if u.id in seen:
            raise InputError(f"{path}: utterance {u.id}", "duplicate utterance id")
        seen.add(u.id)
    if not utts:
        raise InputError(str(path), "holds no utterances")


def _score(where: str, value: Any) -> float | None:
    if value is None:
        return None
    if not is_finite_number(value):
        shown = value if isinstance(value, (int, float)) else repr(value)
        raise InputError(where, f"score {shown} is not a finite number")
    return float(value)


def _reference(where: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(where, "reference is not a string")
    return value


def _hyp_text(where: str, value: Any) -> str:
    if value is None:
        raise InputError(where, "has no text")
    if not isinstance(value, str):
        raise InputError(where, "text is not a string")
    return value


def _json_loads(where: str, text: str) -> Any:
    try:
        return json.loads(text, parse_constant=lambda c: float(c))
    except json.JSONDecodeError as exc:
        raise InputError(f"{where} line {exc.lineno}", f"invalid JSON ({exc.msg})") from None


# -- native JSONL -----------------------------------------------------------------------------------


def iter_jsonl(path: Path, text: str, *, invalid_hint: str = "") -> Iterator[tuple[str, Utterance]]:
    """``(place, utterance)`` for every non-blank line of native JSONL ``text``; ``invalid_hint`` ends JSON errors."""
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path} line {lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(where, f"invalid JSON ({exc.msg}){invalid_hint}") from None
        yield where, utterance_from_dict(obj, where)


def _parse_jsonl(path: Path, text: str) -> Iterator[Utterance]:
    for _, utt in iter_jsonl(path, text):
        yield utt


def utterance_from_dict(obj: Any, where: str) -> Utterance:
    """Build an :class:`Utterance` from one native JSONL object, validating it."""
    if not isinstance(obj, dict):
        raise InputError(where, f"expected a JSON object, found {type(obj).__name__}")
    uid = obj.get("id")
    if not isinstance(uid, (str, int)) or isinstance(uid, bool) or str(uid).strip() == "":
        raise InputError(where, "utterance has no id")
    uid = str(uid)
    hyps_raw = obj.get("hypotheses")
    if not isinstance(hyps_raw, list):
        raise InputError(where, f"utterance {uid}: 'hypotheses' must be a list")
    if not hyps_raw:
        raise InputError(where, f"utterance {uid}: empty hypothesis list")
    hyps = []
    for i, h in enumerate(hyps_raw, 1):
        hwhere = f"{where}: utterance {uid}: hypothesis {i}"
        if isinstance(h, str):
            hyps.append(Hypothesis(h))
            continue
        if not isinstance(h, dict):
            raise InputError(hwhere, "is neither an object nor a string")
        extra = {k: v for k, v in h.items() if k not in ("text", "score")}
        hyps.append(Hypothesis(_hyp_text(hwhere, h.get("text")), _score(hwhere, h.get("score")), extra))
    _check_scores_all_or_none(f"{where}: utterance {uid}", hyps)
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise InputError(where, f"utterance {uid}: 'meta' must be an object")
    return Utterance(uid, tuple(hyps), _reference(f"{where}: utterance {uid}", obj.get("reference")), meta)


def _check_scores_all_or_none(where: str, hyps: list[Hypothesis]) -> None:
    have = [h.score is not None for h in hyps]
    if any(have) and not all(have):
        missing = have.index(False) + 1
        raise InputError(where, f"hypothesis {missing} has no score while others do")


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


# -- HyPoradise JSON --------------------------------------------------------------------------------


def _parse_hyporadise(path: Path, text: str) -> list[Utterance]:
    data = _json_loads(str(path), text)
    if not isinstance(data, list):
        raise InputError(str(path), f"HyPoradise JSON must be a list, found {type(data).__name__}")
    utts = []
    for i, item in enumerate(data):
        where = f"{path}: item {i}"
        if not isinstance(item, dict):
            raise InputError(where, f"expected an object, found {type(item).__name__}")
        uid = str(item.get("id", item.get("utt_id", i)))
        where = f"{path}: item {i} (utterance {uid})"
        hyps_raw = item.get("input")
        if not isinstance(hyps_raw, list):
            raise InputError(where, "'input' must be a list of hypotheses")
        if not hyps_raw:
            raise InputError(where, "empty hypothesis list")
        texts = [_hyp_text(f"{where}: hypothesis {j}", h) for j, h in enumerate(hyps_raw, 1)]
        scores: list[float | None] = [None] * len(texts)
        for key in ("am_score", "score"):
            if key in item and item[key] is not None:
                raw = item[key]
                if not isinstance(raw, list):
                    raise InputError(where, f"'{key}' must be a list")
                if len(raw) != len(texts):
                    raise InputError(where, f"'{key}' has {len(raw)} values for {len(texts)} hypotheses")
                scores = [_score(f"{where}: hypothesis {j}", s) for j, s in enumerate(raw, 1)]
                break
        ref = _reference(where, item.get("output"))
        utts.append(Utterance(uid, tuple(Hypothesis(t, s) for t, s in zip(texts, scores)), ref))
    return utts


# -- mlm-scoring JSON -------------------------------------------------------------------------------


def _hyp_key_index(key: str) -> int | None:
    if key.startswith("hyp_") and key[4:].isdigit():
        return int(key[4:])
    return None


def _parse_mlm(path: Path, text: str) -> list[Utterance]:
    data = _json_loads(str(path), text)
    if not isinstance(data, dict):
        raise InputError(str(path), f"mlm-scoring JSON must be an object of utterances, found {type(data).__name__}")
    utts = []
    for uid, entry in data.items():
        where = f"{path}: utterance {uid}"
        if not isinstance(entry, dict):
            raise InputError(where, f"expected an object, found {type(entry).__name__}")
        keyed = sorted((_hyp_key_index(k), k) for k in entry if _hyp_key_index(k) is not None)
        if not keyed:
            raise InputError(where, "empty hypothesis list (no hyp_1, hyp_2, ... keys)")
        hyps = []
        for idx, key in keyed:
            hwhere = f"{where}: {key}"
            h = entry[key]
            if isinstance(h, str):
                hyps.append(Hypothesis(h))
            elif isinstance(h, dict):
                hyps.append(Hypothesis(_hyp_text(hwhere, h.get("text")), _score(hwhere, h.get("score"))))
            else:
                raise InputError(hwhere, "is neither an object nor a string")
        _check_scores_all_or_none(where, hyps)
        utts.append(Utterance(str(uid), tuple(hyps), _reference(where, entry.get("ref"))))
    return utts


# -- NeMo rescorer TSV ------------------------------------------------------------------------------


def _parse_nemo(path: Path, text: str, manifest: str | Path | None, beam_size: int | None) -> list[Utterance]:
    if manifest is None:
        raise InputError(str(path), "NeMo TSV needs its manifest (--manifest FILE, JSONL with a 'text' field)")
    mpath = Path(manifest)
    mtext = _read_text(mpath)
    refs: list[tuple[str, str | None]] = []
    for lineno, line in enumerate(mtext.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{mpath} line {lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(where, f"invalid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise InputError(where, "expected a JSON object")
        uid = obj.get("id", obj.get("audio_filepath", len(refs)))
        refs.append((str(uid), _reference(where, obj.get("text"))))
    rows: list[tuple[str, float]] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if line == "" and lineno == len(text.split("\n")):
            continue  # trailing newline
        where = f"{path} line {lineno}"
        parts = line.rstrip("\r").split("\t")
        if len(parts) != 2:
            raise InputError(where, f"expected 'text<TAB>score', found {len(parts)} field(s)")
        try:
            score = float(parts[1])
        except ValueError:
            raise InputError(where, f"score {parts[1]!r} is not a number") from None
        if not math.isfinite(score):
            raise InputError(where, f"score {parts[1]} is not a finite number")
        rows.append((parts[0], score))
    if beam_size is None:
        if len(rows) % len(refs):
            raise InputError(str(path), f"{len(rows)} hypotheses do not divide evenly over the manifest's "
                             f"{len(refs)} utterances")
        beam_size = len(rows) // len(refs)
    if beam_size < 1:
        raise InputError(str(path), f"beam size {beam_size} must be at least 1")
    if len(rows) % beam_size:
        raise InputError(str(path), f"{len(rows)} lines is not a multiple of the beam size {beam_size}")
    if len(rows) // beam_size != len(refs):
        raise InputError(str(path), f"{len(rows) // beam_size} utterances of beam {beam_size} but the manifest "
                         f"{mpath} has {len(refs)}")
    utts = []
    for k, (uid, ref) in enumerate(refs):
        chunk = rows[k * beam_size:(k + 1) * beam_size]
        utts.append(Utterance(uid, tuple(Hypothesis(t, s) for t, s in chunk), ref))
    return utts

"""NeMo rescorer TSV: ``text<TAB>score`` lines, ``beam_size`` consecutive lines an utterance, references in a manifest.

The manifest is JSONL with a ``text`` field (the reference) and an ``id`` or ``audio_filepath`` (the utterance
id; default its position). Without ``beam_size`` it is lines / manifest entries (a first pass counts lines).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lorascope.core.errors import InputError
from lorascope.core.data.nbest import Hypothesis, Utterance
from . import fields
from lorascope.core.data.formats.source import InputFile, Meter, loads


def read_manifest(path: Path) -> list[tuple[str, str | None]]:
    """``(utterance id, reference)`` of every manifest entry, in order."""
    refs: list[tuple[str, str | None]] = []
    for lineno, line in InputFile(path).lines(text_format=False):
        if not line.strip():
            continue
        where = f"{path} line {lineno}"
        obj = loads(where, line)
        if not isinstance(obj, dict):
            raise InputError(where, "expected a JSON object")
        uid = fields.utterance_id(where, obj.get("id", obj.get("audio_filepath", len(refs))))
        refs.append((uid, fields.reference(where, obj.get("text"))))
    return refs


def _count_lines(path: Path) -> int:
    """Lines in ``path`` (a last line without its newline counts; a trailing newline ends the last line)."""
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(2**20):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


def read_nemo(path: Path, manifest: Path | None, beam_size: int | None, meter: Meter) \
        -> Iterator[tuple[str, Utterance]]:
    if manifest is None:
        raise InputError(str(path), "NeMo TSV needs its manifest (--manifest FILE, JSONL with a 'text' field)")
    src = InputFile(path, meter)
    refs = read_manifest(Path(manifest))
    if not refs:
        raise InputError(str(manifest), "the manifest holds no utterances")
    lines = _count_lines(path)
    problem = None  # raised after every line is checked, so that a bad line is named first (it may be the cause)
    if beam_size is None:
        if lines % len(refs):
            problem = f"{lines} hypotheses do not divide evenly over the manifest's {len(refs)} utterances"
        beam_size = max(1, lines // len(refs))
    elif lines % beam_size:
        problem = f"{lines} lines is not a multiple of the beam size {beam_size}"
    elif lines // beam_size != len(refs):
        problem = f"{lines // beam_size} utterances of beam {beam_size} but the manifest {manifest} has {len(refs)}"
    if beam_size < 1:
        raise InputError(str(path), f"beam size {beam_size} must be at least 1")
    fields.hypothesis_count(str(path), beam_size)
    hyps: list[Hypothesis] = []
    for lineno, line in src.lines():
        where = f"{path} line {lineno}"
        parts = line.split("\t")
        if len(parts) != 2:
            raise InputError(where, f"expected 'text<TAB>score', found {len(parts)} field(s)")
        hyps.append(Hypothesis(fields.check_string(where, parts[0], "text"), fields.decimal(where, parts[1].strip())))
        if len(hyps) == beam_size:
            if problem is None:
                uid, ref = refs[(lineno - 1) // beam_size]
                yield f"{path} line {lineno - beam_size + 1}", Utterance(uid, tuple(hyps), ref)
            hyps = []
    if problem is not None:
        raise InputError(str(path), problem)

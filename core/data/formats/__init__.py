"""Readers and the writer for N-best list files: native JSONL, HyPoradise JSON, mlm-scoring JSON, NeMo TSV, Kaldi, ESPnet.

Every reader streams (memory follows one utterance, not the file), validates strictly and raises
:class:`InputError` naming the file, the place (line, item, utterance, hypothesis) and the problem; the checks
and their limits are in :mod:`.fields` and :mod:`.source`. Scores are first-pass log-probabilities, higher is
better. :func:`iter_nbest` yields utterances one at a time; :func:`read_nbest` is the list of them.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path

from lorascope.core.errors import InputError
from lorascope.core.data.nbest import Utterance
from lorascope.core.data.formats.fields import UniqueIds
from lorascope.core.data.formats.kaldi import KALDI_DEFAULT_ACOUSTIC_SCALE, is_kaldi_text, read_espnet, read_kaldi
from lorascope.core.data.formats.documents import read_hyporadise, read_mlm
from lorascope.core.data.formats.jsonl import iter_jsonl, read_jsonl, utterance_from_dict, utterance_to_dict, write_jsonl
from lorascope.core.data.formats.nemo import read_nemo
from lorascope.core.data.formats.source import InputFile, Meter, Progress, file_size, read_bytes

FORMATS = ("jsonl", "hyporadise", "mlm", "nemo", "kaldi", "espnet")
FOLDER_FORMATS = ("kaldi", "espnet")

__all__ = ["FORMATS", "iter_nbest", "read_nbest", "sniff_format", "iter_jsonl", "read_bytes", "utterance_to_dict",
           "utterance_from_dict", "write_jsonl", "KALDI_DEFAULT_ACOUSTIC_SCALE", "Progress"]


def sniff_format(path: str | Path, text: str | None = None) -> str:
    """Guess the format of ``path`` from its content (and, for TSV and Kaldi's ``text``, its name)."""
    path = Path(path)
    if text is None and path.is_dir():
        if (path / "1best_recog").is_dir():
            return "espnet"
        if (path / "text").is_file() and is_kaldi_text(path / "text"):
            return "kaldi"
        raise InputError(str(path), "a folder, but neither a Kaldi N-best folder (text: uttid-N words) nor an "
                         "ESPnet decode folder (1best_recog/, 2best_recog/, ...)")
    if text is None:
        text = read_head(path).decode("utf-8", "replace")
    stripped = text.lstrip("\ufeff \t\r\n")
    first_line = stripped.split("\n", 1)[0].strip()
    if stripped.startswith("["):
        return "hyporadise"
    if stripped.startswith("{"):
        if "\n" not in stripped and len(stripped) >= SNIFF_BYTES:  # a first line longer than the head
            return "jsonl" if _JSONL_START.match(stripped) else "mlm"
        try:
            first = json.loads(first_line)
        except (ValueError, RecursionError):  # the reader names the problem; here only the shape matters
            first = None
        if isinstance(first, dict) and ("hypotheses" in first or "id" in first):
            return "jsonl"
        return "jsonl" if first is None and _JSONL_START.match(stripped) else "mlm"
    if "\t" in first_line or path.suffix.lower() == ".tsv":
        return "nemo"
    if is_kaldi_text(path) and (path.name == "text" or any((path.parent / c).is_file() for c in ("ac_cost", "lm_cost"))):
        return "kaldi"
    raise InputError(str(path), "unknown format (expected JSONL, HyPoradise JSON, mlm-scoring JSON, NeMo TSV, a "
                     "Kaldi N-best text or an ESPnet decode folder); name one with --format")


SNIFF_BYTES = 2**20
_JSONL_START = re.compile(r'\{[ \t]*"(?:id|reference|hypotheses|meta)"[ \t]*:')  # on the first line


def read_head(path: Path, size: int = SNIFF_BYTES) -> bytes:
    """The first bytes of ``path`` (enough for a first JSONL line), after the checks every reader makes."""
    src = InputFile(path)
    try:
        return src.read(size)
    finally:
        src.close()


def iter_nbest(path: str | Path, format: str | None = None, *, manifest: str | Path | None = None,
               beam_size: int | None = None, reference: str | Path | None = None,
               acoustic_scale: float = KALDI_DEFAULT_ACOUSTIC_SCALE,
               progress: Progress | None = None) -> Iterator[Utterance]:
    """The utterances of an N-best file or folder, one at a time; ``format`` is sniffed when ``None``.

    NeMo TSV needs ``manifest`` (and may take ``beam_size``); Kaldi and ESPnet take their references from
    ``reference`` (Kaldi ``text``) and Kaldi its ``acoustic_scale``. Bad arguments and the file's first bytes
    and its first utterance are checked before this returns; problems further in are raised as the iterator reaches them, so a
    consumer that writes as it goes must undo its writes on error (the store writes in one transaction).
    ``progress(bytes read, bytes in all)`` is called about once a MiB.
    """
    path = Path(path)
    if format is not None and format not in FORMATS:
        raise InputError(str(path), f"unknown format {format!r} (choose from {', '.join(FORMATS)})")
    fmt = format or sniff_format(path)
    for option, value in (("--manifest", manifest), ("--beam-size", beam_size)):
        if value is not None and fmt != "nemo":
            raise InputError(str(path), f"{option} is for NeMo TSV only (this is {fmt})")
    if reference is not None and fmt not in FOLDER_FORMATS:
        raise InputError(str(path), f"--reference is for Kaldi and ESPnet only (this is {fmt}, whose lists "
                         "carry their references)")
    if path.is_dir() and fmt not in FOLDER_FORMATS:
        raise InputError(str(path), f"is a directory, not a {fmt} file")
    meter = Meter(0 if fmt in FOLDER_FORMATS else file_size(path), progress)
    ref = Path(reference) if reference is not None else None
    if fmt == "kaldi":
        stream = read_kaldi(path, ref, acoustic_scale, meter)
    elif fmt == "espnet":
        stream = read_espnet(path, ref, meter)
    elif fmt == "nemo":
        stream = read_nemo(path, Path(manifest) if manifest is not None else None, beam_size, meter)
    else:
        src = InputFile(path, meter)
        stream = {"jsonl": read_jsonl, "hyporadise": read_hyporadise, "mlm": read_mlm}[fmt](src)
    checked = _checked(path, stream, meter)
    first = next(checked)  # fail fast: the first utterance is read (and checked) before anything is written
    return itertools.chain((first,), checked)


def _checked(path: Path, stream: Iterator[tuple[str, Utterance]], meter: Meter) -> Iterator[Utterance]:
    ids = UniqueIds()
    n = 0
    for where, utt in stream:
        ids.add(where, utt.id)
        n += 1
        yield utt
    if not n:
        raise InputError(str(path), "holds no utterances")
    meter.finish()


def read_nbest(path: str | Path, format: str | None = None, *, manifest: str | Path | None = None,
               beam_size: int | None = None, reference: str | Path | None = None,
               acoustic_scale: float = KALDI_DEFAULT_ACOUSTIC_SCALE) -> list[Utterance]:
    """All utterances of an N-best file or folder (see :func:`iter_nbest`)."""
    return list(iter_nbest(path, format, manifest=manifest, beam_size=beam_size, reference=reference,
                           acoustic_scale=acoustic_scale))

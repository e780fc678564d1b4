"""Kaldi and ESPnet N-best output: Kaldi-style text files (``key value`` lines), streamed in lockstep.

Kaldi (``nbest-to-linear`` after ``lattice-to-nbest``, words mapped back with ``int2sym.pl``): a folder (or its
``text`` file) holding ``text`` with ``uttid-N words`` lines (N is the 1-based rank) and optionally ``ac_cost``
and ``lm_cost`` with ``uttid-N cost`` lines, listing the same hypotheses in the same order. Costs are negative
log-likelihoods, lower is better; ``lattice-to-nbest`` scales the acoustics by ``--acoustic-scale`` (0.1) to
find the N best and scales them back, so the costs are unscaled. The first-pass score is the one the N best
were found by: ``-(lm_cost + acoustic_scale * ac_cost)``, higher is better. Both costs are kept per
hypothesis in ``extra`` (``ac_cost``, ``lm_cost``) as features. With only one of the two files the score
is not known: the costs that are there are kept as features and the lists are rank-only. The lines of one
utterance must be together; their ranks may come in any order (``sort`` puts 10 before 2) but must be 1..n.

ESPnet (``asr_inference`` with ``--nbest N``): a decode folder with ``1best_recog/``, ``2best_recog/``, ...
each holding ``text`` (``uttid words``) and ``score`` (``uttid value``; ESPnet2 writes ``tensor(-12.3)``,
ESPnet1 a plain float; a total log-probability, higher is better). Rank k's files list the utterances that
have a k-th hypothesis, in the order of ``1best_recog/text``.

References for both: ``--reference FILE``, Kaldi ``text`` (``uttid words``); every utterance needs a line there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

from lorascope.core.errors import InputError
from lorascope.core.data.nbest import Hypothesis, Utterance
from . import fields
from lorascope.core.data.formats.source import InputFile, Meter, file_size

KALDI_DEFAULT_ACOUSTIC_SCALE = 0.1
KALDI_COSTS = ("ac_cost", "lm_cost")
_RANK_KEY = re.compile(r"(.+)-(\d{1,6})")
_ESPNET_RANK = re.compile(r"(\d{1,6})best_recog")
_TENSOR = re.compile(r"tensor\(\s*\[?\s*([^,\s\])]+)\s*\]?\s*(?:,[^)]*)?\)")


def key_lines(src: InputFile) -> Iterator[tuple[str, int, str, str]]:
    """``(place, line number, key, rest)`` for every non-blank ``key rest`` line of a Kaldi-style text file."""
    for lineno, line in src.lines():
        parts = line.strip().split(maxsplit=1)
        if parts:
            where = f"{src.path} line {lineno}"
            yield where, lineno, fields.check_string(where, parts[0], "key", fields.MAX_ID_CHARS), \
                parts[1] if len(parts) > 1 else ""


def read_reference(path: Path) -> dict[str, str]:
    """``uttid -> reference`` of a Kaldi ``text`` file."""
    refs: dict[str, str] = {}
    for where, _, key, rest in key_lines(InputFile(path)):
        if key in refs:
            raise InputError(f"{where}: utterance {key}", "appears twice in the reference")
        refs[key] = fields.check_string(where, rest, "reference")
    if not refs:
        raise InputError(str(path), "the reference holds no utterances")
    return refs


def _reference_of(refs: dict[str, str] | None, reference: Path | None, where: str, uid: str) -> str | None:
    if refs is None:
        return None
    if uid not in refs:
        raise InputError(f"{where}: utterance {uid}", f"has no line in the reference {reference}")
    return refs[uid]


def is_kaldi_text(path: Path) -> bool:
    """Whether the first line of ``path`` starts with an ``uttid-N`` key."""
    try:
        with open(path, "rb") as f:
            first = f.readline(4096).split(maxsplit=1)
    except OSError:
        return False
    return bool(first) and _RANK_KEY.fullmatch(first[0].decode("utf-8", "replace")) is not None


def kaldi_files(path: Path) -> tuple[Path, dict[str, Path]]:
    """The ``text`` file of a Kaldi N-best folder (or the file itself) and the cost files beside it."""
    text = path / "text" if path.is_dir() else path
    if not text.is_file():
        raise InputError(str(path), "a Kaldi N-best folder needs a 'text' file (uttid-N words)")
    return text, {name: text.parent / name for name in KALDI_COSTS if (text.parent / name).is_file()}


def read_kaldi(path: Path, reference: Path | None, acoustic_scale: float, meter: Meter) \
        -> Iterator[tuple[str, Utterance]]:
    if not (math.isfinite(acoustic_scale) and acoustic_scale >= 0):
        raise InputError("--acoustic-scale", f"{acoustic_scale} must be a finite number >= 0")
    text, cost_paths = kaldi_files(path)
    meter.total += sum(file_size(p) for p in (text, *cost_paths.values()))
    refs = read_reference(reference) if reference is not None else None
    costs = {name: key_lines(InputFile(p, meter)) for name, p in cost_paths.items()}
    block: list[tuple[int, Hypothesis]] = []
    block_id, block_where = None, ""
    for where, lineno, key, words in key_lines(InputFile(text, meter)):
        m = _RANK_KEY.fullmatch(key)
        if m is None:
            raise InputError(where, f"key {key!r} does not end in -RANK (uttid-1, uttid-2, ...)")
        uid, rank = m.group(1), int(m.group(2))
        extra = {name: _cost(lines, name, cost_paths[name], key, lineno) for name, lines in costs.items()}
        score = -(extra["lm_cost"] + acoustic_scale * extra["ac_cost"]) if len(extra) == 2 else None
        if uid != block_id:
            if block_id is not None:
                yield block_where, _kaldi_utterance(block_where, block_id, block, refs, reference)
            block, block_id, block_where = [], uid, where
        block.append((rank, Hypothesis(fields.check_string(where, words, "text"), score, extra)))
        fields.hypothesis_count(block_where, len(block))
    for name, lines in costs.items():
        extra_line = next(lines, None)
        if extra_line is not None:
            raise InputError(extra_line[0], f"{name} has more lines than {text}")
    if block_id is not None:
        yield block_where, _kaldi_utterance(block_where, block_id, block, refs, reference)


def _cost(lines: Iterator[tuple[str, int, str, str]], name: str, path: Path, key: str, text_line: int) -> float:
    got = next(lines, None)
    if got is None:
        raise InputError(str(path), f"ends before hypothesis {key} (text line {text_line}); {name} must list "
                         "the hypotheses of text in the same order")
    where, _, ckey, value = got
    if ckey != key:
        raise InputError(where, f"is for {ckey} but text line {text_line} is for {key}; {name} must list the "
                         "hypotheses of text in the same order")
    return fields.decimal(where, value.strip(), name)


def _kaldi_utterance(where: str, uid: str, block: list[tuple[int, Hypothesis]], refs: dict[str, str] | None,
                     reference: Path | None) -> Utterance:
    block.sort(key=lambda rh: rh[0])
    for want, (rank, _) in enumerate(block, 1):
        if rank != want:
            what = "twice" if rank < want else f"without rank {want}"
            raise InputError(f"{where}: utterance {uid}", f"has rank {rank} {what} (ranks must be 1..n and the "
                             "lines of one utterance together)")
    return Utterance(uid, tuple(h for _, h in block), _reference_of(refs, reference, where, uid))


# -- ESPnet -----------------------------------------------------------------------------------------


def espnet_ranks(path: Path) -> list[Path]:
    """The ``{k}best_recog`` folders of an ESPnet decode folder, rank 1 first; gaps are errors."""
    if not path.is_dir():
        raise InputError(str(path), "an ESPnet decode folder (holding 1best_recog/, 2best_recog/, ...) is needed")
    found = {int(m.group(1)): p for p in path.iterdir() if p.is_dir() and (m := _ESPNET_RANK.fullmatch(p.name))}
    if 1 not in found:
        raise InputError(str(path), "no 1best_recog/ folder: not an ESPnet decode folder")
    for k in range(1, max(found) + 1):
        if k not in found:
            raise InputError(str(path), f"has {max(found)}best_recog/ but no {k}best_recog/")
    fields.hypothesis_count(str(path), len(found))
    return [found[k] for k in sorted(found)]


def _espnet_score(where: str, value: str) -> float:
    value = value.strip()
    m = _TENSOR.fullmatch(value)
    return fields.decimal(where, m.group(1) if m else value)


def _espnet_lines(folder: Path, meter: Meter, with_score: bool) -> Iterator[tuple[str, str, str, float | None]]:
    """``(place, uttid, text, score)`` of one rank folder, its text and score files read in lockstep."""
    scores = key_lines(InputFile(folder / "score", meter)) if with_score else None
    for where, lineno, key, words in key_lines(InputFile(folder / "text", meter)):
        score = None
        if scores is not None:
            got = next(scores, None)
            if got is None or got[2] != key:
                raise InputError(got[0] if got else str(folder / "score"),
                                 f"does not match text line {lineno} ({key}); text and score must list the same "
                                 "utterances in the same order")
            score = _espnet_score(got[0], got[3])
        yield where, key, fields.check_string(where, words, "text"), score
    if scores is not None and (got := next(scores, None)) is not None:
        raise InputError(got[0], f"has more lines than {folder / 'text'}")


def read_espnet(path: Path, reference: Path | None, meter: Meter) -> Iterator[tuple[str, Utterance]]:
    folders = espnet_ranks(path)
    have_score = [(f / "score").is_file() for f in folders]
    if any(have_score) and not all(have_score):
        missing = folders[have_score.index(False)]
        raise InputError(str(missing), "has no 'score' file while other ranks do")
    for f in folders:
        if not (f / "text").is_file():
            raise InputError(str(f), "has no 'text' file")
        meter.total += sum(file_size(f / n) for n in ("text", "score") if (f / n).is_file())
    refs = read_reference(reference) if reference is not None else None
    streams = [_espnet_lines(f, meter, have_score[0]) for f in folders]
    pending = [next(s, None) for s in streams]
    while pending[0] is not None:
        where, uid, _, _ = pending[0]
        hyps = []
        for k, got in enumerate(pending):
            if got is None or got[1] != uid:
                break
            hyps.append(Hypothesis(got[2], got[3]))
            pending[k] = next(streams[k], None)
        for k in range(len(hyps) + 1, len(pending)):
            if pending[k] is not None and pending[k][1] == uid:  # type: ignore[index]
                raise InputError(f"{pending[k][0]}: utterance {uid}",  # type: ignore[index]
                                 f"has a {k + 1}-best hypothesis but no {len(hyps) + 1}-best")
        yield where, Utterance(uid, tuple(hyps), _reference_of(refs, reference, where, uid))
    for got in pending[1:]:
        if got is not None:
            raise InputError(f"{got[0]}: utterance {got[1]}", "is not in 1best_recog/text, or not in its order")

"""`lorascope synth`: speak a text file with TTS voices, add noise, decode it, and write real N-best lists.

A thin shell over :func:`lorascope.core.synth.synthesize.synth`: option parsing, a progress bar on stderr and a closing
summary line. Errors a user can cause propagate as :class:`lorascope.core.errors.LorascopeError`.
"""

from __future__ import annotations

from pathlib import Path

import click

from lorascope.core.synth import synthesize as engine
from lorascope.core.errors import InputError

from .options import debug_option


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _parse_voices(ctx, param, value: str) -> tuple[engine.Voice, ...]:
    try:
        return tuple(engine.Voice.parse(v) for v in _split(value))
    except InputError as exc:
        raise click.BadParameter(str(exc)) from None


def _parse_rates(ctx, param, value: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in _split(value))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of whole numbers") from None


def _parse_snrs(ctx, param, value: str) -> tuple[float | None, ...]:
    out: list[float | None] = []
    for v in _split(value):
        if v.lower() in ("clean", "none", "inf"):
            out.append(None)
            continue
        try:
            out.append(float(v))
        except ValueError:
            raise click.BadParameter(f"{v!r} is neither a number of dB nor 'clean'") from None
    return tuple(out)


def _parse_noises(ctx, param, value: str) -> tuple[str, ...]:
    return tuple(v.lower() for v in _split(value))


_DEFAULT_VOICES = ",".join(str(v) for v in engine.DEFAULT_VOICES)
_DEFAULT_RATES = ",".join(str(r) for r in engine.DEFAULT_RATES)
_DEFAULT_SNRS = ",".join("clean" if s is None else f"{s:g}" for s in engine.DEFAULT_SNRS)


@click.command("synth")
@click.argument("text_file", type=click.Path(dir_okay=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="N-best JSONL file to write. If it exists, utterances already in it are kept and skipped, "
                   "and the rest are appended (resume).")
@click.option("--voices", default=_DEFAULT_VOICES, show_default=True, callback=_parse_voices,
              help="Comma-separated TTS voices as ENGINE:NAME, ENGINE espeak (espeak-ng, e.g. en-us, en+m3, en+f2) "
                   "or flite (kal, awb, rms, slt, kal16). Each line gets one, chosen from the seed.")
@click.option("--rates", default=_DEFAULT_RATES, show_default=True, callback=_parse_rates,
              help="Comma-separated speaking rates in words per minute (espeak-ng -s; flite gets the matching "
                   "duration stretch). Each line gets one.")
@click.option("--snr", "snrs", default=_DEFAULT_SNRS, show_default=True, callback=_parse_snrs,
              help="Comma-separated signal-to-noise ratios in dB, or 'clean' for no noise. Each line gets one.")
@click.option("--noise", "noises", default=",".join(engine.NOISE_COLOURS), show_default=True,
              callback=_parse_noises, help="Comma-separated noise colours (white, pink) for the noisy lines.")
@click.option("--recognizer", type=click.Choice(engine.RECOGNIZERS), default="whisper-tiny", show_default=True,
              help="First-pass recogniser: Whisper tiny.en or base (CTranslate2 beam search) or pocketsphinx "
                   "(en-US 3-gram).")
@click.option("--nbest", type=click.IntRange(min=1), default=8, show_default=True,
              help="Hypotheses per utterance (at most; equal ones after normalisation are merged).")
@click.option("--beam-size", type=click.IntRange(min=1), default=None,
              help="Whisper beam size (default: the N-best size).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed for the per-line choice of voice, rate, SNR and noise; with the line number it fixes "
                   "each line's audio, whatever the number of jobs.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes, each with its own recogniser on one thread (default: all cores).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Only the first LIMIT non-blank lines of TEXT_FILE.")
@click.option("--id-prefix", default="line-", show_default=True,
              help="Utterance ids are this prefix and the 1-based line number (line-000012).")
@click.option("--compute-type", type=click.Choice(engine.COMPUTE_TYPES), default="int8", show_default=True,
              help="CTranslate2 compute type for Whisper.")
@debug_option
def synth(text_file: Path, output: Path, voices, rates, snrs, noises, recognizer: str, nbest: int,
          beam_size: int | None, seed: int, jobs: int | None, limit: int | None, id_prefix: str,
          compute_type: str) -> None:
    """Make real N-best lists from TEXT_FILE: one utterance per non-blank line.

    Each line is spoken by espeak-ng or flite, resampled to 16 kHz with sox, mixed with white or pink noise
    at the chosen SNR, and decoded by the recogniser; the line becomes the reference. Needs
    `apt-get install espeak-ng flite sox` and `pip install 'lorascope[synth]'`.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    from lorascope.core.data.formats import read_nbest
    from lorascope.core.data.metrics import summarize

    config = engine.SynthConfig(voices=voices, rates=rates, snrs=snrs, noises=noises, recognizer=recognizer,
                                nbest=nbest, beam_size=beam_size, seed=seed, id_prefix=id_prefix,
                                compute_type=compute_type)
    console = Console(stderr=True)
    bar = Progress(TextColumn("synth"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("eta"), TimeRemainingColumn(), console=console)
    task = None

    def on_progress(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task("synth", total=total)
        bar.update(task, completed=done)

    try:
        report = engine.synth(text_file, output, config, jobs=jobs, limit=limit, progress=on_progress)
    except KeyboardInterrupt:
        console.print(f"run the same command again to resume into {output}", highlight=False)
        raise
    finally:
        if task is not None:
            bar.stop()
    summary = summarize(read_nbest(report.output, "jsonl"))
    plural = "" if report.written == 1 else "s"
    console.print(f"wrote {report.written} utterance{plural} to {report.output} ({report.skipped} already there); "
                  f"{summary.utterances} in all, 1-best WER {summary.one_best_wer:.2%}, "
                  f"oracle WER {summary.oracle_wer:.2%}", highlight=False, soft_wrap=True)

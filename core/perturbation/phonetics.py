"""Offline pronunciations and sound-alike candidates: the public names, gathered from the modules that hold them.

- :mod:`.phonemes`: phoneme costs and the weighted phoneme edit distance (:func:`phonetic_distance`);
- :mod:`.g2p`: g2p-en's letter-to-sound model for words CMUdict lacks (:func:`predict_pronunciation`);
- :mod:`.vocabulary`: which CMUdict words may be candidates, in frequency order;
- :mod:`.phonetic_index`: :class:`Candidate` and the :class:`PhoneticIndex` that ranks them;
- :mod:`.phonetic_cache`: the index stored as JSON in the cache folder (:func:`load_index`, :func:`cache_dir`).

Code that imports from ``lorascope.core.perturbation.phonetics`` keeps working; new code may import the modules directly.
"""

from __future__ import annotations

from lorascope.core.perturbation.g2p import predict_pronunciation
from lorascope.core.perturbation.phonemes import near_limit, phonetic_distance, strip_stress
from lorascope.core.perturbation.phonetic_cache import (_indexes, _payloads, cache_dir, forget_loaded, index_path, load_index,  # noqa: F401
                             read_payload, write_payload)
from lorascope.core.perturbation.phonetic_index import INDEX_VERSION, KINDS, SPELLING_LIMIT, Candidate, PhoneticIndex, build_payload

# benchmarks/bench_phonetics.py clears _indexes and _payloads directly; they are the cache module's own dicts.


def pronunciations(word: str) -> tuple[tuple[str, ...], ...]:
    """ARPAbet pronunciations of a lower-case word from the default index (see :meth:`PhoneticIndex.pronunciations`)."""
    return load_index().pronunciations(word)


def candidates(word: str, limit: int | None = None) -> tuple[Candidate, ...]:
    """Sound-alike candidates of a lower-case word from the default index."""
    return load_index().candidates(word, limit)


__all__ = [
    "INDEX_VERSION", "KINDS", "SPELLING_LIMIT", "Candidate", "PhoneticIndex", "build_payload", "cache_dir",
    "candidates", "forget_loaded", "index_path", "load_index", "near_limit", "phonetic_distance",
    "predict_pronunciation", "pronunciations", "read_payload", "strip_stress", "write_payload",
]

"""Perturbation models, one config dataclass each, the registry that names them, and the command-line spec.

=========  ===============================================================================================
name       where a word's sound-alike comes from
=========  ===============================================================================================
paper      the paper's round trip (default): the word's pronunciation, then the most likely spelling of it
           (:mod:`.roundtrip`); a word is replaced only where the round trip gives another spelling
mined      the recogniser's own confusions, mined from a named data set's alignments against its references
           (:mod:`.confusions`), drawn by how often they were seen; never the set under test
lexicon    every kind of sound-alike in the phonetic index (homophone, near, split, merge, spelling), drawn
           by phonetic distance among the ``top_k`` best: the stress test lorascope had before the models
=========  ===============================================================================================

A config answers, for one token of a hypothesis, which candidates it offers (:meth:`candidates`) and how
strongly each is drawn (:meth:`weight`); :mod:`.perturb` does the drawing. ``to_dict()`` is stored with
every result; :func:`parse_perturbation` reads ``NAME[:key=value,...]`` (``lexicon:max_distance=0``,
``mined:from=sample-train``) and :meth:`PerturbationConfig.spec` writes it back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, ClassVar

from lorascope.core.perturbation.confusions import MAX_DISTANCE, Confusions, mine_confusions
from lorascope.core.errors import InputError
from lorascope.core.names import DEFAULT_PERTURBATION, PERTURBATION_NAMES, check_registry
from lorascope.core.data.nbest import Utterance
from lorascope.core.perturbation.phonetic_index import KINDS, Candidate, PhoneticIndex
from lorascope.core.perturbation.roundtrip import round_trip
from lorascope.core.data.tokens import next_word, word_of

#: How many of a word's best candidates a lexicon or mined replacement chooses among.
TOP_K = 5
#: Lexicon candidate weight is exp(-SHARPNESS * distance): homophones 1, a voicing change (0.25) 0.37, 0.5 -> 0.14.
SHARPNESS = 4.0

_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}
DIRECTIONS = ("both", "to-reference", "to-hypothesis")


def _number(where: str, key: str, value: Any, *, minimum: float, whole: bool = False,
            optional: bool = False) -> Any:
    if value is None and optional:
        return None
    ok = isinstance(value, int) if whole else isinstance(value, (int, float)) and math.isfinite(value)
    if isinstance(value, bool) or not ok or value < minimum:
        kind = "a whole number" if whole else "a number"
        raise InputError(where, f"{key} must be {kind} of at least {minimum:g}, got {value!r}")
    return value if whole else float(value)


@dataclass(frozen=True)
class PerturbationConfig:
    """Base of the perturbation models."""

    name: ClassVar[str] = ""

    @property
    def where(self) -> str:
        return f"perturbation {self.name}"

    def candidates(self, index: PhoneticIndex, tokens: Sequence[str], position: int,
                   limit: int | None = None) -> tuple[Candidate, ...] | None:
        """Candidates for ``tokens[position]`` (merges with the next token included), best first.

        None when the token has no pronunciation (it is then left alone and counted).
        """
        raise NotImplementedError

    def draw_limit(self) -> int | None:
        """How many of the best candidates a random replacement chooses among (None: all)."""
        return None

    def weight(self, candidate: Candidate) -> float:
        """How strongly a random replacement draws ``candidate`` (relative to the token's other candidates)."""
        return 1.0

    def to_dict(self) -> dict[str, Any]:
        """The model's name and settings, as stored with a result (``perturbation_config(**d)`` rebuilds it)."""
        return {"name": self.name, **{f.name: getattr(self, f.name) for f in fields(self) if f.init and f.repr}}

    def spec(self) -> str:
        """The command-line spec of this config: the name, then the settings that differ from the defaults."""
        default = {f.name: f.default for f in fields(self)}
        changed = [f"{k}={v}" for k, v in self.to_dict().items() if k != "name" and v != default.get(k)]
        return self.name + (":" + ",".join(changed) if changed else "")


def _pronounceable(index: PhoneticIndex, tokens: Sequence[str], position: int) -> str | None:
    word = word_of(tokens[position])
    return word if word is not None and index.has_pronunciation(word) else None


@dataclass(frozen=True)
class PaperConfig(PerturbationConfig):
    """The round trip (:mod:`.roundtrip`). ``margin``: how many times as frequent another spelling must be to
    win over the word itself; ``phrase_weight``: the factor on a two-word spelling's estimated frequency."""

    name: ClassVar[str] = "paper"
    margin: float = 1.0
    phrase_weight: float = 0.01

    def __post_init__(self) -> None:
        object.__setattr__(self, "margin", _number(self.where, "margin", self.margin, minimum=1))
        object.__setattr__(self, "phrase_weight", _number(self.where, "phrase_weight", self.phrase_weight, minimum=0))

    def candidates(self, index, tokens, position, limit=None):
        word = _pronounceable(index, tokens, position)
        if word is None:
            return None
        trip = round_trip(index, self.margin, self.phrase_weight)
        nxt = next_word(tokens, position)
        found = trip.pair(word, nxt) if nxt is not None else None
        found = found or trip.word(word)
        return () if found is None else (found,)


@dataclass(frozen=True)
class MinedConfig(PerturbationConfig):
    """The recogniser's confusions mined from data set ``dataset`` (:mod:`.confusions`).

    ``direction``: ``to-reference`` replaces a word the recogniser wrote by what the reference said there,
    ``to-hypothesis`` a word the reference said by what the recogniser wrote, ``both`` either. Pairs seen
    fewer than ``min_count`` times, in less than ``min_rate`` of the source word's occurrences (its rate in
    that direction: :attr:`.ConfusionPair.rate_to_reference` / ``rate_to_hypothesis``), or farther than
    ``max_distance`` are not used; a replacement is drawn by count among the ``top_k`` most frequent.
    The default ``min_rate`` of 0.05 keeps the confusions typical of a word: without it the most frequent
    pairs are function words (the -> a, a -> the), which the recogniser confuses often in absolute numbers but
    in well under 1% of their occurrences, and p = 0.5 then rewrites a quarter of all tokens. The confusions themselves are attached by :meth:`mine`.
    """

    name: ClassVar[str] = "mined"
    dataset: str = ""
    min_count: int = 2
    min_rate: float = 0.05
    max_distance: float = MAX_DISTANCE
    top_k: int = TOP_K
    direction: str = "both"
    confusions: Confusions | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, str) or not self.dataset.strip():
            raise InputError(self.where, "needs the data set the confusions come from (mined:from=DATASET); "
                                         "never the set under test")
        object.__setattr__(self, "dataset", self.dataset.strip())
        object.__setattr__(self, "min_count", _number(self.where, "min_count", self.min_count, minimum=1, whole=True))
        object.__setattr__(self, "min_rate", _number(self.where, "min_rate", self.min_rate, minimum=0))
        if self.min_rate > 1:
            raise InputError(self.where, f"min_rate must be a share from 0 to 1, got {self.min_rate!r}")
        object.__setattr__(self, "max_distance",
                           _number(self.where, "max_distance", self.max_distance, minimum=0))
        object.__setattr__(self, "top_k", _number(self.where, "top_k", self.top_k, minimum=1, whole=True))
        if self.direction not in DIRECTIONS:
            raise InputError(self.where, f"direction must be one of {', '.join(DIRECTIONS)}, got {self.direction!r}")

    def mine(self, utterances: Sequence[Utterance], *, index: PhoneticIndex | None = None) -> MinedConfig:
        """This config with the confusions of ``utterances`` (the data set it names) attached."""
        return replace(self, confusions=mine_confusions(utterances, index=index, max_distance=self.max_distance))

    def with_confusions(self, confusions: Confusions) -> MinedConfig:
        """This config with confusions mined elsewhere attached."""
        return replace(self, confusions=confusions)

    def _table(self) -> Confusions:
        if self.confusions is None:
            raise InputError(self.where, f"the confusions of {self.dataset!r} are not loaded "
                                         "(MinedConfig.mine(utterances) attaches them)")
        return self.confusions

    def _replacements(self, text: str) -> dict[str, tuple[int, float]]:
        """Replacement text -> (count, distance) for a source of one or two words, both directions merged."""
        table = self._table()
        out: dict[str, tuple[int, float]] = {}
        found = []
        if self.direction in ("both", "to-reference"):
            found += [(p.reference, p, p.rate_to_reference) for p in table.with_hypothesis(text)]
        if self.direction in ("both", "to-hypothesis"):
            found += [(p.hypothesis, p, p.rate_to_hypothesis) for p in table.with_reference(text)]
        for new, pair, rate in found:
            if pair.count >= self.min_count and rate >= self.min_rate and pair.distance <= self.max_distance:
                count, dist = out.get(new, (0, pair.distance))
                out[new] = (count + pair.count, min(dist, pair.distance))
        return out

    def candidates(self, index, tokens, position, limit=None):
        word = _pronounceable(index, tokens, position)
        if word is None:
            return None
        found = []
        for new, (count, dist) in self._replacements(word).items():
            kind = "split" if " " in new else "substitution"
            found.append(Candidate(new, kind, dist, source="mined", count=count))
        nxt = next_word(tokens, position)
        if nxt is not None:
            for new, (count, dist) in self._replacements(f"{word} {nxt}").items():
                if " " not in new:
                    found.append(Candidate(new, "merge", dist, span=2, source="mined", count=count))
        found.sort(key=lambda c: (-(c.count or 0), c.distance, c.text))
        return tuple(found if limit is None else found[:limit])

    def draw_limit(self) -> int | None:
        return self.top_k

    def weight(self, candidate: Candidate) -> float:
        return float(candidate.count or 0)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **{k: v for k, v in asdict(self).items() if k != "confusions"}}


@dataclass(frozen=True)
class LexiconConfig(PerturbationConfig):
    """Every kind of sound-alike of the phonetic index; ``max_distance`` (e.g. 0: homophones, splits and merges
    only) leaves out farther ones; a replacement is drawn among the ``top_k`` best, by exp(-SHARPNESS * distance)."""

    name: ClassVar[str] = "lexicon"
    top_k: int = TOP_K
    max_distance: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 1:
            raise InputError("perturbation top_k", f"must be a whole number of at least 1, got {self.top_k!r}")
        md = self.max_distance
        if md is not None and (isinstance(md, bool) or not isinstance(md, (int, float)) or not md >= 0):
            raise InputError("perturbation max_distance", f"must be a number of at least 0, got {md!r}")
        if md is not None:
            object.__setattr__(self, "max_distance", float(md))

    def candidates(self, index, tokens, position, limit=None):
        word = word_of(tokens[position])
        if word is None or not index.has_pronunciation(word):
            return None
        found = list(index.candidates(word, None if self.max_distance is not None else limit))
        nxt = next_word(tokens, position)
        if nxt is not None:
            found.extend(index.merge_candidates(word, nxt, limit))
        found.sort(key=lambda c: (c.distance, _KIND_ORDER[c.kind]))  # stable: keeps each list's own order
        if self.max_distance is not None:
            found = [c for c in found if c.distance <= self.max_distance]
        return tuple(found if limit is None else found[:limit])

    def draw_limit(self) -> int | None:
        return self.top_k

    def weight(self, candidate: Candidate) -> float:
        return math.exp(-SHARPNESS * candidate.distance)


PERTURBATIONS: dict[str, type[PerturbationConfig]] = {
    cls.name: cls for cls in (PaperConfig, MinedConfig, LexiconConfig)
}
check_registry("perturbation", PERTURBATIONS, PERTURBATION_NAMES)
# Spec keys that are not field names: ``from`` is a Python keyword.
_ALIASES = {"mined": {"from": "dataset"}}


def _settings(cls: type[PerturbationConfig]) -> dict[str, Any]:
    return {f.name: f for f in fields(cls) if f.init and f.repr}


def perturbation_config(name: str, **settings: Any) -> PerturbationConfig:
    """The config of model ``name`` with ``settings`` (InputError names the known models or settings)."""
    cls = PERTURBATIONS.get(name)
    if cls is None:
        raise InputError("perturbation", f"unknown model {name!r} (known: {', '.join(PERTURBATIONS)})")
    known = _settings(cls)
    unknown = sorted(set(settings) - set(known))
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise InputError(f"perturbation {name}", f"unknown setting {', '.join(unknown)} (settings: {listed})")
    return cls(**settings)


def _value(name: str, key: str, text: str, default: Any) -> Any:
    """A spec value as the type of the setting's default (a float setting whose default is None: float)."""
    if text.lower() == "none" and default is None:
        return None
    if isinstance(default, bool):
        if text.lower() in ("true", "yes", "1"):
            return True
        if text.lower() in ("false", "no", "0"):
            return False
    elif isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            pass
    elif isinstance(default, float) or default is None:
        try:
            return float(text)
        except ValueError:
            pass
    else:
        return text
    raise InputError(f"perturbation {name}", f"{key} must be {type(default or 0.0).__name__}, got {text!r}")


def parse_perturbation(spec: str, *, defaults: dict[str, Any] | None = None) -> PerturbationConfig:
    """``NAME[:key=value,...]`` -> the config: ``paper``, ``lexicon:max_distance=0``, ``mined:from=sample-train``;
    ``defaults``: settings the spec may override."""
    if not isinstance(spec, str) or not spec.strip():
        raise InputError("perturbation", f"expected NAME[:key=value,...], got {spec!r}")
    name, _, rest = spec.strip().partition(":")
    name = name.strip()
    if name not in PERTURBATIONS:
        raise InputError("perturbation", f"unknown model {name!r} (known: {', '.join(PERTURBATIONS)})")
    known = _settings(PERTURBATIONS[name])
    settings: dict[str, Any] = dict(defaults or {})
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, text = item.partition("=")
        key = _ALIASES.get(name, {}).get(key.strip(), key.strip())
        if not eq:
            raise InputError(f"perturbation {name}", f"expected key=value, got {item!r}")
        if key not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise InputError(f"perturbation {name}", f"unknown setting {key} (settings: {listed})")
        settings[key] = _value(name, key, text.strip(), known[key].default)
    return perturbation_config(name, **settings)


def perturbation_for(spec: str | None, *, mined_from: str | None = None,
                     under_test: str | None = None) -> PerturbationConfig:
    """A command's ``--perturbation`` as a config, nothing mined yet: None is the default model; ``mined``
    without ``from=`` mines ``mined_from`` (a run's training set), never the set under test unless named."""
    text = (spec or DEFAULT_PERTURBATION).strip()
    if text.partition(":")[0].strip() != "mined" or _names_dataset(text):
        return parse_perturbation(text)
    if mined_from is None or mined_from == under_test:
        raise InputError("--perturbation mined", "name the data set to mine the confusions from "
                                                 "(mined:from=DATASET); not the set under test")
    return parse_perturbation(text, defaults={"dataset": mined_from})


def _names_dataset(spec: str) -> bool:
    return any(k.partition("=")[0].strip() in ("from", "dataset") for k in spec.partition(":")[2].split(","))


def resolve_perturbation(model: PerturbationConfig | str | None) -> PerturbationConfig:
    """A config as given, a spec parsed, or the default model (``paper``) for None."""
    if model is None:
        return perturbation_config(DEFAULT_PERTURBATION)
    if isinstance(model, str):
        return parse_perturbation(model)
    if not isinstance(model, PerturbationConfig):
        raise InputError("perturbation", f"expected a perturbation model or spec, got {type(model).__name__}")
    return model


__all__ = ["DEFAULT_PERTURBATION", "perturbation_for", "DIRECTIONS", "PERTURBATIONS", "SHARPNESS", "TOP_K", "LexiconConfig",
           "MinedConfig", "PaperConfig", "PerturbationConfig", "parse_perturbation", "perturbation_config",
           "resolve_perturbation"]

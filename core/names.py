"""The names a user types for strategies, perturbation models and scoring engines: one torch-free list of each.

The registries (:data:`lorascope.core.training.strategies.STRATEGIES`,
:data:`lorascope.core.perturbation.models.PERTURBATIONS`, :data:`lorascope.core.scoring.rescorer.ENGINES`) check
their keys against these lists when they load; the command line's choices and help texts and the inspector's
perturb bar read them from here, so that ``--help`` and drawing a screen import no torch and no phonetics.
"""

from __future__ import annotations

#: Training strategies, in the order the docs and ``--help`` list them (core.training.strategies).
STRATEGY_NAMES = ("ft", "lora", "s1", "s2", "s3", "none")
#: The strategies that train something: ``none`` scores with the pretrained LM as it is, so a study grid,
#: which compares training strategies, leaves it out.
TRAINED_STRATEGY_NAMES = tuple(name for name in STRATEGY_NAMES if name != "none")

#: Perturbation models (core.perturbation.models), and the one used when none is named.
PERTURBATION_NAMES = ("paper", "mined", "lexicon")
DEFAULT_PERTURBATION = "paper"

#: Scoring engines of an encoder rescorer (core.scoring.rescorer).
ENGINE_NAMES = ("auto", "hf", "packed")


def check_registry(kind: str, registry: object, names: tuple[str, ...]) -> None:
    """RuntimeError unless a registry's keys are ``names`` in that order (a registry and its list drifted)."""
    keys = tuple(registry)  # type: ignore[call-overload]
    if keys != names:
        raise RuntimeError(f"{kind} registry {keys} differs from lorascope.core.names {names}")

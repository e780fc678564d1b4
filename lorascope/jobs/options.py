"""What ``lorascope train`` takes, as one value: :class:`TrainOptions`, and the core config it asks for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lorascope.core.errors import InputError


@dataclass(frozen=True)
class TrainOptions:
    """What ``lorascope train`` takes (None: the core default)."""

    strategy: str
    data: str = "sample-train"
    dev: str = "sample-dev"
    test: str | None = "sample-test"
    backbone: str | None = None
    steps: int | None = None
    epochs: float | None = None
    batch_size: int | None = None
    lr: float | None = None
    seed: int = 0
    device: str = "auto"
    engine: str = "auto"
    layers: tuple[int, ...] | None = None
    targets: tuple[str, ...] | None = None
    cor_weight: float | None = None
    consistency: float | None = None    # weight of the consistency term between lists and their perturbed twins
    dropout: float | None = None        # the backbone's hidden/attention dropout and, for LoRA strategies, the adapters'
    augment: float | None = None        # perturb-N probability of the perturbed copies added to the training lists
    augment_model: str | None = None    # their perturbation model spec (default paper; mined: the training set's)
    lambda_confidence: float = 0.95
    checkpoint_every: int = 50
    first_pass: str | None = None       # files imported on the way: "order" (default) or "score"; names: as stored

    def train_config(self):
        """The core :class:`TrainConfig` these options ask for (InputError on a bad combination)."""
        from lorascope.core.training.strategies.none import check_family
        from lorascope.core.training.train import TrainConfig

        kwargs: dict[str, Any] = {"strategy": self.strategy, "seed": self.seed, "device": self.device,
                                  "checkpoint_every": self.checkpoint_every, "engine": self.engine,
                                  "lambda_confidence": self.lambda_confidence}
        strategy_options: dict[str, Any] = {}
        if self.layers is not None:
            if self.strategy == "ft":
                raise InputError("--layers", "restricts LoRA; it does not apply to ft")
            strategy_options["layers"] = list(self.layers)
        if self.targets is not None:   # module names by hand instead of the roles
            strategy_options["modules"] = list(self.targets)
        if self.dropout is not None and self.strategy not in ("ft", "none"):
            strategy_options["dropout"] = self.dropout
        if strategy_options:
            kwargs["strategy_options"] = strategy_options
        if self.consistency is not None:
            if self.augment is None:
                raise InputError("--consistency", "needs perturbed twins of the training lists: add --augment "
                                                  "perturb[:P]")
            kwargs["consistency_weight"] = self.consistency
        for key in ("backbone", "steps", "epochs", "batch_size", "cor_weight", "dropout"):
            if getattr(self, key) is not None:
                kwargs[key] = getattr(self, key)
        if self.lr is not None:
            kwargs["lr_full" if self.strategy == "ft" else "lr_adapter"] = self.lr
        config = TrainConfig(**kwargs)
        check_family(config.strategy_config(), config.backbone)   # before any model loads or run is stored
        return config

"""Training losses of the rescorer: MWER over N-best lists and LoRB's correlation regulariser on [CLS] vectors.

MWER (RescoreBERT, LoRB). For utterance ``u`` with hypotheses ``i = 1..N_u``, combined scores ``s_ui`` (higher is
better) and word errors ``e_ui``::

    p_ui    = exp(s_ui) / sum_j exp(s_uj)                (softmax over the utterance's own N-best)
    L_mwer  = 1/U * sum_u sum_i p_ui * (e_ui - ebar_u)    with ebar_u = 1/N_u * sum_i e_ui

Subtracting the list's mean error does not change the gradient (the p_ui sum to one); it centres the value, so
a loss below zero means the model puts more mass than uniform on better-than-average hypotheses.
Ragged batches come padded to the longest list with a mask; padded entries get zero probability and do not
enter the mean.

Correlation regulariser (LoRB). For the [CLS] vectors ``H`` (M x d) of all hypotheses in a batch, with
column means ``mu_k`` and standard deviations ``sigma_k``::

    R_kl   = 1/M * sum_m (H_mk - mu_k)(H_ml - mu_l) / (sigma_k sigma_l)     (correlation of dimensions k, l)
    L_cor  = 1/(d (d - 1)) * sum_{k != l} R_kl ** 2

i.e. the mean squared off-diagonal correlation, ``||R - I||_F^2`` over the d(d-1) off-diagonal entries (the
diagonal of R is one by construction, up to the epsilon). It is zero when the hidden dimensions are
uncorrelated and one when they all move together; dividing by d(d-1) keeps its weight independent of the
hidden size. Total loss: ``L_mwer + cor_weight * L_cor`` (+ AdaLoRA's orthogonal term for S1/S3).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def pad_lists(rows: Sequence[Sequence[float]], *, fill: float = 0.0, device=None,
              dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad ragged rows to a (U, N_max) tensor; also return the boolean mask of real entries."""
    width = max((len(r) for r in rows), default=0)
    values = torch.full((len(rows), width), fill, dtype=dtype)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for k, row in enumerate(rows):
        if len(row):
            values[k, :len(row)] = torch.as_tensor(list(row), dtype=dtype)
            mask[k, :len(row)] = True
    return values.to(device), mask.to(device)


def mwer_loss(scores: torch.Tensor, errors: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over utterances of the expected word errors minus the list's mean errors (module docstring).

    ``scores`` and ``errors`` are (U, N); ``mask`` (U, N) marks real hypotheses (default: all). Every row
    needs at least one real hypothesis.
    """
    scores = scores.float()
    errors = errors.to(scores.dtype)
    if mask is None:
        mask = torch.ones_like(scores, dtype=torch.bool)
    if not bool(mask.any(dim=1).all()):
        raise ValueError("mwer_loss: every utterance needs at least one hypothesis")
    masked = scores.masked_fill(~mask, float("-inf"))
    probs = torch.softmax(masked, dim=1)
    errors = errors.masked_fill(~mask, 0.0)
    counts = mask.sum(dim=1, keepdim=True).to(scores.dtype)
    mean_errors = errors.sum(dim=1, keepdim=True) / counts
    centred = (errors - mean_errors).masked_fill(~mask, 0.0)
    return (probs * centred).sum(dim=1).mean()


def correlation_penalty(hidden: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Mean squared off-diagonal correlation between the hidden dimensions of ``hidden`` (M x d)."""
    hidden = hidden.float()
    m, d = hidden.shape
    if m < 2 or d < 2:
        return hidden.new_zeros(())
    centred = hidden - hidden.mean(dim=0, keepdim=True)
    std = torch.sqrt(centred.pow(2).mean(dim=0) + eps)
    z = centred / std
    corr = z.T @ z / m
    off_diagonal = corr.pow(2).sum() - torch.diagonal(corr).pow(2).sum()
    return off_diagonal / (d * (d - 1))


def consistency_kl(scores: torch.Tensor, twin_scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over lists of KL(p ‖ q) between the N-best softmax ``p`` of ``scores`` and ``q`` of ``twin_scores``.

    The twin is a perturbed copy of the list (same hypotheses in number, some words changed); ``p`` is taken as
    the target (no gradient through it), so the term asks the rescorer to rank the perturbed list as it ranks
    the clean one: robust training's consistency term.
    """
    neg = float("-inf")
    log_p = torch.log_softmax(scores.float().detach().masked_fill(~mask, neg), dim=1)
    log_q = torch.log_softmax(twin_scores.float().masked_fill(~mask, neg), dim=1)
    terms = (log_p.exp() * (log_p - log_q)).masked_fill(~mask, 0.0)
    return terms.sum(dim=1).mean()

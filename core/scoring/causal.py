"""The ``causal`` scorer family: a hypothesis's log-probability under a causal LM, from a beginning-of-sequence token.

``score(w_1..w_n) = sum_t log p(w_t | BOS, w_1..w_{t-1})`` over the hypothesis's tokens, in float32 whatever
the compute dtype (bf16 autocast on CUDA). No per-token normalisation: the combination's length feature can
weigh the hypothesis length (:mod:`.combination`). There is no head; the LM's own output layer scores.

The second value a forward pass returns, the vector the correlation regulariser decorrelates, is the final
hidden state of each hypothesis's last token: in a causal LM it is the only position that has seen the whole
hypothesis, the counterpart of the [CLS] vector of the ``cls`` family.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lorascope.core.scoring.backbone import ScorerModule


def bos_id(tokenizer) -> int:
    """The token every hypothesis is scored after: BOS, else [CLS] (a BERT vocabulary), else EOS (GPT-2's)."""
    for key in ("bos_token_id", "cls_token_id", "eos_token_id"):
        value = getattr(tokenizer, key, None)
        if value is not None:
            return int(value)
    return 0


def encode_causal(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """``[BOS] + tokens`` of each text, at most ``max_length`` ids in all."""
    if not texts:
        return []
    ids = tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=max_length - 1)["input_ids"]
    bos = bos_id(tokenizer)
    return [[bos, *x] for x in ids]


def sequence_log_probs(logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Sum over positions 1.. of log p(token | prefix), (B,) float32, padding excluded."""
    logits = logits[:, :-1].float()
    targets = input_ids[:, 1:]
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    return (picked * attention_mask[:, 1:].to(picked.dtype)).sum(dim=1)


class CausalRescorerModel(ScorerModule):
    """A causal LM (possibly peft-wrapped) whose log-probability of a hypothesis is its LM score."""

    family = "causal"

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Module()    # no parameters: the LM's own output layer scores

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """LM scores (B,) in float32 and the last token's final hidden state (B, hidden)."""
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True,
                            use_cache=False)
        last = attention_mask.sum(dim=1) - 1
        hidden = out.hidden_states[-1][torch.arange(len(last), device=last.device), last]
        return sequence_log_probs(out.logits, input_ids, attention_mask), hidden

    def head_state(self) -> dict[str, torch.Tensor]:
        return {}

    def load_head_state(self, state: dict[str, torch.Tensor]) -> None:
        pass

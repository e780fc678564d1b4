"""The adapted matrices by role (Wq, Wk, Wv, Wo, W_ffn_in, W_ffn_out), found by architecture: :func:`find_roles`.

The papers adapt the query, key, value and output projections of attention and the two feed-forward matrices
of every layer. Each architecture names them its own way; this table says where each role lives, relative to
a layer (``layer.N.``, ``layers.N.`` or ``h.N.``). A fused matrix (ModernBERT's ``Wqkv``, GPT-2's ``c_attn``)
serves several roles and is adapted once; a role served by two matrices (the Llama family's gated
feed-forward input: ``gate_proj`` and ``up_proj``) adapts both. A role the table names but the model lacks is
an error naming the architecture and the role, never a silent partial adaptation; an architecture not in the
table is an error that points to ``targets`` (module names given by hand).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from lorascope.core.errors import InputError

ROLES = ("Wq", "Wk", "Wv", "Wo", "W_ffn_in", "W_ffn_out")
# Target names of lorascope before roles (stored strategy configs hold them): the BERT module names.
ROLE_ALIASES = {"query": "Wq", "key": "Wk", "value": "Wv", "attention.output.dense": "Wo",
                "intermediate.dense": "W_ffn_in", "output.dense": "W_ffn_out"}

_BERT = {"Wq": ("attention.self.query",), "Wk": ("attention.self.key",), "Wv": ("attention.self.value",),
         "Wo": ("attention.output.dense",), "W_ffn_in": ("intermediate.dense",), "W_ffn_out": ("output.dense",)}
_LLAMA = {"Wq": ("self_attn.q_proj",), "Wk": ("self_attn.k_proj",), "Wv": ("self_attn.v_proj",),
          "Wo": ("self_attn.o_proj",), "W_ffn_in": ("mlp.gate_proj", "mlp.up_proj"), "W_ffn_out": ("mlp.down_proj",)}

#: model_type -> role -> module names relative to a layer (all of them adapted).
ARCHITECTURES: dict[str, dict[str, tuple[str, ...]]] = {
    "bert": _BERT, "roberta": _BERT, "electra": _BERT, "xlm-roberta": _BERT,
    "distilbert": {"Wq": ("attention.q_lin",), "Wk": ("attention.k_lin",), "Wv": ("attention.v_lin",),
                   "Wo": ("attention.out_lin",), "W_ffn_in": ("ffn.lin1",), "W_ffn_out": ("ffn.lin2",)},
    "deberta-v2": {**_BERT, "Wq": ("attention.self.query_proj",), "Wk": ("attention.self.key_proj",),
                   "Wv": ("attention.self.value_proj",)},
    "modernbert": {"Wq": ("attn.Wqkv",), "Wk": ("attn.Wqkv",), "Wv": ("attn.Wqkv",), "Wo": ("attn.Wo",),
                   "W_ffn_in": ("mlp.Wi",), "W_ffn_out": ("mlp.Wo",)},
    "gpt2": {"Wq": ("attn.c_attn",), "Wk": ("attn.c_attn",), "Wv": ("attn.c_attn",), "Wo": ("attn.c_proj",),
             "W_ffn_in": ("mlp.c_fc",), "W_ffn_out": ("mlp.c_proj",)},
    "llama": _LLAMA, "qwen2": _LLAMA, "mistral": _LLAMA,
}

LAYER_NAME = re.compile(r"(?:^|\.)(?:layer|layers|h)\.(\d+)\.(.+)$")


def canonical_roles(targets: str | Sequence[str]) -> tuple[str, ...]:
    """Role names of ``targets`` (old BERT target names accepted); InputError on an unknown one."""
    targets = (targets,) if isinstance(targets, str) else tuple(targets)
    roles = tuple(dict.fromkeys(ROLE_ALIASES.get(t, t) for t in targets))
    unknown = [t for t in roles if t not in ROLES]
    if unknown or not roles:
        raise InputError("targets", f"unknown target {', '.join(unknown) or '(none)'} (roles: {', '.join(ROLES)})")
    return roles


def _adaptable(module: nn.Module) -> bool:
    # transformers' Conv1D (GPT-2) is a linear map with a transposed weight; peft adapts it.
    return isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D"


@dataclass(frozen=True)
class RoleMap:
    """The modules adapted per role (names relative to the encoder, model order) and which are fused."""

    architecture: str
    by_role: dict[str, tuple[str, ...]]

    @property
    def modules(self) -> list[str]:
        """Every adapted module once (a fused matrix serving several roles counts once)."""
        return list(dict.fromkeys(n for names in self.by_role.values() for n in names))

    @property
    def fused(self) -> list[str]:
        """Layer-relative names of the matrices that serve more than one role."""
        seen: dict[str, int] = {}
        for names in self.by_role.values():
            for n in {LAYER_NAME.search(x).group(2) for x in names}:
                seen[n] = seen.get(n, 0) + 1
        return sorted(n for n, k in seen.items() if k > 1)

    def describe(self) -> str:
        """One line per role: ``Wq: layer.N.attention.self.query (x6)``."""
        lines = []
        for role, names in self.by_role.items():
            rel = list(dict.fromkeys(LAYER_NAME.search(n).group(2) for n in names))
            layers = {LAYER_NAME.search(n).group(1) for n in names}
            lines.append(f"{role}: {', '.join(rel)} ({len(layers)} layers)")
        if self.fused:
            lines.append(f"fused, adapted once and counted once in AdaLoRA's rank budget: {', '.join(self.fused)}")
        return "; ".join(lines)


def find_roles(encoder: nn.Module, roles: Sequence[str] = ROLES, layers: Sequence[int] | None = None,
               modules: Sequence[str] | None = None) -> RoleMap:
    """The modules of ``encoder`` that serve ``roles`` (in ``layers``; all when None).

    ``modules`` (``--targets``) names module suffixes by hand instead, for any architecture: every linear
    module of a layer whose layer-relative name equals or ends with one of them.
    """
    arch = str(getattr(encoder.config, "model_type", type(encoder).__name__))
    candidates = [(name, m) for name, m in encoder.named_modules() if _adaptable(m)]

    def in_layers(match: re.Match) -> bool:
        return layers is None or int(match.group(1)) in layers

    if modules:
        by_role: dict[str, tuple[str, ...]] = {}
        for suffix in modules:
            found = tuple(n for n, _ in candidates if (m := LAYER_NAME.search(n)) and in_layers(m)
                          and (m.group(2) == suffix or m.group(2).endswith("." + suffix)))
            if not found:
                raise InputError("--targets", f"no linear module of a layer of this {arch} model is named {suffix!r}")
            by_role[f"targets {suffix}"] = found
        return RoleMap(arch, by_role)
    table = ARCHITECTURES.get(arch)
    if table is None:
        raise InputError("model", f"unknown architecture {arch!r}: adapted roles are known for "
                                  f"{', '.join(sorted(ARCHITECTURES))}; name the modules with --targets")
    by_role = {}
    for role in roles:
        wanted = table[role]
        found = tuple(n for n, _ in candidates if (m := LAYER_NAME.search(n)) and in_layers(m)
                      and m.group(2) in wanted)
        if not found or {LAYER_NAME.search(n).group(2) for n in found} != set(wanted):
            raise InputError("model", f"{arch}: found no {' + '.join(wanted)} module for role {role}")
        by_role[role] = found
    return RoleMap(arch, by_role)

"""Tiny random models of every supported architecture, built from a config and saved as a user would save them."""

from __future__ import annotations

from pathlib import Path

import torch

SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def _configs(vocab: int, pad: int, bos: int, eos: int) -> dict:
    import transformers as tf

    ids = dict(bos_token_id=bos, eos_token_id=eos)

    return {
        "bert": (tf.BertConfig(vocab_size=vocab, pad_token_id=pad, **SMALL), tf.BertModel),
        "roberta": (tf.RobertaConfig(vocab_size=vocab, pad_token_id=pad, max_position_embeddings=160, **SMALL),
                    tf.RobertaModel),
        "electra": (tf.ElectraConfig(vocab_size=vocab, pad_token_id=pad, embedding_size=32, **SMALL),
                    tf.ElectraModel),
        "distilbert": (tf.DistilBertConfig(vocab_size=vocab, pad_token_id=pad, dim=32, n_layers=2, n_heads=2,
                                           hidden_dim=64), tf.DistilBertModel),
        "deberta-v2": (tf.DebertaV2Config(vocab_size=vocab, pad_token_id=pad, **SMALL), tf.DebertaV2Model),
        "modernbert": (tf.ModernBertConfig(vocab_size=vocab, pad_token_id=pad, cls_token_id=bos, sep_token_id=eos,
                                            **ids, **SMALL), tf.ModernBertModel),
        "gpt2": (tf.GPT2Config(vocab_size=vocab, **ids, n_embd=32, n_layer=2, n_head=2, n_positions=160),
                 tf.GPT2LMHeadModel),
        "llama": (tf.LlamaConfig(vocab_size=vocab, **ids, num_key_value_heads=2, **SMALL), tf.LlamaForCausalLM),
        "qwen2": (tf.Qwen2Config(vocab_size=vocab, **ids, num_key_value_heads=2, **SMALL), tf.Qwen2ForCausalLM),
        "mistral": (tf.MistralConfig(vocab_size=vocab, **ids, num_key_value_heads=2, **SMALL), tf.MistralForCausalLM),
    }


ARCHITECTURES = ("bert", "roberta", "electra", "distilbert", "deberta-v2", "modernbert", "gpt2", "llama", "qwen2",
                 "mistral")
CAUSAL = ("gpt2", "llama", "qwen2", "mistral")


def save_tiny(arch: str, folder: Path, seed: int = 0) -> Path:
    """A random ``arch`` model with the MiniLM tokenizer, written with ``save_pretrained`` into ``folder``."""
    from lorascope.core.scoring.backbone import _load_tokenizer, minilm_path, quiet_loading

    tokenizer = _load_tokenizer(minilm_path())
    config, cls = _configs(tokenizer.vocab_size, tokenizer.pad_token_id, tokenizer.cls_token_id,
                           tokenizer.sep_token_id)[arch]
    torch.manual_seed(seed)
    with quiet_loading():
        model = cls(config)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return folder

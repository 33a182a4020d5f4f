"""A randomly initialised causal LM with a tokenizer trained on the spot, for smoke runs.

Nothing is downloaded: the byte-level BPE tokenizer is trained on the texts given (for
example the GSM8K questions to be asked), and the model is a small Llama-style network built
from a config. Its answers are noise, which is what a pipeline check needs: it exercises
tokenisation, batching, generation, stop strings and scoring at full speed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from evolkit.evaluate._hf import import_transformers

__all__ = ["CHAT_TEMPLATE", "random_model"]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def random_model(
    texts: Iterable[str],
    *,
    vocab_size: int = 512,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    max_positions: int = 4096,
    init_std: float = 0.3,
    seed: int = 0,
    config: Any = None,
) -> tuple[Any, Any]:
    """``(model, tokenizer)``: a random Llama-style model and a BPE tokenizer fit to ``texts``.

    ``config`` replaces the small default architecture (any transformers model config, e.g.
    ``AutoConfig.from_pretrained(path)`` of a real model); its vocabulary size is set to the
    tokenizer's. ``init_std`` is wider than a trained model's initialisation so that the random
    model writes varied tokens (digits included) instead of repeating one. The tokenizer has
    ``<s>``/``</s>``/``<pad>`` tokens and a simple chat template.
    """
    torch, transformers = import_transformers()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    special = ["<pad>", "<s>", "</s>", "<|end|>"]
    backend = Tokenizer(models.BPE(unk_token=None))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(list(texts), trainer=trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        additional_special_tokens=["<|end|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    if config is None:
        config = transformers.LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=hidden_size,
            intermediate_size=hidden_size * 2,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=heads,
            max_position_embeddings=max_positions,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            tie_word_embeddings=True,
            initializer_range=init_std,
        )
    else:
        config.vocab_size = len(tokenizer)
        config.bos_token_id = tokenizer.bos_token_id
        config.eos_token_id = tokenizer.eos_token_id
        config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval(), tokenizer

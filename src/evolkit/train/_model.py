"""Loading the tokenizer and the model, and the decisions that depend on them.

Imported only from inside :func:`evolkit.train.train`: it imports torch and transformers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import warnings
from collections.abc import Iterator
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from evolkit.errors import ConfigError
from evolkit.train._config import TrainConfig

__all__ = [
    "PAD_CANDIDATES",
    "choose_attn_implementation",
    "ensure_pad_token",
    "load_model",
    "load_tokenizer",
    "lora_config",
    "packing_support",
]

# Tokens that some tokenizers reserve for padding (or never emit in text), tried in order
# before adding a new one.
PAD_CANDIDATES = (
    "<pad>",
    "<|pad|>",
    "[PAD]",
    "<|finetune_right_pad_id|>",
    "<|fim_pad|>",
    "<|reserved_special_token_0|>",
)
NEW_PAD = "<|evolkit_pad|>"

# Attention backends whose masks follow the position ids: packed examples restart at
# position 0 and never attend to each other. Flash attention runs them as variable-length
# sequences; sdpa, eager and flex build a block-diagonal mask from the position ids.
_VARLEN_BACKENDS = ("flash_attention_2", "flash_attention_3")
_MASKED_BACKENDS = ("sdpa", "eager", "flex_attention")


def load_tokenizer(config: TrainConfig) -> Any:
    """The model's tokenizer, right-padded, with a pad token distinct from EOS."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            config.model, trust_remote_code=config.trust_remote_code
        )
    except OSError as exc:
        raise ConfigError(
            f"cannot load the tokenizer of {config.model!r}: {exc} "
            "(give a Hugging Face model name or a local model directory)"
        ) from exc
    tokenizer.padding_side = "right"
    ensure_pad_token(tokenizer)
    return tokenizer


def ensure_pad_token(tokenizer: Any) -> bool:
    """Give ``tokenizer`` a pad token that is not its EOS token; True when one was added.

    A pad token equal to EOS would let padding code treat the real end of a response as
    padding, so the model would never learn to stop. An existing unused token is preferred
    (no embedding resize); otherwise a new special token is added and the caller resizes
    the model's embeddings.
    """
    if tokenizer.eos_token_id is None:
        raise ConfigError(
            "the tokenizer has no end-of-sequence token, so a fine-tuned model could not stop "
            "(set eos_token in the tokenizer's config)"
        )
    if tokenizer.pad_token_id is not None and tokenizer.pad_token_id != tokenizer.eos_token_id:
        return False
    vocab = tokenizer.get_vocab()
    taken = {tokenizer.eos_token_id, tokenizer.bos_token_id}
    for candidate in PAD_CANDIDATES:
        if candidate in vocab and vocab[candidate] not in taken:
            tokenizer.pad_token = candidate
            return False
    unk = tokenizer.unk_token_id
    if unk is not None and unk not in taken:
        tokenizer.pad_token = tokenizer.unk_token
        return False
    tokenizer.add_special_tokens({"pad_token": NEW_PAD})
    return True


def _cuda() -> bool:
    return bool(torch.cuda.is_available())


def use_bf16(config: TrainConfig) -> bool:
    """Whether to train in bfloat16: asked for, or (by default) supported by the GPU."""
    if config.bf16 is not None:
        return config.bf16
    return not config.use_cpu and _cuda() and bool(torch.cuda.is_bf16_supported())


def choose_attn_implementation(config: TrainConfig, bf16: bool) -> str:
    """``flash_attention_2`` on CUDA with flash-attn installed and half precision, else sdpa."""
    if config.attn_implementation:
        return config.attn_implementation
    if (
        not config.use_cpu
        and _cuda()
        and bf16
        and importlib.util.find_spec("flash_attn") is not None
    ):
        return "flash_attention_2"
    return "sdpa"


def check_qlora(config: TrainConfig) -> None:
    """QLoRA needs bitsandbytes and a CUDA GPU: say so before loading anything."""
    if not config.qlora:
        return
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError(
            "QLoRA needs the bitsandbytes package (4-bit weights): `pip install bitsandbytes`, "
            "or train with --lora instead"
        )
    if config.use_cpu or not _cuda():
        raise ConfigError(
            "QLoRA needs a CUDA GPU: bitsandbytes 4-bit training does not run on this machine "
            "(train with --lora instead)"
        )


def load_model(config: TrainConfig, tokenizer: Any, attn_implementation: str, bf16: bool) -> Any:
    """Load the base model for training and fit its embeddings to the tokenizer.

    Full fine-tuning keeps float32 master weights (bf16 runs as autocast); LoRA loads the
    frozen base in bf16 when training in bf16; QLoRA loads it in 4-bit NF4.
    """
    kwargs: dict[str, Any] = {
        "attn_implementation": attn_implementation,
        "trust_remote_code": config.trust_remote_code,
        "dtype": torch.bfloat16 if bf16 and config.uses_lora else torch.float32,
    }
    if config.qlora:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(  # type: ignore[no-untyped-call, unused-ignore]
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if bf16 else torch.float16,
            bnb_4bit_quant_storage=torch.bfloat16 if bf16 else torch.float16,
        )
        # 4-bit weights live on this process's GPU (one process per GPU under a launcher).
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    try:
        model = AutoModelForCausalLM.from_pretrained(config.model, **kwargs)
    except OSError as exc:
        raise ConfigError(
            f"cannot load the model {config.model!r}: {exc} "
            "(give a Hugging Face model name or a local model directory)"
        ) from exc
    except (ImportError, ValueError) as exc:
        if "attn" in str(exc).lower() or "attention" in str(exc).lower():
            raise ConfigError(
                f"attention backend {attn_implementation!r} is not available for {config.model!r}: "
                f"{exc} (pick another with attn_implementation, e.g. sdpa)"
            ) from exc
        raise
    fit_embeddings(model, tokenizer)
    if config.qlora:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(  # type: ignore[no-untyped-call, unused-ignore]
            model, use_gradient_checkpointing=config.gradient_checkpointing
        )
    return model


def fit_embeddings(model: Any, tokenizer: Any) -> None:
    """Grow the embeddings when the tokenizer has more tokens; mirror its special tokens."""
    size = int(model.get_input_embeddings().weight.shape[0])
    if len(tokenizer) > size:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    for cfg in (model.config, model.generation_config):
        if cfg is None:
            continue
        cfg.pad_token_id = tokenizer.pad_token_id
        if getattr(cfg, "eos_token_id", None) is None:
            cfg.eos_token_id = tokenizer.eos_token_id
    if model.generation_config is not None:
        eos = model.generation_config.eos_token_id
        eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        if tokenizer.eos_token_id not in eos_ids:
            model.generation_config.eos_token_id = [*eos_ids, tokenizer.eos_token_id]


def packing_support(model: Any, attn_implementation: str) -> tuple[str | None, str]:
    """How packed rows keep examples apart on this model: ``"varlen"``, ``"masked"`` or None.

    Returns the mode and a one-line note for the report.
    """
    if not getattr(model, "_supports_attention_backend", False):
        return None, (
            f"{type(model).__name__} does not take its attention mask from position ids; "
            "packing is off and batches are padded"
        )
    if attn_implementation in _VARLEN_BACKENDS or "flash" in attn_implementation:
        return "varlen", (
            f"packing with {attn_implementation}: examples run as variable-length sequences "
            "(padding-free, position ids restart at each example)"
        )
    if attn_implementation in _MASKED_BACKENDS:
        return "masked", (
            f"packing with {attn_implementation}: position ids restart at each example and a "
            "block-diagonal mask keeps packed examples apart"
        )
    return None, (
        f"attention backend {attn_implementation!r} is not known to keep packed examples apart; "
        "packing is off and batches are padded"
    )


@contextlib.contextmanager
def quiet_peft() -> Iterator[None]:
    """Silence the deprecation notices peft triggers in transformers (known, harmless)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*is_gradient_checkpointing.*deprecated", category=FutureWarning
        )
        yield


def lora_config(config: TrainConfig) -> Any:
    """The peft LoRA adapter settings for causal language modelling."""
    from peft import LoraConfig

    targets: Any = list(config.lora_target_modules) if config.lora_target_modules else "all-linear"
    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )

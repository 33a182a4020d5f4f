"""Batched generation with Hugging Face transformers, on CPU or GPU.

Prompts are sorted by length (longest first) and padded on the left into batches of
``batch_size``; decoding is greedy unless the sampling config asks for a temperature; generation
stops at the style's stop strings (and the model's end-of-sequence token), and the text after
a stop string is cut off. On a GPU a static KV cache (and ``torch.compile`` with it) is optional.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from evolkit.errors import ConfigError, missing_extra
from evolkit.evaluate._generate import Generation, SamplingConfig, truncate_at_stop
from evolkit.evaluate._styles import Prompt

__all__ = ["HFGenerator", "import_transformers"]


def import_transformers() -> tuple[Any, Any]:
    """``(torch, transformers)``, or the error that says to install ``evolkit[eval]``."""
    try:
        import transformers
    except ImportError as exc:
        raise missing_extra("transformers", "eval", exc) from exc
    try:
        import torch
    except ImportError as exc:
        raise missing_extra("torch", "eval", exc) from exc
    return torch, transformers


class HFGenerator:
    """Generates with a transformers causal LM: a model name or path, or a loaded model.

    ``model`` is a hub name or local directory (loaded with ``AutoModelForCausalLM``) or a
    model object, in which case ``tokenizer`` is required. ``device`` defaults to ``cuda`` when
    available; ``dtype`` defaults to the checkpoint's on GPU and float32 on CPU.
    ``static_cache`` and ``compile`` only pay off on a GPU (``compile`` implies a static cache).
    """

    name = "hf"

    def __init__(
        self,
        model: str | os.PathLike[str] | Any,
        tokenizer: Any = None,
        *,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int = 8,
        static_cache: bool = False,
        compile: bool = False,
        trust_remote_code: bool = False,
    ) -> None:
        torch, transformers = import_transformers()
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if isinstance(model, (str, os.PathLike)):
            self.model_name = str(model)
            if tokenizer is None:
                tokenizer = transformers.AutoTokenizer.from_pretrained(
                    self.model_name, trust_remote_code=trust_remote_code
                )
            if dtype is None:
                dtype = "auto" if self.device.startswith("cuda") else "float32"
            torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
            model = transformers.AutoModelForCausalLM.from_pretrained(
                self.model_name, dtype=torch_dtype, trust_remote_code=trust_remote_code
            )
        else:
            if tokenizer is None:
                raise ConfigError("a model object needs its tokenizer: HFGenerator(model, tok)")
            self.model_name = str(getattr(model, "name_or_path", "") or type(model).__name__)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batch_size = batch_size
        self.static_cache = static_cache or compile
        self.compile = compile

    def __repr__(self) -> str:
        return f"HFGenerator({self.model_name!r}, device={self.device!r})"

    def render(self, prompt: Prompt) -> str:
        """The text the model sees; chat prompts go through the tokenizer's chat template."""
        if prompt.messages is None:
            return prompt.text or ""
        if not getattr(self.tokenizer, "chat_template", None):
            raise ConfigError(
                f"{self.model_name} has no chat template: use a plain-text style "
                "(--style wizardmath, gsm8k or gsm8k_cot)"
            )
        text = self.tokenizer.apply_chat_template(
            list(prompt.messages), tokenize=False, add_generation_prompt=True
        )
        return str(text)

    def _generation_config(self, config: SamplingConfig) -> Any:
        _, transformers = import_transformers()
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        options: dict[str, Any] = {
            "max_new_tokens": config.max_new_tokens,
            "num_return_sequences": config.samples,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": eos,
            "do_sample": not config.greedy,
        }
        if not config.greedy:
            options["temperature"] = config.temperature
            options["top_p"] = config.top_p
        if config.stop:
            options["stop_strings"] = list(config.stop)
        if self.static_cache:
            options["cache_implementation"] = "static"
            options["disable_compile"] = not self.compile
        return transformers.GenerationConfig(**options)

    def generate(self, prompts: Sequence[Prompt], config: SamplingConfig) -> list[Generation]:
        """Complete every prompt ``config.samples`` times, in batches."""
        torch = self._torch
        texts = [self.render(prompt) for prompt in prompts]
        # A chat template writes its own special tokens; a plain prompt gets the tokenizer's.
        special = not any(prompt.messages is not None for prompt in prompts)
        lengths = [
            len(self.tokenizer(text, add_special_tokens=special)["input_ids"]) for text in texts
        ]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        generation_config = self._generation_config(config)
        outputs: dict[int, tuple[str, ...]] = {}
        if not config.greedy:
            torch.manual_seed(config.seed)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            encoded = self.tokenizer(
                [texts[i] for i in batch],
                return_tensors="pt",
                padding=True,
                add_special_tokens=special,
            ).to(self.device)
            with torch.inference_mode():
                generated = self.model.generate(
                    **encoded, generation_config=generation_config, tokenizer=self.tokenizer
                )
            new_tokens = generated[:, encoded["input_ids"].shape[1] :]
            decoded = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            for position, index in enumerate(batch):
                group = decoded[position * config.samples : (position + 1) * config.samples]
                outputs[index] = tuple(truncate_at_stop(text, config.stop) for text in group)
        return [Generation(prompt=texts[i], outputs=outputs[i]) for i in range(len(texts))]

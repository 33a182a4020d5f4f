"""Offline generation with vLLM: every prompt goes to the engine in one ``LLM.generate`` call.

vLLM schedules the whole batch itself (continuous batching, paged KV cache), so there is no
batch size to tune. Chat prompts are rendered with the model's chat template and passed as
token ids, so the template's own special tokens are not doubled.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from evolkit.errors import ConfigError, MissingExtraError
from evolkit.evaluate._generate import Generation, SamplingConfig, truncate_at_stop
from evolkit.evaluate._styles import Prompt

__all__ = ["VLLMGenerator", "vllm_available"]


def vllm_available() -> bool:
    """Whether vLLM can be imported (checked without importing it)."""
    return importlib.util.find_spec("vllm") is not None


class VLLMGenerator:
    """Generates with ``vllm.LLM``; ``engine_args`` go to its constructor.

    Typical ``engine_args``: ``tensor_parallel_size``, ``gpu_memory_utilization``,
    ``max_model_len``, ``dtype``.
    """

    name = "vllm"

    def __init__(self, model: str, *, seed: int = 0, **engine_args: Any) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise MissingExtraError(
                f"vllm is not installed ({exc}): install it on a GPU machine with "
                "`pip install vllm`, or use --backend hf"
            ) from exc
        self._vllm = vllm
        self.model_name = model
        self.llm = vllm.LLM(model=model, seed=seed, **engine_args)

    def __repr__(self) -> str:
        return f"VLLMGenerator({self.model_name!r})"

    def _inputs(self, prompts: Sequence[Prompt]) -> tuple[list[Any], list[str]]:
        tokenizer = self.llm.get_tokenizer()
        inputs: list[Any] = []
        texts: list[str] = []
        for prompt in prompts:
            if prompt.messages is None:
                text = prompt.text or ""
                inputs.append(text)
            else:
                if not getattr(tokenizer, "chat_template", None):
                    raise ConfigError(
                        f"{self.model_name} has no chat template: use a plain-text style "
                        "(--style wizardmath, gsm8k or gsm8k_cot)"
                    )
                text = str(
                    tokenizer.apply_chat_template(
                        list(prompt.messages), tokenize=False, add_generation_prompt=True
                    )
                )
                ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                inputs.append({"prompt_token_ids": list(ids)})
            texts.append(text)
        return inputs, texts

    def generate(self, prompts: Sequence[Prompt], config: SamplingConfig) -> list[Generation]:
        """Complete every prompt ``config.samples`` times in a single engine call."""
        inputs, texts = self._inputs(prompts)
        params = self._vllm.SamplingParams(
            n=config.samples,
            temperature=0.0 if config.greedy else config.temperature,
            top_p=1.0 if config.greedy else config.top_p,
            max_tokens=config.max_new_tokens,
            stop=list(config.stop) or None,
            seed=None if config.greedy else config.seed,
        )
        results = self.llm.generate(inputs, params, use_tqdm=False)
        return [
            Generation(
                prompt=text,
                outputs=tuple(truncate_at_stop(o.text, config.stop) for o in result.outputs),
            )
            for text, result in zip(texts, results, strict=True)
        ]

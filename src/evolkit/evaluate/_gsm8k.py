"""Evaluate a model on GSM8K: load, prompt, generate, extract, score."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any, Literal

from evolkit._protocols import Backend
from evolkit.errors import ConfigError
from evolkit.evaluate._data import GSM8KData, GSM8KItem, load_gsm8k
from evolkit.evaluate._extract import Extraction, extract_answer
from evolkit.evaluate._generate import BackendGenerator, Generation, Generator, SamplingConfig
from evolkit.evaluate._harness import harness_match
from evolkit.evaluate._numbers import format_number, numbers_match
from evolkit.evaluate._result import GSM8KRecord, GSM8KResult
from evolkit.evaluate._styles import PromptStyle, get_style

__all__ = ["BackendName", "evaluate_gsm8k", "make_generator", "score_generation"]

BackendName = Literal["auto", "vllm", "hf", "litellm"]
BACKENDS: tuple[str, ...] = ("auto", "vllm", "hf", "litellm")


def _is_backend(model: object) -> bool:
    return not isinstance(model, (str, os.PathLike)) and isinstance(model, Backend)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def make_generator(
    model: Any,
    backend: str = "auto",
    *,
    tokenizer: Any = None,
    batch_size: int = 8,
    concurrency: int = 16,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
) -> Generator:
    """The generator for ``model`` on ``backend``.

    ``auto`` picks ``litellm`` for an :class:`evolkit.Backend` object, ``vllm`` when vLLM is
    importable and a GPU is present, and ``hf`` otherwise. ``options`` go to the generator:
    vLLM engine arguments, :class:`~evolkit.evaluate.HFGenerator` keywords (``device``,
    ``dtype``, ``static_cache``, ``compile``) or litellm call parameters (``api_base``…).
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    opts = dict(options or {})
    if model is None:
        raise ConfigError("give the model to evaluate (--model NAME_OR_PATH)")
    if backend == "auto":
        if _is_backend(model):
            backend = "litellm"
        else:
            from evolkit.evaluate._vllm import vllm_available

            use_vllm = isinstance(model, (str, os.PathLike)) and vllm_available()
            backend = "vllm" if use_vllm and _cuda_available() else "hf"
    if backend == "litellm":
        if not _is_backend(model) and not isinstance(model, str):
            raise ConfigError("the litellm backend takes a model string or an evolkit Backend")
        return BackendGenerator(model, concurrency=concurrency, params=opts)
    if backend == "vllm":
        from evolkit.evaluate._vllm import VLLMGenerator

        if not isinstance(model, (str, os.PathLike)):
            raise ConfigError("the vllm backend takes a model name or path")
        return VLLMGenerator(str(model), seed=seed, **opts)
    from evolkit.evaluate._hf import HFGenerator

    if _is_backend(model):
        raise ConfigError("an evolkit Backend is evaluated with backend='litellm'")
    return HFGenerator(model, tokenizer, batch_size=batch_size, **opts)


def _majority(extractions: Sequence[Extraction]) -> Extraction:
    found = [e for e in extractions if e.value is not None]
    if not found:
        return Extraction(None, None, None)
    counts = Counter(e.value for e in found)
    top = max(counts.values())
    # Ties go to the answer that appeared first.
    winner = next(e for e in found if counts[e.value] == top)
    return winner


def score_generation(
    item: GSM8KItem,
    generation: Generation,
    style: PromptStyle,
    *,
    rel_tol: float = 1e-6,
    abs_tol: float = 1e-6,
) -> GSM8KRecord:
    """Extract the answer(s) of one generation and compare them with the gold answer.

    With several samples the answers are majority-voted (maj@k): the flexible answer over all
    extracted numbers, the strict answer over those found by the style's marker.
    """
    extractions = [extract_answer(output, style.marker) for output in generation.outputs]
    chosen = _majority(extractions)
    strict = _majority([e for e in extractions if e.layer == "marker"])

    def right(value: Fraction | None) -> bool:
        return numbers_match(value, item.gold, rel_tol=rel_tol, abs_tol=abs_tol)

    harness_strict: bool | None = None
    harness_flexible: bool | None = None
    if len(generation.outputs) == 1:
        harness_strict, harness_flexible = harness_match(
            generation.outputs[0], item.solution, style.name
        )
    votes = Counter(e.normalized for e in extractions if e.normalized is not None)
    return GSM8KRecord(
        index=item.index,
        question=item.question,
        gold=format_number(item.gold),
        prompt=generation.prompt,
        outputs=generation.outputs,
        extracted=chosen.normalized,
        extracted_text=chosen.text,
        layer=chosen.layer,
        correct=right(chosen.value),
        strict_correct=right(strict.value),
        harness_strict=harness_strict,
        harness_flexible=harness_flexible,
        votes=dict(votes) if len(generation.outputs) > 1 else {},
        errors=generation.errors,
    )


def evaluate_gsm8k(
    model: Any = None,
    *,
    backend: str = "auto",
    style: str | PromptStyle = "wizardmath",
    data: str | os.PathLike[str] | GSM8KData | Iterable[Mapping[str, Any]] | None = None,
    split: str = "test",
    limit: int | None = None,
    num_fewshot: int | None = None,
    fewshot_data: str | os.PathLike[str] | GSM8KData | None = None,
    strip_calculator: bool = False,
    max_new_tokens: int = 512,
    samples: int = 1,
    temperature: float | None = None,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 8,
    concurrency: int = 16,
    tokenizer: Any = None,
    generator: Generator | None = None,
    backend_options: Mapping[str, Any] | None = None,
    output: str | os.PathLike[str] | None = None,
) -> GSM8KResult:
    """Evaluate ``model`` on GSM8K and return the scores with per-question records.

    ``model`` is a hub name or local path (``hf``/``vllm``), a litellm model string or an
    :class:`evolkit.Backend` (``litellm``), or a loaded transformers model with ``tokenizer``.
    ``data`` is a JSONL file in the GSM8K layout, or None for ``openai/gsm8k`` from the hub.
    ``style`` is one of ``wizardmath``, ``gsm8k``, ``gsm8k_cot``, ``chat``. ``samples`` > 1
    samples at ``temperature`` (default 0.7 then, else greedy) and majority-votes (maj@k).
    ``generator`` replaces the backend entirely (any :class:`Generator`). With ``output`` the
    records are written there as JSONL.

    >>> from evolkit.testing import FakeBackend
    >>> result = evaluate_gsm8k(FakeBackend(handler=lambda m: "The answer is: 3"),
    ...                         data="gsm8k_test.jsonl")  # doctest: +SKIP
    """
    prompt_style = get_style(style)
    if temperature is None:
        temperature = 0.7 if samples > 1 else 0.0
    if samples > 1 and temperature <= 0:
        raise ConfigError("majority voting over samples needs a temperature > 0 (--temperature)")
    if max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    questions = load_gsm8k(data, split=split, strip_calculator=strip_calculator, limit=limit)
    if not len(questions):
        raise ConfigError(f"{questions.source} holds no questions to evaluate")
    shots_from = None
    if fewshot_data is not None:
        shots_from = load_gsm8k(fewshot_data, split="train", strip_calculator=strip_calculator)
    exemplars = prompt_style.exemplars(
        shots_from, num_fewshot, seed=seed, strip_calculator=strip_calculator
    )
    prompts = [prompt_style.prompt(item.question, exemplars) for item in questions.items]
    config = SamplingConfig(
        max_new_tokens=max_new_tokens,
        samples=samples,
        temperature=temperature,
        top_p=top_p,
        stop=prompt_style.stop,
        seed=seed,
    )
    load_started = time.perf_counter()
    if generator is None:
        generator = make_generator(
            model,
            backend,
            tokenizer=tokenizer,
            batch_size=batch_size,
            concurrency=concurrency,
            seed=seed,
            options=backend_options,
        )
    load_seconds = time.perf_counter() - load_started
    started = time.perf_counter()
    generations = generator.generate(prompts, config)
    records = tuple(
        score_generation(item, generation, prompt_style)
        for item, generation in zip(questions.items, generations, strict=True)
    )
    seconds = time.perf_counter() - started
    model_name = _model_name(model, generator)
    result = GSM8KResult(
        records=records,
        model=model_name,
        backend=generator.name,
        style=prompt_style.name,
        split=questions.split,
        source=questions.source,
        samples=samples,
        seconds=seconds,
        warnings=questions.warnings,
        settings={
            "max_new_tokens": max_new_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "num_fewshot": len(exemplars),
            "fewshot_source": shots_from.source if shots_from is not None else "evolkit",
            "seed": seed,
            "load_seconds": load_seconds,
        },
    )
    if output is not None:
        result.to_jsonl(output)
    return result


def _model_name(model: Any, generator: Generator) -> str:
    if isinstance(model, (str, os.PathLike)):
        return str(model)
    for source in (model, getattr(generator, "backend", None), generator):
        name = getattr(source, "model_name", None) or getattr(source, "model", None)
        if isinstance(name, str) and name:
            return name
    name = getattr(model, "name_or_path", None)
    return str(name) if name else type(model).__name__

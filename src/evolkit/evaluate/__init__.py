"""Evaluate models on GSM8K and check data sets for contamination by any benchmark.

>>> from evolkit.evaluate import evaluate_gsm8k
>>> result = evaluate_gsm8k(model="path/to/model", style="wizardmath",
...                         data="gsm8k_test.jsonl", limit=100)  # doctest: +SKIP
>>> result.flexible, result.strict, result.invalid_rate, result.ci95  # doctest: +SKIP

This package imports without torch, transformers, datasets or vLLM; each is imported when
the code path that needs it runs (install them with ``pip install 'evolkit[eval]'``).
"""

from __future__ import annotations

from evolkit.evaluate._benchmarks import LAYOUTS, Benchmark, BenchmarkItem, load_benchmark
from evolkit.evaluate._contamination import (
    ContaminationHit,
    ContaminationReport,
    NgramIndex,
    check_contamination,
    normalize_words,
)
from evolkit.evaluate._data import (
    GSM8K_SPLIT_SIZES,
    GSM8KData,
    GSM8KDataError,
    GSM8KItem,
    load_gsm8k,
    strip_calculator_notes,
)
from evolkit.evaluate._exemplars import EXEMPLARS
from evolkit.evaluate._extract import Extraction, extract_answer, extract_boxed, gold_answer
from evolkit.evaluate._generate import (
    BackendGenerator,
    Generation,
    Generator,
    SamplingConfig,
    truncate_at_stop,
)
from evolkit.evaluate._gsm8k import evaluate_gsm8k, make_generator, score_generation
from evolkit.evaluate._harness import harness_extract, harness_match, harness_normalize
from evolkit.evaluate._hf import HFGenerator
from evolkit.evaluate._numbers import find_numbers, format_number, numbers_match, parse_number
from evolkit.evaluate._result import GSM8KRecord, GSM8KResult, Score, wilson_interval
from evolkit.evaluate._styles import STYLES, Prompt, PromptStyle, get_style
from evolkit.evaluate._tiny import random_model
from evolkit.evaluate._vllm import VLLMGenerator, vllm_available

__all__ = [
    "EXEMPLARS",
    "GSM8K_SPLIT_SIZES",
    "LAYOUTS",
    "STYLES",
    "BackendGenerator",
    "Benchmark",
    "BenchmarkItem",
    "ContaminationHit",
    "ContaminationReport",
    "Extraction",
    "GSM8KData",
    "GSM8KDataError",
    "GSM8KItem",
    "GSM8KRecord",
    "GSM8KResult",
    "Generation",
    "Generator",
    "HFGenerator",
    "NgramIndex",
    "Prompt",
    "PromptStyle",
    "SamplingConfig",
    "Score",
    "VLLMGenerator",
    "check_contamination",
    "evaluate_gsm8k",
    "extract_answer",
    "extract_boxed",
    "find_numbers",
    "format_number",
    "get_style",
    "gold_answer",
    "harness_extract",
    "harness_match",
    "harness_normalize",
    "load_benchmark",
    "load_gsm8k",
    "make_generator",
    "normalize_words",
    "numbers_match",
    "parse_number",
    "random_model",
    "score_generation",
    "strip_calculator_notes",
    "truncate_at_stop",
    "vllm_available",
    "wilson_interval",
]

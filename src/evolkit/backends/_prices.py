"""A model's prices per token, online and in batch mode, from litellm's own price map."""

from __future__ import annotations

from attrs import frozen

from evolkit.backends._litellm_import import import_litellm

__all__ = ["Prices", "prices_for"]


@frozen
class Prices:
    """Dollars per prompt and per completion token; batch prices are the map's ``*_batches``
    fields where it has them, else half the online price (the providers' batch discount)."""

    model: str
    prompt: float = 0.0
    completion: float = 0.0
    batch_prompt: float = 0.0
    batch_completion: float = 0.0
    known: bool = False

    def cost(self, prompt_tokens: int, completion_tokens: int, *, batch: bool = False) -> float:
        if batch:
            return prompt_tokens * self.batch_prompt + completion_tokens * self.batch_completion
        return prompt_tokens * self.prompt + completion_tokens * self.completion


def _number(info: dict[str, object], name: str) -> float | None:
    value = info.get(name)
    return float(value) if isinstance(value, (int, float)) else None


def prices_for(model: str) -> Prices:
    """The prices litellm knows for ``model`` (``known=False`` and zeros when it knows none)."""
    litellm = import_litellm()
    try:
        info = dict(litellm.get_model_info(model))
    except Exception:  # litellm raises a bare Exception for a model outside its map
        return Prices(model)
    prompt = _number(info, "input_cost_per_token")
    completion = _number(info, "output_cost_per_token")
    if prompt is None or completion is None:
        return Prices(model)
    batch_prompt = _number(info, "input_cost_per_token_batches")
    batch_completion = _number(info, "output_cost_per_token_batches")
    return Prices(
        model,
        prompt,
        completion,
        batch_prompt if batch_prompt is not None else prompt / 2,
        batch_completion if batch_completion is not None else completion / 2,
        known=True,
    )

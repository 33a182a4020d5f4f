"""``--dry-run``: what a run will make and cost, measured on a pilot, before the run.

A pilot evolves a share of the seeds (drawn with the run's seed) through every round with the
run's own settings, split into a few groups. Every call of an item depends only on the seed,
the round and the item, so the pilot's calls are exactly calls the full run will make: they
are copied into the run's journal, and the run gets them back free. Calls, prompt and completion
tokens per round and stage are scaled from the pilot to all the seeds (reply lengths and the
eliminator's drop rate are in them); prices come from litellm's price map, online and batch.
The spread between the groups gives the margin: a 95% interval for the projected totals.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from evolkit._types import Instruction
from evolkit.engine._loop import run_sync
from evolkit.engine.journal import Journal
from evolkit.engine.stats import RunStats
from evolkit.errors import ConfigError

__all__ = ["Forecast", "StageForecast", "aforecast", "forecast", "pilot_seeds"]

_T975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}
_STAGE_ORDER = {"mutate": 0, "respond": 1, "judge": 2}


@frozen
class StageForecast:
    """Projected calls, tokens and cost of one stage of one round."""

    round: int
    stage: str
    calls: float
    prompt_tokens: float
    completion_tokens: float
    online_cost: float
    batch_cost: float


@frozen
class Forecast:
    """A run's projected calls, tokens and cost; ``margin_*`` are relative 95% half-widths."""

    model: str
    seeds: int
    pilot_seeds: int
    pilot_groups: int
    prices_known: bool
    stages: tuple[StageForecast, ...]
    margin_calls: float
    margin_tokens: float
    margin_cost: float
    pilot_calls: int
    pilot_cost: float

    @property
    def calls(self) -> float:
        return sum(s.calls for s in self.stages)

    @property
    def prompt_tokens(self) -> float:
        return sum(s.prompt_tokens for s in self.stages)

    @property
    def completion_tokens(self) -> float:
        return sum(s.completion_tokens for s in self.stages)

    @property
    def online_cost(self) -> float:
        return sum(s.online_cost for s in self.stages)

    @property
    def batch_cost(self) -> float:
        return sum(s.batch_cost for s in self.stages)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "seeds": self.seeds,
            "pilot": {
                "seeds": self.pilot_seeds,
                "groups": self.pilot_groups,
                "calls": self.pilot_calls,
                "cost": self.pilot_cost,
            },
            "prices_known": self.prices_known,
            "stages": [
                {
                    "round": s.round,
                    "stage": s.stage,
                    "calls": round(s.calls, 1),
                    "prompt_tokens": round(s.prompt_tokens),
                    "completion_tokens": round(s.completion_tokens),
                    "online_cost": s.online_cost,
                    "batch_cost": s.batch_cost,
                }
                for s in self.stages
            ],
            "total": {
                "calls": round(self.calls, 1),
                "prompt_tokens": round(self.prompt_tokens),
                "completion_tokens": round(self.completion_tokens),
                "online_cost": self.online_cost,
                "batch_cost": self.batch_cost,
            },
            "margin_95": {
                "calls": self.margin_calls,
                "tokens": self.margin_tokens,
                "cost": self.margin_cost,
            },
        }

    def render(self) -> str:
        """A plain-text table: one line per round and stage, then the totals and the margin."""

        def money(value: float) -> str:
            return f"${value:,.4f}" if self.prices_known else "?"

        head = f"{'round':>5}  {'stage':<8}{'calls':>10}{'prompt tok':>14}{'compl. tok':>14}"
        head += f"{'online':>12}{'batch':>12}"
        lines = [
            f"forecast for {self.seeds} seeds with {self.model} "
            f"(pilot: {self.pilot_seeds} seeds in {self.pilot_groups} groups, "
            f"{self.pilot_calls} calls, {money(self.pilot_cost)}; the run reuses them)",
            head,
        ]
        for s in self.stages:
            lines.append(
                f"{s.round:>5}  {s.stage:<8}{s.calls:>10,.0f}{s.prompt_tokens:>14,.0f}"
                f"{s.completion_tokens:>14,.0f}{money(s.online_cost):>12}{money(s.batch_cost):>12}"
            )
        lines.append(
            f"{'total':>5}  {'':<8}{self.calls:>10,.0f}{self.prompt_tokens:>14,.0f}"
            f"{self.completion_tokens:>14,.0f}{money(self.online_cost):>12}{money(self.batch_cost):>12}"
        )
        lines.append(self.certainty())
        if not self.prices_known:
            lines.append(f"litellm's price map has no prices for {self.model!r}: costs unknown")
        return "\n".join(lines)

    def certainty(self) -> str:
        if not math.isfinite(self.margin_cost if self.prices_known else self.margin_tokens):
            return "certainty: unknown (one pilot group); raise --pilot-share for a margin"
        text = f"95% margin: calls ±{self.margin_calls:.0%}, tokens ±{self.margin_tokens:.0%}"
        if self.prices_known:
            low = self.online_cost * (1 - self.margin_cost)
            high = self.online_cost * (1 + self.margin_cost)
            text += f", online cost ${max(low, 0):,.4f} to ${high:,.4f}"
        return text + " (from the spread between pilot groups; a larger --pilot-share narrows it)"


def pilot_seeds(seeds: Sequence[Instruction], share: float, seed: int) -> list[Instruction]:
    """The pilot's seeds: ``share`` of them (at least 5, or all), drawn with the run's seed."""
    if not 0 < share <= 1:
        raise ConfigError(f"--pilot-share must be in (0, 1], got {share}")
    count = min(len(seeds), max(5, math.ceil(share * len(seeds))))

    def rank(inst: Instruction) -> str:
        return hashlib.sha256(f"evolkit-pilot:{seed}:{inst.id}".encode()).hexdigest()

    return sorted(seeds, key=rank)[:count]


def _unique(seeds: Iterable[Instruction]) -> list[Instruction]:
    seen: dict[str, Instruction] = {}
    for inst in seeds:
        seen.setdefault(inst.id, inst)
    return list(seen.values())


async def _copy_journal(source: Path, target: Journal) -> None:
    pilot = Journal(source)
    try:
        for key in pilot.keys():  # noqa: SIM118 (Journal.keys, not a dict)
            completion = pilot.get(key)
            if completion is not None and target.get(key) is None:
                await target.append(key, completion)
    finally:
        await pilot.aclose()


def _margin(group_totals: Sequence[float], sizes: Sequence[int], seeds: int) -> float:
    """Relative 95% half-width of the total, from each group's total scaled to all seeds."""
    scaled = [t * seeds / m for t, m in zip(group_totals, sizes, strict=True)]
    mean = statistics.fmean(scaled)
    if len(scaled) < 2 or mean <= 0:
        return math.inf if len(scaled) < 2 else 0.0
    pilot = sum(sizes)
    correction = math.sqrt(max(0.0, 1 - pilot / seeds))
    se = statistics.stdev(scaled) / math.sqrt(len(scaled)) * correction
    return _T975.get(len(scaled) - 1, 1.96) * se / mean


async def aforecast(
    seeds: Any,
    *,
    output: str | Path,
    model: str | None = None,
    model_params: Mapping[str, Any] | None = None,
    pilot_share: float = 0.05,
    pilot_groups: int = 5,
    **settings: Any,
) -> Forecast:
    """Run a pilot for the run that ``evolve(seeds, output=output, ...)`` would be; project it.

    ``settings`` are the run's own (rounds, seed, operators, filters, ...). The pilot is sent
    online; its calls are copied into the run's journal so the run does not pay for them again.
    """
    from evolkit.backends._prices import prices_for
    from evolkit.engine.run import _seed_stream, aevolve

    settings = {k: v for k, v in settings.items() if k not in {"batch", "max_cost"}}
    everything = _unique(_seed_stream(seeds))
    if not everything:
        raise ConfigError("no seed instructions: the seed input is empty")
    chosen = pilot_seeds(everything, pilot_share, int(settings.get("seed") or 0))
    groups = max(1, min(pilot_groups, len(chosen)))
    out = Path(output)
    workdir = out.with_name(out.name + ".evolkit")
    stats: list[RunStats] = []
    sizes: list[int] = []
    journal = Journal(workdir / "journal.sqlite")
    try:
        for g in range(groups):
            members = chosen[g::groups]
            target = workdir / "pilot" / f"group-{g}.jsonl"
            result = await aevolve(
                members,
                model=model,
                model_params=model_params,
                output=target,
                progress="quiet",
                **settings,
            )
            stats.append(result.stats)
            sizes.append(len(members))
            await _copy_journal(
                target.with_name(target.name + ".evolkit") / "journal.sqlite", journal
            )
    finally:
        await journal.aclose()
    used_model = model or next(iter(stats[0].usage_per_model), "unknown")
    return _project(used_model, prices_for(used_model), len(everything), stats, sizes)


def _project(
    model: str, prices: Any, seeds: int, stats: Sequence[RunStats], sizes: Sequence[int]
) -> Forecast:
    scale = seeds / sum(sizes)
    keys = sorted(
        {k for s in stats for k in s.calls_per_stage},
        key=lambda k: (int(k.split("/")[0]), _STAGE_ORDER.get(k.split("/")[1], 9), k),
    )
    stages = []
    for key in keys:
        calls = sum(s.calls_per_stage.get(key, 0) for s in stats) * scale
        prompt = (
            sum(s.usage_per_stage[key].prompt_tokens for s in stats if key in s.usage_per_stage)
            * scale
        )
        completion = (
            sum(s.usage_per_stage[key].completion_tokens for s in stats if key in s.usage_per_stage)
            * scale
        )
        round_text, stage = key.split("/", 1)
        stages.append(
            StageForecast(
                int(round_text),
                stage,
                calls,
                prompt,
                completion,
                prices.cost(round(prompt), round(completion)),
                prices.cost(round(prompt), round(completion), batch=True),
            )
        )
    calls_g = [float(sum(s.calls_per_stage.values())) for s in stats]
    tokens_g = [float(sum(u.total_tokens for u in s.usage_per_stage.values())) for s in stats]
    cost_g = [
        sum(prices.cost(u.prompt_tokens, u.completion_tokens) for u in s.usage_per_stage.values())
        for s in stats
    ]
    return Forecast(
        model=model,
        seeds=seeds,
        pilot_seeds=sum(sizes),
        pilot_groups=len(sizes),
        prices_known=bool(prices.known),
        stages=tuple(stages),
        margin_calls=_margin(calls_g, sizes, seeds),
        margin_tokens=_margin(tokens_g, sizes, seeds),
        margin_cost=_margin(cost_g, sizes, seeds),
        pilot_calls=sum(s.calls_sent for s in stats),
        pilot_cost=sum(s.usage.cost for s in stats),
    )


def forecast(seeds: Any, *, output: str | Path, **kwargs: Any) -> Forecast:
    """The forecast of :func:`aforecast`, from synchronous code (scripts, Jupyter)."""
    return run_sync(aforecast(seeds, output=output, **kwargs))

"""What a run costs: prices from litellm's map, a forecast before the run, and a budget.

``forecast(...)`` (``evolkit evolve ... --dry-run``) runs a small pilot and projects calls,
tokens and cost per round and stage, online and in batch mode; ``max_cost`` stops a run before
it would pass a budget. See the "Paying less" guide.
"""

from __future__ import annotations

from evolkit.backends._prices import Prices, prices_for
from evolkit.cost._forecast import Forecast, StageForecast, aforecast, forecast
from evolkit.engine.budget import Budget, BudgetExhausted

__all__ = [
    "Budget",
    "BudgetExhausted",
    "Forecast",
    "Prices",
    "StageForecast",
    "aforecast",
    "forecast",
    "prices_for",
]

"""Router configuration files: several deployments of a model behind one name.

The layout follows litellm's Router (and its proxy's ``config.yaml``): a ``model_list`` of
deployments, each a ``model_name`` (the group it belongs to) and the ``litellm_params`` that reach
it, plus ``router_settings`` for the Router itself. evolkit adds one optional top-level key,
``default_model``: the group a ``router/<config file>`` model string calls (default: the group of
the first deployment). TOML, YAML (with PyYAML installed) and JSON are read::

    default_model = "evolver"

    [router_settings]
    routing_strategy = "simple-shuffle"
    cooldown_time = 30
    allowed_fails = 2

    [[model_list]]
    model_name = "evolver"
    litellm_params = { model = "hosted_vllm/qwen", api_base = "http://10.0.0.1:8000/v1" }
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from evolkit.errors import ConfigError, missing_extra

__all__ = ["ROUTER_SETTINGS", "RouterConfig", "load_router_config"]

#: The ``router_settings`` keys evolkit passes to ``litellm.Router`` (others are refused, so a
#: typo fails loudly instead of being ignored).
ROUTER_SETTINGS = frozenset(
    {
        "routing_strategy",
        "routing_strategy_args",
        "num_retries",
        "retry_after",
        "retry_policy",
        "timeout",
        "stream_timeout",
        "allowed_fails",
        "allowed_fails_policy",
        "cooldown_time",
        "disable_cooldowns",
        "fallbacks",
        "default_fallbacks",
        "context_window_fallbacks",
        "content_policy_fallbacks",
        "max_fallbacks",
        "model_group_alias",
        "enable_pre_call_checks",
        "default_max_parallel_requests",
        "default_litellm_params",
        "set_verbose",
    }
)


def _model_list(value: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError("router config: `model_list` must be a non-empty list of deployments")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise ConfigError(f"router config: model_list[{i}] must be a table/mapping")
        name = item.get("model_name")
        params = item.get("litellm_params")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"router config: model_list[{i}] needs a `model_name` string")
        if not isinstance(params, Mapping) or not isinstance(params.get("model"), str):
            raise ConfigError(
                f"router config: model_list[{i}] needs `litellm_params` with a `model` string "
                '(e.g. litellm_params = { model = "openai/gpt-4o-mini" })'
            )
        out.append(json.loads(json.dumps(dict(item))))  # a plain, picklable deep copy
    return tuple(out)


def _settings(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError("router config: `router_settings` must be a table/mapping")
    unknown = sorted(set(value) - ROUTER_SETTINGS)
    if unknown:
        raise ConfigError(
            f"router config: unknown router_settings {', '.join(unknown)}; "
            f"known: {', '.join(sorted(ROUTER_SETTINGS))}"
        )
    return dict(value)


@frozen(kw_only=True)
class RouterConfig:
    """A parsed router configuration: the deployments and the Router settings."""

    model_list: tuple[dict[str, Any], ...] = field(converter=_model_list)
    router_settings: dict[str, Any] = field(factory=dict, converter=_settings)
    default_model: str | None = None
    source: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.default_model is not None and self.default_model not in self.groups():
            raise ConfigError(
                f"router config: default_model {self.default_model!r} is not a model_name in "
                f"model_list (groups: {', '.join(self.groups())})"
            )

    def groups(self) -> list[str]:
        """The model group names, in file order."""
        return list(dict.fromkeys(d["model_name"] for d in self.model_list))

    def group(self, name: str | None = None) -> str:
        """``name`` if it is a group (or a fallback target), else the default group."""
        if name is None:
            return self.default_model or self.groups()[0]
        if name not in self.groups() and name not in self.router_settings.get(
            "model_group_alias", {}
        ):
            raise ConfigError(
                f"router config{f' {self.source}' if self.source else ''} has no model group "
                f"{name!r}; groups: {', '.join(self.groups())}"
            )
        return name

    def deployments(self, group: str) -> list[dict[str, Any]]:
        """The deployments of ``group``."""
        return [d for d in self.model_list if d["model_name"] == group]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str | None = None) -> RouterConfig:
        """Build from a parsed file (``model_list``, ``router_settings``, ``default_model``)."""
        known = {"model_list", "router_settings", "default_model"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"router config{f' {source}' if source else ''}: unknown keys "
                f"{', '.join(unknown)} (expected {', '.join(sorted(known))})"
            )
        default = data.get("default_model")
        if default is not None and not isinstance(default, str):
            raise ConfigError("router config: `default_model` must be a string")
        return cls(
            model_list=data.get("model_list"),
            router_settings=data.get("router_settings"),
            default_model=default,
            source=source,
        )


def _load_toml(text: str) -> Any:
    name = "tomllib" if sys.version_info >= (3, 11) else "tomli"
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # pragma: no cover - Python 3.10 without tomli
        raise missing_extra("tomli", "scale", exc) from exc
    return module.loads(text)


def _load_yaml(text: str) -> Any:
    try:
        yaml = importlib.import_module("yaml")
    except ImportError as exc:
        raise missing_extra("pyyaml", "scale", exc) from exc
    return yaml.safe_load(text)


def load_router_config(path: str | Path) -> RouterConfig:
    """Read a router configuration from a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"router config {file} does not exist: pass an existing .toml/.yaml file")
    text = file.read_text(encoding="utf-8")
    suffix = file.suffix.lower()
    try:
        if suffix == ".toml":
            data = _load_toml(text)
        elif suffix in {".yaml", ".yml"}:
            data = _load_yaml(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"router config {file}: use a .toml, .yaml, .yml or .json file")
    except ConfigError:
        raise
    except Exception as exc:  # a syntax error in the file
        raise ConfigError(f"router config {file} cannot be parsed: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"router config {file}: the top level must be a table/mapping")
    return RouterConfig.from_mapping(data, source=str(file))

"""RouterBackend: one model name over several deployments (fake OpenAI-compatible servers)."""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import evolkit
from evolkit.errors import ConfigError
from evolkit.plugins import BackendRegistry
from evolkit.scale import RouterBackend, RouterConfig, load_router_config, router_backend_factory
from fakeserver import FakeServer, FaultPlan

SEEDS = [
    f"Explain in two sentences why the sky over town number {i} looks blue." for i in range(10)
]


def _toml(path: Path, urls: list[str], settings: str = "") -> Path:
    deployments = "\n".join(
        f"""
[[model_list]]
model_name = "evolver"
[model_list.litellm_params]
model = "openai/fake"
api_base = "{url}"
api_key = "sk-fake-{i}"
"""
        for i, url in enumerate(urls)
    )
    path.write_text(
        f'default_model = "evolver"\n\n[router_settings]\n{settings}\n{deployments}',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def two_servers() -> Iterator[tuple[FakeServer, FakeServer]]:
    first, second = FakeServer(latency=0.01), FakeServer(latency=0.01)
    with first.run_in_thread() as a, second.run_in_thread() as b:
        yield a, b


def test_toml_and_yaml_configs_read_the_same(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    toml = _toml(
        tmp_path / "r.toml",
        ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"],
        'routing_strategy = "least-busy"\ncooldown_time = 7',
    )
    yaml = tmp_path / "r.yaml"
    yaml.write_text(
        """
default_model: evolver
router_settings: {routing_strategy: least-busy, cooldown_time: 7}
model_list:
  - model_name: evolver
    litellm_params: {model: openai/fake, api_base: "http://127.0.0.1:1/v1", api_key: sk-fake-0}
  - model_name: evolver
    litellm_params: {model: openai/fake, api_base: "http://127.0.0.1:2/v1", api_key: sk-fake-1}
""",
        encoding="utf-8",
    )
    a, b = load_router_config(toml), load_router_config(yaml)
    assert a.model_list == b.model_list
    assert (
        a.router_settings
        == b.router_settings
        == {
            "routing_strategy": "least-busy",
            "cooldown_time": 7,
        }
    )
    assert a.group() == "evolver" and len(a.deployments("evolver")) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model_list = []", "non-empty list"),
        ('[[model_list]]\nmodel_name = "m"', "litellm_params"),
        (
            '[router_settings]\ncooldown = 3\n[[model_list]]\nmodel_name = "m"\n'
            'litellm_params = { model = "openai/x" }',
            "unknown router_settings cooldown",
        ),
        (
            'default_model = "other"\n[[model_list]]\nmodel_name = "m"\n'
            'litellm_params = { model = "openai/x" }',
            "not a model_name",
        ),
        ("model_list = [", "cannot be parsed"),
    ],
)
def test_bad_configs_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_router_config(path)


def test_model_strings_find_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _toml(tmp_path / "router.toml", ["http://127.0.0.1:1/v1"])
    by_path = router_backend_factory(f"router/{path}", {"temperature": 0.3})
    assert by_path.model == "router/evolver" and by_path.params == {"temperature": 0.3}
    by_param = router_backend_factory("router/evolver", {"router_config": str(path)})
    assert by_param.model == "router/evolver" and by_param.params == {}
    monkeypatch.setenv("EVOLKIT_ROUTER_CONFIG", str(path))
    assert router_backend_factory("router/evolver", {}).group == "evolver"
    with pytest.raises(ConfigError, match="no model group 'nope'"):
        router_backend_factory("router/nope", {})
    monkeypatch.delenv("EVOLKIT_ROUTER_CONFIG")
    with pytest.raises(ConfigError, match="--router-config"):
        router_backend_factory("router/evolver", {})
    # The way a plugin registers it: model strings starting with router/ get this factory.
    registry = BackendRegistry()
    registry.add("router", router_backend_factory, description="litellm Router deployments")
    built = registry.create(f"router/{path}")
    assert isinstance(built, RouterBackend)


def test_backend_pickles_without_its_router(tmp_path: Path) -> None:
    backend = RouterBackend.from_file(_toml(tmp_path / "r.toml", ["http://127.0.0.1:1/v1"]))
    assert backend.router is not None
    copy = pickle.loads(pickle.dumps(backend))
    assert copy.model == backend.model and copy.config == backend.config
    assert copy._router is None


def test_traffic_is_spread_over_both_servers(
    tmp_path: Path, two_servers: tuple[FakeServer, FakeServer]
) -> None:
    a, b = two_servers
    backend = RouterBackend.from_file(_toml(tmp_path / "r.toml", [a.url, b.url]))
    result = evolkit.evolve(SEEDS, rounds=1, backend=backend, seed=5, concurrency=8)
    first, second = a.snapshot(), b.snapshot()
    total = first.requests + second.requests
    assert total == result.stats.calls_sent > 0
    # simple-shuffle picks a deployment at random: both get a fair share of the calls.
    assert first.requests >= total // 5 and second.requests >= total // 5
    assert result.stats.call_failures == 0
    assert not any(r.startswith("model_error") for r in result.stats.drop_reasons)


@pytest.mark.parametrize("fault", ["500", "drop"])
def test_a_failing_server_is_cooled_down_without_failed_evolutions(
    tmp_path: Path, fault: str
) -> None:
    broken = FakeServer(latency=0.01, faults=FaultPlan.only(fault))  # type: ignore[arg-type]
    with FakeServer(latency=0.01).run_in_thread() as good, broken.run_in_thread() as bad:
        config = _toml(
            tmp_path / "r.toml",
            [good.url, bad.url],
            "allowed_fails = 1\ncooldown_time = 60\nnum_retries = 2",
        )
        backend = RouterBackend.from_file(config)
        started = time.monotonic()
        result = evolkit.evolve(
            SEEDS, rounds=2, backend=backend, seed=5, concurrency=8, backoff=0.01
        )
        elapsed = time.monotonic() - started
        ok, failed = good.snapshot(), bad.snapshot()
    assert failed.requests >= 1 and failed.ok == 0  # it was in rotation, and always failed
    assert failed.requests <= 8  # then in cooldown: a few in-flight calls, no more
    assert ok.ok >= result.stats.calls_sent - failed.requests
    assert not any(r.startswith("model_error") for r in result.stats.drop_reasons)
    assert result.stats.rows > len(SEEDS)
    assert elapsed < 60


def test_a_failing_group_falls_back_to_another_model(tmp_path: Path) -> None:
    broken = FakeServer(latency=0.01, faults=FaultPlan.only("503"))
    with FakeServer(latency=0.01).run_in_thread() as good, broken.run_in_thread() as bad:
        config = RouterConfig.from_mapping(
            {
                "default_model": "evolver",
                "router_settings": {"fallbacks": [{"evolver": ["backup"]}]},
                "model_list": [
                    {
                        "model_name": "evolver",
                        "litellm_params": {
                            "model": "openai/fake",
                            "api_base": bad.url,
                            "api_key": "sk-fake",
                        },
                    },
                    {
                        "model_name": "backup",
                        "litellm_params": {
                            "model": "openai/fake",
                            "api_base": good.url,
                            "api_key": "sk-fake",
                        },
                    },
                ],
            }
        )
        result = evolkit.evolve(
            SEEDS[:4], rounds=1, backend=RouterBackend(config), seed=2, backoff=0.01
        )
        ok, failed = good.snapshot(), bad.snapshot()
    assert failed.requests >= 1 and failed.ok == 0
    assert ok.ok == result.stats.calls_sent > 0  # every call was answered by the fallback
    assert not any(r.startswith("model_error") for r in result.stats.drop_reasons)


def test_router_config_object_round_trip() -> None:
    config = RouterConfig.from_mapping(
        {
            "model_list": [
                {"model_name": "big", "litellm_params": {"model": "openai/a"}},
                {"model_name": "small", "litellm_params": {"model": "openai/b"}},
            ],
            "router_settings": {"fallbacks": [{"big": ["small"]}]},
        }
    )
    assert config.groups() == ["big", "small"] and config.group() == "big"
    assert RouterBackend(config, "small").model == "router/small"


def test_command_line_options(tmp_path: Path) -> None:
    import argparse

    from evolkit.scale._cli import add_scale_arguments, scale_setup
    from evolkit.scale.executor import RayExecutor

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--concurrency", type=int, default=16)
    add_scale_arguments(parser)
    path = _toml(tmp_path / "r.toml", ["http://127.0.0.1:1/v1"])

    args = parser.parse_args(["--router-config", str(path)])
    params: dict[str, object] = {}
    assert scale_setup(args, params) is None
    assert args.model == "router/evolver" and params == {"router_config": str(path)}

    args = parser.parse_args(["--ray", "--workers", "3", "--concurrency", "5"])
    executor = scale_setup(args, {})
    assert isinstance(executor, RayExecutor)
    assert (executor.address, executor.workers, executor.concurrency) == (None, 3, 5)
    remote = scale_setup(parser.parse_args(["--ray", "ray://head:10001"]), {})
    assert remote is not None and remote.address == "ray://head:10001" and remote.workers == 2

    local = scale_setup(parser.parse_args(["--workers", "4", "--concurrency", "64"]), {})
    assert isinstance(local, RayExecutor)
    assert (local.address, local.workers, local.concurrency) == (None, 4, 64)
    with pytest.raises(ConfigError, match="--workers must be at least 1"):
        scale_setup(parser.parse_args(["--workers", "0"]), {})

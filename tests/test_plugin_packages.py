"""Plugin packages through their real entry points: evolkit-math, evolkit-code, the tutorial's.

The two packages under ``plugins/`` must be installed for the tests that use them
(``pip install -e plugins/evolkit-math -e plugins/evolkit-code``). Installing, uninstalling and
breaking a plugin are simulated with a ``.dist-info`` folder on ``PYTHONPATH``/``sys.path``,
which is all that ``importlib.metadata`` needs to find an entry point.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import evolkit
from evolkit._plugins import PluginLoadWarning, Plugins
from evolkit.testing import FakeBackend

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial" / "write-a-plugin.md"
EXAMPLE = ROOT / "examples" / "plugin-tutorial"

MATH_OPERATORS = {"math.upward", "math.downward"}
CODE_OPERATORS = {
    "code.add_constraint",
    "code.rarer_requirement",
    "code.more_reasoning",
    "code.misdirection",
    "code.complexity",
}
MATH_FILTERS = {"math.final_answer", "math.self_consistency"}
CODE_FILTERS = {"code.python_parses"}

# Word problems in the GSM8K layout, written for these tests.
MATH_SEEDS = [
    "Lena bakes 3 trays of 14 cookies and gives away 9. How many cookies does she keep?",
    "A bus carries 38 people. At the first stop 11 get off and 6 get on. How many are on board?",
    "Pencils cost $0.45 each. How much do 12 pencils cost in dollars?",
    "A garden is 9 m long and 6 m wide. What is its area in square metres?",
    "Omar saves $15 a week. How many weeks until he has $135?",
    "A tank holds 250 litres and is 40% full. How many litres are in it?",
]
CODE_SEEDS = [
    "Write a Python function that checks whether a string is a palindrome.",
    "Write a Python function that merges two sorted lists into one sorted list.",
    "Write a function that returns the n-th prime number.",
]


def _installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


needs_packages = pytest.mark.skipif(
    not (_installed("evolkit-math") and _installed("evolkit-code")),
    reason="the plugin packages are not installed: "
    "pip install -e plugins/evolkit-math -e plugins/evolkit-code",
)


def evolkit_cli(
    *args: str | os.PathLike[str], path: list[Path] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m evolkit.cli ARGS`` with ``path`` in front of ``PYTHONPATH``."""
    env = dict(os.environ)
    if path:
        extra = [str(p) for p in path]
        if env.get("PYTHONPATH"):
            extra.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(extra)
    return subprocess.run(
        [sys.executable, "-m", "evolkit.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def plugins_json(path: list[Path] | None = None) -> dict[str, Any]:
    proc = evolkit_cli("plugins", "--json", path=path)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def packages_of(data: Mapping[str, Any], section: str) -> dict[str, str]:
    return {row["name"]: row["package"] for row in data[section]}


def fake_install(
    site: Path,
    distribution: str,
    entry_points: Mapping[str, str],
    modules: Mapping[str, str] | None = None,
    version: str = "1.0",
) -> Path:
    """What ``pip install`` leaves behind that evolkit looks at: a .dist-info and the modules."""
    folder = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
    )
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (folder / "entry_points.txt").write_text(f"[evolkit]\n{lines}")
    for module, source in (modules or {}).items():
        (site / f"{module}.py").write_text(source)
    return folder


DEMO_PLUGIN = """
from evolkit import hookimpl
from evolkit.operators import TemplateMutator

ECHO = TemplateMutator(
    name="demo.echo",
    kind="demo",
    template="Rewrite the instruction below in other words.\\n\\n{instruction}",
)


@hookimpl
def evolkit_register_mutators(registry):
    registry.add(ECHO, default=False)
"""

BROKEN_PLUGIN = """
raise ImportError("evolkit_broken_plugin needs the 'fancy' package, which is not installed")
"""


@pytest.fixture
def forget_modules() -> Iterator[list[str]]:
    """Module names (and their submodules) to drop from ``sys.modules`` after the test."""
    names: list[str] = []
    yield names
    for loaded in list(sys.modules):
        if any(loaded == n or loaded.startswith(n + ".") for n in names):
            del sys.modules[loaded]


# --- evolkit-math and evolkit-code, installed --------------------------------------------------


@needs_packages
def test_evolkit_plugins_lists_the_packages_components() -> None:
    data = plugins_json()
    operators = packages_of(data, "operators")
    filters = packages_of(data, "filters")
    for name in MATH_OPERATORS:
        assert operators[name] == "evolkit-math"
    for name in CODE_OPERATORS:
        assert operators[name] == "evolkit-code"
    for name in MATH_FILTERS:
        assert filters[name] == "evolkit-math"
    assert filters["code.python_parses"] == "evolkit-code"
    kinds = {row["name"]: row["kind"] for row in data["operators"]}
    assert {kinds[n] for n in MATH_OPERATORS} == {"math"}
    assert {kinds[n] for n in CODE_OPERATORS} == {"code"}
    plugin_rows = {row["name"]: row for row in data["plugins"]}
    assert plugin_rows["math"]["package"] == "evolkit-math"
    assert plugin_rows["code"]["package"] == "evolkit-code"
    assert plugin_rows["math"]["version"] == metadata.version("evolkit-math")
    # Used only when selected: none of them is a default.
    for row in data["operators"] + data["filters"]:
        if row["package"] in {"evolkit-math", "evolkit-code"}:
            assert row["default"] is False, row


@needs_packages
def test_evolve_command_uses_the_math_operators(tmp_path: Path) -> None:
    seeds = tmp_path / "gsm8k-style.jsonl"
    seeds.write_text("".join(json.dumps({"instruction": q}) + "\n" for q in MATH_SEEDS))
    out = tmp_path / "out.jsonl"
    proc = evolkit_cli(
        "evolve", seeds, "-o", out, "--model", "fake/x", "--rounds", "1",
        "--operators", "math.upward,math.downward", "--cache", "off", "-q",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    evolved = [row for row in rows if row["round"] == 1]
    assert len(evolved) == len(MATH_SEEDS)
    assert {row["operator"] for row in evolved} == MATH_OPERATORS
    prompts_seen = {row["instruction"] for row in rows}
    assert set(MATH_SEEDS) <= prompts_seen


@needs_packages
def test_evolve_command_selects_the_code_operators_by_kind(tmp_path: Path) -> None:
    seeds = tmp_path / "code.jsonl"
    seeds.write_text("".join(json.dumps({"instruction": q}) + "\n" for q in CODE_SEEDS))
    out = tmp_path / "out.jsonl"
    proc = evolkit_cli(
        "evolve", seeds, "-o", out, "--model", "fake/x", "--rounds", "2",
        "--operators", "code", "--filters", "refusal,code.python_parses", "--cache", "off", "-q",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    operators = {row["operator"] for row in rows if row["round"] > 0}
    assert operators and operators <= CODE_OPERATORS


@needs_packages
def test_the_packages_own_hooks_fill_a_fresh_registry() -> None:
    plugins = Plugins.load()
    mutators = plugins.mutators()
    assert {e.name for e in mutators.entries() if e.package == "evolkit-math"} == MATH_OPERATORS
    assert {e.name for e in mutators.entries() if e.package == "evolkit-code"} == CODE_OPERATORS
    filters = plugins.filters()
    assert {e.name for e in filters.entries() if e.package == "evolkit-math"} == MATH_FILTERS
    assert {e.name for e in filters.entries() if e.package == "evolkit-code"} == CODE_FILTERS
    left_out = Plugins.load(disabled=frozenset({"evolkit-math", "code"}))
    assert not (MATH_OPERATORS | CODE_OPERATORS) & set(left_out.mutators().names())


# --- installing, uninstalling and breaking a plugin -------------------------------------------


def test_uninstalling_a_plugin_removes_its_operators(tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist_info = fake_install(
        site, "evolkit-demo", {"demo": "evolkit_demo_plugin"}, {"evolkit_demo_plugin": DEMO_PLUGIN}
    )
    data = plugins_json([site])
    assert packages_of(data, "operators")["demo.echo"] == "evolkit-demo"
    assert {"name": "demo", "package": "evolkit-demo", "version": "1.0"} in data["plugins"]

    seeds = tmp_path / "seeds.txt"
    seeds.write_text("Explain how a rainbow forms.\n")
    out = tmp_path / "out.jsonl"
    args = ("evolve", seeds, "-o", out, "--model", "fake/x", "--rounds", "1", "--cache", "off")
    proc = evolkit_cli(*args, "--operators", "demo.echo", "-q", path=[site])
    assert proc.returncode == 0, proc.stderr
    assert {json.loads(line)["operator"] for line in out.read_text().splitlines()} == {
        None,
        "demo.echo",
    }

    shutil.rmtree(dist_info)  # what pip uninstall removes
    (site / "evolkit_demo_plugin.py").unlink()
    data = plugins_json([site])
    assert "demo.echo" not in packages_of(data, "operators")
    assert "demo" not in {row["name"] for row in data["plugins"]}
    proc = evolkit_cli(*args, "--operators", "demo.echo", "-q", "--overwrite", path=[site])
    assert proc.returncode != 0
    assert "unknown operator 'demo.echo'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_broken_plugin_warns_once_and_the_rest_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forget_modules: list[str]
) -> None:
    site = tmp_path / "site"
    fake_install(
        site,
        "evolkit-broken",
        {"broken": "evolkit_broken_plugin"},
        {"evolkit_broken_plugin": BROKEN_PLUGIN},
    )
    fake_install(
        site, "evolkit-demo", {"demo": "evolkit_demo_plugin"}, {"evolkit_demo_plugin": DEMO_PLUGIN}
    )
    forget_modules += ["evolkit_broken_plugin", "evolkit_demo_plugin"]
    monkeypatch.syspath_prepend(str(site))

    with pytest.warns(PluginLoadWarning) as caught:
        plugins = Plugins.load()
    warned = [w for w in caught if issubclass(w.category, PluginLoadWarning)]
    assert len(warned) == 1
    message = str(warned[0].message)
    assert "'broken'" in message and "'evolkit-broken'" in message
    assert "ImportError" in message and "fancy" in message
    assert "EVOLKIT_DISABLE_PLUGINS=broken" in message

    names = set(plugins.mutators().names())
    assert "demo.echo" in names
    assert "depth.add_constraints" in names
    if _installed("evolkit-math"):
        assert names >= MATH_OPERATORS
    assert "broken" not in {info.name for info in plugins.info()}

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # disabled by name: not even imported, so no warning
        quiet = Plugins.load(disabled=frozenset({"broken"}))
    assert "demo.echo" in quiet.mutators()


def test_a_broken_plugin_gives_one_warning_line_in_the_cli(tmp_path: Path) -> None:
    site = tmp_path / "site"
    fake_install(
        site,
        "evolkit-broken",
        {"broken": "evolkit_broken_plugin"},
        {"evolkit_broken_plugin": BROKEN_PLUGIN},
    )
    fake_install(
        site, "evolkit-demo", {"demo": "evolkit_demo_plugin"}, {"evolkit_demo_plugin": DEMO_PLUGIN}
    )
    proc = evolkit_cli("plugins", "--json", path=[site])
    assert proc.returncode == 0, proc.stderr
    assert "demo.echo" in packages_of(json.loads(proc.stdout), "operators")
    warning_lines = [line for line in proc.stderr.splitlines() if "PluginLoadWarning" in line]
    assert len(warning_lines) == 1
    assert "'evolkit-broken'" in warning_lines[0]
    assert "Traceback" not in proc.stderr


# --- the tutorial ---------------------------------------------------------------------------

_TITLED_BLOCK = re.compile(
    r'^```[\w+-]* title="(?P<path>[^"]+)"\n(?P<body>.*?)^```$', re.DOTALL | re.MULTILINE
)


def tutorial_files() -> dict[str, str]:
    """The files the tutorial shows: ``title="path"`` code blocks, path -> text."""
    files: dict[str, str] = {}
    for match in _TITLED_BLOCK.finditer(TUTORIAL.read_text(encoding="utf-8")):
        path = match.group("path")
        assert path not in files, f"the tutorial shows {path} twice"
        files[path] = match.group("body")
    return files


def example_files() -> dict[str, str]:
    """The example package's source files (not its README, not caches), path -> text."""
    return {
        path.relative_to(EXAMPLE).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(EXAMPLE.rglob("*"))
        if path.is_file()
        and path.suffix in {".py", ".toml"}
        and "__pycache__" not in path.parts
        and not any(part.endswith(".egg-info") for part in path.parts)
    }


def test_the_tutorial_shows_the_example_package_file_for_file() -> None:
    shown, actual = tutorial_files(), example_files()
    assert "pyproject.toml" in shown and "tests/test_audience.py" in shown
    assert set(shown) == set(actual), "the tutorial and examples/plugin-tutorial list other files"
    for path, text in actual.items():
        assert shown[path] == text, f"{path} differs between the tutorial and the example"


def test_the_tutorial_entry_point_names_the_plugin_module() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["evolkit"] == {"audience": "evolkit_audience.plugin"}
    assert (EXAMPLE / "src" / "evolkit_audience" / "plugin.py").is_file()


def test_the_tutorial_plugin_works_in_a_run(
    monkeypatch: pytest.MonkeyPatch, forget_modules: list[str]
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    forget_modules.append("evolkit_audience")
    plugin = importlib.import_module("evolkit_audience.plugin")
    plugins = Plugins.load(entry_points=False)
    plugins.register(plugin, name="audience", package="evolkit-audience")
    assert plugins.mutators().entry("audience.rewrite").package == "evolkit-audience"
    backend = FakeBackend.default()
    result = evolkit.evolve(
        ["Explain how tides work.", "Describe how a volcano erupts."],
        rounds=2,
        operators=["audience.rewrite"],
        filters=["audience.word_limit"],
        plugins=plugins,
        backend=backend,
    )
    evolved = [row for row in result if row.operator is not None]
    assert len(evolved) == 4
    assert {row.operator for row in evolved} == {"audience.rewrite"}
    assert any("must suit" in messages[-1]["content"] for messages, _ in backend.calls)


def test_the_tutorial_plugin_installed_shows_in_plugins_and_runs(tmp_path: Path) -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    site = tmp_path / "site"
    fake_install(site, project["name"], project["entry-points"]["evolkit"], version="0.1.0")
    path = [site, EXAMPLE / "src"]
    data = plugins_json(path)
    assert packages_of(data, "operators")["audience.rewrite"] == "evolkit-audience"
    assert packages_of(data, "filters")["audience.word_limit"] == "evolkit-audience"

    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(
        '{"instruction": "Explain how tides work."}\n'
        '{"instruction": "Describe how a volcano erupts."}\n'
    )
    out = tmp_path / "out.jsonl"
    proc = evolkit_cli(
        "evolve", seeds, "-o", out, "--rounds", "2", "--model", "fake/demo", "--cache", "off",
        "--operators", "audience.rewrite", "--filters", "refusal,audience.word_limit", "-q",
        path=path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {row["operator"] for row in rows if row["round"] > 0} == {"audience.rewrite"}


@pytest.mark.slow
def test_the_tutorial_tests_pass(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(EXAMPLE / "src"), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    )
    proc = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-W", "error",
            "-p", "no:cacheprovider", "-p", "no:asyncio", "--basetemp", str(tmp_path / "t"),
        ],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 passed" in proc.stdout


def test_the_plugin_packages_use_only_public_evolkit_modules() -> None:
    private = re.compile(r"^\s*(?:from|import)\s+(evolkit(?:\.\w+)*\._\w+)", re.MULTILINE)
    found = {
        f"{path.relative_to(ROOT)}: {match}"
        for path in (ROOT / "plugins").glob("*/src/**/*.py")
        for match in private.findall(path.read_text(encoding="utf-8"))
    }
    assert not found

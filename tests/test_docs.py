"""The documentation cannot fall behind the code: hooks, commands, pages, snippets, build."""

from __future__ import annotations

import inspect
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evolkit import hookspecs
from evolkit.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HOOKS_PAGE = DOCS / "reference" / "hooks.md"
CLI_PAGE = DOCS / "reference" / "cli.md"
QUICKSTART = DOCS / "snippets" / "quickstart-commands.md"


def hookspec_names() -> list[str]:
    """Every hook a plugin can implement: the ``evolkit_*`` functions of evolkit.hookspecs."""
    return sorted(
        name
        for name, obj in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("evolkit_")
    )


def headings(page: Path) -> set[str]:
    """The text of every markdown heading of ``page``, without backticks."""
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # not the comments in code blocks
    return {m.group(1).strip().strip("`") for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", text, re.M)}


def undocumented(names: list[str], page: Path) -> list[str]:
    found = headings(page)
    return [name for name in names if name not in found]


def test_every_hookspec_has_a_section_in_the_hook_reference() -> None:
    names = hookspec_names()
    assert len(names) >= 3, names  # mutators, filters, backends at least
    missing = undocumented(names, HOOKS_PAGE)
    assert not missing, f"add a '## <name>' section to docs/reference/hooks.md for: {missing}"


def test_the_hook_check_fails_for_an_undocumented_hook() -> None:
    assert undocumented(["evolkit_register_something_new"], HOOKS_PAGE) == [
        "evolkit_register_something_new"
    ]


def test_the_hook_reference_documents_no_hook_that_does_not_exist() -> None:
    documented = {h for h in headings(HOOKS_PAGE) if h.startswith("evolkit_")}
    assert documented <= set(hookspec_names()), documented - set(hookspec_names())


def _subcommands() -> list[str]:
    parser = build_parser()
    assert parser._subparsers is not None
    for action in parser._subparsers._group_actions:
        choices = getattr(action, "choices", None)
        if choices:
            return sorted(choices)
    return []


def test_every_command_has_a_section_in_the_cli_reference() -> None:
    commands = _subcommands()
    assert {"evolve", "stats", "export", "plugins", "report"} <= set(commands)
    text = CLI_PAGE.read_text(encoding="utf-8")
    found = headings(CLI_PAGE)
    for command in commands:
        assert command in found, f"add a '## {command}' section to docs/reference/cli.md"
        assert f"<!-- evolkit-help: {command} -->" in text, command


def _nav_paths() -> list[str]:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:") :]
    return re.findall(r":\s*([\w./-]+\.md)\s*$", nav, re.M) + re.findall(
        r"^\s*-\s*([\w./-]+\.md)\s*$", nav, re.M
    )


def test_every_nav_entry_exists() -> None:
    paths = _nav_paths()
    assert "index.md" in paths and "reference/hooks.md" in paths
    missing = [p for p in paths if not (DOCS / p).is_file()]
    assert not missing, f"mkdocs.yml names pages that do not exist: {missing}"


def test_every_page_is_in_the_nav() -> None:
    pages = {
        str(p.relative_to(DOCS))
        for p in DOCS.rglob("*.md")
        if p.relative_to(DOCS).parts[0] not in {"snippets", "hooks"}
    }
    orphans = sorted(pages - set(_nav_paths()))
    assert not orphans, f"add these pages to the nav in mkdocs.yml: {orphans}"


def test_every_included_file_exists() -> None:
    for page in DOCS.rglob("*.md"):
        for target in re.findall(r'^\s*--8<--\s+"([^"]+)"', page.read_text(encoding="utf-8"), re.M):
            assert (ROOT / target).is_file(), f"{page.relative_to(ROOT)} includes missing {target}"


def _quickstart_commands() -> list[list[str]]:
    text = QUICKSTART.read_text(encoding="utf-8")
    commands = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        for part in line.split("&&"):
            words = shlex.split(part)
            if words:
                commands.append(words)
    return commands


def test_the_quickstart_commands_are_valid() -> None:
    commands = _quickstart_commands()
    evolves = [c for c in commands if c[0] == "evolkit"]
    assert evolves, "the quickstart shows an evolkit command"
    for words in evolves:
        args = build_parser().parse_args(words[1:])  # exits (fails the test) when invalid
        assert args.func is not None
        if words[1] == "evolve":
            assert (ROOT / str(args.seeds)).is_file(), args.seeds
    assert ["pytest"] in commands and ["bash", ".ci/run"] in commands


def test_the_readme_shows_the_quickstart_command() -> None:
    readme = ROOT / "README.md"
    if not readme.exists():
        pytest.skip("no README")
    first = next(
        line.split("#", 1)[0].strip()
        for line in QUICKSTART.read_text(encoding="utf-8").splitlines()
        if "evolkit evolve" in line
    )
    assert first in readme.read_text(encoding="utf-8"), (
        "README.md and docs/snippets/quickstart-commands.md show different first commands: "
        "update the snippet"
    )


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="needs evolkit[docs]")
    pytest.importorskip("material", reason="needs evolkit[docs]")
    pytest.importorskip("mkdocstrings_handlers.python", reason="needs evolkit[docs]")
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or shutil.which("mkdocs")
    assert mkdocs is not None
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    site = tmp_path / "site"
    hooks = (site / "reference" / "hooks" / "index.html").read_text(encoding="utf-8")
    for name in hookspec_names():
        assert f'id="{name}"' in hooks
    cli = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "usage: evolkit evolve" in cli  # generated from the parser
    api = (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    assert 'id="evolkit.evolve"' in api and 'id="evolkit.report.write_report"' in api
    index = re.sub(r"<[^>]+>", "", (site / "index.html").read_text(encoding="utf-8"))
    assert "evolkit evolve examples/seeds.jsonl" in index  # the included snippet
    assert 'class="mermaid"' in (site / "method" / "index.html").read_text(encoding="utf-8")


def _resolves(dotted: str) -> bool:
    """Whether ``dotted`` is a module, or a name reached from the longest module prefix."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def test_every_module_the_architecture_page_names_exists() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(evolkit(?:\.\w+)+)", text))
    assert len(named) >= 25  # the page walks the tree module by module
    missing = sorted(name for name in named if not _resolves(name))
    assert not missing, f"docs/architecture.md names what does not exist: {missing}"


def test_the_architecture_check_catches_a_missing_module() -> None:
    assert _resolves("evolkit.engine.plan.RunPlan")
    assert not _resolves("evolkit.engine.no_such_module")
    assert not _resolves("evolkit.engine.plan.NoSuchName")

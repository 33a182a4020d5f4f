"""The example notebook and the how-to scripts run, offline, with the fake model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HOW_TO = (
    "evolve_api.py",
    "any_model_litellm.py",
    "custom_operator.py",
    "custom_filter.py",
    "resume.py",
)
SCRIPTS = [EXAMPLES / name for name in HOW_TO]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("EVOLKIT_MODEL", None)
    env.update(
        {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "HF_HUB_OFFLINE": "1",
            "MPLBACKEND": "Agg",
            "PYTHONWARNINGS": "error::DeprecationWarning",
        }
    )
    return env


def test_every_how_to_script_is_in_the_docs() -> None:
    docs = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").rglob("*.md"))
    for name in HOW_TO:
        assert (EXAMPLES / name).is_file(), name
        assert f"examples/{name}" in docs, f"no page of the docs shows examples/{name}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_script_runs_with_the_fake_model(script: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--model", "fake/example"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=_env(),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert done.stdout.strip(), "an example should say what it did"
    assert "Traceback" not in done.stderr


def test_resume_example_really_resumes(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "resume.py"), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "stopped after" in done.stdout
    replayed = int(done.stdout.split("resumed: ")[1].split()[0])
    assert replayed > 0, done.stdout
    assert out.exists() and (tmp_path / "out.jsonl.evolkit" / "round-0004.jsonl").exists()


@pytest.mark.slow
def test_notebook_runs_on_the_fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    for key, value in _env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("EVOLKIT_NOTEBOOK_MODEL", "fake/notebook")
    monkeypatch.delenv("MPLBACKEND")  # the notebook draws inline, whatever the shell set
    nb = nbformat.read(EXAMPLES / "notebook.ipynb", as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "commit the notebook without outputs"
    )
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "\n".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "evolkit run" in html  # RunResult._repr_html_
    assert "lineage of" in html  # the lineage view
    assert "distinct-1" in html  # the quality summary
    assert any("image/png" in o.get("data", {}) for o in outputs), "the plot is missing"
    text = "\n".join(o.get("text", "") for o in outputs)
    assert "model: fake/notebook" in text
    assert ".report.html" in text

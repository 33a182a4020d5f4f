"""Finished and resumed runs: a finished run is returned as it is; a resume whose settings
change what finished work means refuses with a clear line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import evolkit
from evolkit.cli import main
from evolkit.errors import ConfigError
from evolkit.testing import FakeBackend

SEEDS = [f"Suggest a name for cafe number {i}." for i in range(6)]


def test_rerun_of_a_finished_run_makes_no_call_loads_no_model_and_keeps_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.jsonl"
    first = evolkit.evolve(SEEDS, rounds=2, backend=FakeBackend.default(), output=out)
    report = out.with_name(out.name + ".run.json")
    figures = json.loads(report.read_text())["stats"]
    assert figures["calls"]["sent"] > 0

    again = FakeBackend.default()
    second = evolkit.evolve(SEEDS, rounds=2, backend=again, output=out)
    assert again.count == 0
    assert second.already_complete
    assert second.stats.calls_sent == first.stats.calls_sent  # the recorded figures
    assert json.loads(report.read_text())["stats"] == figures
    assert len(list(second)) == second.stats.rows == first.stats.rows

    # the command line says so, and does not start the model: here a local model whose
    # file does not even exist (the finished run was made with a stand-in of that name)
    from evolkit.backends import local as local_mod

    def no_server(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a finished run must not start the model")

    monkeypatch.setattr(local_mod.LocalBackend, "start_blocking", no_server)
    model = f"local/{tmp_path / 'absent.gguf'}"
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(SEEDS) + "\n")
    out2 = tmp_path / "cli.jsonl"
    made = evolkit.evolve(seeds, rounds=1, backend=FakeBackend.default(model=model), output=out2)
    capsys.readouterr()
    argv = ["evolve", str(seeds), "-o", str(out2), "--model", model, "--rounds", "1", "-q"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.startswith("already complete:") and f"{made.stats.rows} rows" in err


def test_resume_with_fewer_rounds_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    evolkit.evolve(SEEDS, rounds=3, backend=FakeBackend.default(), output=out)
    backend = FakeBackend.default()
    with pytest.raises(
        ConfigError, match=r"finished 3 rounds; --rounds 1 would leave rounds 2\.\.3"
    ):
        evolkit.evolve(SEEDS, rounds=1, backend=backend, output=out)
    assert backend.count == 0
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(SEEDS) + "\n")
    cli_out = tmp_path / "cli.jsonl"
    base = ["evolve", str(seeds), "-o", str(cli_out), "--model", "fake/x", "-q"]
    assert main([*base, "--rounds", "2"]) == 0
    capsys.readouterr()
    assert main([*base, "--rounds", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pass --rounds 2 or more" in err[0]


def test_resume_with_more_rounds_gives_exact_figures(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    evolkit.evolve(SEEDS, rounds=1, backend=FakeBackend.default(), output=out)
    extended = evolkit.evolve(SEEDS, rounds=2, backend=FakeBackend.default(), output=out)
    whole = evolkit.evolve(
        SEEDS, rounds=2, backend=FakeBackend.default(), output=tmp_path / "w.jsonl"
    )
    assert sorted(r.to_record()["id"] for r in extended) == sorted(
        r.to_record()["id"] for r in whole
    )
    assert len(out.read_text().splitlines()) == extended.stats.rows == whole.stats.rows
    assert extended.stats.rows_per_round == whole.stats.rows_per_round


@pytest.mark.parametrize(
    ("change", "named"),
    [({"seed": 7}, "seed"), ({"seeds": [*SEEDS[:-1], "Suggest a name for a bakery."]}, "seeds")],
    ids=["other --seed", "other seeds"],
)
def test_resume_with_changed_seed_or_seeds_refuses(
    change: dict[str, Any], named: str, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    evolkit.evolve(SEEDS, rounds=1, backend=FakeBackend.default(), output=out)
    settings: dict[str, Any] = {"rounds": 1, "output": out, "seeds": SEEDS, **change}
    backend = FakeBackend.default()
    with pytest.raises(ConfigError, match=rf"different settings \({named}\).*--overwrite"):
        evolkit.evolve(settings.pop("seeds"), backend=backend, **settings)
    assert backend.count == 0

"""Seeds from Python objects and from hf:// names, read one row at a time."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import evolkit
from evolkit.data.sources import open_seeds, parse_hub_spec
from evolkit.errors import SeedFileError
from evolkit.testing import FakeBackend

ROWS = [
    {"instruction": "Sort these numbers.", "input": "3 1 2", "output": "1 2 3", "source": "a"},
    {"instruction": "Name a colour.", "input": "", "output": "Blue.", "source": "b"},
]


def seeds_of(result: evolkit.RunResult) -> dict[str, evolkit.Instruction]:
    return {inst.text: inst for inst in result if inst.is_seed}


def check_seeds(result: evolkit.RunResult) -> None:
    seeds = seeds_of(result)
    assert seeds["Sort these numbers."].input == "3 1 2"
    assert seeds["Sort these numbers."].response == "1 2 3"
    assert seeds["Name a colour."].metadata == {"source": "b"}


def test_list_of_dicts() -> None:
    check_seeds(evolkit.evolve(ROWS, rounds=1, backend=FakeBackend()))


def test_dataframe() -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(ROWS)
    check_seeds(evolkit.evolve(frame, rounds=1, backend=FakeBackend()))


def test_dataframe_with_numpy_values_and_gaps() -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(
        {"Question": ["What is 2+2?", "What is 3+3?"], "score": [1.5, float("nan")], "n": [1, 2]}
    )
    rows = list(open_seeds(frame))
    assert [r.text for r in rows] == ["What is 2+2?", "What is 3+3?"]
    assert rows[1].metadata == {"score": None, "n": 2}


def test_dataset_and_iterable_dataset() -> None:
    datasets = pytest.importorskip("datasets")
    columns = {k: [r[k] for r in ROWS] for k in ROWS[0]}
    check_seeds(
        evolkit.evolve(datasets.Dataset.from_dict(columns), rounds=1, backend=FakeBackend())
    )
    streamed = datasets.Dataset.from_dict(columns).to_iterable_dataset()
    check_seeds(evolkit.evolve(streamed, rounds=1, backend=FakeBackend()))


def test_fields_in_python() -> None:
    rows = [{"q": "What is 2+2?", "a": "4"}]
    result = evolkit.evolve(
        rows, rounds=0, backend=FakeBackend(), fields={"instruction": "q", "response": "a"}
    )
    (seed,) = list(result)
    assert (seed.text, seed.response) == ("What is 2+2?", "4")


def test_refused_input_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "out.jsonl"
    with pytest.raises(SeedFileError, match="row 2"):
        evolkit.evolve([ROWS[0], {"title": "x"}], rounds=1, backend=FakeBackend(), output=out)
    assert list(tmp_path.iterdir()) == []


def test_a_dataset_dict_names_the_split() -> None:
    datasets = pytest.importorskip("datasets")
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a"]})})
    with pytest.raises(SeedFileError, match=r"several splits \(train\).*ds\['train'\]"):
        open_seeds(dd)


def test_a_single_mapping_is_refused() -> None:
    with pytest.raises(SeedFileError, match="cannot read seeds from a dict"):
        open_seeds(ROWS[0])


def test_hub_spec() -> None:
    spec = parse_hub_spec("hf://openai/gsm8k:main@train")
    assert (spec.repo, spec.config, spec.split) == ("openai/gsm8k", "main", "train")
    assert str(spec) == "hf://openai/gsm8k:main@train"
    assert parse_hub_spec("hf://tatsu-lab/alpaca").config is None
    with pytest.raises(SeedFileError, match="OWNER/NAME"):
        parse_hub_spec("hf://a/b/c")


def _hub_layout(root: Path) -> Path:
    """A data set directory laid out as the Hub lays it out: a card with configs, Parquet
    shards under data/ named SPLIT-00000-of-00001.parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    repo = root / "someone" / "tiny-gsm"
    (repo / "main").mkdir(parents=True)
    (repo / "socratic").mkdir()
    splits = {
        "train": [("Ann has 2 pens and buys 3. How many?", "2+3=5\n#### 5")],
        "test": [("Bo has 4 cups and breaks 1. How many?", "4-1=3\n#### 3")],
    }
    for config in ("main", "socratic"):
        for split, pairs in splits.items():
            table = pa.table(
                {"question": [q for q, _ in pairs], "answer": [f"{config}: {a}" for _, a in pairs]}
            )
            pq.write_table(table, repo / config / f"{split}-00000-of-00001.parquet")
    card = """\
        ---
        license: mit
        configs:
        - config_name: main
          data_files:
          - split: train
            path: main/train-*
          - split: test
            path: main/test-*
        - config_name: socratic
          data_files:
          - split: train
            path: socratic/train-*
          - split: test
            path: socratic/test-*
        ---
        # tiny-gsm
        """
    (repo / "README.md").write_text(textwrap.dedent(card), encoding="utf-8")
    return root


def test_hub_name_through_datasets_offline(tmp_path: Path) -> None:
    """``hf://OWNER/NAME:CONFIG@SPLIT`` goes through ``datasets.load_dataset(OWNER/NAME, CONFIG,
    split=SPLIT, streaming=True)``; offline, datasets finds OWNER/NAME as a directory laid out
    as the Hub lays it out."""
    pytest.importorskip("datasets")
    root = _hub_layout(tmp_path / "hub")
    out = tmp_path / "out.jsonl"
    script = textwrap.dedent(
        f"""
        import evolkit, json
        from evolkit.testing import FakeBackend
        evolkit.evolve("hf://someone/tiny-gsm:socratic@test", rounds=0, backend=FakeBackend(),
                       output={str(out)!r}, respond=False, progress="log")
        """
    )
    env = {**_env(), "HF_HUB_OFFLINE": "1", "HF_DATASETS_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "seeds: hf://someone/tiny-gsm:socratic@test, 1 rows, layout question/answer" in (
        proc.stderr
    )
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["instruction"].startswith("Bo has 4 cups")
    assert row["output"] == "socratic: 4-1=3\n#### 3"
    report = json.loads(out.with_name("out.jsonl.run.json").read_text())
    assert report["seeds"]["source"] == "hf://someone/tiny-gsm:socratic@test"
    assert report["seeds"]["kind"] == "hub"
    assert report["seeds"]["license"] == "mit"  # from the data set's card


def test_hub_name_offline_without_a_copy_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    out = tmp_path / "o.jsonl"
    env = {**_env(), "HF_HUB_OFFLINE": "1", "HF_DATASETS_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "evolkit.cli",
            "evolve",
            "hf://nobody/absent@train",
            "-o",
            str(out),
            "--model",
            "fake/x",
            "--cache",
            "off",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: hf://nobody/absent@train: cannot load")
    assert "HF_HUB_OFFLINE" in line and "HF_DATASETS_CACHE" in line
    assert not out.with_name("o.jsonl.evolkit").exists()


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "HF_DATASETS_OFFLINE"}


@pytest.mark.slow
def test_streamed_million_rows_stay_within_the_streaming_bound(tmp_path: Path) -> None:
    """1M rows of an IterableDataset through the seed reader, in a fresh process: the peak
    RSS rises by less than 64 MB (the rows as a list would take ~1 GB), so nothing holds them."""
    pytest.importorskip("datasets")
    script = textwrap.dedent(
        """
        import resource, sys
        import datasets
        from evolkit.data.sources import open_seeds

        def gen():
            for i in range(1_000_000):
                yield {"question": f"What is {i} plus {i}? Show each step of the sum.",
                       "answer": f"{i}+{i}={2 * i}", "n": i}

        stream = datasets.IterableDataset.from_generator(gen)
        source = open_seeds(stream)
        it = iter(source)
        first = next(it)  # everything imported and running: the baseline
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        count = 1 + sum(1 for _ in it)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(count, (peak - base) // 1024, first.response)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=900,
        env={**_env(), "HF_DATASETS_CACHE": str(tmp_path / "cache")},
    )
    assert proc.returncode == 0, proc.stderr
    count, rise_mb, first = proc.stdout.split(maxsplit=2)
    assert int(count) == 1_000_000 and first.strip() == "0+0=0"
    assert int(rise_mb) < 64, f"peak RSS rose by {rise_mb} MB while streaming"

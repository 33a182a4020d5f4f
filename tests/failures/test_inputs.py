"""Every bad input is one line, exit 2, no traceback, and nothing paid for is lost."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

SEEDS = [f"Write a short poem about river number {i}." for i in range(5)]


def one_line(err: list[str], *words: str) -> None:
    assert len(err) == 1, err
    assert err[0].startswith("error: ") and "Traceback" not in err[0]
    for word in words:
        assert word in err[0], (word, err[0])


@pytest.fixture
def text_seeds(tmp_path: Path) -> Path:
    path = tmp_path / "seeds.txt"
    path.write_text("\n".join(SEEDS) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("\n".join(SEEDS).encode("utf-16"), ("UTF-16", "convert it to UTF-8")),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ("binary",)),
        ("Écris un poème sur la rivière.\n".encode("latin-1"), ("not UTF-8", ":1:")),
    ],
    ids=["utf-16", "binary", "latin-1"],
)
def test_undecodable_seed_files(
    data: bytes,
    words: tuple[str, ...],
    tmp_path: Path,
    server: Any,
    good_key: str,
    cli: Any,
    evolve_argv: Any,
) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_bytes(data)
    code, err, _ = cli(evolve_argv(seeds, tmp_path / "out.jsonl", server.url))
    assert code == 2
    one_line(err, str(seeds), *words)
    assert server.posts == 0


def test_utf8_byte_order_mark_is_accepted(
    tmp_path: Path, server: Any, good_key: str, cli: Any, evolve_argv: Any
) -> None:
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_bytes(
        b"\xef\xbb\xbf" + "".join(json.dumps({"instruction": s}) + "\n" for s in SEEDS).encode()
    )
    out = tmp_path / "out.jsonl"
    code, err, _ = cli(evolve_argv(seeds, out, server.url, "--rounds", "0"))
    assert code == 0, err
    assert sorted(json.loads(line)["instruction"] for line in out.read_text().splitlines()) == (
        sorted(SEEDS)
    )


def test_output_that_is_a_directory_is_refused_before_any_call(
    tmp_path: Path,
    text_seeds: Path,
    server: Any,
    good_key: str,
    cli: Any,
    evolve_argv: Any,
) -> None:
    out = tmp_path / "data"
    out.mkdir()
    code, err, _ = cli(evolve_argv(text_seeds, out, server.url))
    assert code == 2
    one_line(err, "is a directory", "data.jsonl")
    assert server.posts == 0


@pytest.mark.parametrize("where", ["under-a-file", "read-only-fs"])
def test_unwritable_output_is_refused_before_any_call(
    where: str,
    tmp_path: Path,
    text_seeds: Path,
    server: Any,
    good_key: str,
    cli: Any,
    evolve_argv: Any,
) -> None:
    if where == "under-a-file":
        blocker = tmp_path / "notes.txt"
        blocker.write_text("a file, not a folder")
        out = blocker / "out.jsonl"
    else:
        out = Path("/proc/evolkit-test/out.jsonl")  # procfs: nothing can be created there
    code, err, _ = cli(evolve_argv(text_seeds, out, server.url))
    assert code == 2
    one_line(err, "cannot write", "choose another output path")
    assert server.posts == 0


def test_full_disk_stops_cleanly_and_resumes(
    tmp_path: Path,
    text_seeds: Path,
    server: Any,
    good_key: str,
    cli: Any,
    evolve_argv: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from evolkit.engine.workdir import WorkDir

    real = WorkDir.write_shuffled

    def full(*args: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(WorkDir, "write_shuffled", full)  # the disk fills at the final write
    out = tmp_path / "out.jsonl"
    code, err, _ = cli(evolve_argv(text_seeds, out, server.url))
    assert code == 2
    one_line(err, "disk is full", "free some space", "resume")
    paid = server.answered
    assert paid > 0

    monkeypatch.setattr(WorkDir, "write_shuffled", real)
    code, err, _ = cli(evolve_argv(text_seeds, out, server.url))
    assert code == 0, err
    assert server.answered == paid  # every call was kept: none made again
    assert out.exists()


def test_duplicate_ids_are_reported_with_rows_and_the_choice(
    tmp_path: Path, server: Any, good_key: str, cli: Any, evolve_argv: Any
) -> None:
    seeds = tmp_path / "seeds.jsonl"
    records = [
        {"id": "a", "instruction": "Name three birds."},
        {"id": "b", "instruction": "Name three trees."},
        {"id": "a", "instruction": "Name three rivers."},
        {"id": "b", "instruction": "Name three trees."},  # an exact repeat: dropped, counted
    ]
    seeds.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "out.jsonl"
    code, err, _ = cli(evolve_argv(seeds, out, server.url, "--rounds", "0"))
    assert code == 2
    one_line(err, "1 rows reuse the id", "'a' (rows 1 and 3)", "--duplicate-ids rename")
    assert server.posts == 0

    code, err, _ = cli(
        evolve_argv(seeds, out, server.url, "--rounds", "0", "--duplicate-ids", "rename")
    )
    assert code == 0, err
    texts = sorted(json.loads(line)["instruction"] for line in out.read_text().splitlines())
    assert texts == ["Name three birds.", "Name three rivers.", "Name three trees."]

    other = tmp_path / "first.jsonl"
    code, err, _ = cli(
        evolve_argv(seeds, other, server.url, "--rounds", "0", "--duplicate-ids", "drop")
    )
    assert code == 0, err
    texts = sorted(json.loads(line)["instruction"] for line in other.read_text().splitlines())
    assert texts == ["Name three birds.", "Name three trees."]


def test_oversized_seed_and_reply_are_refused_or_dropped(
    tmp_path: Path,
    text_seeds: Path,
    server: Any,
    good_key: str,
    cli: Any,
    evolve_argv: Any,
) -> None:
    seeds = tmp_path / "big.txt"
    seeds.write_text("Summarise this: " + "word " * 20_000 + "\n")
    code, err, _ = cli(evolve_argv(seeds, tmp_path / "a.jsonl", server.url))
    assert code == 2
    one_line(err, ":1:", "longer than", "--max-instruction-chars")

    server.reply_size = 5_000  # every answer is padded past the limit below
    out = tmp_path / "b.jsonl"
    argv = evolve_argv(
        text_seeds, out, server.url, "--max-reply-chars", "2000", "--max-failure-rate", "1"
    )
    argv.append("--allow-unanswered")  # the seeds' answers are dropped as too long
    code, err, _ = cli(argv)
    assert code == 0, err
    report = json.loads(out.with_name(out.name + ".run.json").read_text())
    reasons = report["stats"]["drop_reasons"]
    assert reasons.get("reply_too_long", 0) + reasons.get("instruction_too_long", 0) >= 1


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["filter", "{data}", "-o", "{dir}"], ("is a directory",)),
        (["filter", "{data}", "-o", "{tmp}/f.jsonl", "--verdicts", "{dir}"], ("is a directory",)),
        (["filter", "{dir}", "-o", "{tmp}/f.jsonl"], ("is a directory, not a file",)),
        (["score", "{data}", "-o", "{dir}", "--scores", "complexity"], ("is a directory",)),
        (["select", "{data}", "-o", "{dir}", "--budget", "2"], ("is a directory",)),
        (["export", "{data}", "{dir}", "--format", "alpaca"], ("is a directory",)),
        (["stats", "{dir}"], ("is a directory, not a file",)),
        (["evolve", "{data}", "-o", "{tmp}/o.jsonl", "--model", "fake/x", "--cache", "{dir}", "-q"],
         ("response cache", "--cache off")),
        (["evolve", "{data}", "-o", "{tmp}/o.jsonl", "--model", "fake/x", "--max-cost", "-1", "-q"],
         ("max_cost",)),
    ],
)
def test_other_commands_refuse_a_bad_path_or_setting_in_one_line(
    argv: list[str], words: tuple[str, ...], tmp_path: Path, text_seeds: Path, cli: Any
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    given = {"data": str(text_seeds), "dir": str(folder), "tmp": str(tmp_path)}
    code, err, _ = cli([part.format(**given) for part in argv])
    assert code == 2
    one_line(err, *words)
    assert list(folder.iterdir()) == []  # nothing was written into the directory


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "{data}"],
        ["score", "{data}", "--scores", "complexity"],
        ["select", "{data}", "-o", "{tmp}/x.jsonl", "--budget", "2"],
        ["stats", "{data}"],
    ],
)
def test_every_reader_names_the_encoding_of_a_utf16_file(
    argv: list[str], tmp_path: Path, cli: Any
) -> None:
    data = tmp_path / "rows.jsonl"
    rows = "".join(json.dumps({"id": str(i), "instruction": s}) + "\n" for i, s in enumerate(SEEDS))
    data.write_bytes(rows.encode("utf-16"))
    code, err, _ = cli([part.format(data=data, tmp=tmp_path) for part in argv])
    assert code == 2
    one_line(err, "UTF-16", "convert it to UTF-8")


def test_filter_with_a_dead_server_ends_in_one_line(
    tmp_path: Path, cli: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import gc
    import socket

    from evolkit import Instruction

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    seeds = [Instruction(text=s) for s in SEEDS]
    children = [
        Instruction(text=f"{s.text} Rhyme every line.", parent_id=s.id, operator="x", round=1)
        for s in seeds
    ]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r.to_record()) + "\n" for r in [*seeds, *children]))
    argv = ["filter", str(data), "-o", str(tmp_path / "f.jsonl"), "--filters", "information_gain"]
    argv += ["--model", "openai-compatible/m", "--api-base", f"http://127.0.0.1:{port}/v1"]
    argv += ["--retries", "0"]  # the judge calls are retried like evolve's; not here
    code, err, _ = cli(argv)
    gc.collect()  # an HTTP session left open is reported when it is collected
    assert code == 2
    one_line(err, "connection failed")
    assert "Unclosed client session" not in caplog.text

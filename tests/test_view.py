"""``evolkit view``: the row index, the labels file, the JSON API and ``filter --labels``.

The page itself is driven in a real browser in test_view_browser.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from evolkit.cli import main as cli_main
from evolkit.engine.workdir import WorkDir
from evolkit.errors import EvolkitError
from evolkit.refilter._calibrate import calibrate
from evolkit.view import (
    Label,
    LabelStore,
    RowIndex,
    RowQuery,
    ViewServer,
    as_run,
    drop_id,
    labels_path,
    make_app,
    read_labels,
)
from view_run import (
    COPY,
    DROPS,
    FAILED,
    GOOD,
    GRANDCHILD,
    PILED,
    REFUSED,
    ROWS,
    SEED,
    TEMPLATE,
    XSS,
    write_run,
)

STATIC = Path(__file__).parents[1] / "src" / "evolkit" / "view" / "static"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return write_run(tmp_path / "out.jsonl")


# --- the index -------------------------------------------------------------------------------


def test_every_kept_and_dropped_row_is_indexed_with_a_stable_id(out: Path) -> None:
    index = RowIndex.load(out)
    assert len(index) == 11
    assert [row.id for row in index.rows] == [row.id for row in RowIndex.load(out).rows]
    template = index.by_id[drop_id(TEMPLATE)]
    assert not template.kept and template.text == TEMPLATE.text and template.round == 1
    # the kept rows in the data set's order, then the drops round by round
    assert [row.id for row in index.rows if row.kept] == [inst.id for inst in ROWS]
    assert [row.id for row in index.rows[len(ROWS) :]] == [drop_id(d) for d in DROPS]
    assert index.loaded and index.error is None


def test_the_index_read_in_a_thread_ends_whole_or_with_its_error(out: Path) -> None:
    index = RowIndex.open(out)
    deadline = time.monotonic() + 10
    while not index.loaded and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [r.id for r in index.rows] == [r.id for r in RowIndex.load(out).rows]
    with out.open("a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    broken = RowIndex.open(out)
    while not broken.loaded and time.monotonic() < deadline:
        time.sleep(0.01)
    assert broken.error is not None and "out.jsonl:8: invalid JSON" in broken.error
    assert len(broken) == len(ROWS)  # what was read stays served
    with pytest.raises(EvolkitError, match="file not found"):
        RowIndex.open(out.with_name("missing.jsonl"))


def test_a_running_run_is_read_from_its_work_directory(out: Path) -> None:
    rounds = WorkDir.for_output(out)
    for r in (0, 1):
        with rounds.rows(r).open("w", encoding="utf-8") as fh:
            for inst in ROWS:
                if inst.round == r:
                    fh.write(json.dumps(inst.to_record()) + "\n")
    out.unlink()
    index = RowIndex.load(out)
    assert sorted(r.id for r in index.rows if r.kept) == sorted(i.id for i in ROWS if i.round < 2)


def test_identical_drop_records_get_distinct_ids(tmp_path: Path) -> None:
    index = RowIndex.load(write_run(tmp_path / "o.jsonl", drops=[REFUSED, REFUSED]))
    ids = [row.id for row in index.rows if not row.kept]
    assert ids == [drop_id(REFUSED), drop_id(REFUSED) + "-2"]


def test_queries_filter_and_page(out: Path) -> None:
    index = RowIndex.load(out)
    total, page = index.query(RowQuery(reason="refused"))
    assert total == 2 and all(row.drop and row.drop.reason == "refused" for row in page)
    assert index.query(RowQuery(kept=False))[0] == 4
    assert index.query(RowQuery(round=2))[0] == 2
    assert index.query(RowQuery(operator="depth.deepen", kept=True))[1][0].id == COPY.id
    assert index.query(RowQuery(rule="template_leak"))[0] == 1
    assert index.query(RowQuery(q="POEM ABOUT CATS"))[1][0].id == PILED.id
    assert index.query(RowQuery(q=GOOD.id))[1][0].id == GOOD.id
    assert index.query(RowQuery(score="complexity", score_min=8))[1][0].id == GRANDCHILD.id
    total, page = index.query(RowQuery(), offset=3, limit=4)
    assert total == 11 and [r.id for r in page] == [r.id for r in index.rows[3:7]]


def test_a_row_page_has_its_lineage_diffs_verdicts_and_answer(out: Path) -> None:
    index = RowIndex.load(out)
    detail = index.detail(GRANDCHILD.id, ["near_copy", "growth"])
    assert detail is not None
    assert [step["id"] for step in detail["lineage"]] == [SEED.id, GOOD.id, GRANDCHILD.id]
    assert detail["lineage"][0]["diff"] is None
    added = "".join(text for op, text in detail["lineage"][2]["diff"] if op == "+")
    assert "which would make a warmer door handle" in added
    assert [v["filter"] for v in detail["verdicts"]] == ["near_copy", "growth"]
    assert detail["answer"] == GRANDCHILD.response and detail["scores"] == {"complexity": 9.0}
    dropped = index.detail(drop_id(FAILED))
    assert dropped is not None
    assert [s["id"] for s in dropped["lineage"]] == [SEED.id, GOOD.id, drop_id(FAILED)]
    assert dropped["verdicts"][0] | {"metadata": None} == {
        "filter": "depth.deepen",
        "keep": False,
        "stage": "mutate",
        "reason": "call_failed",
        "metadata": None,
    }


# --- labels ----------------------------------------------------------------------------------


def test_the_last_label_of_a_row_wins_and_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl.labels.jsonl"
    store = LabelStore(path)
    store.append(Label(id="a", label="keep"))
    store.append(Label(id="b", label="drop", note="off topic"))
    store.append(Label(id="a", label="drop"))
    again = LabelStore(path)
    assert {id: (lab.label, lab.note) for id, lab in again.all().items()} == {
        "a": ("drop", ""),
        "b": ("drop", "off topic"),
    }
    assert len(path.read_text().splitlines()) == 3  # appended, never rewritten
    with pytest.raises(ValueError):
        Label(id="a", label="maybe")  # type: ignore[arg-type]


def test_a_torn_last_line_is_skipped_and_closed_by_the_next_write(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    LabelStore(path).append(Label(id="a", label="keep"))
    with path.open("ab") as fh:  # a writer killed in the middle of its line
        fh.write(b'{"id": "b", "label": "dr')
    store = LabelStore(path)
    assert set(store.all()) == {"a"}
    store.append(Label(id="c", label="drop"))
    assert set(LabelStore(path).all()) == {"a", "c"}
    assert path.read_bytes().endswith(b'"}\n') and path.read_bytes().count(b"\n") == 3


_WRITER = """
import sys
from pathlib import Path
from evolkit.view import Label, LabelStore
store = LabelStore(Path(sys.argv[1]))
for k in range(100):
    store.append(Label(id=f"{sys.argv[2]}{k}", label="keep", note=sys.argv[2] * 2000))
"""


def test_two_writers_at_once_never_interleave_lines(tmp_path: Path) -> None:
    """Two processes (two servers on one run) append at once: every line stays whole."""
    path = tmp_path / "labels.jsonl"
    watcher = LabelStore(path)
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), who]) for who in "xy"]
    assert [p.wait(60) for p in writers] == [0, 0]
    lines = path.read_bytes().splitlines()
    assert len(lines) == 200 and all(json.loads(line)["note"] for line in lines)
    assert len(LabelStore(path).all()) == 200
    watcher.refresh()  # a store that was open meanwhile reads what the others appended
    assert len(watcher.all()) == 200


# --- the API ---------------------------------------------------------------------------------


async def _client(out: Path) -> TestClient:  # type: ignore[type-arg]
    app = make_app(RowIndex.load(out), LabelStore(labels_path(out)))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def test_the_api_pages_filters_and_saves_labels(out: Path) -> None:
    client = await _client(out)
    try:
        got = await (await client.get("/api/rows?kept=dropped&reason=refused&limit=1")).json()
        assert got["total"] == 2 and len(got["rows"]) == 1
        row_id = got["rows"][0]["id"]
        saved = await client.post("/api/labels", json={"id": row_id, "label": "drop", "note": "x"})
        assert saved.status == 200
        again = await (await client.get("/api/rows?kept=dropped&reason=refused&limit=1")).json()
        assert again["rows"][0]["label"]["label"] == "drop"
        detail = await (await client.get(f"/api/row/{row_id}")).json()
        assert detail["label"]["note"] == "x"
        summary = await (await client.get("/api/summary")).json()
        assert summary["labelled"] == 1 and summary["agreement"][0]["true_drops"] == 1
        page = await client.get("/")
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        assert (await client.get("/static/view.js")).status == 200
        assert (await client.get("/static/../_server.py")).status == 404
        assert (await client.get("/api/row/nope")).status == 404
        assert (await client.get("/api/rows?offset=x")).status == 400
    finally:
        await client.close()
    assert [lab.id for lab in read_labels(labels_path(out))] == [row_id]


async def test_the_api_refuses_foreign_hosts_origins_and_forms(out: Path) -> None:
    client = await _client(out)
    try:
        assert (await client.get("/", headers={"Host": "evil.example:80"})).status == 403
        cross = await client.post(
            "/api/labels",
            json={"id": SEED.id, "label": "keep"},
            headers={"Origin": "http://evil.example"},
        )
        assert cross.status == 403
        form = await client.post("/api/labels", data={"id": SEED.id, "label": "keep"})
        assert form.status == 415
        unknown = await client.post("/api/labels", json={"id": "nope", "label": "keep"})
        assert unknown.status == 404
        bad = await client.post("/api/labels", json={"id": SEED.id, "label": "maybe"})
        assert bad.status == 400
    finally:
        await client.close()
    assert not labels_path(out).exists()


async def test_model_output_reaches_the_page_as_data_only(out: Path) -> None:
    """The API hands the payload over as JSON text; the page writes it with textContent only."""
    client = await _client(out)
    try:
        got = await (await client.get("/api/rows", params={"q": "<script>"})).json()
        assert got["total"] == 3 and got["rows"][0]["text"] == XSS
    finally:
        await client.close()
    script = (STATIC / "view.js").read_text(encoding="utf-8")
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", script)
    assert "<script>" not in (STATIC / "index.html").read_text(encoding="utf-8")


async def test_a_busy_port_is_one_line(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = ViewServer(out)
    url = await first.start()
    try:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        assert cli_main(["view", str(out), "--port", str(port), "--no-browser"]) == 2
    finally:
        await first.stop()
    err = capsys.readouterr().err
    assert err.startswith("error: cannot listen on 127.0.0.1:") and err.count("\n") == 1


def test_the_command_prints_the_address_and_opens_the_browser(
    out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)

    async def serve_once(self: ViewServer, on_start: object) -> None:
        url = await self.start()
        await self.stop()
        assert callable(on_start)
        on_start(url)

    monkeypatch.setattr(ViewServer, "serve_forever", serve_once)
    assert cli_main(["view", str(out)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"evolkit view of .*out\.jsonl at http://127\.0\.0\.1:\d+/", printed)
    assert opened and opened[0].startswith("http://127.0.0.1:")
    assert cli_main(["view", str(out), "--no-browser"]) == 0
    assert len(opened) == 1
    assert cli_main(["view", str(out.with_name("missing.jsonl")), "--no-browser"]) == 2
    assert cli_main(["view", str(out), "--port", "70000"]) == 2


# --- agreement and filter --labels -------------------------------------------------------------

LABELS = {
    GOOD.id: "keep",  # every rule keeps it
    COPY.id: "drop",  # near_copy drops it now
    PILED.id: "keep",  # one_task drops it now: a false drop
    drop_id(TEMPLATE): "drop",  # template_leak drops it now
    drop_id(REFUSED): "drop",  # no rule drops it now: missed
    drop_id(FAILED): "drop",  # no text: not judged
    SEED.id: "keep",  # a seed: not judged
}


def _write_labels(out: Path) -> Path:
    store = LabelStore(labels_path(out))
    store.append(Label(id=GOOD.id, label="drop"))  # changed below: the last label wins
    for id, value in LABELS.items():
        store.append(Label(id=id, label=value))  # type: ignore[arg-type]
    store.append(Label(id=GOOD.id, label="keep", note="a note changes no label"))
    store.append(Label(id="not-a-row", label="drop"))
    return store.path


def test_the_run_s_own_decisions_against_the_labels(out: Path) -> None:
    labels = LabelStore(_write_labels(out)).all()
    whole, *rules = as_run(RowIndex.load(out), labels)
    # evolved and labelled: GOOD, COPY, PILED kept; TEMPLATE, REFUSED, FAILED dropped
    assert (whole.true_drops, whole.false_drops, whole.missed_drops, whole.true_keeps) == (
        3,
        0,
        1,
        2,
    )
    assert whole.precision == 1.0 and whole.recall == 0.75
    by_name = {rule.name: rule for rule in rules}
    assert set(by_name) == {"template_leak"}  # the parse and mutate drops are no rule's
    # template_leak is held to the row it dropped and the three kept rows
    assert by_name["template_leak"].judged == 4 and by_name["template_leak"].recall == 0.5


def test_filter_labels_reports_exact_precision_and_recall(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_labels(out)
    from evolkit._plugins import default_plugins

    registry = default_plugins().filters()
    filters = [registry.get(n) for n in ("near_copy", "one_task", "template_leak")]
    result = calibrate(RowIndex.load(out), LabelStore(path).all(), filters)
    rules = {rule.name: rule for rule in result.rules}
    assert (rules["near_copy"].precision, rules["near_copy"].recall) == (1.0, 1 / 3)
    assert (rules["one_task"].precision, rules["one_task"].recall) == (0.0, 0.0)
    assert (rules["template_leak"].precision, rules["template_leak"].recall) == (1.0, 1 / 3)
    assert all(rule.judged == 5 for rule in result.rules)
    whole = result.eliminator
    assert (whole.true_drops, whole.false_drops, whole.missed_drops, whole.true_keeps) == (
        2,
        1,
        1,
        1,
    )
    assert whole.precision == 2 / 3 and whole.recall == 2 / 3
    assert result.not_judged == {"unknown id": 1, "seed": 1, "drop without text": 1}
    assert {(d.id, d.label, d.verdict) for d in result.disagreements} == {
        (PILED.id, "keep", "one_task: piled_tasks"),
        (drop_id(REFUSED), "drop", "keep"),
    }
    code = cli_main(
        ["filter", str(out), "--labels", str(path), "--filters", "near_copy,one_task,template_leak"]
    )
    printed = capsys.readouterr().out
    assert code == 0
    table = [line.split() for line in printed.splitlines()]
    assert ["near_copy", "5", "1", "0", "2", "100.0%", "33.3%"] in table
    assert ["one_task", "5", "0", "1", "3", "0.0%", "0.0%"] in table
    assert ["eliminator", "5", "2", "1", "1", "66.7%", "66.7%"] in table
    assert ["as", "the", "run", "decided", "6", "3", "0", "1", "100.0%", "75.0%"] in table
    assert "2 disagreements" in printed and f"{PILED.id}  you: keep" in printed


def test_filter_labels_errors_are_one_line(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = out.with_name("none.labels.jsonl")
    assert cli_main(["filter", str(out), "--labels", str(missing)]) == 2
    path = _write_labels(out)
    assert cli_main(["filter", str(out), "--labels", str(path), "-o", str(out) + ".k"]) == 2
    assert cli_main(["filter", str(out)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(errors) == 3 and all(line.startswith("error: ") for line in errors)


def test_the_command_line_starts_without_the_web_server() -> None:
    """Every command's parser lists ``evolkit view``; only running it loads aiohttp's server."""
    probe = (
        "import sys\n"
        "import evolkit.cli\n"
        "evolkit.cli.build_parser()\n"
        "print(sorted(m for m in ('evolkit.view._server', 'aiohttp.web') if m in sys.modules))\n"
        "from evolkit.view import ViewServer\n"
        "print(ViewServer.__module__, 'aiohttp.web' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout.splitlines()
    assert out == ["[]", "evolkit.view._server True"]

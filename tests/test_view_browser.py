"""``evolkit view`` driven in headless Chromium through Selenium and Debian's chromedriver.

One browser and one server over a small run (tests/view_run.py) serve every test here. Without
chromedriver the tests are skipped locally; in CI (``CI=true``), where ``.ci/run`` installs it,
they fail instead. With ``EVOLKIT_SCREENSHOTS=DIR`` the last test saves ``DIR/view.png``,
``DIR/view-row.png`` and ``DIR/view-summary.png`` for the guide.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from evolkit.view import ViewServer, drop_id, labels_path, read_labels, running_view
from view_run import GOOD, GRANDCHILD, REFUSED, SEED, XSS, XSS_CHILD, write_run

CHROMEDRIVER = shutil.which("chromedriver")
MISSING = (
    "chromedriver is not installed (apt-get install -y chromium chromium-driver)"
    if CHROMEDRIVER is None
    else "selenium is not installed (pip install selenium, in the test extra)"
    if importlib.util.find_spec("selenium") is None
    else None
)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    if MISSING is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{MISSING}; .ci/run installs it, so CI must run these tests")
        pytest.skip(f"{MISSING}; CI installs it")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--no-first-run",
        "--window-size=1280,860",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(20)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewServer]:
    out = write_run(tmp_path_factory.mktemp("view") / "data.jsonl")
    with running_view(out) as view:
        yield view


def _wait(driver: Any, test: Callable[[Any], Any], timeout: float = 8) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(test)


def _ready(driver: Any, view: str) -> None:
    _wait(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == view)


def _keys(driver: Any, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    actions = ActionChains(driver)
    for key in keys:
        actions.send_keys(key)
    actions.perform()


def _open(driver: Any, url: str, view: str = "rows") -> None:
    driver.get(url)
    _ready(driver, view)


def _row_ids(driver: Any) -> list[str]:
    """The ids of the table's rows, read in one step (the table may be drawn again meanwhile)."""
    ids: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll('tr.row'), (tr) => tr.dataset.id)"
    )
    return ids


def test_filter_by_drop_reason(driver: Any, server: ViewServer) -> None:
    from selenium.webdriver.support.ui import Select

    _open(driver, server.url)
    assert len(_row_ids(driver)) == len(server.index)
    Select(driver.find_element("id", "filter-reason")).select_by_value("refused")
    _wait(driver, lambda d: len(_row_ids(d)) == 2)
    _ready(driver, "rows")
    refused = {r.id for r in server.index.rows if r.drop is not None and r.drop.reason == "refused"}
    assert drop_id(REFUSED) in refused and set(_row_ids(driver)) == refused
    verdicts = [td.text for td in driver.find_elements("css selector", "td.verdict")]
    assert verdicts == ["depth.deepen: refused"] * 2
    assert "reason=refused" in driver.current_url  # the filter survives a reload


def test_open_a_row_and_see_its_diff(driver: Any, server: ViewServer) -> None:
    _open(driver, server.url + f"#rows?q={GRANDCHILD.id}")
    assert _row_ids(driver) == [GRANDCHILD.id]
    _keys(driver, "\ue007")  # Enter
    _ready(driver, "row")
    steps = driver.find_elements("css selector", "#lineage li")
    assert [s.get_attribute("data-id") for s in steps] == [SEED.id, GOOD.id, GRANDCHILD.id]
    added = " ".join(i.text for i in steps[2].find_elements("tag name", "ins"))
    assert "which would make a warmer door handle" in added
    assert not steps[0].find_elements("tag name", "ins")  # the seed has no parent to diff
    assert driver.find_element("id", "answer").text == GRANDCHILD.response
    assert "growth" in driver.find_element("id", "verdicts").text


def test_label_three_rows_with_the_keyboard_and_reload(driver: Any, server: ViewServer) -> None:
    _open(driver, server.url + "#rows?round=1")
    ids = _row_ids(driver)[:3]
    _keys(driver, "k", "d")  # keep the first, drop the second (the cursor moves on)
    _wait(driver, lambda d: len(list(read_labels(server.labels))) == 2)
    _keys(driver, "n")
    note = _wait(driver, lambda d: d.find_element("id", "note"))
    note.send_keys("vague <b>rewrite</b>\ue007")
    _wait(driver, lambda d: len(list(read_labels(server.labels))) == 3)
    _keys(driver, "d")
    _wait(driver, lambda d: len(list(read_labels(server.labels))) == 4)
    labels = {lab.id: (lab.label, lab.note) for lab in read_labels(labels_path(server.output))}
    assert labels == {
        ids[0]: ("keep", ""),
        ids[1]: ("drop", ""),
        ids[2]: ("drop", "vague <b>rewrite</b>"),
    }
    driver.refresh()
    _ready(driver, "rows")
    cells = driver.execute_script(
        "return Array.from(document.querySelectorAll('td.label-cell'), (td) => td.innerText)"
    )[:4]
    assert cells[:3] == ["keep", "drop", "drop ✎"] and cells[3] == ""
    _open(driver, server.url + f"#row/{ids[2]}?round=1&pos=2", "row")
    assert "vague <b>rewrite</b>" in driver.find_element("id", "row-label").text
    _keys(driver, "\ue015")  # arrow down: the next row of the same filtered list
    _wait(driver, lambda d: f"#row/{ids[2]}" not in d.current_url)
    _ready(driver, "row")
    assert "pos=3" in driver.current_url


def test_an_xss_payload_is_shown_as_text(driver: Any, server: ViewServer) -> None:
    _open(driver, server.url + "#rows?q=%3Cscript%3E")
    texts = [td.text for td in driver.find_elements("css selector", "td.text")]
    assert len(texts) == 3 and XSS in texts
    _keys(driver, "j")
    _wait(driver, lambda d: "cursor=1" in d.current_url)
    _keys(driver, "\ue007")
    _ready(driver, "row")
    assert driver.find_element("id", "row-text").text.startswith(XSS)
    assert driver.find_element("id", "answer").text == XSS_CHILD.response
    deleted_or_added = [n.text for n in driver.find_elements("css selector", "#lineage ins")]
    assert any("<b>three</b>" in text for text in deleted_or_added)
    assert driver.execute_script("return window.__xss === undefined")
    assert not driver.find_elements("css selector", "#main img, #main script, #main b")


def test_the_summary_shows_the_agreement_with_the_labels(driver: Any, server: ViewServer) -> None:
    _open(driver, server.url + "#summary", "summary")
    table = driver.find_element("id", "agreement").text
    assert table.splitlines()[1].startswith("eliminator")
    assert "3 rows labelled" in driver.find_element("id", "main").text
    shots = os.environ.get("EVOLKIT_SCREENSHOTS")
    if shots:
        folder = Path(shots)
        folder.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(folder / "view-summary.png"))
        _open(driver, server.url + "#rows?round=1")
        assert driver.save_screenshot(str(folder / "view.png"))
        _open(driver, server.url + f"#row/{GRANDCHILD.id}?pos=0", "row")
        assert driver.save_screenshot(str(folder / "view-row.png"))

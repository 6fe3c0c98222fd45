"""The HTML matrix as an auditor opens it: `gateway policy matrix --format html` into a file, read in Chromium.

The browser is started the way the GraphiQL browser test starts it (its ``chromium`` fixture:
Debian's Chromium under chromedriver, a fresh profile, the CDP network log).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateway.settings import PROJECT
from policies.vocabulary import Word
from tests.gateway.test_graphiql import LOCAL_SCHEMES, _network, chromium  # noqa: F401  (chromium: the fixture)

GATEWAY = str(Path(sys.executable).parent / "gateway")


def _rect(driver: Any, selector: str) -> dict[str, float]:
    return dict(driver.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return {top: r.top, left: r.left, bottom: r.bottom, right: r.right};", selector))


def test_html_matrix_reads_in_chromium(chromium: Any, tmp_path: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    p = subprocess.run([GATEWAY, "policy", "matrix", "--format", "html"], check=False, capture_output=True,
                       text=True, cwd=PROJECT, timeout=180)
    assert p.returncode == 0, p.stderr
    page = tmp_path / "matrix.html"
    page.write_text(p.stdout, encoding="utf-8")

    _network(chromium)  # the start-up tab's own loads do not count
    chromium.get(page.as_uri())
    chromium.save_screenshot(str(tmp_path / "top.png"))
    legend = chromium.find_element(By.ID, "legend").text
    assert all(str(w) in legend for w in Word)
    fields = [e.text for e in chromium.find_elements(By.CSS_SELECTOR, "tbody th.field code")]
    assert {"Query.auditLog", "Query.accessesOf", "Person.phone", "Gateway.audit"} <= set(fields)
    width, height = chromium.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert width <= 1400 + 20, width  # the 12 roles fit the 1,400-pixel window

    head, first = "thead th.role", "tbody tr:nth-child(2) th.field"
    before, row_before = _rect(chromium, head), _rect(chromium, first)
    assert before["top"] > 100  # under the title and the legend
    chromium.execute_script("window.scrollTo(0, arguments[0])", height // 2)
    after, row_after = _rect(chromium, head), _rect(chromium, first)
    chromium.save_screenshot(str(tmp_path / "scrolled.png"))  # kept by pytest for a look after a failure
    assert after["top"] == 0 and after["bottom"] > 0, after  # the role header row stays at the top
    assert row_after["bottom"] < 0  # while the rows went by under it
    chromium.set_window_size(900, 900)  # narrower than the table: scroll sideways
    chromium.execute_script("window.scrollTo(400, arguments[0])", height // 2)
    assert _rect(chromium, "tbody th.field")["left"] == 0  # the field column stays at the left
    assert _rect(chromium, "thead th.corner")["top"] == 0
    assert row_before["left"] == 0

    events = _network(chromium)
    urls = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    fetched = [u for u in urls if urlsplit(u).scheme not in LOCAL_SCHEMES and u != page.as_uri()]
    assert not fetched, f"the page fetched something: {fetched}"
    errors = [e["message"] for e in chromium.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors

"""GraphiQL in dev/demo mode: served whole by the gateway (air-gapped city networks reach no CDN).

The HTTP tests read the page and fetch what it references; the browser test drives Debian's
Chromium through chromedriver as a developer would: token in the box, a query run, the result
read off the page, and no request to any host but the gateway.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from common.errors import MethodNotAllowedError
from gateway.graphiql import STATIC_DIR
from tests.helpers import CLIENT, Api

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,900"]
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
QUERY = "{ persons(first: 2) { totalCount } }"
WAIT_S = 60
# URLs the browser resolves itself, without the network (inlined fonts are data:)
LOCAL_SCHEMES = {"data", "blob", "about", "chrome"}


class _Refs(HTMLParser):
    """Every src/href in the page (scripts, stylesheets, anything else that could load)."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.refs.append((tag, value))


def _refs(page: str) -> list[tuple[str, str]]:
    parser = _Refs()
    parser.feed(page)
    return parser.refs


@pytest.fixture(scope="module")
def dev_api(make_api: Callable[..., Api]) -> Api:
    return make_api(dev_mode=True)


def test_graphiql_page_assets_are_local_and_served(dev_api: Api) -> None:
    r = CLIENT.get(dev_api.base + "/graphql", headers=HTML, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    refs = _refs(r.text)
    kinds = {tag for tag, _ in refs}
    assert {"script", "link"} <= kinds, refs
    assert len([1 for tag, _ in refs if tag == "script"]) == 4, refs
    for tag, ref in refs:
        # a path on this gateway: no scheme, no host, no protocol-relative //host
        assert ref.startswith("/") and not ref.startswith("//") and "://" not in ref, (tag, ref)
        asset = CLIENT.get(dev_api.base + ref, timeout=30)
        assert asset.status_code == 200, (ref, asset.status_code)
        assert len(asset.content) > 100, ref
        want = {".js": "javascript", ".css": "text/css", ".svg": "image/svg+xml"}[Path(ref).suffix]
        assert want in asset.headers["content-type"], (ref, asset.headers["content-type"])
    for vendored in (STATIC_DIR / "vendor").iterdir():  # third-party code ships with its licence
        assert (vendored / "LICENSE").is_file(), vendored


def test_get_graphql_refused_in_production(api: Api) -> None:
    assert not api.settings.dev_mode
    for headers in (HTML, {"Accept": "application/json"}):
        r = CLIENT.get(api.base + "/graphql", headers=headers, timeout=30)
        assert r.status_code == 405, r.text
        assert r.headers["allow"] == "POST"
        assert [e["extensions"]["code"] for e in r.json()["errors"]] == [MethodNotAllowedError.code]
    assert CLIENT.get(api.base + "/graphql/assets/page.js", timeout=30).status_code == 404  # no UI at all


def test_get_query_is_405_in_dev_mode(dev_api: Api) -> None:
    """Queries are POSTed; a GraphQL-over-HTTP GET (no text/html) is refused even where GraphiQL is served."""
    for accept in ("application/graphql-response+json", "application/json", "*/*"):
        r = CLIENT.get(dev_api.base + "/graphql", params={"query": QUERY}, headers={"Accept": accept}, timeout=30)
        assert r.status_code == 405, (accept, r.text)
        assert r.headers["allow"] == "GET, POST"
        assert [e["extensions"]["code"] for e in r.json()["errors"]] == [MethodNotAllowedError.code]


# --- the real browser ---------------------------------------------------------------------------
@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Any]:
    """Debian's Chromium under chromedriver, with a fresh profile. Missing Chromium is a failure, never a skip."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found: the GraphiQL browser test needs Debian's Chromium. "
                    f"Install it with `{INSTALL}` (as root, `python3 dev.py test` and CI do it for you).")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = str(CHROMIUM)
    for flag in [*BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        opts.add_argument(flag)
    # CDP network events ("performance") list every request the page makes; "browser" is its console
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    # an explicit driver path: Selenium Manager (which would download a driver) is never run
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=opts, service=service)
    try:
        driver.set_page_load_timeout(WAIT_S)
        driver.set_script_timeout(WAIT_S)
        yield driver
    finally:
        driver.quit()


def _network(driver: Any) -> list[dict[str, Any]]:
    """The CDP Network.* events since the last call (chromedriver hands each log entry out once)."""
    events = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
    return [e for e in events if e["method"].startswith("Network.")]


def test_graphiql_in_chromium_runs_a_query_offline(chromium: Any, dev_api: Api, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    t0 = time.monotonic()
    token = dev_api.token("developer")
    expected = dev_api.gql(QUERY, token)["data"]["persons"]["totalCount"]
    wait = WebDriverWait(chromium, WAIT_S)
    editor = ".graphiql-query-editor .CodeMirror"

    _network(chromium)  # drop the start-up tab's own chrome:// loads: only the gateway page's requests count
    chromium.get(dev_api.base + "/graphql")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, editor))
    box = chromium.find_element(By.ID, "token")
    box.send_keys(token, Keys.ENTER)
    wait.until(lambda d: "developer" in d.find_element(By.ID, "token-status").text)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, editor))  # GraphiQL remounted with the token
    # CodeMirror's own API: typed keys would be auto-closed ({ -> {}) by the editor
    chromium.execute_script("document.querySelector(arguments[0]).CodeMirror.setValue(arguments[1]);", editor, QUERY)
    chromium.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()
    want = f'"totalCount": {expected}'
    wait.until(lambda d: want in d.find_element(By.CSS_SELECTOR, ".graphiql-response").text,
               message=f"no {want} in the result pane")
    chromium.save_screenshot(str(tmp_path / "graphiql.png"))  # kept by pytest for a look after a failure
    assert chromium.execute_script("return localStorage.getItem('civic-gateway:graphiql-token')") == token

    events = _network(chromium)
    urls = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    urls += [e["params"]["url"] for e in events if e["method"] == "Network.webSocketCreated"]
    gateway = urlsplit(dev_api.base).netloc
    elsewhere = [u for u in urls if urlsplit(u).scheme not in LOCAL_SCHEMES and urlsplit(u).netloc != gateway]
    assert not elsewhere, f"the page reached beyond the gateway: {elsewhere}"
    assert any(u.endswith("/graphql/assets/vendor/graphiql/graphiql.min.js") for u in urls), urls
    posts = [e["params"]["request"] for e in events if e["method"] == "Network.requestWillBeSent"
             and e["params"]["request"]["method"] == "POST"]
    assert posts and all(urlsplit(p["url"]).path == "/graphql" for p in posts), posts
    sent = [{k.lower(): v for k, v in p["headers"].items()}.get("authorization") for p in posts]
    assert f"Bearer {token}" in sent, f"the token was not sent: {posts}"
    # a CSP refusal or a script error shows up here
    errors = [e["message"] for e in chromium.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    print(f"GraphiQL browser test: {time.monotonic() - t0:.1f} s")

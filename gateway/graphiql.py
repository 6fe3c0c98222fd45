"""GraphiQL for dev/demo mode, served entirely by the gateway itself.

City networks are often air-gapped, so the page and every asset it loads (React, GraphiQL's
JS and CSS, whose fonts are inlined as data: URIs) come from ``gateway/static/graphiql``; the
page names no other host, and its Content-Security-Policy makes the browser refuse any other
host should a vendored file ever try one.
"""
from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from string import Template

from starlette.requests import Request
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from gateway.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent / "static" / "graphiql"
ASSETS_PATH = "/graphql/assets"
ASSETS_ROUTE = "graphiql-assets"

# 'self' only: the page may load and call nothing but this gateway. Inline styles are allowed because
# React and CodeMirror set style attributes; scripts are never inline (the page's own code is page.js).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def routes(settings: Settings) -> list[BaseRoute]:
    """The static asset mount, in dev/demo mode only: production serves no UI at all."""
    if not settings.dev_mode:
        return []
    # the template and README live in the same folder but are harmless to serve; the folder holds nothing else
    return [Mount(ASSETS_PATH, app=StaticFiles(directory=STATIC_DIR), name=ASSETS_ROUTE)]


@cache
def _template() -> Template:
    return Template((STATIC_DIR / "index.html").read_text(encoding="utf-8"))


# sent with the page: no caching of a page that differs per deployment, no MIME sniffing
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def render(request: Request) -> str:
    """The page's HTML (send it with ``HEADERS``)."""
    # paths, never absolute URLs: the page must work behind a proxy and name no host; root_path is the
    # proxy's prefix when the gateway is mounted below one
    root = request.scope.get("root_path", "").rstrip("/")
    return _template().substitute(assets=html.escape(root + ASSETS_PATH), endpoint=html.escape(root + "/graphql"))

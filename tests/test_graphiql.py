"""GraphiQL is served entirely by this server: the page and every asset it references."""

from __future__ import annotations

import re

import httpx
from conftest import LiveServer

ASSET = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)\"""")


def assets_of(html: str) -> list[str]:
    """Every script and stylesheet the page loads (the inline data: favicon aside)."""
    return [src for src in ASSET.findall(html) if not src.startswith("data:")]


def test_page_and_every_asset_load_from_this_server(live_server: LiveServer) -> None:
    page = httpx.get(f"{live_server.url}/graphql", headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = assets_of(page.text)
    assert len(assets) == 7, assets
    for src in assets:
        assert src.startswith("/graphql/static/"), f"{src} is not served by this server"
        response = httpx.get(f"{live_server.url}{src}", timeout=10)
        assert response.status_code == 200, src
        assert len(response.content) > 500, src


def test_page_names_no_other_host(live_server: LiveServer) -> None:
    page = httpx.get(f"{live_server.url}/graphql", headers={"Accept": "text/html"}, timeout=10)
    for attribute in re.findall(r"""\b(?:src|href)=["']([^"']+)""", page.text):
        assert not re.match(r"^(?:[a-z]+:)?//", attribute.strip()), attribute


def test_page_needs_no_key_but_queries_do(live_server: LiveServer) -> None:
    query = httpx.get(
        f"{live_server.url}/graphql", params={"query": "{ viewer { scopes } }"}, timeout=10
    )
    assert query.status_code == 401
    assert query.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_health_endpoints(live_server: LiveServer) -> None:
    assert httpx.get(f"{live_server.url}/healthz", timeout=5).json() == {"status": "ok"}
    ready = httpx.get(f"{live_server.url}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["database"] == "ok"

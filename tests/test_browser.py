"""GraphiQL in a real browser: Debian's Chromium, driven by tests/browser/graphiql.mjs.

The script (playwright-core, which never downloads a browser) opens GraphiQL on the live
server, types the API key into the Headers editor and a query into the query editor, clicks
the run button and waits for the result; it records every request the page makes. Without
`node` or /usr/bin/chromium the test is skipped locally, and fails in CI (CI=true) or when
CUSTOMERGRAPH_REQUIRE_SERVICES=1.

The helpers here (tools check, `npm ci`, bounded subprocess) are shared with
test_http_audit.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import ROOT, LiveServer, TenantHandle, make_tenant
from helpers import create_customer
from starlette.applications import Starlette

BROWSER_DIR = ROOT / "tests" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = ROOT / "test-output"
CUSTOMERS = ("Acme Corp", "Globex", "Initech")
QUERY = "{ viewer { tenant { name } } customers(first: 3) { totalCount nodes { displayName } } }"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def services_required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("CUSTOMERGRAPH_REQUIRE_SERVICES") == "1"


def require_tools(*, chromium: bool) -> str:
    """The path of `node`; skips (locally) or fails (CI) when a tool is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    missing = [name for name, path in (("node", node), ("npm", npm)) if path is None]
    if chromium and not os.access(CHROMIUM, os.X_OK):
        missing.append(str(CHROMIUM))
    if missing:
        message = f"missing {', '.join(missing)}: Node.js 20+ with npm, and for the browser test"
        message += " Debian's chromium (.ci/run installs it with apt-get)"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    assert node is not None
    return node


def run_bounded(
    args: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion within `timeout` seconds; on time-out it is terminated
    (SIGTERM, so a Node script closes its browser), then killed, and the test fails."""
    with subprocess.Popen(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                stdout, stderr = process.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            pytest.fail(f"{args[:2]} timed out after {timeout} s\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def npm_ci(directory: Path) -> None:
    """`npm ci` when node_modules is missing or older than package.json/package-lock.json
    (npm writes node_modules/.package-lock.json on every install)."""
    installed = directory / "node_modules" / ".package-lock.json"
    sources = [directory / "package.json", directory / "package-lock.json"]
    newest = max(source.stat().st_mtime for source in sources)
    if installed.exists() and installed.stat().st_mtime >= newest:
        return
    npm = shutil.which("npm")
    assert npm is not None
    result = run_bounded(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=directory,
        timeout=300,
    )
    assert result.returncode == 0, f"npm ci in {directory} failed:\n{result.stderr}"


def last_json_line(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON report in the script's output:\n{stdout}"
    report: dict[str, Any] = json.loads(lines[-1])
    return report


@pytest.fixture
async def graphiql_tenant(app: Starlette, client: httpx.AsyncClient) -> TenantHandle:
    """A fresh tenant with exactly three customers."""
    tenant = await make_tenant(app, client)
    for name in CUSTOMERS:
        await create_customer(tenant.api, displayName=name)
    return tenant


def test_graphiql_runs_a_query_in_chromium_with_no_foreign_request(
    live_server: LiveServer, graphiql_tenant: TenantHandle, backend: str
) -> None:
    node = require_tools(chromium=True)
    npm_ci(BROWSER_DIR)
    OUTPUT.mkdir(exist_ok=True)
    screenshot = OUTPUT / f"graphiql-{backend}.png"
    screenshot.unlink(missing_ok=True)

    result = run_bounded(
        [
            node,
            "graphiql.mjs",
            "--server",
            live_server.url,
            "--screenshot",
            str(screenshot),
            "--query",
            QUERY,
            "--expect-tenant",
            graphiql_tenant.name,
            "--expect-total-count",
            str(len(CUSTOMERS)),
            "--timeout-ms",
            "60000",
        ],
        cwd=BROWSER_DIR,
        env={"CUSTOMERGRAPH_API_KEY": graphiql_tenant.key},
        timeout=120,
    )
    report = last_json_line(result.stdout)
    context = f"exit {result.returncode}\nstderr:\n{result.stderr}\nreport: {report}"

    assert report["foreignRequests"] == [], context
    assert result.returncode == 0 and report["ok"] is True, context
    server_host = urlsplit(live_server.url).netloc
    urls = [request.split(" ", 1)[1] for request in report["requests"]]
    assert all(u.startswith("data:") or urlsplit(u).netloc == server_host for u in urls), urls
    assert any(r.startswith("POST ") for r in report["requests"]), report["requests"]

    body = report["result"]
    assert body is not None and "errors" not in body, report["resultText"]
    assert body["data"]["viewer"]["tenant"]["name"] == graphiql_tenant.name
    customers = body["data"]["customers"]
    assert customers["totalCount"] == len(CUSTOMERS)
    assert sorted(item["displayName"] for item in customers["nodes"]) == sorted(CUSTOMERS)

    assert screenshot.is_file(), context
    picture = screenshot.read_bytes()
    assert picture.startswith(PNG_SIGNATURE), "the screenshot is not a PNG"
    assert len(picture) > 10_000, f"the screenshot is only {len(picture)} bytes"

"""GET /console and its assets over HTTP: content types, caching and the Content-Security-Policy."""

from __future__ import annotations

from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration


def get(stack: Any, path: str, **headers: str) -> requests.Response:
    return requests.get(f"{stack.api_url}{path}", headers=headers, timeout=10)


def test_the_page_is_public_and_served_with_a_strict_csp(local_stack: Any) -> None:
    page = get(local_stack, "/console")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["Cache-Control"] == "no-cache"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    # No inline script or style, nothing from another origin
    assert "<script>" not in page.text and "<style" not in page.text and " style=" not in page.text
    assert "http://" not in page.text and "https://" not in page.text


@pytest.mark.parametrize(
    ("asset", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
def test_assets_have_their_content_type_and_revalidate_by_etag(local_stack: Any, asset: str, content_type: str) -> None:
    first = get(local_stack, f"/console/{asset}")
    assert first.status_code == 200 and first.headers["Content-Type"] == content_type
    assert first.headers["Cache-Control"] == "public, max-age=60, must-revalidate"
    again = get(local_stack, f"/console/{asset}", **{"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""


def test_the_scripts_never_parse_html_nor_eval(local_stack: Any) -> None:
    for asset in ("app.js", "api.js", "dom.js", "ui.js", "views.js", "charts.js"):
        text = get(local_stack, f"/console/{asset}").text
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert forbidden not in text, (asset, forbidden)
        assert "localStorage" not in text and "document.cookie" not in text, asset


@pytest.mark.parametrize("asset", ["nope.js", "..%2Froutes%2Fconsole.py", "__init__.py", "index.html", "App.js"])
def test_anything_else_is_a_404_envelope_with_its_request_id(local_stack: Any, asset: str) -> None:
    answer = get(local_stack, f"/console/{asset}")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "NOT_FOUND"
    assert answer.json()["requestId"] == answer.headers["X-Request-Id"]

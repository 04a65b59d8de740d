"""GET /console and GET /console/{asset}: the operator console's static page, scripts and styles.

Public, like /docs: the assets hold no data, and every call the console makes carries the operator's
own credential (docs/console.md). Served with a strict Content-Security-Policy (no inline script,
no eval, nothing from another origin) and an ETag, so a browser revalidates instead of refetching.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from gatehouse.errors import NotFoundError

ASSETS = Path(__file__).resolve().parent.parent / "console"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Flat names only: no path can climb out of the folder.
_ASSET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,60}\.(?:js|css|svg)")


@lru_cache(maxsize=32)
def _load(name: str) -> tuple[str, str]:
    body = (ASSETS / name).read_text(encoding="utf-8")
    return body, '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


def _serve(app: APIGatewayHttpResolver, name: str, cache_control: str) -> Response[str]:
    body, etag = _load(name)
    headers = {
        "Cache-Control": cache_control,
        "ETag": etag,
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    content_type = CONTENT_TYPES[Path(name).suffix]
    if_none_match = (app.current_event.headers or {}).get("if-none-match", "")
    if etag in [tag.strip() for tag in if_none_match.split(",")]:
        return Response(status_code=304, content_type=content_type, body="", headers=headers)
    return Response(status_code=200, content_type=content_type, body=body, headers=headers)


def mount_console(app: APIGatewayHttpResolver) -> None:
    """The page at /console, its assets at /console/<name>; anything else is a 404 envelope."""

    @app.get("/console", include_in_schema=False)
    def console_page() -> Response[str]:
        # The page names its assets; always revalidated so a deploy shows at once.
        return _serve(app, "index.html", "no-cache")

    @app.get("/console/<asset>", include_in_schema=False)
    def console_asset(asset: str) -> Response[str]:
        if not _ASSET_NAME.fullmatch(asset) or not (ASSETS / asset).is_file():
            raise NotFoundError("No such console asset.")
        return _serve(app, asset, "public, max-age=60, must-revalidate")

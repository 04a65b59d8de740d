"""The API functions driven in-process on real-shaped events: a real Redis, moto's DynamoDB, no HTTP."""

from __future__ import annotations

import importlib.util
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from moto import mock_aws

from gatehouse import wiring
from tests import stack_runs
from tests.helpers import FakeLambdaContext, http_event
from tests.unit.test_auth_key_store import create_table

ROOT = Path(__file__).resolve().parents[1]
TABLE = "gatehouse-inprocess"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def load_handler(function: str) -> Handler:
    """functions/<function>/app.py's lambda_handler, imported under a name of its own."""
    path = ROOT / "functions" / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"gatehouse_inprocess_{function}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.body!r})"


# Route keys as API Gateway names them for the paths these tests call (the rate-limit guard reads them).
_ROUTES = {
    ("PUT", "overrides"): "PUT /v1/ratelimit/overrides/{subject}",
    ("GET", "overrides"): "GET /v1/ratelimit/overrides/{subject}",
    ("DELETE", "overrides"): "DELETE /v1/ratelimit/overrides/{subject}",
    ("GET", "usage"): "GET /v1/ratelimit/usage/{subject}",
}


class InProcessApi:
    """Calls the ratelimit and keys functions as API Gateway would after the authorizer allowed the call."""

    def __init__(self) -> None:
        self.handlers = {"ratelimit": load_handler("ratelimit"), "keys": load_handler("keys")}

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw_body: str | None = None,
        principal: str | None = None,
        tier: str = "enterprise",
        scopes: str = "admin",
    ) -> Answer:
        parts = path.split("?", 1)[0].strip("/").split("/")
        function = "keys" if parts[1] in ("keys", "me") else "ratelimit"
        route_key, path_parameters = f"{method} {path}", None
        if function == "ratelimit" and len(parts) == 4:
            route_key = _ROUTES[(method, parts[2])]
            path_parameters = {"subject": parts[3]}
        context = {
            "principalId": principal or f"inproc-{uuid.uuid4().hex[:12]}",
            "ownerId": "org-inprocess",
            "authType": "jwt",
            "tier": tier,
            "scopes": scopes,
        }
        event = http_event(
            method,
            path.split("?", 1)[0],
            query=path.split("?", 1)[1] if "?" in path else "",
            route_key=route_key,
            body=body,
            raw_body=raw_body,
            path_parameters=path_parameters,
            authorizer=context,
        )
        if raw_body is not None:
            event["headers"]["content-type"] = "application/json"
        response = self.handlers[function](event, FakeLambdaContext())
        text = response.get("body") or ""
        return Answer(response["statusCode"], response.get("headers") or {}, json.loads(text) if text else None)

    def check(self, body: Any, **kwargs: Any) -> Answer:
        return self.call("POST", "/v1/ratelimit/check", body=body, **kwargs)

    def put_override(self, subject: str, body: Any, **kwargs: Any) -> Answer:
        return self.call("PUT", f"/v1/ratelimit/overrides/{quote(subject, safe='')}", body=body, **kwargs)


@contextmanager
def inprocess_api(redis_url: str, extra_env: dict[str, str] | None = None) -> Iterator[InProcessApi]:
    """The functions wired to `redis_url` and a fresh moto table; everything is forgotten afterwards.

    A local stack's scheduled runs are held meanwhile (tests/stack_runs.py): they would run on this
    environment and moto's in-process mock."""
    with stack_runs.scheduled_runs_held(), pytest.MonkeyPatch.context() as patch:
        # A local stack of the same session may have set these process-wide; moto's mock holds no secret.
        for name in (
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_DYNAMODB",
            "RATELIMIT_POLICIES",
            "AWS_PROFILE",
            "API_KEY_PEPPER_SECRET_ID",
            "REDIS_AUTH_SECRET_ID",
        ):
            patch.delenv(name, raising=False)
        env = {
            "REDIS_URL": redis_url,
            "TABLE_NAME": TABLE,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            **(extra_env or {}),
        }
        for name, value in env.items():
            patch.setenv(name, value)
        with mock_aws():
            create_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
            wiring.reset()
            try:
                yield InProcessApi()
            finally:
                wiring.reset()

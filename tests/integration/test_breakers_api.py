"""GET /v1/breakers, POST /v1/breakers/{name}/isolate and /reset: functions/breakers/app.py driven in-process
on real-shaped events, against the real Redis (moto's DynamoDB for the rate-limit overrides)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from local.ports import free_port
from tests.helpers import FakeLambdaContext, http_event
from tests.inprocess import Answer, inprocess_api, load_handler

ADMIN = "admin"


class BreakersApi:
    def __init__(self) -> None:
        self.handler = load_handler("breakers")

    def call(self, method: str, path: str, *, scopes: str = ADMIN, query: str = "") -> Answer:
        parts = path.strip("/").split("/")
        route_key = f"{method} /v1/breakers" if len(parts) == 2 else f"{method} /v1/breakers/{{name}}/{parts[3]}"
        event = http_event(
            method,
            path,
            route_key=route_key,
            query=query,
            path_parameters={"name": parts[2]} if len(parts) == 4 else None,
            authorizer={
                "principalId": "ops",
                "ownerId": "ops",
                "authType": "jwt",
                "tier": "enterprise",
                "scopes": scopes,
            },
        )
        response = self.handler(event, FakeLambdaContext())
        return Answer(response["statusCode"], response.get("headers") or {}, json.loads(response.get("body") or "null"))

    def isolate(self, name: str, **kwargs: Any) -> Answer:
        return self.call("POST", f"/v1/breakers/{quote(name, safe='')}/isolate", **kwargs)

    def reset(self, name: str, **kwargs: Any) -> Answer:
        return self.call("POST", f"/v1/breakers/{quote(name, safe='')}/reset", **kwargs)

    def all_pages(self, limit: int) -> list[dict[str, Any]]:
        items, cursor = [], None
        while True:
            query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            answer = self.call("GET", "/v1/breakers", query=query)
            assert answer.status == 200, answer
            items += answer.body["items"]
            cursor = answer.body["nextCursor"]
            if cursor is None:
                return items


@pytest.fixture
def api(redis_url: str) -> Iterator[BreakersApi]:
    with inprocess_api(redis_url):
        yield BreakersApi()


def test_isolate_then_reset_a_breaker(api):
    name = f"hooks-{uuid.uuid4().hex[:8]}.example.com:443"
    isolated = api.isolate(name)
    assert isolated.status == 200, isolated
    assert isolated.body["name"] == name and isolated.body["state"] == "isolated"
    assert isolated.headers["X-Request-Id"] and "RateLimit" in isolated.headers
    listed = {b["name"]: b for b in api.all_pages(100)}
    assert listed[name]["state"] == "isolated"
    reset = api.reset(name)
    assert (reset.status, reset.body["state"]) == (200, "closed")
    assert reset.body["generation"] == isolated.body["generation"] + 1
    assert reset.body["window"] == {"calls": 0, "failures": 0, "failureRatePercent": None}


def test_a_name_with_brackets_and_colons_round_trips(api):
    name = f"[2001:db8::{uuid.uuid4().hex[:4]}]:8443"
    assert api.isolate(name).body["name"] == name
    assert api.reset(name).status == 200


def test_every_page_of_the_list_in_name_order_each_breaker_once(api):
    prefix = f"page-{uuid.uuid4().hex[:8]}"
    for n in range(5):
        assert api.isolate(f"{prefix}-{n}:443").status == 200
    names = [b["name"] for b in api.all_pages(2)]
    assert names == sorted(names) and len(names) == len(set(names))
    assert [n for n in names if n.startswith(prefix)] == [f"{prefix}-{n}:443" for n in range(5)]
    for n in range(5):
        api.reset(f"{prefix}-{n}:443")


def test_breakers_are_for_admins_only(api):
    for answer in (
        api.call("GET", "/v1/breakers", scopes="keys:read ratelimit:admin"),
        api.isolate("x.example.com:443", scopes="webhooks:admin"),
        api.reset("x.example.com:443", scopes="keys:write"),
    ):
        assert answer.status == 403 and answer.body["error"]["code"] == "AUTHORIZATION_ERROR"


@pytest.mark.parametrize("name", ["a{b}", "a b", "x" * 301, "évian:443", "a\u0000b"])
def test_a_name_that_is_not_a_breaker_name_is_a_400(api, name):
    for answer in (api.isolate(name), api.reset(name)):
        assert answer.status == 400, answer
        assert answer.body["error"]["code"] == "VALIDATION_ERROR"
        assert answer.body["error"]["details"][0]["field"] == "name"


def test_resetting_a_breaker_nobody_used_is_a_404(api):
    answer = api.reset(f"never-{uuid.uuid4().hex}:443")
    assert answer.status == 404 and answer.body["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("query", ["cursor=%%%", "cursor=e30", "limit=0", "limit=101", "limit=x"])
def test_a_bad_page_request_is_a_400(api, query):
    answer = api.call("GET", "/v1/breakers", query=query)
    assert answer.status == 400 and answer.body["error"]["code"] == "VALIDATION_ERROR"


def test_with_redis_down_the_routes_answer_503_never_500():
    with inprocess_api(f"redis://127.0.0.1:{free_port()}/0"):
        api = BreakersApi()
        for answer in (api.call("GET", "/v1/breakers"), api.isolate("x.example.com:443"), api.reset("x:443")):
            assert answer.status == 503, answer
            assert answer.body["error"]["code"] == "SERVICE_UNAVAILABLE"
            assert "redis" not in json.dumps(answer.body).lower()

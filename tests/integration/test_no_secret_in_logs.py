"""A focused run of the session's log check: a key, a token and a webhook secret used, then the logs grepped."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from tests import secret_log_guard
from tests.helpers import FakeLambdaContext, http_event
from tests.inprocess import inprocess_api, load_handler


@pytest.fixture
def captured() -> Iterator[list[str]]:
    handler = secret_log_guard.CapturingHandler(level=logging.DEBUG)
    start = len(secret_log_guard.LINES)
    logging.getLogger("gatehouse").addHandler(handler)
    try:
        yield secret_log_guard.LINES
    finally:
        logging.getLogger("gatehouse").removeHandler(handler)
        del secret_log_guard.LINES[start:]


def test_a_created_key_and_the_calls_around_it_log_no_secret(redis_url: str, captured: list[str]) -> None:
    with inprocess_api(redis_url, {"POWERTOOLS_LOG_LEVEL": "DEBUG"}) as api:
        # Given: a key created and then used as the principal of failing and succeeding calls
        created = api.call("POST", "/v1/keys", body={"name": "log-check", "scopes": ["keys:read"]})
        assert created.status == 201, created
        secret = created.body["key"]
        assert secret in secret_log_guard.SECRETS  # the wrapped generator remembered it
        for body in ({"subject": secret}, {"subject": ""}, "not json"):
            api.check(body)
        handler = load_handler("keys")
        event = http_event(
            "GET", "/v1/me", headers={"authorization": f"Bearer {secret}"}, authorizer={"principalId": "x"}
        )
        handler(event, FakeLambdaContext())  # a malformed principal context: refused and logged
    # Then: lines were logged, and none holds the key
    assert captured
    assert not [line for line in captured if secret in line]
    assert not secret_log_guard.leaks()
    assert json.dumps(created.body).count(secret) == 1

"""A callback receiver's hostile Retry-After, or a malformed bus message, is unreadable, never a crash."""

from __future__ import annotations

import pytest

from gatehouse.callbacks.consumer import claim_of
from gatehouse.resilience.retries import parse_retry_after


@pytest.mark.parametrize("value", ["²", "9" * 400, "1" * 5000, "١٢"])
def test_an_unreadable_retry_after_is_none(value):
    assert parse_retry_after(value) is None


def test_a_retry_after_in_seconds_still_reads():
    assert parse_retry_after(" 30 ") == 30.0


def test_a_deeply_nested_message_is_malformed_not_a_crash():
    assert claim_of('{"detail":' + "[" * 100_000 + "]" * 100_000 + "}") is None

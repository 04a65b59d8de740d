"""Event history on DynamoDB Local: newest first by source, status or neither; filters; strict cursors; views."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest

from gatehouse.clients.dynamo import dynamodb_client
from gatehouse.errors import ValidationError
from gatehouse.webhooks.dynamo import DynamoEventStore
from gatehouse.webhooks.event_service import WebhookEventsService
from gatehouse.webhooks.records import FAILED, PROCESSED, RECEIVED, EventFilter, WebhookEvent, event_id_for
from gatehouse.webhooks.views import WebhookEventDetail
from tests.integration.webhooks_support import private_table

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def history(local_stack):
    store = DynamoEventStore(dynamodb_client(), private_table(local_stack))
    events = []
    for n in range(12):
        status = (RECEIVED, PROCESSED, FAILED)[n % 3]
        event = WebhookEvent(
            id=event_id_for("a" if n % 2 else "b", f"d{n}"),
            source="a" if n % 2 else "b",
            delivery_id=f"d{n}",
            event_type="even" if n % 2 == 0 else "odd",
            status=status,
            received_at=f"2026-01-01T00:00:{n:02d}Z",
            body=b"\xff\x00binary" if n == 0 else b"{}",
            headers={"content-type": "application/json"},
            expires_at=2_000_000_000,
        )
        assert store.accept(event)
        if status != RECEIVED:  # move it to its status partition as processing would
            store.claim(event.id, 1, "t", 0, 60)
            if status == PROCESSED:
                store.complete(event.id, "t", 0)
            else:
                store.fail(event.id, "t", 0, "x", final=True)
        events.append(replace(event, status=status))
    return WebhookEventsService(store, retention_seconds=4 * 86400), store, events


def _all_pages(service, wanted, limit):
    ids, cursor, pages = [], None, 0
    while True:
        page = service.list_events(wanted, limit, cursor)
        ids += [e.id for e in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None or pages > 50:
            return ids


def _newest_first(events):
    return [e.id for e in sorted(events, key=lambda e: e.received_at, reverse=True)]


@pytest.mark.parametrize("limit", [1, 2, 5, 100])
def test_every_view_pages_through_each_event_once_newest_first(history, limit):
    service, _, events = history
    assert _all_pages(service, EventFilter(source="a"), limit) == _newest_first([e for e in events if e.source == "a"])
    assert _all_pages(service, EventFilter(status=FAILED), limit) == _newest_first(
        [e for e in events if e.status == FAILED]
    )
    assert _all_pages(service, EventFilter(), limit) == _newest_first(events)
    assert _all_pages(service, EventFilter(source="b", status=PROCESSED), limit) == _newest_first(
        [e for e in events if e.source == "b" and e.status == PROCESSED]
    )
    assert _all_pages(service, EventFilter(event_type="odd"), limit) == _newest_first(
        [e for e in events if e.event_type == "odd"]
    )


def _cursor(state):
    return base64.urlsafe_b64encode(json.dumps(state).encode()).rstrip(b"=").decode()


def test_forged_cursors_are_refused(history):
    service = history[0]
    page = service.list_events(EventFilter(source="a"), 2)
    good = json.loads(base64.urlsafe_b64decode(page.next_cursor + "=" * (-len(page.next_cursor) % 4)))
    key = good["p"]["WHSRC#a"]
    forged = [
        "not base64 !!",
        _cursor([1, 2]),
        _cursor({"p": {"WHSRC#b": key}}),  # another list
        _cursor({"p": {"WHSRC#a": {**key, "gsi1pk": "WHSRC#b"}}}),
        _cursor({"p": {"WHSRC#a": {**key, "pk": "KEY#key_1"}}}),
        _cursor({"p": {"WHSRC#a": {**key, "extra": "x"}}}),
        _cursor({"p": {"WHSRC#a": {**key, "gsi1sk": "2026-01-01T00:00:00Z#whe_aaaaaaaaaaaaaaaaaaaaaaaaaa"}}}),
        _cursor({"p": {"WHSRC#a": "x"}}),
    ]
    for cursor in forged:
        with pytest.raises(ValidationError):
            service.list_events(EventFilter(source="a"), 2, cursor)
    with pytest.raises(ValidationError):
        service.list_events(EventFilter(status=RECEIVED), 2, page.next_cursor)  # a cursor of another list


def test_the_detail_shows_a_binary_body_as_base64(history):
    service, _, events = history
    detail = WebhookEventDetail.from_event(service.get_event(events[0].id)).to_public()
    assert detail["bodyEncoding"] == "base64" and base64.b64decode(detail["body"]) == b"\xff\x00binary"
    assert detail["status"] == RECEIVED and detail["bodyBytes"] == 8

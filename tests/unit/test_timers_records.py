"""The timers' pure rules: deliveries, schedule names, shards, strict cursors, and the merge across shards."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatehouse.errors import ValidationError
from gatehouse.timers.records import (
    INDEX_MAX,
    PENDING,
    TIMER_SHARDS,
    IndexPage,
    ShardCursor,
    Timer,
    TimerDelivery,
    index_key,
    merge_shard_pages,
    new_timer_id,
    schedule_name,
    shard_of,
)


def timer(due_at: int, timer_id: str | None = None) -> Timer:
    return Timer(
        timer_id=timer_id or new_timer_id(),
        owner_kind="campaign",
        owner_id="cmp_x",
        timer_type="START",
        status=PENDING,
        scheduled_at=due_at,
        due_at=due_at,
        generation=1,
        version=1,
        max_retries=3,
        created_at=0,
        updated_at=0,
    )


def test_a_delivery_round_trips_through_its_schedule_input():
    t = timer(1_800_000_000)
    payload = TimerDelivery.for_timer(t).schedule_input()
    assert payload["executionId"] == "<aws.scheduler.execution-id>"  # Scheduler fills it in per attempt
    payload["executionId"] = "d32c5kddcf5bb8c3"
    parsed = TimerDelivery.parse(json.dumps(payload))
    assert (parsed.timer_id, parsed.owner_kind, parsed.owner_id, parsed.generation) == (
        t.timer_id,
        "campaign",
        "cmp_x",
        1,
    )
    assert parsed.execution_id == "d32c5kddcf5bb8c3"


@pytest.mark.parametrize(
    "event",
    [
        None,
        "not json",
        [],
        {},
        {"timerId": "tmr_x", "ownerKind": "campaign", "ownerId": "c", "generation": 1},
        {"timerId": "tmr_" + "a" * 20, "ownerKind": "Campaign", "ownerId": "c", "generation": 1},
        {"timerId": "tmr_" + "a" * 20, "ownerKind": "campaign", "ownerId": "c#d", "generation": 1},
        {"timerId": "tmr_" + "a" * 20, "ownerKind": "campaign", "ownerId": "c", "generation": True},
        {"timerId": "tmr_" + "a" * 20, "ownerKind": "campaign", "ownerId": "c", "generation": "1"},
        {"timerId": "tmr_" + "a" * 20, "ownerKind": "campaign", "ownerId": "c", "generation": 0},
    ],
)
def test_anything_else_is_not_a_delivery(event):
    with pytest.raises(ValueError):
        TimerDelivery.parse(event)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
)


@given(JSON)
def test_parsing_any_json_either_succeeds_or_raises_value_error(value):
    with contextlib.suppress(ValueError):
        TimerDelivery.parse(value)


def test_schedule_names_are_deterministic_short_and_per_generation():
    tid = new_timer_id()
    assert schedule_name(tid, 1) == schedule_name(tid, 1) != schedule_name(tid, 2)
    assert len(schedule_name(tid, 999_999)) <= 64


def test_timer_ids_spread_over_every_shard():
    shards = [shard_of(new_timer_id()) for _ in range(4000)]
    counts = [shards.count(n) for n in range(TIMER_SHARDS)]
    assert min(counts) > 4000 / TIMER_SHARDS / 2  # none starved, none hot


def test_index_keys_sort_by_time_then_id():
    assert index_key(1_800_000_000, "tmr_b") < index_key(1_800_000_001, "tmr_a") < INDEX_MAX


def test_a_cursor_round_trips_and_only_for_its_own_list():
    cursor = ShardCursor("pending", INDEX_MAX).advanced(3, index_key(1_800_000_000, "tmr_" + "a" * 20), done=False)
    cursor = cursor.advanced(5, None, done=True)
    assert ShardCursor.decode(cursor.encode(), "pending") == cursor
    with pytest.raises(ValidationError):
        ShardCursor.decode(cursor.encode(), "overdue")


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "forged",
    [
        "!!!",
        _b64([1, 2]),
        _b64({"k": "pending", "b": INDEX_MAX}),
        _b64({"k": "pending", "b": INDEX_MAX, "p": [None] * (TIMER_SHARDS - 1)}),
        _b64({"k": "pending", "b": "zzz", "p": [None] * TIMER_SHARDS}),
        _b64({"k": "pending", "b": INDEX_MAX, "p": ["2026-01-01T00:00:00Z#tmr_x"] + [None] * (TIMER_SHARDS - 1)}),
        _b64({"k": "pending", "b": INDEX_MAX, "p": [7] + [None] * (TIMER_SHARDS - 1)}),
        # a position beyond the walk's own bound (an overdue list cannot be stretched into the future)
        _b64(
            {
                "k": "overdue",
                "b": index_key(1_700_000_000, "tmr_" + "a" * 20),
                "p": [index_key(1_900_000_000, "tmr_" + "a" * 20)] + [None] * (TIMER_SHARDS - 1),
            }
        ),
        "a" * 5000,
    ],
)
def test_forged_cursors_are_a_400(forged):
    kind = "overdue" if "overdue" in base64.urlsafe_b64decode(forged + "===").decode(errors="ignore") else "pending"
    with pytest.raises(ValidationError) as refusal:
        ShardCursor.decode(forged, kind)
    assert refusal.value.details == [{"field": "cursor", "message": "invalid"}]


@settings(max_examples=60, deadline=None)
@given(
    dues=st.lists(st.integers(min_value=1_800_000_000, max_value=1_800_000_500), min_size=0, max_size=60),
    limit=st.integers(min_value=1, max_value=9),
)
def test_merging_shard_pages_walks_every_timer_once_in_order(dues, limit):
    timers = sorted((timer(d) for d in dues), key=lambda t: t.index_key)
    by_shard = {s: [t for t in timers if t.shard == s] for s in range(TIMER_SHARDS)}

    def page(shard: int, after: str | None) -> IndexPage:  # what DynamoDB answers for one shard
        rest = [t for t in by_shard[shard] if after is None or t.index_key > after]
        return IndexPage(rest[:limit], len(rest) > limit)

    cursor: ShardCursor | None = ShardCursor("pending", INDEX_MAX)
    walked: list[Timer] = []
    for _ in range(500):
        assert cursor is not None
        pages = {s: page(s, cursor.after(s)) for s in range(TIMER_SHARDS) if not cursor.done(s)}
        got, cursor = merge_shard_pages(cursor, pages, limit)
        assert len(got) <= limit
        walked.extend(got)
        if cursor is None:
            break
    assert [t.timer_id for t in walked] == [t.timer_id for t in timers]

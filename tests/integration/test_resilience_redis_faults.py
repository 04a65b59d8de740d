"""When Redis itself fails, the fleet breaker keeps deciding: an error reply (OOM, READONLY) or a dead
server is an outage, the in-process breaker takes over, and decisions go back to Redis once it answers.

The faults are made on a redis-server of this module's own, so no other test sees them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from gatehouse.resilience.errors import BreakerOpenError
from gatehouse.resilience.fleet import FleetBreaker
from gatehouse.resilience.local_breaker import LocalBreaker
from gatehouse.resilience.records import BreakerConfig, BreakerStoreUnavailable, FleetState
from gatehouse.resilience.redis_breaker import RedisBreakerStore
from gatehouse.resilience.reporting import RecordingSink
from local.redis_server import RedisServer

CONFIG = BreakerConfig(minimum_calls=3, failure_rate_percent=100, open_ms=60_000, local_failures=2)


@pytest.fixture
def server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


def client_for(server: RedisServer) -> redis.Redis:
    return redis.Redis.from_url(server.url, socket_connect_timeout=0.2, socket_timeout=0.5)


def failing() -> None:
    raise RuntimeError("downstream failed")


def test_an_out_of_memory_reply_is_an_outage_and_the_in_process_breaker_decides(server):
    control = client_for(server)
    store = RedisBreakerStore(client_for(server))
    name = f"oom-{uuid.uuid4().hex[:8]}"
    store.acquire(name, CONFIG)  # the script is cached before memory runs out
    control.config_set("maxmemory-policy", "noeviction")
    control.config_set("maxmemory", 1)
    try:
        admission = store.acquire(name, CONFIG)  # a read: Redis still answers it
        with pytest.raises(BreakerStoreUnavailable) as outage:
            store.record(name, CONFIG, admission, success=False)
        assert outage.value.reason == "OOM"

        # Reads answer, writes fail: an outcome Redis cannot count opens the guard around Redis at once
        # and goes to the in-process breaker, which opens after local_failures of them.
        fleet = FleetBreaker(lambda: RedisBreakerStore(client_for(server)), RecordingSink(), default_config=CONFIG)
        with pytest.raises(RuntimeError):
            fleet.call(name, failing)
        assert not fleet.store_reachable
        with pytest.raises(RuntimeError):
            fleet.call(name, failing)
        with pytest.raises(BreakerOpenError):
            fleet.acquire(name)
    finally:
        control.config_set("maxmemory", 0)


def test_a_dead_redis_hands_over_to_the_in_process_breaker_and_back(server):
    clock = [0.0]
    fleet = FleetBreaker(
        lambda: RedisBreakerStore(client_for(server)),
        RecordingSink(),
        default_config=CONFIG,
        store_guard=LocalBreaker(clock=lambda: clock[0]),
        clock=lambda: clock[0],
    )
    name = f"dead-{uuid.uuid4().hex[:8]}"
    fleet.call(name, lambda: None)
    server.stop()
    # Redis is gone: the downstream is still protected, per instance, and after three refused
    # connections nobody tries Redis until the guard probes it again.
    for _ in range(CONFIG.local_failures):
        with pytest.raises(RuntimeError):
            fleet.call(name, failing)
    with pytest.raises(BreakerOpenError):
        fleet.acquire(name)
    assert not fleet.store_reachable

    server.start()
    clock[0] += 10.0  # the guard around Redis probes again
    sink = RecordingSink()
    fleet.sink = sink
    for _ in range(CONFIG.minimum_calls):
        with pytest.raises(RuntimeError):
            fleet.call(name, failing)
    assert fleet.store_reachable
    assert [t.to_state for t in sink.transitions] == [FleetState.OPEN]  # decided on Redis again


def test_a_damaged_breaker_key_is_no_decision_from_redis_and_is_logged_not_raised(server, caplog):
    # Given a breaker whose state key holds the wrong type (a bug elsewhere, or a hand edit)
    control = client_for(server)
    name = f"wrongtype-{uuid.uuid4().hex[:8]}"
    control.lpush(f"gh:br:{{{name}}}", "not a hash")
    store = RedisBreakerStore(client_for(server))
    # When the store is asked, Then the WRONGTYPE reply is the store failing to decide, not an
    # exception of redis-py's reaching the caller (an admin route answered 500 with it)
    with caplog.at_level("ERROR", logger="gatehouse.resilience.redis_breaker"):
        with pytest.raises(BreakerStoreUnavailable) as failure:
            store.acquire(name, CONFIG)
        with pytest.raises(BreakerStoreUnavailable):
            store.snapshots([name], CONFIG)
    assert failure.value.reason == "WRONGTYPE"
    assert [r.reply for r in caplog.records if r.getMessage() == "breaker store error reply"][:1] == ["WRONGTYPE"]
    # And the fleet breaker still protects the downstream, deciding in process
    fleet = FleetBreaker(lambda: RedisBreakerStore(client_for(server)), RecordingSink(), default_config=CONFIG)
    assert [fleet.call(name, lambda: "answered") for _ in range(3)] == ["answered"] * 3


def test_a_damaged_breaker_key_read_in_a_pipeline_is_logged_by_its_reply_code(server, caplog):
    # Given a damaged breaker key, read the way GET /v1/breakers reads them (snapshots: a pipeline)
    control = client_for(server)
    name = f"wrongtype-{uuid.uuid4().hex[:8]}"
    control.lpush(f"gh:br:{{{name}}}", "not a hash")
    store = RedisBreakerStore(client_for(server))
    # When the store is asked
    with (
        caplog.at_level("ERROR", logger="gatehouse.resilience.redis_breaker"),
        pytest.raises(BreakerStoreUnavailable) as failure,
    ):
        store.snapshots([name], CONFIG)
    # Then the reason and the log name the reply (WRONGTYPE), not the first word of redis-py's
    # pipeline annotation ("Command # 1 (EVALSHA ... <keys>) of pipeline caused error: ...")
    assert failure.value.reason == "WRONGTYPE"
    assert [r.reply for r in caplog.records if r.getMessage() == "breaker store error reply"] == ["WRONGTYPE"]


@pytest.mark.parametrize("reply", [None, 5, [b"x"], b"", b"z,1,2,3,-", b"c,x,1,2,-", b"c,1,2,3,Q:bad"])
def test_a_reply_the_script_could_not_have_written_is_no_decision_not_a_500(server, reply, caplog):
    # Given a store whose every script reply is one the breaker script never writes (a damaged script,
    # a stranger answering on the port)
    store = RedisBreakerStore(client_for(server))
    store._guarded = lambda call: reply  # type: ignore[method-assign]
    name = f"garbled-{uuid.uuid4().hex[:8]}"
    # Then every read, the operators' included (isolate, reset, GET /v1/breakers), is the store not
    # deciding, which the routes and the fleet breaker already answer, and it is logged
    with caplog.at_level("ERROR", logger="gatehouse.resilience.redis_breaker"):
        for read in (
            lambda: store.acquire(name, CONFIG),
            lambda: store.isolate(name, CONFIG),
            lambda: store.reset(name, CONFIG),
            lambda: store.snapshots([name], CONFIG),
        ):
            with pytest.raises(BreakerStoreUnavailable) as failure:
                read()
            assert failure.value.reason == "reply"
    assert any(r.getMessage() == "breaker store reply unreadable" for r in caplog.records)

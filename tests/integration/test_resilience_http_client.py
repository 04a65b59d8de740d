"""The outbound client against real sockets on 127.0.0.1: redirects re-checked at every hop, the address
pinned (plain and TLS), timeouts, retries with Retry-After, idempotency, the breaker per destination."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
import redis

from gatehouse.resilience.errors import (
    BreakerOpenError,
    DestinationRefused,
    OutboundError,
    ResponseTooLarge,
    TransportError,
)
from gatehouse.resilience.fleet import FleetBreaker
from gatehouse.resilience.http_client import OutboundClient
from gatehouse.resilience.records import BreakerConfig
from gatehouse.resilience.redis_breaker import RedisBreakerStore
from gatehouse.resilience.reporting import RecordingSink
from gatehouse.resilience.retries import Deadline, RetryPolicy
from gatehouse.resilience.ssrf import AddressPolicy
from tests.downstream import Downstream, Reply, tls_for

ONLY_THIS_LOOPBACK = AddressPolicy.from_setting("127.0.0.1/32")


class Resolver:
    """A DNS of the test's own: a name answers its list; each answer once when `rebind` lists more."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        turns = self.answers[host]
        return turns.pop(0) if len(turns) > 1 else turns[0]


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def downstream() -> Iterator[Downstream]:
    server = Downstream().start()
    yield server
    server.stop()


def client(
    policy: AddressPolicy = ONLY_THIS_LOOPBACK, resolver=None, *, sleeps: Sleeps | None = None, **kwargs
) -> OutboundClient:
    return OutboundClient(
        kwargs.pop("breaker", None),
        policy,
        resolver=resolver or Resolver({}),
        sleep=sleeps if sleeps is not None else Sleeps(),
        **kwargs,
    )


# -- SSRF on every hop ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.2:{port}/",  # loopback, but not the one allowed
        "http://[::1]:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/",
        "http://evil.test/",  # resolves to a private address
        "http://0.0.0.0:{port}/",
        "http://[::ffff:10.0.0.8]/",
    ],
)
def test_a_redirect_to_a_refused_address_is_refused(downstream, location):
    downstream.routes["/hop"] = Reply(302, {"Location": location.format(port=downstream.port)})
    resolver = Resolver({"evil.test": [["10.9.9.9"]]})
    with pytest.raises(DestinationRefused):
        client(resolver=resolver).request("GET", downstream.url("/hop"))
    assert downstream.hits() == 1  # the first hop only


def test_a_redirect_to_127_0_0_1_is_refused_when_only_another_address_is_allowed():
    # The downstream on 127.0.0.2 (allowed), redirecting to 127.0.0.1 (loopback, not allowed).
    server = Downstream(host="127.0.0.2").start()
    try:
        server.routes["/hop"] = Reply(302, {"Location": f"http://127.0.0.1:{server.port}/"})
        with pytest.raises(DestinationRefused) as refused:
            client(AddressPolicy.from_setting("127.0.0.2/32")).request("GET", server.url("/hop"))
        assert "loopback" in refused.value.reason and server.hits() == 1
    finally:
        server.stop()


def test_a_redirect_allowed_by_configuration_is_followed(downstream):
    downstream.routes["/hop"] = Reply(307, {"Location": f"http://internal.test:{downstream.port}/there"})
    downstream.routes["/there"] = Reply(200, body=b"arrived")
    resolver = Resolver({"internal.test": [["127.0.0.1"]]})
    response = client(resolver=resolver).request("GET", downstream.url("/hop"))
    assert (response.status, response.body) == (200, b"arrived")
    assert downstream.seen[-1].headers["host"] == f"internal.test:{downstream.port}"
    with pytest.raises(DestinationRefused):  # the same redirect, with loopback not allowed
        client(AddressPolicy(), resolver=resolver).request("GET", downstream.url("/hop", host="internal.test"))


def test_the_checked_address_is_the_one_connected_to_and_the_name_stays_in_host(downstream):
    # A rebinding DNS: public-looking first (here the allowed loopback), private afterwards. The client
    # asks once per hop and connects to that answer; the system resolver has never heard of the name.
    resolver = Resolver({"rebind.test": [["127.0.0.1"], ["10.0.0.9"]]})
    outbound = client(resolver=resolver)
    response = outbound.request("GET", downstream.url("/", host="rebind.test"))
    assert response.status == 200 and resolver.asked == ["rebind.test"]
    assert downstream.seen[-1].headers["host"] == f"rebind.test:{downstream.port}"
    with pytest.raises(DestinationRefused):  # the next request resolves again, and is judged again
        outbound.request("GET", downstream.url("/", host="rebind.test"))


def test_tls_goes_to_the_pinned_address_with_sni_and_the_certificate_checked_for_the_name(tmp_path: Path):
    certs = tls_for("callback.test", tmp_path)
    server = Downstream(certs.server_context).start()
    try:
        resolver = Resolver({"callback.test": [["127.0.0.1"]], "other.test": [["127.0.0.1"]]})
        outbound = client(resolver=resolver, ca_certs=str(certs.ca_file))
        response = outbound.request("GET", server.url("/hook", host="callback.test"))
        assert response.status == 200
        assert server.seen[-1].server_name == "callback.test"
        assert server.seen[-1].headers["host"] == f"callback.test:{server.port}"
        # The same address under a name the certificate does not hold: refused by the TLS check.
        with pytest.raises(TransportError) as failure:
            client(resolver=resolver, ca_certs=str(certs.ca_file), retry=RetryPolicy(max_attempts=1)).request(
                "GET", server.url("/hook", host="other.test")
            )
        assert "TLS" in failure.value.reason
    finally:
        server.stop()


# -- timeouts and the deadline ------------------------------------------------------------------------------
def test_a_read_timeout_is_a_transport_error(downstream):
    downstream.routes["/slow"] = Reply(delay=1.0)
    with pytest.raises(TransportError) as failure:
        client(read_timeout_s=0.2, retry=RetryPolicy(max_attempts=1)).request("GET", downstream.url("/slow"))
    assert failure.value.timeout and failure.value.sent


def test_the_deadline_shortens_the_read_timeout(downstream):
    downstream.routes["/slow"] = Reply(delay=1.0)
    with pytest.raises(TransportError):
        client(read_timeout_s=30).request("GET", downstream.url("/slow"), deadline=Deadline.after(0.2))
    assert downstream.hits("/slow") == 1  # and no retry could fit in what was left


# -- retries ---------------------------------------------------------------------------------------------------
def test_an_idempotent_request_is_retried_on_5xx_with_full_jitter(downstream):
    downstream.routes["/flaky"] = [Reply(503), Reply(502), Reply(200, body=b"fine")]
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=3, base_delay_s=0.1, max_delay_s=1.0)
    response = client(sleeps=sleeps, retry=policy).request("GET", downstream.url("/flaky"))
    assert (response.status, response.attempts, downstream.hits("/flaky")) == (200, 3, 3)
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.2


def test_a_post_without_an_idempotency_key_is_not_retried(downstream):
    downstream.routes["/charge"] = Reply(503)
    response = client().request("POST", downstream.url("/charge"), body=b"{}")
    assert (response.status, response.attempts, downstream.hits("/charge")) == (503, 1, 1)


@pytest.mark.parametrize("header", ["Idempotency-Key", "webhook-id"])
def test_a_post_with_an_idempotency_key_is_retried(downstream, header):
    downstream.routes["/hook"] = [Reply(500), Reply(204, body=b"")]
    response = client().request("POST", downstream.url("/hook"), body=b"{}", headers={header: "k-1"})
    assert (response.status, downstream.hits("/hook")) == (204, 2)


def test_retry_after_is_honoured_in_seconds_or_as_a_date(downstream):
    downstream.routes["/busy"] = [Reply(429, {"Retry-After": "2"}), Reply(200)]
    downstream.routes["/dated"] = [Reply(503, {"Retry-After": formatdate(2_000_000_000, usegmt=True)}), Reply(200)]
    sleeps = Sleeps()
    outbound = client(sleeps=sleeps, retry=RetryPolicy(base_delay_s=0.01, max_delay_s=0.01))
    assert outbound.request("GET", downstream.url("/busy")).status == 200
    assert sleeps == [2.0]
    # A date decades away is beyond what the client waits: no retry, the 503 is the answer.
    assert outbound.request("GET", downstream.url("/dated")).status == 503
    assert downstream.hits("/dated") == 1


def test_a_retry_after_longer_than_the_deadline_is_not_waited_for(downstream):
    downstream.routes["/busy"] = [Reply(503, {"Retry-After": "5"}), Reply(200)]
    sleeps = Sleeps()
    response = client(sleeps=sleeps).request("GET", downstream.url("/busy"), deadline=Deadline.after(2.0))
    assert response.status == 503 and sleeps == []


def test_a_4xx_is_an_answer_not_a_retry(downstream):
    downstream.routes["/gone"] = Reply(410)
    assert client().request("GET", downstream.url("/gone")).attempts == 1


def test_a_refused_connection_is_retried_even_for_a_post_since_nothing_was_sent(downstream):
    port = downstream.port
    downstream.stop()
    sleeps = Sleeps()
    with pytest.raises(TransportError) as failure:
        client(sleeps=sleeps).request("POST", f"http://127.0.0.1:{port}/x", body=b"{}")
    assert not failure.value.sent and len(sleeps) == 2


# -- redirects and bodies ------------------------------------------------------------------------------------
def test_307_keeps_the_method_and_body_and_303_is_not_followed_for_a_post(downstream):
    downstream.routes["/a"] = Reply(307, {"Location": "/b"})
    downstream.routes["/b"] = Reply(201)
    downstream.routes["/c"] = Reply(303, {"Location": "/b"})
    assert client().request("POST", downstream.url("/a"), body=b'{"x":1}').status == 201
    assert (downstream.seen[-1].method, downstream.seen[-1].body) == ("POST", b'{"x":1}')
    assert client().request("POST", downstream.url("/c"), body=b"{}").status == 303


def test_redirects_are_bounded_and_credentials_stay_with_their_origin(downstream):
    downstream.routes["/loop"] = Reply(302, {"Location": "/loop"})
    with pytest.raises(OutboundError):
        client(max_redirects=3).request("GET", downstream.url("/loop"))
    assert downstream.hits("/loop") == 4
    downstream.routes["/away"] = Reply(302, {"Location": f"http://other.test:{downstream.port}/landing"})
    resolver = Resolver({"other.test": [["127.0.0.1"]]})
    client(resolver=resolver).request("GET", downstream.url("/away"), headers={"Authorization": "Bearer t"})
    assert "authorization" in downstream.seen[-2].headers
    assert "authorization" not in downstream.seen[-1].headers


def test_a_body_over_the_bound_is_refused(downstream):
    downstream.routes["/big"] = Reply(body=b"x" * 2048)
    with pytest.raises(ResponseTooLarge):
        client(max_body_bytes=1024).request("GET", downstream.url("/big"))
    assert client(max_body_bytes=1024).request("GET", downstream.url("/")).body == b"ok"


def test_a_header_with_a_line_break_is_never_sent(downstream):
    with pytest.raises(OutboundError):
        client().request("GET", downstream.url("/"), headers={"X-Note": "a\r\nX-Injected: 1"})
    assert downstream.hits() == 0


# -- the breaker per destination ------------------------------------------------------------------------------
def test_the_breaker_per_destination_stops_calls_to_a_failing_one_only(downstream, redis_url):
    other = Downstream().start()
    try:
        config = BreakerConfig(minimum_calls=3, failure_rate_percent=100, open_ms=60_000)
        store = RedisBreakerStore(redis.Redis.from_url(redis_url))
        for server in (downstream, other):  # ports are reused: forget what an earlier test left
            store.reset(f"127.0.0.1:{server.port}", config)
        fleet = FleetBreaker(lambda: store, RecordingSink(), default_config=config)
        outbound = client(breaker=fleet, retry=RetryPolicy(max_attempts=1))
        downstream.routes["/"] = Reply(500)
        for _ in range(3):
            assert outbound.request("GET", downstream.url("/")).status == 500
        with pytest.raises(BreakerOpenError) as refused:
            outbound.request("GET", downstream.url("/"))
        assert refused.value.name == f"127.0.0.1:{downstream.port}"
        assert downstream.hits() == 3
        assert outbound.request("GET", other.url("/")).status == 200
    finally:
        other.stop()

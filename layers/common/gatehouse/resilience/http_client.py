"""The outbound HTTP client for callbacks and integrations (an adapter: urllib3 and sockets).

What it guarantees (docs/resilience.md#the-outbound-client):

- http and https only, no credentials in URLs; every hop (the URL and each redirect) is resolved
  once, every address it resolves to is judged by the AddressPolicy (ssrf.py), and the connection
  goes to the address judged: the name stays in the Host header, TLS SNI and certificate check,
  so a DNS answer that changes between check and connect (rebinding) cannot redirect it;
- connect and read timeouts, each clamped to the deadline; bodies read up to a bound;
- a fleet breaker per destination (`host:port`): 5xx, 408, 429 and no answer are its failures;
- retries (retries.py) on no answer, 408, 429 and 5xx, honouring `Retry-After` within a bound,
  for idempotent requests only (a method that is, or an `Idempotency-Key` / `webhook-id` header),
  and for any request whose connection was never made;
- redirects: 307 and 308 keep the method and body; 301, 302 and 303 are followed for GET and HEAD
  only (anything else gets the 3xx back); at most `max_redirects`; credentials-bearing headers
  are dropped when the origin changes.
"""

from __future__ import annotations

import random
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from gatehouse.resilience.errors import DestinationRefused, OutboundError, ResponseTooLarge, TransportError
from gatehouse.resilience.fleet import FleetBreaker
from gatehouse.resilience.outbound import OutboundResponse
from gatehouse.resilience.retries import (
    UNBOUNDED,
    Deadline,
    RetryableFailure,
    RetryPolicy,
    parse_retry_after,
    retry_call,
)
from gatehouse.resilience.ssrf import AddressPolicy
from gatehouse.urls import has_unsafe_characters, url_host

Resolver = Callable[[str, int], Sequence[str]]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
IDEMPOTENCY_HEADERS = ("idempotency-key", "webhook-id")
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Dropped when a redirect leaves the origin: what the first origin was trusted with.
_ORIGIN_BOUND_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_MAX_POOLS = 64


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class Target:
    """One hop's destination, parsed and checked for shape (not yet for address)."""

    scheme: str
    host: str  # lower-case; an IP literal without brackets, or an ASCII (IDNA) name
    port: int
    target: str  # path and query
    literal: bool  # the host is an IP address

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    @property
    def breaker_name(self) -> str:
        """The destination's breaker: one per host and port, whatever the path."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _host(raw: str) -> tuple[str, bool]:
    """The host as connected to (gatehouse.urls.url_host), and whether it is a literal."""
    try:
        return url_host(raw)
    except ValueError as error:
        raise DestinationRefused(str(error)) from None


def parse_target(url: str) -> Target:
    """The URL as a destination, or DestinationRefused (never shows the path or query: they may hold secrets)."""
    if has_unsafe_characters(url):
        raise DestinationRefused("the URL holds characters a URL may not")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise DestinationRefused("the URL is not valid") from error
    if port == 0:  # nothing listens there; "or default" below would silently call 443 or 80 instead
        raise DestinationRefused("port 0 cannot be called")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DestinationRefused("only http and https URLs can be called")
    if "@" in parts.netloc:
        raise DestinationRefused("credentials in a URL are not accepted")
    host, literal = _host(parts.hostname or "")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Target(scheme, host, port if port is not None else (443 if scheme == "https" else 80), target, literal)


@dataclass
class _Hop:
    method: str
    url: str
    body: bytes | None
    headers: dict[str, str] = field(default_factory=dict)


class OutboundClient:
    def __init__(
        self,
        breaker: FleetBreaker | None,
        policy: AddressPolicy,
        *,
        resolver: Resolver = system_resolver,
        connect_timeout_s: float = 2.0,
        read_timeout_s: float = 5.0,
        retry: RetryPolicy | None = None,
        max_redirects: int = 3,
        max_body_bytes: int = 1_048_576,
        user_agent: str = "Gatehouse",
        ca_certs: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.breaker = breaker
        self.policy = policy
        self.resolver = resolver
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.retry = retry or RetryPolicy()
        self.max_redirects = max_redirects
        self.max_body_bytes = max_body_bytes
        self.user_agent = user_agent
        self.ca_certs = ca_certs
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrecy)
        self._pools: OrderedDict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = OrderedDict()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        idempotent: bool | None = None,
        deadline: Deadline = UNBOUNDED,
    ) -> OutboundResponse:
        """Send the request (following redirects, retrying what may be retried) and answer the last
        response, whatever its status. Raises DestinationRefused, BreakerOpenError (the destination's
        breaker refused: nothing was sent), TransportError (no answer), ResponseTooLarge."""
        method = method.upper()
        given = {k: v for k, v in (headers or {}).items()}
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS or any(k.lower() in IDEMPOTENCY_HEADERS for k in given)

        def attempt(number: int) -> OutboundResponse:
            try:
                response = self._follow(_Hop(method, url, body, dict(given)), deadline)
            except RetryableFailure as failure:
                if isinstance(failure.result, OutboundResponse):
                    failure.result = replace(failure.result, attempts=number)
                raise
            return replace(response, attempts=number)

        return retry_call(
            attempt,
            policy=self.retry,
            idempotent=idempotent,
            deadline=deadline,
            attempt_needs_s=self.connect_timeout_s,
            sleep=self._sleep,
            rng=self._rng,
        )

    # -- one attempt: the URL and its redirects --------------------------------------------------------------
    def _follow(self, hop: _Hop, deadline: Deadline) -> OutboundResponse:
        for _ in range(self.max_redirects + 1):
            target = parse_target(hop.url)
            addresses = self._addresses(target)
            response = self._through_breaker(target, addresses, hop, deadline)
            location = response.headers.get("location")
            if response.status not in REDIRECT_STATUSES or not location:
                return response
            following = self._redirect(hop, target, response.status, location)
            if following is None:
                return response
            hop = following
        raise OutboundError("too many redirects")

    def _redirect(self, hop: _Hop, target: Target, status: int, location: str) -> _Hop | None:
        method, body = hop.method, hop.body
        if status in (301, 302, 303):
            if method not in ("GET", "HEAD"):
                return None  # a POST turned into a GET would lose its body: the caller sees the 3xx
            body = None
        url = urljoin(hop.url, location.strip())
        headers = dict(hop.headers)
        if parse_target(url).origin != target.origin:
            headers = {k: v for k, v in headers.items() if k.lower() not in _ORIGIN_BOUND_HEADERS}
        return _Hop(method, url, body, headers)

    def _addresses(self, target: Target) -> list[str]:
        """The addresses to connect to, every one of them allowed; DestinationRefused if any is not."""
        if target.literal:
            addresses = [target.host]
        else:
            try:
                addresses = list(self.resolver(target.host, target.port))
            except (OSError, UnicodeError) as error:
                raise TransportError("the host name did not resolve", sent=False) from error
            if not addresses:
                raise TransportError("the host name did not resolve", sent=False)
        for address in addresses:
            why = self.policy.refusal(address)
            if why is not None:
                # One refused answer refuses the name: a resolver mixing public and private answers
                # is exactly what a rebinding attack looks like.
                what = "the host is" if target.literal else "the host resolves to"
                raise DestinationRefused(f"{what} {why}")
        return addresses

    def _through_breaker(self, target: Target, addresses: list[str], hop: _Hop, deadline: Deadline) -> OutboundResponse:
        permit = self.breaker.acquire(target.breaker_name) if self.breaker is not None else None
        try:
            response = self._send(target, addresses, hop, deadline)
        except TransportError as error:
            if permit is not None and self.breaker is not None:
                self.breaker.record(permit, success=False)
            raise RetryableFailure(cause=error, safe=not error.sent) from error
        except ResponseTooLarge as error:
            if permit is not None and self.breaker is not None:
                self.breaker.record(permit, success=error.status < 500 and error.status not in (408, 429))
            raise
        except BaseException:
            if permit is not None and self.breaker is not None:
                self.breaker.record(permit, success=False)
            raise
        failed = response.status >= 500 or response.status in (408, 429)
        if permit is not None and self.breaker is not None:
            self.breaker.record(permit, success=not failed)
        if response.status in RETRY_STATUSES:
            raise RetryableFailure(retry_after=parse_retry_after(response.headers.get("retry-after")), result=response)
        return response

    # -- the wire ----------------------------------------------------------------------------------------------
    def _send(self, target: Target, addresses: list[str], hop: _Hop, deadline: Deadline) -> OutboundResponse:
        """To the first address that accepts a connection (each one already allowed)."""
        last: TransportError | None = None
        for address in addresses:
            try:
                return self._send_to(address, target, hop, deadline)
            except TransportError as error:
                if error.sent:
                    raise
                last = error
        assert last is not None
        raise last

    def _send_to(self, address: str, target: Target, hop: _Hop, deadline: Deadline) -> OutboundResponse:
        left = deadline.remaining()
        if left <= 0:
            raise TransportError("no time left for the request", timeout=True, sent=False)
        timeout = urllib3.Timeout(connect=min(self.connect_timeout_s, left), read=min(self.read_timeout_s, left))
        headers = {"User-Agent": self.user_agent, "Accept-Encoding": "identity", **hop.headers}
        headers = {k: v for k, v in headers.items() if k.lower() != "host"}
        headers["Host"] = target.host_header
        pool = self._pool(target, address)
        try:
            raw = pool.urlopen(
                hop.method,
                target.target,
                body=hop.body,
                headers=headers,
                retries=False,
                redirect=False,
                assert_same_host=False,
                timeout=timeout,
                preload_content=False,
                release_conn=False,
            )
        except NewConnectionError as error:
            raise TransportError("the connection was refused or failed", sent=False) from error
        except ConnectTimeoutError as error:
            raise TransportError("the connection timed out", timeout=True, sent=False) from error
        except ReadTimeoutError as error:
            raise TransportError("no answer within the read timeout", timeout=True) from error
        except SSLError as error:
            raise TransportError("the TLS handshake or certificate check failed", sent=False) from error
        except (ProtocolError, HTTPError, OSError) as error:
            raise TransportError("the connection broke") from error
        except ValueError as error:  # a header value http.client refuses (CR/LF)
            raise OutboundError("the request is not valid") from error
        return self._read(raw, hop.url)

    def _read(self, raw: Any, url: str) -> OutboundResponse:
        try:
            body = raw.read(self.max_body_bytes + 1)
        except ReadTimeoutError as error:
            raw.close()
            raise TransportError("no answer within the read timeout", timeout=True) from error
        except (ProtocolError, HTTPError, OSError) as error:
            raw.close()
            raise TransportError("the connection broke") from error
        if len(body) > self.max_body_bytes:
            raw.close()  # the rest is never read: the connection cannot be reused
            raise ResponseTooLarge(f"the answer is larger than {self.max_body_bytes} bytes", status=raw.status)
        raw.release_conn()
        headers: dict[str, str] = {}
        for name, value in raw.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return OutboundResponse(raw.status, headers, body, url)

    def _pool(self, target: Target, address: str) -> urllib3.HTTPConnectionPool:
        """A pool per (scheme, address, port, name): connections only ever go to a checked address."""
        key = (target.scheme, address, target.port, target.host)
        pool = self._pools.get(key)
        if pool is not None:
            self._pools.move_to_end(key)
            return pool
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address,
                target.port,
                maxsize=4,
                block=False,
                retries=False,
                cert_reqs="CERT_REQUIRED",
                ca_certs=self.ca_certs,
                # SNI and the certificate check are for the name, the socket for the address.
                server_hostname=None if target.literal else target.host,
                assert_hostname=None if target.literal else target.host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, target.port, maxsize=4, block=False, retries=False)
        self._pools[key] = pool
        if len(self._pools) > _MAX_POOLS:
            _, oldest = self._pools.popitem(last=False)
            oldest.close()
        return pool

    def close(self) -> None:
        while self._pools:
            self._pools.popitem()[1].close()

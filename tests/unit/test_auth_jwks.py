"""JWKS cache: an unknown-kid flood costs at most one fetch per cooldown, with one fetch in flight."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from gatehouse.auth.exceptions import InvalidToken
from gatehouse.auth.jwks import MAX_JWKS_BYTES, JwksCache, JwksFetchError, fetch_url


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def public_keys():
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key() for _ in range(2)]


def jwks(public_keys, *kids):
    return json.dumps(
        {"keys": [json.loads(RSAAlgorithm.to_jwk(public_keys[i % 2])) | {"kid": kid} for i, kid in enumerate(kids)]}
    ).encode()


class Fetcher:
    def __init__(self, body: bytes, delay: float = 0.0) -> None:
        self.body = body
        self.delay = delay
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, url: str) -> bytes:
        with self._lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if isinstance(self.body, Exception):
            raise self.body
        return self.body


def test_known_kid_is_served_from_cache(public_keys):
    fetch = Fetcher(jwks(public_keys, "k1"))
    cache = JwksCache("https://idp/jwks", fetch=fetch, clock=Clock())
    for _ in range(50):
        assert cache.get_key("k1", "RS256") is not None
    assert fetch.calls == 1


def test_a_hundred_unknown_kids_within_the_cooldown_cost_at_most_one_fetch(public_keys):
    fetch = Fetcher(jwks(public_keys, "k1"))
    clock = Clock()
    cache = JwksCache("https://idp/jwks", fetch=fetch, clock=clock)
    for _ in range(100):
        with pytest.raises(InvalidToken, match="unknown kid"):
            cache.get_key(secrets.token_hex(8), "RS256")
        clock.now += 0.1  # 10 s in all, inside the 30 s cooldown
    assert fetch.calls <= 1
    assert cache.get_key("k1", "RS256") is not None  # known keys still work meanwhile
    assert fetch.calls <= 1


def test_sixteen_threads_at_once_make_one_fetch(public_keys):
    fetch = Fetcher(jwks(public_keys, "k1"), delay=0.05)
    cache = JwksCache("https://idp/jwks", fetch=fetch, clock=Clock())
    barrier = threading.Barrier(16)
    outcomes: list[str] = []

    def caller(i: int) -> None:
        barrier.wait()
        kid = "k1" if i % 2 else secrets.token_hex(8)
        try:
            cache.get_key(kid, "RS256")
            outcomes.append("ok")
        except InvalidToken:
            outcomes.append("refused")

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fetch.calls == 1
    assert outcomes.count("ok") == 8  # the waiters for the one fetch got the known key


def test_a_fetch_is_allowed_again_after_the_cooldown(public_keys):
    fetch = Fetcher(jwks(public_keys, "k1"))
    clock = Clock()
    cache = JwksCache("https://idp/jwks", fetch=fetch, clock=clock, cooldown=30)
    assert cache.get_key("k1", "RS256") is not None
    with pytest.raises(InvalidToken):
        cache.get_key("k2", "RS256")
    assert fetch.calls == 1
    # The IdP rotates in k2; after the cooldown an unknown kid refetches once.
    fetch.body = jwks(public_keys, "k1", "k2")
    clock.now += 31
    assert cache.get_key("k2", "RS256") is not None
    assert fetch.calls == 2


def test_a_failed_fetch_counts_toward_the_cooldown(public_keys):
    fetch = Fetcher(OSError("timed out"))
    clock = Clock()
    cache = JwksCache("https://idp/jwks", fetch=fetch, clock=clock)
    for _ in range(10):
        with pytest.raises(InvalidToken):
            cache.get_key("k1", "RS256")
    assert fetch.calls == 1
    fetch.body = jwks(public_keys, "k1")
    clock.now += 31
    assert cache.get_key("k1", "RS256") is not None
    assert fetch.calls == 2


def test_stale_keys_are_refreshed_and_removed_keys_stop_working(public_keys):
    fetch = Fetcher(jwks(public_keys, "k1"))
    clock = Clock()
    cache = JwksCache("https://idp/jwks", fetch=fetch, clock=clock, max_age=3600)
    assert cache.get_key("k1", "RS256") is not None
    fetch.body = jwks(public_keys, "k2")  # the IdP withdrew k1
    clock.now += 3601
    with pytest.raises(InvalidToken):
        cache.get_key("k1", "RS256")
    assert fetch.calls == 2


def test_stale_keys_keep_working_when_the_idp_is_down(public_keys):
    fetch = Fetcher(jwks(public_keys, "k1"))
    clock = Clock()
    cache = JwksCache("https://idp/jwks", fetch=fetch, clock=clock, max_age=3600)
    cache.get_key("k1", "RS256")
    fetch.body = OSError("down")
    clock.now += 3601
    assert cache.get_key("k1", "RS256") is not None


def test_an_oversized_or_malformed_jwks_is_not_used(public_keys):
    too_big = b'{"keys": [], "pad": "' + b"x" * MAX_JWKS_BYTES + b'"}'
    for body in (too_big, b"not json", b'{"keys": "nope"}', b"[]"):
        cache = JwksCache("https://idp/jwks", fetch=Fetcher(body), clock=Clock())
        with pytest.raises(InvalidToken):
            cache.get_key("k1", "RS256")


def test_oversized_kid_is_refused_without_fetching(public_keys):
    fetch = Fetcher(jwks(public_keys, "k1"))
    cache = JwksCache("https://idp/jwks", fetch=fetch, clock=Clock())
    with pytest.raises(InvalidToken):
        cache.get_key("k" * 1000, "RS256")
    with pytest.raises(InvalidToken):
        cache.get_key("", "RS256")
    assert fetch.calls == 0


def test_a_key_published_for_another_algorithm_is_refused(public_keys):
    body = json.dumps({"keys": [json.loads(RSAAlgorithm.to_jwk(public_keys[0])) | {"kid": "k1", "alg": "RS512"}]})
    cache = JwksCache("https://idp/jwks", fetch=Fetcher(body.encode()), clock=Clock())
    with pytest.raises(InvalidToken, match="another algorithm"):
        cache.get_key("k1", "RS256")
    assert cache.get_key("k1", "RS512") is not None


# -- the fetch itself: no redirects, https only (http for loopback), bounded -------------------------


class LoopbackIdp:
    """An HTTP server on 127.0.0.1: /jwks.json serves a JWKS, /moved answers a redirect to it."""

    def __init__(self, body: bytes, status: int = 302) -> None:
        self.body = body
        self.status = status
        self.hits: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def do_GET(self):
                owner.hits.append(self.path)
                if self.path == "/moved":
                    self.send_response(owner.status)
                    self.send_header("Location", owner.url("/jwks.json"))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def __enter__(self) -> LoopbackIdp:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_jwks_on_loopback_http_is_fetched(public_keys):
    # What the end-to-end tests' IdP (tests/e2e/jwks_server.py) and local runs use.
    body = jwks(public_keys, "k1")
    with LoopbackIdp(body) as idp:
        assert fetch_url(idp.url("/jwks.json")) == body
        assert JwksCache(idp.url("/jwks.json")).get_key("k1", "RS256") is not None


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_failed_fetch_and_is_not_followed(public_keys, status):
    with LoopbackIdp(jwks(public_keys, "k1"), status=status) as idp:
        with pytest.raises(JwksFetchError, match=str(status)):
            fetch_url(idp.url("/moved"))
        # Through the cache: no keys from the redirect's target, which was never asked.
        with pytest.raises(InvalidToken, match="unknown kid"):
            JwksCache(idp.url("/moved")).get_key("k1", "RS256")
        assert idp.hits == ["/moved", "/moved"]


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example.com/.well-known/jwks.json",  # plain http off the machine
        "http://10.0.0.8/jwks.json",
        "ftp://idp.example.com/jwks.json",
        'data:application/json,{"keys":[]}',
        "https:///jwks.json",
    ],
)
def test_only_https_or_loopback_http_is_fetched(url, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the fetch must be refused before any connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(JwksFetchError, match="https"):
        fetch_url(url)


def test_a_local_file_is_never_read_as_a_jwks(tmp_path, public_keys):
    path = tmp_path / "jwks.json"
    path.write_bytes(jwks(public_keys, "k1"))
    with pytest.raises(JwksFetchError, match="https"):
        fetch_url(path.as_uri())


def test_a_jwks_larger_than_the_cap_is_a_failed_fetch():
    too_big = b'{"keys": [], "pad": "' + b"x" * MAX_JWKS_BYTES + b'"}'
    with LoopbackIdp(too_big) as idp, pytest.raises(JwksFetchError, match="too large"):
        fetch_url(idp.url("/jwks.json"))


def test_a_failed_fetch_logs_the_jwks_url_without_what_may_be_a_credential(caplog):
    def failing(url):
        raise JwksFetchError("boom")

    url = "https://user:s3cr3t-pass@idp.example/tenant/jwks.json?api_key=s3cr3t-query#frag"
    cache = JwksCache(url, fetch=failing, clock=Clock())
    with caplog.at_level("WARNING"), pytest.raises(InvalidToken):
        cache.get_key("k1", "RS256")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "https://idp.example/tenant/jwks.json" in logged
    assert "s3cr3t" not in logged and "user" not in logged

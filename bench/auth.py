"""Authorizer section: warm, in-process `authorize()` per credential type, and DynamoDB reads per call.

Everything is the product's own path: `authorize(event, authenticator)` with an authenticator
built from an AuthEnv, its DynamoDB client built by the product against a real DynamoDB Local
(started via local.services), its JWKS issuers fetching a JWKS from a tiny HTTP server on
127.0.0.1. Only the verified-token cache is switched off for the "cache off" rows (the
JwtVerifier's `verified_cache_seconds`, which no environment variable sets): a new token on
every request is the honest worst case, a signature check each time.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from bench.measure import Sample, compare
from bench.table import Table
from gatehouse.auth.authorizer import Authenticator, authorize
from gatehouse.auth.env import AuthEnv
from gatehouse.auth.jwt_verifier import JwtVerifier, parse_issuers
from gatehouse.auth.runtime import build_authenticator
from gatehouse.keys import api_key_format
from gatehouse.keys.dynamo import hash_record_item
from gatehouse.keys.records import KeyRecord
from local.services import LocalServices

TABLE = "gatehouse-bench-auth"
AUDIENCE = "gatehouse-bench"
ROUTE = "GET /v1/me"
TARGET_P99_US = 250.0
COLD_N_MAX = 500  # each cold-cache call is a real GetItem on DynamoDB Local (~ms): fewer of them
COUNT_CALLS = 200  # calls per case in the separate, untimed DynamoDB-read counting pass


def _event(token: str) -> dict[str, Any]:
    """A payload-2.0 REQUEST authorizer event, as API Gateway sends it."""
    header = f"Bearer {token}"
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:api/$default/GET/v1/me",
        "identitySource": [header],
        "routeKey": ROUTE,
        "rawPath": "/v1/me",
        "headers": {"authorization": header, "host": "bench.local"},
        "requestContext": {"http": {"method": "GET", "path": "/v1/me"}, "routeKey": ROUTE},
    }


# --- a JWKS issuer on loopback ------------------------------------------------------------------


class _JwksServer:
    """Serves one JWKS document on 127.0.0.1 and counts fetches (each issuer should fetch once)."""

    def __init__(self, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-jwks", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"

    def __enter__(self) -> _JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _signing_keys() -> dict[str, tuple[Any, dict[str, Any]]]:
    """alg -> (private key, public JWK with kid/alg/use)."""
    pairs: dict[str, tuple[Any, Any]] = {
        "RS256": (rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAAlgorithm),
        "ES256": (ec.generate_private_key(ec.SECP256R1()), ECAlgorithm),
        "EdDSA": (ed25519.Ed25519PrivateKey.generate(), OKPAlgorithm),
    }
    keys = {}
    for alg, (private, algorithm) in pairs.items():
        jwk = algorithm.to_jwk(private.public_key(), as_dict=True)
        jwk.update({"kid": f"bench-{alg.lower()}", "alg": alg, "use": "sig"})
        keys[alg] = (private, jwk)
    return keys


def _claims(issuer: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": "bench-user",
        "iat": now,
        "exp": now + 3600,
        "scope": "keys:read ratelimit:check",
        "tier": "starter",
    }


# --- DynamoDB Local ---------------------------------------------------------------------------------


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _create_table(endpoint: str) -> None:
    client = boto3.client("dynamodb", endpoint_url=endpoint)
    client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})


def _put_key(endpoint: str, pepper: str) -> str:
    key = api_key_format.generate("test")
    record = KeyRecord(
        id=f"key_{uuid.uuid4().hex[:12]}",
        name="bench",
        prefix=api_key_format.prefix(key),
        hash=api_key_format.hash_key(key, pepper),
        owner_id="bench-owner",
        scopes=("keys:read", "ratelimit:check"),
        tier="starter",
        status="active",
        created_at="2026-01-01T00:00:00Z",
    )
    boto3.client("dynamodb", endpoint_url=endpoint).put_item(TableName=TABLE, Item=hash_record_item(record))
    return key


class _GetItemCounter:
    """Counts GetItem calls on one client through its botocore event system."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, **_: Any) -> None:
        self.calls += 1

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.dynamodb.GetItem", self)


# --- the section ----------------------------------------------------------------------------------


def _auth_env(issuers: list[dict[str, Any]], api_key_cache_seconds: float, pepper: str) -> AuthEnv:
    return AuthEnv(
        key_environment="test",
        authorizer_cache_ttl=60,  # the template default: the authorizer authenticates, handlers check scopes
        jwt_issuers=json.dumps(issuers),
        # The bench stores its key unpeppered: reading a pepper from Secrets Manager is not what it measures.
        api_key_pepper_secret_id="",
        secrets_cache_seconds=300.0,
        api_key_cache_seconds=api_key_cache_seconds,
        table_name=TABLE,
        aws_timeout_seconds=2.0,
    )


def _call(auth: Authenticator, token: str) -> Callable[[], object]:
    event = _event(token)

    def op() -> object:
        answer = authorize(event, auth)
        if not answer["isAuthorized"]:  # a deny would measure the wrong path
            raise RuntimeError("authorizer refused a benchmark credential")
        return answer

    return op


def run(redis_url: str, n: int) -> list[Table]:
    started = time.perf_counter()
    # The authorizer touches no Redis: passing the bench's own keeps LocalServices from starting one.
    services = LocalServices(external_redis_url=redis_url)
    services.start()
    try:
        store_note = (
            f"DynamoDB Local ({services.dynamodb_endpoint_url})"
            if services.dynamodb_fallback_reason is None
            else f"moto, not DynamoDB Local ({services.dynamodb_fallback_reason})"
        )
        env_vars = {
            "AWS_ENDPOINT_URL_DYNAMODB": services.dynamodb_endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        with _environment(env_vars):
            return _run(services.dynamodb_endpoint_url, n, store_note, started)
    finally:
        services.stop()


def _run(endpoint: str, n: int, store_note: str, started: float) -> list[Table]:
    pepper = ""  # see _auth_env
    _create_table(endpoint)
    api_key = _put_key(endpoint, pepper)
    signing = _signing_keys()
    hs_secret = uuid.uuid4().hex + uuid.uuid4().hex
    hs_issuer = "https://bench.local/hs256"

    with _JwksServer({"keys": [jwk for _, jwk in signing.values()]}) as jwks:
        issuers: list[dict[str, Any]] = [
            {
                "issuer": hs_issuer,
                "audience": AUDIENCE,
                "algorithms": ["HS256"],
                "secret": hs_secret,
                "principalPrefix": "hs256|",
            }
        ]
        tokens = {"HS256": jwt.encode(_claims(hs_issuer), hs_secret, algorithm="HS256")}
        for alg, (private, jwk) in signing.items():
            iss = f"https://bench.local/{alg.lower()}"
            issuers.append(
                {
                    "issuer": iss,
                    "audience": AUDIENCE,
                    "algorithms": [alg],
                    "jwksUrl": jwks.url,
                    "principalPrefix": f"{alg.lower()}|",
                }
            )
            tokens[alg] = jwt.encode(_claims(iss), private, algorithm=alg, headers={"kid": jwk["kid"]})

        # Warm: the product's defaults (verified-token cache 60 s, API-key cache 10 s).
        warm = build_authenticator(_auth_env(issuers, 10.0, pepper))
        # Cache off: every JWT is signature-checked; every API key is read from the store.
        env_cold = _auth_env(issuers, 0.0, pepper)
        cold_keys = build_authenticator(env_cold).api_keys()
        cold = Authenticator(
            cache_ttl=env_cold.authorizer_cache_ttl,
            api_keys=lambda: cold_keys,
            jwt=lambda: JwtVerifier(parse_issuers(env_cold.jwt_issuers), verified_cache_seconds=0),
        )

        cases: dict[str, Callable[[], object]] = {}
        for alg in ("HS256", "RS256", "ES256", "EdDSA"):
            cases[f"JWT {alg}, warm (verified-token cache on)"] = _call(warm, tokens[alg])
        for alg in ("HS256", "RS256", "ES256", "EdDSA"):
            cases[f"JWT {alg}, verified-token cache off"] = _call(cold, tokens[alg])
        api_warm_name = "API key, warm cache"
        cases[api_warm_name] = _call(warm, api_key)
        api_cold_name = "API key, cold cache (GetItem each call)"
        api_cold = _call(cold, api_key)
        # First calls build each path (imports, clients, JWKS fetch): outside every measurement.
        for op in (*cases.values(), api_cold):
            op()

        counter_warm, counter_cold = _GetItemCounter(), _GetItemCounter()
        warm_client = warm._api_keys._store._client  # type: ignore[union-attr]
        cold_client = cold._api_keys._store._client  # type: ignore[union-attr]
        counter_warm.attach(warm_client)
        if cold_client is not warm_client:  # one process-wide client: counted once, not twice
            counter_cold.attach(cold_client)

        samples = compare(cases, n)
        cold_n = min(n, COLD_N_MAX)
        samples += compare({api_cold_name: api_cold}, cold_n, warmup=20)
        jwks_fetches = jwks.fetches

    # Reads per authorization, counted in a separate untimed pass (nothing added to the timings).
    reads: dict[str, float] = {}
    all_cases = {**cases, api_cold_name: api_cold}
    for name, op in all_cases.items():
        op()  # the timed run may have outlived the 10 s API-key cache: refill it first, uncounted
        before = counter_warm.calls + counter_cold.calls
        for _ in range(COUNT_CALLS):
            op()
        reads[name] = (counter_warm.calls + counter_cold.calls - before) / COUNT_CALLS

    measurements = Table(
        f"Authorizer authorize(), warm, in-process, sequential, interleaved, n={n:,} per case "
        f"(cold API key n={cold_n:,}); store: {store_note}; "
        f"JWKS fetched {jwks_fetches}x from loopback (once per issuer per authenticator)",
        ["case", "p50 µs", "p99 µs", "ops/s", "DynamoDB reads/auth"],
        [[s.name, s.p50_us, s.p99_us, s.ops_per_s, f"{reads[s.name]:g}"] for s in samples],
    )
    return [measurements, _targets(samples, reads, api_warm_name, api_cold_name, time.perf_counter() - started)]


def _targets(samples: list[Sample], reads: dict[str, float], api_warm: str, api_cold: str, seconds: float) -> Table:
    rows: list[list[object]] = []
    for s in samples:
        if s.name == api_cold:
            continue
        rows.append(
            [f"{s.name}: p99", f"{s.p99_us:.0f} µs", f"< {TARGET_P99_US:.0f} µs", _ok(s.p99_us < TARGET_P99_US)]
        )
    rows.append([f"{api_warm}: DynamoDB reads/auth", f"{reads[api_warm]:g}", "0", _ok(reads[api_warm] == 0)])
    rows.append([f"{api_cold}: DynamoDB reads/auth", f"{reads[api_cold]:g}", "exactly 1", _ok(reads[api_cold] == 1)])
    return Table(
        "Authorizer targets (docs/reference.md#performance-targets; "
        f"cache-off rows are the worst case, not the targeted warm case); "
        f"section took {seconds:.0f} s",
        ["comparison", "measured", "target", "met?"],
        rows,
    )


def _ok(passed: bool) -> str:
    return "yes" if passed else "NO"

"""The HTTP API emulator: a local HTTP server that runs the authorizer and the handlers like API Gateway."""

from __future__ import annotations

import base64
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local import apigw
from local.apigw import (
    MAX_BODY_BYTES,
    MalformedResponseError,
    Request,
    Response,
    authorizer_event,
    handler_event,
    map_response,
    message,
)
from local.invoke import Invoker
from local.routing import Router
from local.template import AuthorizerSpec, Route, Template


class _RequestTooLargeError(Exception):
    pass


@dataclass
class _Decision:
    allowed: bool
    context: dict[str, Any] | None
    expires: float


class _Refusal(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _new_request_id() -> str:
    # API Gateway's ids look like "JKJaXmPLvHcESHA=": base64 of 10 random bytes.
    return base64.b64encode(os.urandom(10)).decode("ascii")


class HttpApiEmulator:
    """Serves the template's HTTP API on host:port; counters let tests see what API Gateway would have done."""

    def __init__(
        self,
        template: Template,
        invoker: Invoker,
        host: str = "127.0.0.1",
        port: int = 0,
        access_log: bool = False,
    ) -> None:
        self.template = template
        self.invoker = invoker
        self.router = Router(template.routes)
        self.access_log = access_log
        self.authorizer_invocations = 0
        self.requests = 0
        self._cache: dict[tuple[str, tuple[str, ...]], _Decision] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self._server.server_address[0]
        return f"http://{host if isinstance(host, str) else host.decode()}:{self.port}"

    def start(self) -> HttpApiEmulator:
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def clear_authorizer_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    # -- request handling --------------------------------------------------------------------------------
    def handle(self, req: Request, domain: str) -> Response:
        with self._lock:
            self.requests += 1
        match = self.router.match(req.method, req.raw_path)
        if match is None:
            return message(404, "Not Found")
        route = match.route
        event = handler_event(req, route.route_key, match.path_parameters, domain)
        if route.authorizer is not None:
            try:
                context = self._authorize(route, req, match.path_parameters, domain)
            except _Refusal as refusal:
                return refusal.response
            event["requestContext"]["authorizer"] = {"lambda": context if context is not None else {}}
        try:
            result = self.invoker.invoke(route.function, event)
            return map_response(result)
        except Exception:
            print(f"[gatehouse-local] {route.route_key} -> {route.function} failed:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            return message(500, "Internal Server Error")

    def _authorize(
        self, route: Route, req: Request, path_parameters: dict[str, str], domain: str
    ) -> dict[str, Any] | None:
        spec = self.template.authorizers.get(route.authorizer or "")
        if spec is None:
            print(f"[gatehouse-local] route {route.route_key}: unknown authorizer {route.authorizer}",
                  file=sys.stderr)  # fmt: skip
            raise _Refusal(message(500, "Internal Server Error"))
        identity = self._identity(spec, req)
        key = (spec.name, tuple(identity))
        now = time.monotonic()
        decision = None
        if spec.ttl > 0:
            with self._lock:
                cached = self._cache.get(key)
            if cached is not None and cached.expires > now:
                decision = cached
        if decision is None:
            event = authorizer_event(req, route.route_key, path_parameters, domain, identity)
            decision = self._run_authorizer(spec, event)
            if spec.ttl > 0:
                decision.expires = now + spec.ttl
                with self._lock:
                    self._cache[key] = decision
        if not decision.allowed:
            raise _Refusal(message(403, "Forbidden"))
        return decision.context

    @staticmethod
    def _identity(spec: AuthorizerSpec, req: Request) -> list[str]:
        """The identity-source values; a missing or empty one is a 401 without calling the authorizer."""
        values: list[str] = []
        query = req.query or {}
        for name in spec.identity_headers:
            value = req.headers.get(name.lower(), "")
            if not value.strip():
                raise _Refusal(message(401, "Unauthorized"))
            values.append(value)
        for name in spec.identity_query_strings:
            value = query.get(name, "")
            if not value:
                raise _Refusal(message(401, "Unauthorized"))
            values.append(value)
        return values

    def _run_authorizer(self, spec: AuthorizerSpec, event: dict[str, Any]) -> _Decision:
        with self._lock:
            self.authorizer_invocations += 1
        try:
            answer = self.invoker.invoke(spec.function, event)
            return _decision(spec, answer)
        except Exception:
            print(f"[gatehouse-local] authorizer {spec.name} ({spec.function}) failed:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            raise _Refusal(message(500, "Internal Server Error")) from None


def _decision(spec: AuthorizerSpec, answer: Any) -> _Decision:
    """Reads a simple response, or an IAM-policy response when simple responses are off."""
    if not isinstance(answer, dict):
        raise MalformedResponseError(f"authorizer answered {type(answer).__name__}, not an object")
    context = answer.get("context")
    if context is not None:
        if not isinstance(context, dict):
            raise MalformedResponseError("authorizer context is not an object")
        for key, value in context.items():
            if value is not None and not isinstance(value, str | int | float | bool):
                raise MalformedResponseError(f"authorizer context value {key!r} is not a primitive")
    if spec.simple_responses:
        allowed = answer.get("isAuthorized")
        if not isinstance(allowed, bool):
            raise MalformedResponseError("simple response without a boolean isAuthorized")
        return _Decision(allowed, context, 0.0)
    statements = (answer.get("policyDocument") or {}).get("Statement")
    if not isinstance(statements, list):
        raise MalformedResponseError("IAM response without policyDocument.Statement")
    effects = {str(s.get("Effect", "")).lower() for s in statements if isinstance(s, dict)}
    return _Decision("allow" in effects and "deny" not in effects, context, 0.0)


def _make_handler(emulator: HttpApiEmulator) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without TCP_NODELAY a kept-alive client waits
        # ~40 ms on Nagle + delayed ACK for every back-to-back request.
        disable_nagle_algorithm = True
        server_version = "gatehouse-local"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            if emulator.access_log:
                sys.stderr.write(f"[gatehouse-local] {self.address_string()} {format % args}\n")

        def _read_body(self) -> bytes | None:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                total = 0
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        break
                    total += size
                    if total > MAX_BODY_BYTES:
                        raise _RequestTooLargeError
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks) or None
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                # Read and drop a moderately large body so the client sees the 413, not a reset connection.
                remaining = length if length <= 8 * MAX_BODY_BYTES else 0
                while remaining > 0 and (chunk := self.rfile.read(min(remaining, 1 << 20))):
                    remaining -= len(chunk)
                raise _RequestTooLargeError
            return self.rfile.read(length) if length > 0 else None

        def _serve(self) -> None:
            raw_path, _, raw_query = self.path.partition("?")
            if raw_path.startswith(("http://", "https://")):  # absolute-form request target
                raw_path = "/" + raw_path.split("/", 3)[3] if raw_path.count("/") >= 3 else "/"
            request_id = _new_request_id()
            try:
                body = self._read_body()
            except _RequestTooLargeError:
                self.close_connection = True
                self._send(message(413, "Request Entity Too Large"), request_id)
                return
            except ValueError:
                self.close_connection = True
                self._send(message(400, "Bad Request"), request_id)
                return
            pairs = list(self.headers.items())
            host = self.headers.get("Host") or f"127.0.0.1:{emulator.port}"
            pairs += [
                ("X-Forwarded-For", self.client_address[0]),
                ("X-Forwarded-Port", str(emulator.port)),
                ("X-Forwarded-Proto", "http"),
            ]
            req = Request(
                method=self.command,
                raw_path=raw_path or "/",
                raw_query=raw_query,
                header_pairs=[(k, v) for k, v in pairs if k.lower() not in ("connection", "transfer-encoding")],
                body=body,
                source_ip=self.client_address[0],
                protocol=self.request_version,
                request_id=request_id,
            )
            self._send(emulator.handle(req, host), request_id)

        def __getattr__(self, name: str) -> Callable[[], None]:
            # Every method reaches the router, as at API Gateway: one with no route (PROPFIND,
            # PURGE...) is its 404, where http.server would answer a 501 page of its own.
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            # A request http.server cannot parse (bad request line, URI or header too long, wrong
            # HTTP version) is still answered in API Gateway's shape, with an apigw-requestid.
            self.close_connection = True
            try:
                phrase = HTTPStatus(code).phrase
            except ValueError:
                phrase = "Error"
            self._send(apigw.message(code, phrase), _new_request_id())

        def _send(self, response: Response, request_id: str) -> None:
            if self.request_version == "HTTP/0.9":
                # No status line or headers in HTTP/0.9: answer as 1.0, so the id is never lost.
                self.request_version = "HTTP/1.0"
            self.send_response(response.status)
            names = {name.lower() for name, _ in response.headers}
            for name, value in response.headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            if "content-type" not in names and response.body:
                self.send_header("Content-Type", "application/json")
            self.send_header("Apigw-Requestid", request_id)
            self.send_header("Content-Length", str(len(response.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

    return _Handler

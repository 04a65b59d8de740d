"""The resolver factory and handler wrapper every API function uses.

`create_app()` gives a Powertools `APIGatewayHttpResolver` with validation on and every
failure mapped to the error envelope of docs/reference.md#errors. `make_handler()` wraps `app.resolve` in
the edge pipeline: request id, guards that must run before any body parsing (media type,
size, principal and route scope, rate limit), and the response headers they contribute.
Guards run in the wrapper rather than as Powertools middlewares because Powertools runs
request validation before user middlewares, and a request must be authenticated, scoped
and counted before its body is even looked at.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError, ResponseValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from gatehouse.errors import ErrorCode, GatehouseError, error_body
from gatehouse.metrics.records import ANONYMOUS, RequestSample, Tally, begin_tally, end_tally
from gatehouse.observability import logger, metrics, record_invocation, tracer, tracing_enabled
from gatehouse.request_id import request_id_for

JSON = "application/json"
Guard = Callable[[Mapping[str, Any]], dict[str, str] | None]
"""A pre-route check: raises GatehouseError to refuse, may return headers for the answer."""

_LOCATION_PREFIXES = {"body", "query", "path", "header", "cookie"}
# The request timer; a test replaces it to send requests of known latencies (docs/metrics.md).
request_clock: Callable[[], float] = time.perf_counter


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=JSON, body=json.dumps(body), headers=headers or {})


def _current_request_id(app: APIGatewayHttpResolver) -> str:
    return request_id_for(app.current_event.raw_event)


def validation_details(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Pydantic/Powertools validation errors -> [{field, message}] in the caller's terms."""
    details = []
    for error in errors:
        if error.get("type") == "json_invalid":
            details.append({"field": "body", "message": "The body is not valid JSON."})
            continue
        location = [str(part) for part in error.get("loc", ())]
        if location and location[0] in _LOCATION_PREFIXES:
            location = location[1:]
        field = ".".join(location) or "body"
        details.append({"field": field, "message": str(error.get("msg", "is not valid"))})
    return details


def error_response(error: GatehouseError, request_id: str) -> dict[str, Any]:
    """A GatehouseError as a complete API Gateway payload-2.0 answer."""
    return {
        "statusCode": error.status,
        "headers": {"Content-Type": JSON, **error.headers},
        "body": json.dumps(error_body(error.code, error.message, request_id, error.details)),
        "isBase64Encoded": False,
    }


def create_app(*, title: str = "Gatehouse", validation: bool = True) -> APIGatewayHttpResolver:
    """An APIGatewayHttpResolver with validation and the error envelope wired in.

    `validation=False` is for a function whose routes take no input and answer fixed documents
    (docs): Powertools' validation middleware is what loads pydantic, the larger part of an HTTP
    function's cold start floor (docs/metrics.md#cold-start)."""
    # Without a response code, Powertools reports an answer that breaks its own schema as the
    # caller's RequestValidationError (a 400 naming "response" fields): it is ours, a 500.
    app = (
        APIGatewayHttpResolver(enable_validation=True, response_validation_error_http_code=500)
        if validation
        else APIGatewayHttpResolver()
    )

    @app.exception_handler(GatehouseError)
    def _gatehouse_error(error: GatehouseError) -> Response:
        body = error_body(error.code, error.message, _current_request_id(app), error.details)
        return _json_response(error.status, body, error.headers)

    @app.exception_handler(RequestValidationError)
    def _validation_error(error: RequestValidationError) -> Response:
        # Powertools answers 422; docs/reference.md#errors says 400 VALIDATION_ERROR with field details.
        details = validation_details(list(error.errors()))
        body = error_body(ErrorCode.VALIDATION_ERROR, "The request is not valid.", _current_request_id(app), details)
        return _json_response(400, body)

    @app.exception_handler(ResponseValidationError)
    def _response_validation_error(error: ResponseValidationError) -> Response:
        # An answer that breaks its own schema is our defect, never the caller's.
        # Where and why only: an error's "input" is the answer's own value, which may be a secret
        # (a new key's plaintext, a source's signing secret).
        where = [
            {"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")}
            for e in error.errors()[:20]
            if isinstance(e, dict)
        ]
        logger.error("response failed validation", extra={"errors": where})
        body = error_body(
            ErrorCode.SERVER_ERROR, "The server could not complete the request.", _current_request_id(app)
        )
        return _json_response(500, body)

    @app.not_found
    def _not_found(_: Exception) -> Response:
        body = error_body(ErrorCode.NOT_FOUND, "No such route.", _current_request_id(app))
        return _json_response(404, body)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        # The type and traceback go to the log only; the caller sees a generic 500.
        logger.exception("unhandled error", extra={"error_type": type(error).__name__})
        body = error_body(
            ErrorCode.SERVER_ERROR, "The server could not complete the request.", _current_request_id(app)
        )
        return _json_response(500, body)

    return app


# Liveness touches no dependency, not even the metrics store: a load balancer's probes would
# otherwise make every instance's liveness depend on Redis (docs/metrics.md).
UNRECORDED_ROUTES = frozenset({"GET /health"})


def _principal_id(event: Mapping[str, Any]) -> str:
    """The authorizer's principal id, unparsed (metrics and logs only), or `anonymous` on a public route."""
    context = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda")
    value = context.get("principalId") if isinstance(context, Mapping) else None
    return value if isinstance(value, str) and value else ANONYMOUS


def _observe(
    event: Mapping[str, Any], response: Mapping[str, Any], principal: str, started: float, tally: Tally
) -> None:
    """After the answer is built: EMF and the Redis minute buckets. Never fails the request."""
    try:
        status = int(response.get("statusCode", 500))
        latency_ms = (request_clock() - started) * 1000
        metrics.add_metric(name="ApiRequests", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name=f"Api{status // 100}xx", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="ApiLatency", unit=MetricUnit.Milliseconds, value=latency_ms)
        route = str(event.get("routeKey") or "unknown")
        # One access line per request: the principal and route are already on the logger's keys.
        logger.info("request", extra={"status": status, "latencyMs": round(latency_ms, 3)})
        if route not in UNRECORDED_ROUTES:
            record_invocation(RequestSample(route, status, principal, latency_ms), tally)
    except Exception:
        logger.exception("request metrics failed")


def make_handler(
    app: APIGatewayHttpResolver, guards: list[Guard] | None = None
) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda entry point for `app`: guards first, then the routes, then common headers."""
    checks = list(guards or [])

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        started = request_clock()
        begin_tally()
        principal = _principal_id(event)
        # The principal's id names a key or a subject, never its secret (docs/metrics.md#logs).
        logger.append_keys(principal=principal, route=str(event.get("routeKey", "")))
        request_id = request_id_for(event)
        # Pin the chosen id on the event, so every exception handler answers with the same one.
        event.setdefault("headers", {})["x-request-id"] = request_id
        extra_headers: dict[str, str] = {}
        try:
            for guard in checks:
                extra_headers.update(guard(event) or {})
        except GatehouseError as refusal:
            response = error_response(refusal, request_id)
        except Exception:
            # A guard's bug must still answer the envelope (with X-Request-Id), never a bare 500.
            logger.exception("guard failed")
            response = error_response(GatehouseError(), request_id)
        else:
            response = app.resolve(event, context)
        headers = response.setdefault("headers", {})
        for name, value in extra_headers.items():
            headers.setdefault(name, value)
        headers["X-Request-Id"] = request_id
        _observe(event, response, principal, started, end_tally())
        return response

    if tracing_enabled():
        return tracer().capture_lambda_handler(lambda_handler, capture_response=False)
    return lambda_handler

"""Error codes, the exceptions the domains raise, and the error envelope of docs/reference.md#errors."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    AUTHENTICATION_ERROR = "AUTHENTICATION_ERROR"
    AUTHORIZATION_ERROR = "AUTHORIZATION_ERROR"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    INTEGRATION_ERROR = "INTEGRATION_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    SERVER_ERROR = "SERVER_ERROR"


STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.AUTHENTICATION_ERROR: 401,
    ErrorCode.AUTHORIZATION_ERROR: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.RATE_LIMIT_EXCEEDED: 429,
    ErrorCode.INTEGRATION_ERROR: 502,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.SERVER_ERROR: 500,
}


class GatehouseError(Exception):
    """A failure with a public code and message; `details` name the offending fields."""

    code: ErrorCode = ErrorCode.SERVER_ERROR
    default_message = "The server could not complete the request."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details or []
        self.headers = headers or {}
        super().__init__(self.message)

    @property
    def status(self) -> int:
        return STATUS_BY_CODE[self.code]


class ValidationError(GatehouseError):
    code = ErrorCode.VALIDATION_ERROR
    default_message = "The request is not valid."


class AuthenticationError(GatehouseError):
    code = ErrorCode.AUTHENTICATION_ERROR
    default_message = "Missing or invalid credentials."


class AuthorizationError(GatehouseError):
    code = ErrorCode.AUTHORIZATION_ERROR
    default_message = "The credentials do not allow this operation."


class NotFoundError(GatehouseError):
    code = ErrorCode.NOT_FOUND
    default_message = "No such resource."


class ConflictError(GatehouseError):
    code = ErrorCode.CONFLICT
    default_message = "The request conflicts with the current state of the resource."


class PayloadTooLargeError(GatehouseError):
    code = ErrorCode.PAYLOAD_TOO_LARGE
    default_message = "The request body is too large."


class UnsupportedMediaTypeError(GatehouseError):
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    default_message = "The request body must be application/json."


class RateLimitExceededError(GatehouseError):
    code = ErrorCode.RATE_LIMIT_EXCEEDED
    default_message = "Rate limit exceeded."


class IntegrationError(GatehouseError):
    code = ErrorCode.INTEGRATION_ERROR
    default_message = "A downstream service failed."


class ServiceUnavailableError(GatehouseError):
    code = ErrorCode.SERVICE_UNAVAILABLE
    default_message = "The service is temporarily unavailable."


def error_body(
    code: ErrorCode, message: str, request_id: str, details: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """The one error envelope every Gatehouse answer uses."""
    return {
        "error": {"code": code.value, "message": message, "details": details or []},
        "requestId": request_id,
    }

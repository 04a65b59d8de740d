"""Rate-limit routes: policies, per-subject overrides, usage, and the check-as-a-service endpoint."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from gatehouse.api import validation_details
from gatehouse.errors import ValidationError
from gatehouse.guards import principal_of
from gatehouse.models import ApiRequest
from gatehouse.principal import Principal
from gatehouse.ratelimit.overrides import Override, OverrideSettings
from gatehouse.ratelimit.policies import Policy, Windows, cost_error, window_outgrown_by
from gatehouse.ratelimit.render import check_body, usage_body
from gatehouse.ratelimit.runtime import ratelimit_service
from gatehouse.ratelimit.service import CHECK_NAMESPACE
from gatehouse.routes.declare import route

router = Router()
TAGS = ["rate limiting"]
SubjectPath = Annotated[str, Path(min_length=1, max_length=1024)]


class CheckRequest(ApiRequest):
    subject: str = Field(
        min_length=1,
        max_length=1024,
        description=f"Counted as `{CHECK_NAMESPACE}<subject>`; an override for `<subject>` applies.",
    )
    policy: str | None = Field(default=None, description="A named policy (see GET /v1/ratelimit/policies).")
    limits: Windows | None = Field(default=None, description="Ad-hoc windows.")
    # Strict: `true` and `"5"` are refused, not read as 1 and 5.
    cost: int = Field(default=1, ge=1, le=1_000_000, strict=True)

    @field_validator("cost")
    @classmethod
    def _cost_fits_the_windows(cls, cost: int, info: ValidationInfo) -> int:
        window = window_outgrown_by(info.data.get("limits") or (), cost)
        if window is not None:
            raise ValueError(cost_error(window))
        return cost

    @model_validator(mode="after")
    def _one_source_of_limits(self) -> CheckRequest:
        if self.policy is not None and self.limits is not None:
            raise ValueError("give either policy or limits, not both")
        return self


def _policy_json(policy: Policy) -> dict[str, Any]:
    return policy.model_dump(mode="json", by_alias=True, exclude_none=True)


def _override_json(override: Override) -> dict[str, Any]:
    return override.model_dump(mode="json", by_alias=True, exclude_none=True)


def _caller() -> Principal:
    return principal_of(router.current_event.raw_event)


@route(router, "GET /v1/ratelimit/policies", summary="Named policies and route groups", tags=TAGS)
def list_policies() -> dict[str, Any]:
    registry = ratelimit_service().registry
    return {
        "items": [_policy_json(p) for p in registry.policies.values()],
        "routeGroups": registry.route_groups,
        "nextCursor": None,
    }


@route(
    router,
    "POST /v1/ratelimit/check",
    summary="Check and charge a subject (for services not behind Gatehouse)",
    tags=TAGS,
)
def check(request: Annotated[CheckRequest, Body()]) -> dict[str, Any]:
    decision = ratelimit_service().check(
        _caller(), request.subject, policy=request.policy, limits=request.limits, cost=request.cost
    )
    return check_body(decision)


@route(router, "GET /v1/ratelimit/usage/{subject}", summary="Current use of each window of a subject", tags=TAGS)
def usage(
    subject: SubjectPath,
    policy: Annotated[str | None, Query(description="Comma-separated policy names (other subjects).")] = None,
    owner: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=256,
            description="Another principal's owner when not itself (an API key): its counters live with the owner's.",
        ),
    ] = None,
) -> dict[str, Any]:
    subject = unquote(subject)  # Powertools hands path parameters over still percent-encoded
    return usage_body(subject, ratelimit_service().usage(_caller(), subject, policy, owner=owner))


_OVERRIDE = {"application/json": {"schema": {"type": "object", "required": ["subject"]}}}


@route(
    router,
    "PUT /v1/ratelimit/overrides/{subject}",
    summary="Set a subject's override",
    tags=TAGS,
    responses={
        200: {"description": "replaced", "content": _OVERRIDE},
        201: {"description": "created", "content": _OVERRIDE},
    },
)
def put_override(subject: SubjectPath, request: Annotated[OverrideSettings, Body()]) -> Response[dict[str, Any]]:
    try:
        override = Override(subject=unquote(subject), **request.model_dump(exclude_none=True))
    except PydanticValidationError as error:
        raise ValidationError(details=validation_details(list(error.errors()))) from error
    created = ratelimit_service().put_override(override)
    return Response(status_code=201 if created else 200, content_type="application/json", body=_override_json(override))


@route(router, "GET /v1/ratelimit/overrides/{subject}", summary="A subject's override", tags=TAGS)
def get_override(subject: SubjectPath) -> dict[str, Any]:
    return _override_json(ratelimit_service().get_override(unquote(subject)))


@route(
    router,
    "DELETE /v1/ratelimit/overrides/{subject}",
    summary="Remove a subject's override",
    tags=TAGS,
    responses={204: {"description": "removed (or there was none)"}},
)
def delete_override(subject: SubjectPath) -> Response[str]:
    ratelimit_service().delete_override(unquote(subject))
    return Response(status_code=204, body="")

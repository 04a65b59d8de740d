"""Rate-limit routes: policies, per-subject overrides, usage, and the check-as-a-service endpoint."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from gatehouse.api import validation_details
from gatehouse.auth.scopes import RATELIMIT_ADMIN
from gatehouse.errors import NotFoundError, ValidationError
from gatehouse.guards import principal_of, require_scope
from gatehouse.models import ApiRequest
from gatehouse.ratelimit.overrides import Override, OverrideSettings
from gatehouse.ratelimit.policies import Policy, Windows, default_registry
from gatehouse.ratelimit.render import check_body, usage_body
from gatehouse.ratelimit.runtime import override_cache, override_store, rate_limiter

router = Router()
TAGS = ["rate limiting"]
SubjectPath = Annotated[str, Path(min_length=1, max_length=1024)]


# Subjects of the check API live in their own namespace, so a `ratelimit:check` caller can never
# charge (or drain) a principal's own buckets. Overrides and usage address them with the prefix.
CHECK_NAMESPACE = "check:"
MAX_USAGE_POLICIES = 8


class CheckRequest(ApiRequest):
    subject: str = Field(min_length=1, max_length=1024, description=f"Counted as `{CHECK_NAMESPACE}<subject>`.")
    policy: str | None = Field(default=None, description="A named policy (see GET /v1/ratelimit/policies).")
    limits: Windows | None = Field(default=None, description="Ad-hoc windows.")
    cost: int = Field(default=1, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _one_source_of_limits(self) -> CheckRequest:
        if self.policy is not None and self.limits is not None:
            raise ValueError("give either policy or limits, not both")
        return self


def _policy_json(policy: Policy) -> dict[str, Any]:
    return policy.model_dump(mode="json", by_alias=True, exclude_none=True)


def _override_json(override: Override) -> dict[str, Any]:
    return override.model_dump(mode="json", by_alias=True, exclude_none=True)


@router.get("/v1/ratelimit/policies", summary="Named policies and route groups", tags=TAGS)
def list_policies() -> dict[str, Any]:
    registry = default_registry()
    return {
        "items": [_policy_json(p) for p in registry.policies.values()],
        "routeGroups": registry.route_groups,
        "nextCursor": None,
    }


@router.post("/v1/ratelimit/check", summary="Check and charge a subject (for services not behind Gatehouse)", tags=TAGS)
def check(request: Annotated[CheckRequest, Body()]) -> dict[str, Any]:
    registry = default_registry()
    if request.limits is not None:
        policies = [Policy(name="custom", windows=request.limits)]
    elif request.policy is not None:
        policy = registry.get(request.policy)
        if policy is None:
            raise ValidationError(details=[{"field": "policy", "message": f"unknown policy {request.policy!r}"}])
        policies = [policy]
    else:
        # Neither given: the caller's own tier, the policy its own requests are held to.
        caller = principal_of(router.current_event.raw_event)
        policies = registry.policies_for(caller.tier)
    return check_body(rate_limiter().check(CHECK_NAMESPACE + request.subject, policies, request.cost))


@router.get("/v1/ratelimit/usage/<subject>", summary="Current use of each window of a subject", tags=TAGS)
def usage(
    subject: SubjectPath,
    policy: Annotated[str | None, Query(description="Comma-separated policy names (other subjects).")] = None,
) -> dict[str, Any]:
    subject = unquote(subject)  # Powertools hands path parameters over still percent-encoded
    caller = principal_of(router.current_event.raw_event)
    registry = default_registry()
    if subject == caller.principal_id and policy is None:
        policies = registry.policies_for(caller.tier)
        policies += [registry.policies[g] for g in sorted(set(registry.route_groups.values()))]
    else:
        if subject != caller.principal_id:
            require_scope(caller, RATELIMIT_ADMIN)
        names = list(dict.fromkeys(n.strip() for n in (policy or registry.default_tier).split(",") if n.strip()))
        if len(names) > MAX_USAGE_POLICIES:
            raise ValidationError(details=[{"field": "policy", "message": f"at most {MAX_USAGE_POLICIES} policies"}])
        unknown = [n for n in names if registry.get(n) is None]
        if unknown:
            raise ValidationError(details=[{"field": "policy", "message": f"unknown policies {unknown}"}])
        policies = [registry.policies[n] for n in names]
    return usage_body(subject, rate_limiter().usage(subject, policies))


@router.put("/v1/ratelimit/overrides/<subject>", summary="Set a subject's override", tags=TAGS)
def put_override(subject: SubjectPath, request: Annotated[OverrideSettings, Body()]) -> Response[dict[str, Any]]:
    subject = unquote(subject)
    try:
        override = Override(subject=subject, **request.model_dump(exclude_none=True))
    except PydanticValidationError as error:
        raise ValidationError(details=validation_details(list(error.errors()))) from error
    created = override_store().put(override)
    override_cache().invalidate(subject)
    return Response(status_code=201 if created else 200, content_type="application/json", body=_override_json(override))


@router.get("/v1/ratelimit/overrides/<subject>", summary="A subject's override", tags=TAGS)
def get_override(subject: SubjectPath) -> dict[str, Any]:
    override = override_store().get(unquote(subject))
    if override is None:
        raise NotFoundError("No override for this subject.")
    return _override_json(override)


@router.delete("/v1/ratelimit/overrides/<subject>", summary="Remove a subject's override", tags=TAGS)
def delete_override(subject: SubjectPath) -> Response[str]:
    subject = unquote(subject)
    if not override_store().delete(subject):
        raise NotFoundError("No override for this subject.")
    override_cache().invalidate(subject)
    return Response(status_code=204, body="")

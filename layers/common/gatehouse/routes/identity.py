"""GET /v1/me: the caller's identity exactly as the handlers see it."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from gatehouse.guards import principal_of
from gatehouse.models import ApiModel
from gatehouse.routes.declare import route

router = Router()


class Me(ApiModel):
    principal_id: str
    owner_id: str
    auth_type: str
    tier: str
    scopes: list[str]
    key_id: str | None = None
    # When the credential stops working (RFC 3339 UTC): an API key's expiry, or the end of its
    # grace once rotated; null for a key that never expires and for a JWT.
    expires_at: str | None = None


@route(router, "GET /v1/me", summary="Who am I", tags=["identity"])
def me() -> Me:
    principal = principal_of(router.current_event.raw_event)
    return Me(
        principal_id=principal.principal_id,
        owner_id=principal.owner_id,
        auth_type=principal.auth_type,
        tier=principal.tier,
        scopes=sorted(principal.scopes),
        key_id=principal.key_id,
        expires_at=principal.expires_at,
    )

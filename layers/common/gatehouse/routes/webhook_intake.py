"""POST /webhooks/{source}: public (the signature is the credential), any body, read as the exact bytes sent."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Final

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from gatehouse.errors import GatehouseError, PayloadTooLargeError, ValidationError
from gatehouse.metrics.records import count_webhook
from gatehouse.webhooks.intake import Delivery
from gatehouse.webhooks.runtime import webhook_intake
from gatehouse.webhooks.source_service import MAX_BODY_BYTES
from gatehouse.webhooks.views import IntakeAccepted

router = Router()
SourcePath = Annotated[str, Path(min_length=1, max_length=48, pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$")]
# A base64 body longer than this decodes to more than any source accepts: refused before decoding.
_MAX_ENCODED_CHARS: Final = 4 * (MAX_BODY_BYTES // 3 + 1)


def _json(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": IntakeAccepted}}}


def raw_body(event: dict[str, Any]) -> bytes:
    """The body exactly as the sender sent it: API Gateway's base64 decoded first, text as UTF-8."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        if len(body) > _MAX_ENCODED_CHARS:
            raise PayloadTooLargeError(f"The body is larger than {MAX_BODY_BYTES} bytes.")
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(details=[{"field": "body", "message": "is not valid base64"}]) from None
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"The body is larger than {MAX_BODY_BYTES} bytes.")
    return body.encode("utf-8", errors="surrogatepass")


@router.post(
    "/webhooks/<source>",
    summary="Receive a webhook: 202 new, 200 duplicate (not processed again)",
    description=(
        "Public: the signature of the source's scheme is the credential. Verified over the exact bytes "
        "received, then stored and deduplicated by one conditional write keyed by (source, delivery id)."
    ),
    tags=["webhook intake"],
    responses={
        202: _json("accepted and durable"),
        200: _json("a delivery already accepted"),
    },
)
def receive_webhook(source: SourcePath) -> Response[dict[str, Any]]:
    event = router.current_event.raw_event
    context = (event.get("requestContext") or {}).get("http") or {}
    delivery = Delivery(
        source=source,
        body=raw_body(event),
        headers={str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()},
        client_ip=str(context.get("sourceIp") or "unknown"),
    )
    try:
        answer = webhook_intake().receive(delivery)
    except GatehouseError as refusal:
        # An unknown source is not named: anyone may send to any path, and labels must stay bounded.
        count_webhook("rejected", source if refusal.status != 404 else "unknown")
        raise
    if answer.challenge is not None:
        return Response(status_code=200, content_type="application/json", body={"challenge": answer.challenge})
    count_webhook("duplicates" if answer.duplicate else "received", source)
    body = IntakeAccepted(id=answer.event_id, duplicate=answer.duplicate).to_public()
    return Response(status_code=200 if answer.duplicate else 202, content_type="application/json", body=body)

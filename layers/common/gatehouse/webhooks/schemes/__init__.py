"""One registry of signature schemes: name -> the pure verifier and the headers a delivery keeps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from gatehouse.webhooks.schemes.common import Request, SigningKey, Verified
from gatehouse.webhooks.schemes.github import verify_github_signature
from gatehouse.webhooks.schemes.hmac_sha256 import verify_hmac_sha256_signature
from gatehouse.webhooks.schemes.shopify import verify_shopify_signature
from gatehouse.webhooks.schemes.slack import verify_slack_signature
from gatehouse.webhooks.schemes.standard import verify_standard_signature
from gatehouse.webhooks.schemes.stripe import verify_stripe_signature

Verifier = Callable[[Request, Sequence[SigningKey], float, int], Verified]


@dataclass(frozen=True, slots=True)
class Scheme:
    name: str
    verify: Verifier
    # The headers stored with a delivery (with content-type and user-agent): what it was signed with.
    headers: tuple[str, ...]
    # Where the event type is read from a JSON body when no header names it (a source may override).
    type_paths: tuple[str, ...] = ()
    # Whether the scheme checks a timestamp (and so honours the source's tolerance).
    timestamped: bool = True


SCHEMES: Final[dict[str, Scheme]] = {
    s.name: s
    for s in (
        Scheme(
            "standard",
            verify_standard_signature,
            ("webhook-id", "webhook-timestamp", "webhook-signature"),
            ("type",),
        ),
        Scheme("stripe", verify_stripe_signature, ("stripe-signature",), ("type",)),
        Scheme(
            "github",
            verify_github_signature,
            ("x-hub-signature-256", "x-github-delivery", "x-github-event", "x-github-hook-id"),
            timestamped=False,
        ),
        Scheme(
            "slack",
            verify_slack_signature,
            ("x-slack-signature", "x-slack-request-timestamp", "x-slack-retry-num", "x-slack-retry-reason"),
            ("event.type", "type"),
        ),
        Scheme(
            "shopify",
            verify_shopify_signature,
            ("x-shopify-hmac-sha256", "x-shopify-webhook-id", "x-shopify-topic", "x-shopify-shop-domain"),
            timestamped=False,
        ),
        Scheme(
            "hmac-sha256",
            verify_hmac_sha256_signature,
            ("x-webhook-signature", "x-webhook-timestamp", "x-webhook-id", "x-webhook-event"),
        ),
    )
}
SCHEME_NAMES: Final = tuple(SCHEMES)

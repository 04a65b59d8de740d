"""Local bootstrap: a development HS256 JWT issuer and an admin API key, written to local.json.

As on AWS, the issuer's secret lives in Secrets Manager (moto's here) under <stack>/jwt/ and the
authorizer reads it by its secretId; the secret itself goes to local.json for people and tests.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local.stack import LocalStack

DEV_AUDIENCE = "gatehouse-local"


DEV_ISSUER = "https://gatehouse.local/dev-issuer"


def dev_issuer(secret_id: str) -> dict[str, Any]:
    """The development issuer: HS256 only, the tier from the `tier` claim, its secret read by id."""
    return {
        "issuer": DEV_ISSUER,
        "audience": DEV_AUDIENCE,
        "algorithms": ["HS256"],
        "secretId": secret_id,
    }


def store_dev_secret(stack: LocalStack, secret: str) -> str:
    """Put the issuer's secret in the local Secrets Manager (a new value at each start); its name."""
    from local.resources import client
    from local.template import STACK_NAME

    name = f"{STACK_NAME}/jwt/dev-issuer"
    sm = client("secretsmanager", stack.aws_endpoint_url)
    try:
        sm.put_secret_value(SecretId=name, SecretString=secret)
    except sm.exceptions.ResourceNotFoundException:
        sm.create_secret(Name=name, SecretString=secret)
    return name


def bootstrap(stack: LocalStack) -> dict[str, Any]:
    """Trust a fresh development issuer and create an admin key, for people, scripts and tests."""
    secret = secrets.token_urlsafe(48)
    issuer = dev_issuer(store_dev_secret(stack, secret))
    stack.env["JWT_ISSUERS"] = json.dumps([issuer])
    stack.activate()

    # Imported after activate(): the layer is on sys.path and settings see the stack's environment.
    from gatehouse.keys.runtime import keys_service
    from gatehouse.principal import Principal
    from gatehouse.wiring import reset

    reset()
    # The operator acts in-process and holds no key of its own (an API-key caller's record is
    # re-read before it mints one): it is an identity, as a JWT's would be.
    operator = Principal(
        principal_id="local-operator",
        owner_id="local-operator",
        auth_type="jwt",
        tier="enterprise",
        scopes=frozenset({"admin"}),
    )
    _, admin_key = keys_service().create_key(operator, "local admin", ["admin"], tier="enterprise")
    return {
        "adminKey": admin_key,
        "jwt": {
            "issuer": issuer["issuer"],
            "audience": DEV_AUDIENCE,
            "algorithm": "HS256",
            "secret": secret,
            "tierClaim": "tier",
            "scopeClaim": "scope",
        },
    }

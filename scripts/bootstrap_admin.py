"""The first credential of a fresh stack: one admin API key, written with the deployer's AWS credentials.

    python -m scripts.bootstrap_admin --stack gatehouse-dev [--region us-east-1] [--owner operators]

It reads the stack's outputs (TableName, ApiKeyPepperSecretArn) and its KeyEnvironment parameter,
reads the pepper from Secrets Manager, and creates the key through the keys area's own use case and
DynamoDB adapter (the same records, hash and per-owner cap as POST /v1/keys). The key is printed once,
alone on stdout; everything else goes to stderr. Nothing is written if the owner already holds its
cap of keys. The deployer needs dynamodb:TransactWriteItems/PutItem/UpdateItem/ConditionCheckItem on
the table, secretsmanager:GetSecretValue on the pepper and cloudformation:DescribeStacks.
docs/operations.md#the-first-admin-key says when to use it and how to retire the key.

Against the local stack (make dev), name the resources instead of a stack:
    AWS_ENDPOINT_URL=... python -m scripts.bootstrap_admin --table gatehouse-local-GatehouseTable \\
        --pepper-secret-id gatehouse-local/api-key-pepper --key-env test
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "layers" / "common") not in sys.path:
    sys.path.insert(0, str(ROOT / "layers" / "common"))

from gatehouse.errors import GatehouseError  # noqa: E402 - the layer is put on the path just above
from gatehouse.keys.dynamo import DynamoKeyStore  # noqa: E402
from gatehouse.keys.service import DEFAULT_MAX_KEYS_PER_OWNER, KeysService  # noqa: E402
from gatehouse.principal import Principal  # noqa: E402


@dataclass(frozen=True)
class Target:
    table: str
    pepper_secret_id: str
    key_environment: str


def stack_target(cloudformation: Any, stack: str) -> Target:
    """Where a deployed stack keeps its keys: its outputs and its KeyEnvironment parameter."""
    description = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs") or []}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in description.get("Parameters") or []}
    missing = [name for name in ("TableName", "ApiKeyPepperSecretArn") if name not in outputs]
    if missing:
        raise SystemExit(f"stack {stack} has no output {', '.join(missing)}: is it a Gatehouse stack, fully deployed?")
    return Target(outputs["TableName"], outputs["ApiKeyPepperSecretArn"], parameters.get("KeyEnvironment", "live"))


def create_admin_key(
    dynamodb: Any,
    secretsmanager: Any,
    target: Target,
    *,
    owner: str,
    name: str,
    max_keys_per_owner: int = DEFAULT_MAX_KEYS_PER_OWNER,
) -> tuple[dict[str, Any], str]:
    """One admin key for `owner`, written as the keys area writes it: (its public view, the key)."""
    pepper = secretsmanager.get_secret_value(SecretId=target.pepper_secret_id)["SecretString"]
    service = KeysService(
        DynamoKeyStore(dynamodb, target.table),
        environment=target.key_environment,
        pepper=pepper,
        max_keys_per_owner=max_keys_per_owner,
    )
    # The operator acts with AWS credentials, not with a key: an identity, as a JWT's would be.
    operator = Principal(
        principal_id=f"bootstrap:{owner}",
        owner_id=owner,
        auth_type="jwt",
        tier="enterprise",
        scopes=frozenset({"admin"}),
    )
    view, key = service.create_key(operator, name, ["admin"], tier="enterprise", owner_id=owner)
    return view.to_public(), key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--stack", help="the deployed stack's name (e.g. gatehouse-dev)")
    parser.add_argument("--region", help="its Region (default: your AWS configuration's)")
    parser.add_argument("--owner", default="operators", help="the key's owner id (default: operators)")
    parser.add_argument("--name", default="first admin key", help="the key's name")
    parser.add_argument("--max-keys-per-owner", type=int, default=DEFAULT_MAX_KEYS_PER_OWNER)
    parser.add_argument("--table", help="instead of --stack: the table's name")
    parser.add_argument("--pepper-secret-id", help="instead of --stack: the pepper secret's name or ARN")
    parser.add_argument("--key-env", choices=["live", "test"], help="instead of --stack: gk_live_ or gk_test_")
    args = parser.parse_args(argv)

    import boto3

    session = boto3.session.Session(region_name=args.region)
    if args.stack:
        target = stack_target(session.client("cloudformation"), args.stack)
    elif args.table and args.pepper_secret_id and args.key_env:
        target = Target(args.table, args.pepper_secret_id, args.key_env)
    else:
        parser.error("give --stack, or --table, --pepper-secret-id and --key-env")
    try:
        view, key = create_admin_key(
            session.client("dynamodb"),
            session.client("secretsmanager"),
            target,
            owner=args.owner,
            name=args.name,
            max_keys_per_owner=args.max_keys_per_owner,
        )
    except GatehouseError as refusal:
        print(f"refused: {refusal.message}", file=sys.stderr)
        return 1
    created = f"created admin key {view['id']} ({view['prefix']}…) for owner {args.owner} in {target.table}"
    print(created, file=sys.stderr)
    print("it is shown once, below; store it in your secrets manager now", file=sys.stderr)
    print(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())

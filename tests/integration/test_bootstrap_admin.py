"""The first-credential command (scripts/bootstrap_admin.py) against the local stack's own services:
the key it prints works through the authorizer and the API, and it respects the pepper and the cap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from local.resources import client
from local.template import STACK_NAME

ROOT = Path(__file__).resolve().parents[2]
TABLE = f"{STACK_NAME}-GatehouseTable"
PEPPER = f"{STACK_NAME}/api-key-pepper"


def run_bootstrap(local_stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": local_stack.aws_endpoint_url,
        "AWS_ENDPOINT_URL_DYNAMODB": local_stack.dynamodb_endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return subprocess.run(
        [sys.executable, "-m", "scripts.bootstrap_admin", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_printed_key_is_a_working_admin_key(local_stack):
    owner = f"ops-{uuid.uuid4().hex[:8]}"
    done = run_bootstrap(
        local_stack, "--table", TABLE, "--pepper-secret-id", PEPPER, "--key-env", "test", "--owner", owner
    )
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert key.startswith("gk_test_") and "\n" not in key
    assert key not in done.stderr  # shown once, on stdout only

    headers = {"Authorization": f"Bearer {key}"}
    me = requests.get(f"{local_stack.api_url}/v1/me", headers=headers, timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["ownerId"] == owner and "admin" in me.json()["scopes"]
    # An admin route: it can create the next credential through the API itself.
    created = requests.post(
        f"{local_stack.api_url}/v1/keys",
        headers=headers,
        json={"name": "made by the first key", "scopes": ["keys:read"]},
        timeout=10,
    )
    assert created.status_code == 201, created.text


def test_the_key_is_stored_peppered(local_stack):
    from gatehouse.keys import api_key_format

    done = run_bootstrap(local_stack, "--table", TABLE, "--pepper-secret-id", PEPPER, "--key-env", "test")
    key = done.stdout.strip()
    ddb = client("dynamodb", local_stack.dynamodb_endpoint_url)
    plain = api_key_format.hash_key(key)
    assert "Item" not in ddb.get_item(TableName=TABLE, Key={"pk": {"S": f"KEYHASH#{plain}"}, "sk": {"S": "KEYHASH"}})
    pepper = client("secretsmanager", local_stack.aws_endpoint_url).get_secret_value(SecretId=PEPPER)["SecretString"]
    peppered = api_key_format.hash_key(key, pepper)
    assert "Item" in ddb.get_item(TableName=TABLE, Key={"pk": {"S": f"KEYHASH#{peppered}"}, "sk": {"S": "KEYHASH"}})


def test_the_owner_cap_is_respected(local_stack):
    owner = f"ops-{uuid.uuid4().hex[:8]}"
    args = ("--table", TABLE, "--pepper-secret-id", PEPPER, "--key-env", "test", "--owner", owner)
    assert run_bootstrap(local_stack, *args, "--max-keys-per-owner", "1").returncode == 0
    refused = run_bootstrap(local_stack, *args, "--max-keys-per-owner", "1")
    assert refused.returncode == 1
    assert refused.stdout == "" and "refused" in refused.stderr


def test_a_stack_name_is_read_from_its_outputs(local_stack):
    # moto's CloudFormation holds a stand-in stack with the outputs and parameter a Gatehouse stack has.
    cloudformation = client("cloudformation", local_stack.aws_endpoint_url)
    stack = f"gatehouse-bootstrap-{uuid.uuid4().hex[:6]}"
    template = {
        "Parameters": {"KeyEnvironment": {"Type": "String", "Default": "test"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"TableName": {"Value": TABLE}, "ApiKeyPepperSecretArn": {"Value": PEPPER}},
    }
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    done = run_bootstrap(local_stack, "--stack", stack, "--region", "us-east-1")
    assert done.returncode == 0, done.stderr
    me = requests.get(
        f"{local_stack.api_url}/v1/me", headers={"Authorization": f"Bearer {done.stdout.strip()}"}, timeout=10
    )
    assert me.status_code == 200


@pytest.mark.parametrize("args", [(), ("--table", TABLE)])
def test_without_a_target_it_says_what_to_give(local_stack, args):
    done = run_bootstrap(local_stack, *args)
    assert done.returncode == 2 and "--stack" in done.stderr

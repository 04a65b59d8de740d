"""samconfig.toml, read as the SAM CLI reads it: each environment deploys what it says.

Run with `-s` to see each environment's effective parameters (also: python scripts/samconfig_env.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from local.template import read_yaml
from scripts.samconfig_env import effective, parameter_overrides

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"
ENVIRONMENTS = ("default", "dev", "prod")
TEMPLATE_PARAMETERS = set(read_yaml(ROOT / "template.yaml")["Parameters"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_environment_lists_every_template_parameter(env):
    # The CLI replaces the list rather than merging it, so a missing name would deploy the default.
    view = effective(env)
    print(f"\n[{env}] {view['stack_name']} in {view['region']}: {json.dumps(view['parameters'], indent=1)}")
    assert set(view["parameters"]) == TEMPLATE_PARAMETERS
    assert view["region"] and view["capabilities"] == "CAPABILITY_IAM"


def test_the_environments_are_distinct_stacks_and_stages():
    views = {env: effective(env) for env in ENVIRONMENTS}
    assert len({v["stack_name"] for v in views.values()}) == len(ENVIRONMENTS)
    stages = {env: v["parameters"]["Stage"] for env, v in views.items()}
    assert stages == {"default": "test", "dev": "dev", "prod": "prod"}


def test_prod_deploys_prod_with_its_own_values():
    prod, dev = effective("prod"), effective("dev")
    assert prod["stack_name"] == "gatehouse-prod"
    assert prod["confirm_changeset"] is True
    p = prod["parameters"]
    assert (p["Stage"], p["KeyEnvironment"], p["LogLevel"]) == ("prod", "live", "INFO")
    assert p["VpcId"] == "/gatehouse/prod/network/vpc-id"
    assert p["SubnetIds"] == "/gatehouse/prod/network/subnet-ids"
    assert int(p["LogRetentionDays"]) >= 365
    assert int(p["ApiThrottlingRateLimit"]) > int(dev["parameters"]["ApiThrottlingRateLimit"])
    assert p["RedisEndpoint"] == ""  # the stack creates its cache


def test_each_value_is_one_the_template_accepts():
    parameters = read_yaml(ROOT / "template.yaml")["Parameters"]
    for env in ENVIRONMENTS:
        for name, value in effective(env)["parameters"].items():
            allowed = parameters[name].get("AllowedValues")
            if allowed is not None:
                assert value in [str(a) for a in allowed], (env, name, value)


def test_a_command_line_override_replaces_the_list():
    # What the file warns about: the CLI's --parameter-overrides is the whole list.
    assert parameter_overrides("RedisEndpoint=rediss://x:6379") == {"RedisEndpoint": "rediss://x:6379"}
    assert parameter_overrides('Stage=prod RedisEndpoint="" JwtIssuers=[]') == {
        "Stage": "prod",
        "RedisEndpoint": "",
        "JwtIssuers": "[]",
    }


@pytest.mark.skipif(not SAM_PYTHON.exists(), reason="the SAM CLI is installed by `make build`")
def test_the_sam_cli_itself_reads_the_same():
    code = (
        "import json; from samcli.lib.config.samconfig import SamConfig; "
        "from samcli.cli.types import CfnParameterOverridesType as T; c = SamConfig('.'); "
        "print(json.dumps({e: dict(c.get_all(['deploy'], 'parameters', env=e), parameter_overrides="
        "T().convert(c.get_all(['deploy'], 'parameters', env=e)['parameter_overrides'], None, None)) "
        f"for e in {list(ENVIRONMENTS)!r}}}))"
    )
    out = subprocess.run([SAM_PYTHON, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    by_sam = json.loads(out)
    for env in ENVIRONMENTS:
        ours = effective(env)
        assert by_sam[env]["stack_name"] == ours["stack_name"]
        assert by_sam[env]["region"] == ours["region"]
        assert by_sam[env]["parameter_overrides"] == ours["parameters"]

"""Prints what `sam deploy --config-env <env>` deploys, read from samconfig.toml as the SAM CLI reads it.

Usage: python scripts/samconfig_env.py [default|dev|prod ...]   (all environments when none is named)

The SAM CLI (samcli.lib.config.samconfig.SamConfig.get_all) takes only the chosen environment's
tables, [<env>.global.parameters] and then [<env>.<command>.parameters] over it, with no fallback
to [default]; parameter_overrides is a string of `Key=Value` tokens or a list of them.
"""

from __future__ import annotations

import re
import shlex
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def command_parameters(document: dict[str, Any], env: str, command: str = "deploy") -> dict[str, Any]:
    """The settings SAM uses for `command` in `env`: the env's global table, its command table on top."""
    tables = document.get(env)
    if not isinstance(tables, dict):
        raise KeyError(f"samconfig.toml has no environment {env!r}")
    merged = dict((tables.get("global") or {}).get("parameters") or {})
    merged.update((tables.get(command) or {}).get("parameters") or {})
    return merged


def parameter_overrides(value: str | list[str]) -> dict[str, str]:
    """`Key=Value` tokens (a string split like a shell, or a list) -> {key: value}, quotes removed."""
    tokens = shlex.split(value) if isinstance(value, str) else list(value)
    parsed = {}
    for token in tokens:
        match = re.fullmatch(r'"?([^=]+?)"?=(.*)', token, flags=re.S)
        if match is None:
            raise ValueError(f"not Key=Value: {token!r}")
        raw = match.group(2)
        parsed[match.group(1)] = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
    return parsed


def effective(env: str, path: Path = ROOT / "samconfig.toml") -> dict[str, Any]:
    """stack, region, capabilities and every parameter `sam deploy --config-env env` passes."""
    settings = command_parameters(tomllib.loads(path.read_text(encoding="utf-8")), env)
    return {
        "stack_name": settings.get("stack_name"),
        "region": settings.get("region"),
        "capabilities": settings.get("capabilities"),
        "confirm_changeset": settings.get("confirm_changeset"),
        "parameters": parameter_overrides(settings.get("parameter_overrides") or []),
    }


def main(envs: list[str]) -> int:
    document = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    for env in envs or [e for e, v in document.items() if isinstance(v, dict)]:
        view = effective(env)
        print(f"[{env}] stack {view['stack_name']} in {view['region']}, {view['capabilities']}")
        for name, value in view["parameters"].items():
            print(f"    {name} = {value!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

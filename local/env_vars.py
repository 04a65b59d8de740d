"""Writes events/env-vars/<function>.json: each function's variables for `sam local invoke --env-vars`.

    python -m local.env_vars            (re)write every file from template.yaml
    python -m local.env_vars --check    exit 1 if a file is out of date (tests/unit/test_env_vars.py)

The values are the template's, resolved for the local stack's names (stack gatehouse-local, account
123456789012, us-east-1), so the files list exactly what each function reads and nothing else: SAM
passes only variables the template declares. The authorizer's file also holds the development issuer
the sample authorizer events were signed for. README.md (sam local invoke) says how to point them at
a deployed dev stack instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from local.template import load_template

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "events" / "env-vars"
# What the sample events in events/ were made for (tests/integration/test_events.py reads it too).
SAMPLE_OVERRIDES: dict[str, dict[str, str]] = {
    "AuthorizerFunction": {
        "JWT_ISSUERS": json.dumps(
            [
                {
                    "issuer": "https://auth.gatehouse.local/",
                    "audience": "gatehouse-api",
                    "algorithms": ["HS256"],
                    # A sample only: deployed issuers name their secret in Secrets Manager (secretId).
                    "secret": "gatehouse-sample-events-dev-secret-0123456789abcdef",
                    "requiredTyp": "at+jwt",
                }
            ]
        ),
        "AUTHORIZER_CACHE_TTL": "0",
        "GATEHOUSE_KEY_ENV": "test",
        "API_KEY_PEPPER_SECRET_ID": "",
    }
}


def files(template_path: Path = ROOT / "template.yaml") -> dict[Path, dict[str, Any]]:
    """{file: {"<LogicalId>": {variable: value}}} for every function of the template."""
    template = load_template(template_path)
    out = {}
    for logical_id, function in template.functions.items():
        variables = dict(sorted(function.env.items()))
        variables.update(SAMPLE_OVERRIDES.get(logical_id, {}))
        out[FOLDER / f"{function.code_dir.name}.json"] = {logical_id: variables}
    return out


def render(content: dict[str, Any]) -> str:
    return json.dumps(content, indent=2) + "\n"


def main(argv: list[str]) -> int:
    stale = []
    for path, content in files().items():
        if "--check" in argv:
            if not path.exists() or path.read_text(encoding="utf-8") != render(content):
                stale.append(path.relative_to(ROOT).as_posix())
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(content), encoding="utf-8")
    if stale:
        print(f"out of date (run python -m local.env_vars): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

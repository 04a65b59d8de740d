"""events/env-vars/: one file per function for `sam local invoke --env-vars`, in step with template.yaml."""

from __future__ import annotations

import json
from pathlib import Path

from local.env_vars import FOLDER, files, render
from local.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def test_every_function_has_its_file_with_exactly_its_variables():
    template = load_template(ROOT / "template.yaml")
    for logical_id, function in template.functions.items():
        path = FOLDER / f"{function.code_dir.name}.json"
        assert path.exists(), f"{logical_id}: {path.relative_to(ROOT)} is missing"
        (name, variables), *rest = json.loads(path.read_text()).items()
        assert (name, rest) == (logical_id, [])
        # SAM passes only the variables a function declares: any other name would be silently ignored.
        assert set(variables) == set(function.env), logical_id


def test_the_files_are_what_the_generator_writes():
    stale = [p.name for p, content in files().items() if p.read_text(encoding="utf-8") != render(content)]
    assert stale == [], "run: python -m local.env_vars"


def test_no_file_holds_a_deployed_secret():
    for path in FOLDER.glob("*.json"):
        for variables in json.loads(path.read_text()).values():
            assert "API_KEY_PEPPER" not in variables and "REDIS_PASSWORD" not in variables
            assert all(
                not value.startswith(("rediss://", "redis://:")) or "@" not in value for value in variables.values()
            )

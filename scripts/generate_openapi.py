"""Writes the OpenAPI document the docs function serves (layers/common/gatehouse/routes/openapi.json).

    python -m scripts.generate_openapi           # write it after changing a route or a model
    python -m scripts.generate_openapi --check   # exit 1 if the file differs from a fresh generation

The document is generated from every area's routers (gatehouse/routes/docs.py `openapi_document()`);
shipping it keeps those imports out of the docs function (docs/metrics.md#cold-start).
tests/unit/test_openapi_file.py runs the check.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "layers" / "common") not in sys.path:
    sys.path.insert(0, str(ROOT / "layers" / "common"))

# As template.yaml's Globals set it: no pydantic plugin takes part in generating the document.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from gatehouse.routes.docs import OPENAPI_FILE, openapi_document, openapi_file_text  # noqa: E402 - path set above


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file is stale")
    args = parser.parse_args(argv)
    fresh = openapi_file_text(openapi_document())
    current = OPENAPI_FILE.read_text(encoding="utf-8") if OPENAPI_FILE.is_file() else None
    if args.check:
        if current != fresh:
            print(f"{OPENAPI_FILE} is stale: run python -m scripts.generate_openapi", file=sys.stderr)
            return 1
        return 0
    if current != fresh:
        OPENAPI_FILE.write_text(fresh, encoding="utf-8")
        print(f"wrote {OPENAPI_FILE.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

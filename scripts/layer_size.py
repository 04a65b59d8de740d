"""Prints the built layer's size, unzipped and zipped, against Lambda's limit (make build)."""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

LAMBDA_UNZIPPED_LIMIT_MB = 250  # the function and all its layers together


def sizes(root: Path) -> tuple[int, int, int]:
    """(files, bytes unzipped, bytes zipped) of everything under `root`."""
    files = [p for p in sorted(root.rglob("*")) if p.is_file()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(root).as_posix())
    return len(files), sum(p.stat().st_size for p in files), buffer.tell()


def main(path: str) -> int:
    root = Path(path)
    if not (root / "python").is_dir():
        print(f"{root}: no built layer (python/ is missing)", file=sys.stderr)
        return 1
    count, unzipped, zipped = sizes(root)
    mb = 1024 * 1024
    print(
        f"layer {root.name}: {unzipped / mb:.1f} MB unzipped, {zipped / mb:.1f} MB zipped, {count} files "
        f"(Lambda allows {LAMBDA_UNZIPPED_LIMIT_MB} MB unzipped for a function and its layers)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".aws-sam/build/CommonLayer"))

"""`.gatehouse/bench.json`: every section's tables as rows of one shape, for tools and for diffing runs.

Each row is `{name, p50_us, p99_us, ops_per_s, baseline, ratio, redis_round_trips, aws_calls}`, read
from a table's columns by their headers (a value a table does not have is null). A "1.05x" in a
`vs <baseline>` or `measured` column is a ratio; a comparison named "a / b" has b as its baseline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.table import Table

FIELDS = ("name", "p50_us", "p99_us", "ops_per_s", "baseline", "ratio", "redis_round_trips", "aws_calls")
_P50 = {"p50 µs": 1.0, "p50 ms": 1000.0, "total ms": 1000.0}
_P99 = {"p99 µs": 1.0}
_OPS = ("ops/s", "deliveries/s", "firings/s")
_ROUND_TRIPS = ("round trips/check", "redis round trips", "Redis round trips")
_AWS = ("DynamoDB calls", "other AWS calls", "DynamoDB", "Scheduler", "other", "DynamoDB reads/auth", "per delivery")


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.replace(",", "").replace("µs", "").replace("x", "").strip()
        try:
            return float(text)
        except ValueError:
            return None
    return None


def rows_of(section: str, table: Table) -> list[dict[str, Any]]:
    columns = list(table.columns)
    rows = []
    for values in table.rows:
        cell = dict(zip(columns, values, strict=False))
        name = str(values[0])
        row: dict[str, Any] = dict.fromkeys(FIELDS)
        row["name"] = f"{section}: {name}"
        for column, scale in _P50.items():
            if (value := _number(cell.get(column))) is not None:
                row["p50_us"] = value * scale
                break
        for column, scale in _P99.items():
            if (value := _number(cell.get(column))) is not None:
                row["p99_us"] = value * scale
        for column in _OPS:
            if (value := _number(cell.get(column))) is not None:
                row["ops_per_s"] = value
        for column in _ROUND_TRIPS:
            if (value := _number(cell.get(column))) is not None:
                row["redis_round_trips"] = value
        calls = [v for c in _AWS if (v := _number(cell.get(c))) is not None]
        if calls:
            row["aws_calls"] = sum(calls)
        for column in columns:
            if column.startswith("vs ") and isinstance(cell.get(column), str) and str(cell[column]).endswith("x"):
                row["ratio"] = _number(cell[column])
                row["baseline"] = column[3:]
        measured = cell.get("measured")
        if isinstance(measured, str) and measured.endswith("x"):
            row["ratio"] = _number(measured)
            row["baseline"] = name.split(" / ", 1)[1] if " / " in name else None
        if any(row[f] is not None for f in FIELDS[1:]):
            rows.append(row)
    return rows


def write(path: Path, tables: list[tuple[str, Table]]) -> int:
    rows = [row for section, table in tables for row in rows_of(section, table)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(rows)

"""`python -m bench [--n N] [--section NAME ...]`: run benchmark sections and print their tables."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from bench import auth, coldstart, costs, counts, metrics, ratelimit, resilience, results, timers, webhooks
from bench.table import Table
from local.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / ".gatehouse" / "bench.json"

# Section name -> function(redis_url, n) -> tables, run in this order by default.
SECTIONS: dict[str, Callable[[str, int], list[Table]]] = {
    "ratelimit": ratelimit.run,
    "resilience": resilience.run,
    "auth": auth.run,
    "webhooks": webhooks.run,
    "metrics": metrics.run,
    "coldstart": coldstart.run,
    "counts": counts.run,
    "timers": timers.run,
    "costs": costs.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--n", type=int, default=int(os.environ.get("BENCH_N", "5000")), help="iterations per case")
    parser.add_argument("--section", action="append", choices=sorted(SECTIONS), help="run only these sections")
    args = parser.parse_args(argv)

    # A private redis-server: no other client's traffic in the numbers, nothing left behind.
    server = RedisServer().start()
    tables: list[tuple[str, Table]] = []
    try:
        for name in args.section or list(SECTIONS):
            for table in SECTIONS[name](server.url, args.n):
                tables.append((name, table))
                print(table.render())
                print()
    finally:
        server.stop()
        count = results.write(RESULTS, tables)
        print(f"{count} rows written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

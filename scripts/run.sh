#!/usr/bin/env bash
# Install, build the database from corpus/ and serve the site on http://127.0.0.1:8001/
# with one server process per processor core (as many as memory allows; WORKERS=N overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/rapportsok build
cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
workers=${WORKERS:-$cores}
# each process holds its own search index and query model (≈0.7 GB on the corpus): leave room for them
avail_mb=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo 2>/dev/null || echo 0)
if [ -z "${WORKERS:-}" ] && [ "${avail_mb:-0}" -gt 0 ] && [ $((avail_mb / 900)) -lt "$workers" ]; then
    workers=$((avail_mb / 900))
fi
[ "$workers" -ge 1 ] || workers=1
exec .venv/bin/rapportsok serve --host 127.0.0.1 --port "${PORT:-8001}" --workers "$workers"

#!/usr/bin/env bash
# Install, build the database from corpus/ and serve the site on http://127.0.0.1:8001/
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/rapportsok build
exec .venv/bin/rapportsok serve --host 127.0.0.1 --port "${PORT:-8001}"

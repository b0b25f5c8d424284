#!/usr/bin/env bash
# Install with test extras, install Debian's chromium for the browser tests when possible,
# and run the whole test suite. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh "[test]"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "chromium could not be installed; browser tests will be skipped"
  else
    echo "chromium not installed (apt-get install chromium); browser tests will be skipped"
  fi
fi
# axe-core for the accessibility checks in the browser tests (test-only, never served by the site)
if command -v npm >/dev/null 2>&1; then
  npm install --prefix tests/js --no-audit --no-fund --silent || echo "axe-core could not be installed; the accessibility test will be skipped"
else
  echo "npm not installed (apt-get install npm); the accessibility test will be skipped"
fi
exec .venv/bin/python -m pytest -q -rs "$@"

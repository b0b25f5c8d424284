#!/usr/bin/env bash
# Create .venv and install Rapportsök. torch is pinned to the local CPU build first, so
# sentence-transformers does not pull the multi-gigabyte CUDA build from the registry.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".${extras}"

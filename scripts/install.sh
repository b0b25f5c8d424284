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
# Tesseract with the Swedish model reads scanned PDF pages (OCR). Installed from Debian when we can;
# without it PDFs still build, and the build names the pages it had to leave out.
if ! command -v tesseract >/dev/null 2>&1 || ! tesseract --list-langs 2>/dev/null | grep -qx swe; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-swe >/dev/null) \
      || echo "tesseract-ocr could not be installed; scanned PDF pages will be skipped (with a warning naming them)"
  else
    echo "Tesseract is missing: run 'sudo apt-get install tesseract-ocr tesseract-ocr-swe' (Debian/Ubuntu) or" \
         "'brew install tesseract tesseract-lang' (macOS) to read scanned PDF pages; without it they are skipped with a warning"
  fi
fi

#!/usr/bin/env bash
# Installs the service's Python packages into .venv (if not there yet) and starts the API on port 8000.
# Defaults to the embedded `viseme` engine, which needs no downloaded weights.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh requirements.txt
exec python -m uvicorn app.main:app --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}"

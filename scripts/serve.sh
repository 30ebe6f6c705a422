#!/usr/bin/env bash
# Installs the service's Python packages into .venv (if not there yet) and starts the API on port 8000.
# Defaults to the embedded `viseme` engine, which needs no downloaded weights.
# Listens on 127.0.0.1 only (this machine) unless HOST says otherwise, e.g. HOST=0.0.0.0 to serve
# other machines: set API_KEY first. Connection limits come from the settings (docs/operations.md, Limits).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh .venv requirements.txt
export HOST="${HOST:-127.0.0.1}" PORT="${PORT:-8000}"
exec python -m app.server

#!/usr/bin/env bash
# Installs what the tests need, then runs them: Debian's espeak-ng (test speech), ffmpeg
# (ffprobe, for checking results independently of the app), redis-server (the distributed
# tests' Redis) and chromium (the web page's test), and the Python packages: the service's in
# .venv, as serve.sh makes it, and the tests' in .venv-test, apart from it (mediapipe, the tests'
# reference, brings opencv-contrib-python and jax, which the service's environment must not hold).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not e2e"`.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v ffprobe >/dev/null || missing+=(ffmpeg)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v chromium >/dev/null || missing+=(chromium)
if ((${#missing[@]})); then
  sudo_cmd=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo")
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# tests/test_serve_script.py runs serve.sh, which uses .venv: made here, not within its time limit.
source scripts/venv.sh .venv requirements.txt
source scripts/venv.sh .venv-test requirements-dev.txt
# Lint, format and types first (configured in pyproject.toml): any finding fails the run.
ruff check app tests bench
ruff format --check app tests bench
mypy app
exec python -m pytest "$@"

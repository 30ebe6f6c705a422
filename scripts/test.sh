#!/usr/bin/env bash
# Installs what the tests need, then runs them: Debian's espeak-ng (test speech), ffmpeg
# (ffprobe, for checking results independently of the app), redis-server (the distributed
# tests' Redis) and chromium (the web page's test), and the Python packages in .venv.
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
source scripts/venv.sh requirements-dev.txt
exec python -m pytest "$@"

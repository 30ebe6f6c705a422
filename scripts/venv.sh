# Sourced as `source scripts/venv.sh DIR REQUIREMENTS`: make the virtualenv DIR (Python 3.11),
# install REQUIREMENTS into it when they changed since its last install, and activate it.
# serve.sh makes the service's .venv from requirements.txt; test.sh makes that one too (its test
# runs serve.sh) and the tests' own .venv-test from requirements-dev.txt.
venv_dir="$1"
if [ ! -x "$venv_dir/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv_dir"
fi
# shellcheck disable=SC1091
source "$venv_dir/bin/activate"
stamp="$venv_dir/.installed-$(basename "$2")"
# Every requirements file includes requirements.txt: a change to it reinstalls them all.
if [ ! -f "$stamp" ] || ! cmp -s <(cat requirements.txt "$2") "$stamp"; then
  # No .pyc files for every installed module (170 MB): Python writes them for what it imports.
  # pip's wheel cache stays on: the second environment installs the shared wheels from it.
  python -m pip install -q --no-compile -r "$2"
  bash "$(dirname "${BASH_SOURCE[0]}")/prune_runtime.sh"
  cat requirements.txt "$2" > "$stamp"
fi

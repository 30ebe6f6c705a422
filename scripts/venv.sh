# Sourced by serve.sh and test.sh: make .venv (Python 3.11) and install the given requirements file
# when it changed since the last install.
venv_dir="${VENV_DIR:-.venv}"
if [ ! -x "$venv_dir/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv_dir"
fi
# shellcheck disable=SC1091
source "$venv_dir/bin/activate"
stamp="$venv_dir/.installed-$(basename "$1")"
if [ ! -f "$stamp" ] || ! cmp -s <(cat requirements*.txt) "$stamp"; then
  # No .pyc files for every installed module (170 MB): Python writes them for what it imports.
  python -m pip install -q --no-compile -r "$1"
  bash "$(dirname "${BASH_SOURCE[0]}")/prune_runtime.sh"
  cat requirements*.txt > "$stamp"
fi

#!/usr/bin/env bash
# Remove what the installed torch wheel ships that the service never loads: its C++ headers,
# its own unit tests and test binaries (about 190 MB of the runtime environment). Run with the
# target environment's python first on PATH (after `pip install`).
set -euo pipefail
torch_dir="$(python -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("torch").origin))')"
rm -rf "$torch_dir/include" "$torch_dir/test" "$torch_dir"/bin/test_* "$torch_dir"/bin/protoc*

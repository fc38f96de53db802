#!/usr/bin/env bash
# Builds safemmap for Python 3.13 and runs its tour (python -m safemmap).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh 3.13 >/dev/null
exec .venvs/py3.13/bin/python -m safemmap

#!/usr/bin/env bash
# Builds safemmap for Python 3.13 and runs its tour (python -m safemmap).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "building safemmap for Python 3.13 (a release build: a few minutes the first time)..."
bash scripts/build.sh 3.13
exec .venvs/py3.13/bin/python -m safemmap

#!/usr/bin/env bash
# Builds safemmap for a Python (3.13 unless given: scripts/tour.sh 3.15) and
# runs its tour (python -m safemmap).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pythons.sh
version=${1:-3.13}
echo "building safemmap for Python $version (a release build: a few minutes the first time)..."
bash scripts/build.sh "$version"
run_python "$version" -m safemmap

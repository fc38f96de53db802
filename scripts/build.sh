#!/usr/bin/env bash
# Builds safemmap (release) into one virtualenv per supported interpreter:
# .venvs/py3.X, each with the test tools. Usage: scripts/build.sh [3.9 3.13 ...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pythons.sh

for version in "${@:-${SUPPORTED_PYTHONS[@]}}"; do
    venv=.venvs/py$version
    check_python "$version"
    in_env "$version" bash -c '
        set -euo pipefail
        version=$1 python=$2 venv=$3
        [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            "maturin>=1.7,<2" pytest hypothesis
        echo "== building for Python $version"
        # cargo'"'"'s line per crate shows the progress; a failed build stops
        # here (pipefail), not leaving the last good one in place.
        VIRTUAL_ENV=$PWD/$venv "$venv/bin/maturin" develop --release 2>&1 |
            { grep --line-buffered -v "^📦\|^✏️\|^🛠" || true; }
        "$venv/bin/python" -c "import safemmap, sys; print(\"safemmap on\", sys.version.split()[0])"
    ' build "$version" "$(python_for "$version")" "$venv"
done

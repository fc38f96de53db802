#!/usr/bin/env bash
# Installs a built wheel into a fresh virtualenv of PYTHON and runs, on a
# PATH without cargo (nothing can be rebuilt behind the tests' back),
# CPython's own test_mmap.py against it and the pytest suite.
#
# Usage: scripts/test-wheel.sh [OPTIONS] PYTHON WHEEL [PYTEST ARGS...]
#   --no-test-mmap   for an interpreter without its test package
#   --installed      PYTHON is a virtualenv's, with WHEEL, pytest and
#                    hypothesis installed already (by a faster pip)
# Otherwise the virtualenv is .venvs/wheel-ARCH-X.Y, made anew.
set -euo pipefail
cd "$(dirname "$0")/.."

test_mmap=yes installed=no
while [[ $1 == --* ]]; do
    case $1 in
        --no-test-mmap) test_mmap=no ;;
        --installed) installed=yes ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
python=$1 wheel=$2
shift 2

if [ $installed = yes ]; then
    venv=$("$python" -c 'import sys; print(sys.prefix)')
else
    version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    venv=$PWD/.venvs/wheel-$(uname -m)-$version
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel" pytest hypothesis
fi

# The venv's own scripts and the system's, nothing else: no cargo, no maturin.
export PATH=$venv/bin:/usr/bin:/bin
! command -v cargo >/dev/null || { echo "cargo is still on PATH at $(command -v cargo)" >&2; exit 1; }
python -c '
import sys, safemmap
where = safemmap.__file__
assert where.startswith(sys.prefix + "/"), f"safemmap imported from {where}, not the virtualenv"
print(f"safemmap {safemmap.__version__} from {sys.argv[1]} on Python {sys.version.split()[0]}, at {where}")
' "${wheel##*/}"

if [ $test_mmap = yes ]; then
    echo "== CPython's own test_mmap.py against the installed wheel"
    python tests/cpython/run_test_mmap.py
fi
echo "== pytest against the installed wheel"
python -m pytest tests/python -q -p no:cacheprovider "$@"

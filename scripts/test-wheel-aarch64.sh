#!/usr/bin/env bash
# Runs a Linux AArch64 wheel for real: installed into a virtualenv of Debian
# sid's arm64 Python (a cached root, emulated by qemu-user through
# binfmt_misc), where the pytest suite runs, fault tests included.
# Usage: scripts/test-wheel-aarch64.sh WHEEL [PYTEST ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/debian-root.sh

wheel=$1
shift
root=$(debian_root arm64 python3-venv python3-dev)
python=$(cd "$root/usr/bin" && ls | grep -E '^python3\.[0-9]+$' | sort -V | tail -1)
version=${python#python}
venv=.venvs/wheel-aarch64-$version

# pip under emulation spends minutes installing itself; the host's pip
# (the wheel tools' virtualenv) fills the virtualenv instead, natively.
rm -rf "$venv"
in_root "$root" "/usr/bin/$python" -m venv --without-pip "$PWD/$venv"
"$SAFEMMAP_CACHE/wheel-tools/bin/python" -m pip install --quiet --disable-pip-version-check \
    --target "$venv/lib/$python/site-packages" --only-binary=:all: \
    --platform manylinux_2_17_aarch64 --implementation cp --python-version "$version" \
    "$wheel" pytest hypothesis
# Debian ships CPython's test package without test_mmap.py (that is in
# libpython3.X-testsuite), so only the pytest suite runs.
in_root "$root" bash scripts/test-wheel.sh --installed --no-test-mmap "$PWD/$venv/bin/python" "$wheel" "$@"

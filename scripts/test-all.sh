#!/usr/bin/env bash
# Every test of the project: the Rust workspace (format, lints, tests), then,
# for each supported Python, a fresh build, CPython's own test_mmap.py run in
# place against safemmap, and the project's pytest suite; last, a quick run
# of the benchmark script (a smoke test of its result checks, not a timing).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pythons.sh

step() { printf '\n==== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
step "cargo test"
cargo test --workspace

step "build for Python ${SUPPORTED_PYTHONS[*]}"
bash scripts/build.sh

for version in "${SUPPORTED_PYTHONS[@]}"; do
    python=.venvs/py$version/bin/python
    step "Python $version: CPython's own test_mmap.py against safemmap"
    "$python" tests/cpython/run_test_mmap.py
    step "Python $version: pytest"
    "$python" -m pytest tests/python -q -p no:cacheprovider
done

step "benchmark smoke test (bench/compare.py --quick)"
.venvs/py3.13/bin/python bench/compare.py --quick

#!/usr/bin/env bash
# Every test of the project: the Rust workspace (format, lints, tests); the
# Python bindings linted for free-threaded CPython 3.14t and 3.15t; the
# core crate without default features, its docs, package, minimum Rust and
# examples, a minute of fuzzing; the core crate checked and assembled for
# macOS, Linux on ARM and Windows, its tests run for Windows under wine and
# for Linux/AArch64 under qemu; then, for each supported Python (3.14 and
# 3.15 from a Debian sid root, see pythons.sh), a fresh build, CPython's own
# test_mmap.py (and from 3.14 its free-threading test_mmap.py) run in place
# against safemmap, and the project's pytest suite; then the own tests of
# libraries that import mmap themselves, with safemmap swapped in (on
# Python 3.13); last, a quick run of the benchmark script (a smoke test of
# its result checks, not a timing).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pythons.sh
CROSS_TARGETS=(x86_64-pc-windows-gnu x86_64-apple-darwin aarch64-apple-darwin aarch64-unknown-linux-gnu)

step() { printf '\n==== %s\n' "$*"; }

# What the tests need beyond Rust and the Pythons, installed here so that
# this script works on a fresh machine (the cross linkers, wine and qemu
# come with the scripts that use them).
step "rustup components and cross targets"
rustup component add rustfmt clippy
rustup target add "${CROSS_TARGETS[@]}"
for version in "${SUPPORTED_PYTHONS[@]}"; do
    check_python "$version" || exit 1
done

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
step "cargo test"
cargo test --workspace
step "free-threaded Python 3.14t and 3.15t: clippy of the bindings (no interpreter to run them)"
bash scripts/check-free-threaded.sh
step "the core crate without its default features (no thread pool)"
cargo clippy -p safemmap --no-default-features --all-targets -- -D warnings
cargo test -p safemmap --no-default-features --test mmap --test model
if cargo tree -p safemmap --no-default-features -e normal | grep -E 'rayon|crossbeam'; then
    echo "a thread-pool crate without the parallel feature" >&2
    exit 1
fi
step "the core crate's docs (no warnings) and package"
RUSTDOCFLAGS="-D warnings" cargo doc -p safemmap --no-deps
cargo package -p safemmap --allow-dirty
msrv=$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)
step "the core crate with its minimum supported Rust, $msrv"
rustup toolchain install "$msrv" --profile minimal
cargo +"$msrv" check -p safemmap
cargo +"$msrv" check -p safemmap --no-default-features
step "the core crate's examples, checked against wc, grep and od"
bash scripts/examples.sh
step "fuzzing call sequences on a map against a model, 60 s"
bash scripts/fuzz.sh 60
step "the core crate's optional features: clippy, and the tests that use them"
cargo clippy -p safemmap --all-features --all-targets -- -D warnings
cargo test -p safemmap --all-features --test typed
step "the benchmark against memmap2, each task run once on small files"
SAFEMMAP_BENCH_MB=2 cargo bench -p safemmap --bench memmap2 -- --test

for target in "${CROSS_TARGETS[@]}"; do
    step "$target: clippy, and a build of the library (which assembles it)"
    cargo clippy -p safemmap --target "$target" --all-targets -- -D warnings
    cargo build -p safemmap --lib --target "$target"
done
step "the core crate's tests for Windows, under wine"
bash scripts/test-windows.sh
step "the core crate's tests for Linux on AArch64, under qemu-user"
bash scripts/test-aarch64.sh

step "build for Python ${SUPPORTED_PYTHONS[*]}"
bash scripts/build.sh

for version in "${SUPPORTED_PYTHONS[@]}"; do
    step "Python $version: CPython's own test_mmap.py against safemmap"
    run_python "$version" tests/cpython/run_test_mmap.py
    step "Python $version: pytest"
    run_python "$version" -m pytest tests/python -q -p no:cacheprovider
done

step "Python 3.13: smmap's and dulwich's own tests with safemmap swapped in for mmap"
bash scripts/test-libraries.sh .venvs/py3.13/bin/python

step "benchmark smoke test (bench/compare.py --quick --every-method)"
run_python 3.13 bench/compare.py --quick --every-method

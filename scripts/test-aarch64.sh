#!/usr/bin/env bash
# Runs the core crate's tests for Linux on AArch64 under qemu-user (Debian's
# qemu-user and cross toolchain): the assembly routines and the signal
# handler's register rewriting run for real, faults included.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross >/dev/null
fi
rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1

# .cargo/config.toml runs the test executables through qemu; their
# children (tests that re-run themselves) need it too.
export SAFEMMAP_TEST_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
cargo test -p safemmap --target aarch64-unknown-linux-gnu

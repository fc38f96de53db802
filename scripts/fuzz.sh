#!/usr/bin/env bash
# Fuzzes random call sequences on a map against a model of it
# (fuzz/fuzz_targets/calls.rs) for a bounded time: `scripts/fuzz.sh [SECONDS]`,
# 60 by default. cargo-fuzz needs a nightly toolchain; its binary and the
# instrumented build are kept in the cache directory, so later runs start
# at once.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/safemmap
tools=$cache/cargo-fuzz

rustup toolchain install nightly --profile minimal
if ! [ -x "$tools/bin/cargo-fuzz" ]; then
    cargo +nightly install cargo-fuzz --locked --root "$tools"
fi
export PATH=$tools/bin:$PATH
# -timeout: an input running 10 s is a hang; every failure or panic
# stops the run with a non-zero status and the input in fuzz/artifacts.
cargo +nightly fuzz run calls --target-dir "$cache/fuzz-target" -- \
    -max_total_time="$seconds" -timeout=10

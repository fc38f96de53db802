#!/usr/bin/env bash
# Compiles and lints the Python bindings for free-threaded CPython (3.14t,
# 3.15t), which this machine has no interpreter of: PyO3 takes the target
# from a config file instead. This checks the free-threaded code (the
# object's lock, crates/safemmap-py/src/lock.rs) builds warning-free; it
# cannot run it. Usage: scripts/check-free-threaded.sh [3.14 3.15 ...]
set -euo pipefail
cd "$(dirname "$0")/.."

# Outside the clone, so that a second run only rebuilds the bindings.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/safemmap/free-threaded
mkdir -p "$cache"

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.14 3.15)
for version in "${versions[@]}"; do
    config=$cache/pyo3-config-${version}t.txt
    cat >"$config" <<EOF
implementation=CPython
version=$version
shared=true
pointer_width=64
build_flags=Py_GIL_DISABLED
suppress_build_script_link_lines=false
EOF
    echo "== Python ${version}t (free-threaded): clippy"
    # One target directory for every version: the core crate and the
    # dependencies that do not read the config are built once.
    PYO3_CONFIG_FILE=$config cargo clippy -p safemmap-py --all-targets \
        --target-dir "$cache/target" -- -D warnings
done

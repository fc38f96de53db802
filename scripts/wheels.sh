#!/usr/bin/env bash
# Builds safemmap's wheels, for every platform from this Linux machine:
#
#   linux-x86_64, linux-aarch64   manylinux2014 (glibc 2.17), linked by zig
#   macos                         universal2 (x86-64 and arm64), linked by zig
#   windows                       x86-64, GNU target, linked by mingw-w64
#
# Usage: scripts/wheels.sh [-o DIR] [PLATFORM[:VERSION,...] ...]
#   scripts/wheels.sh                           every platform, every version
#   scripts/wheels.sh linux-x86_64:3.9,3.13 windows:3.13
# Wheels go to DIR (default dist/, ignored by git); their names are printed
# last. No interpreter is needed: maturin targets a CPython it does not find
# through the sysconfig data it ships. maturin, zig (PyPI's ziglang) and
# auditwheel (and pytest, for tests/wheels) live in a virtualenv cached
# outside the clone.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pythons.sh

PLATFORMS=(linux-x86_64 linux-aarch64 macos windows)
TOOLS=${XDG_CACHE_HOME:-$HOME/.cache}/safemmap/wheel-tools

out=dist
if [ "${1:-}" = -o ]; then
    out=$2
    shift 2
fi
requests=("$@")
[ ${#requests[@]} -gt 0 ] || requests=("${PLATFORMS[@]}")

# The tools' virtualenv, made once from the newest interpreter on this
# machine (not one of the sid root's).
if [ ! -x "$TOOLS/bin/maturin" ] || [ ! -x "$TOOLS/bin/pytest" ]; then
    echo "== installing maturin, ziglang, auditwheel and pytest into $TOOLS (once)"
    for version in "${SUPPORTED_PYTHONS[@]}"; do
        comes_from_root "$version" || newest_here=$version
    done
    "$(python_for "$newest_here")" -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check \
        "maturin>=1.7,<2" "ziglang>=0.17,<0.18" auditwheel pytest
fi
export PATH=$TOOLS/bin:$PATH

# The arguments maturin needs for PLATFORM, one per line.
platform_args() {
    case $1 in
        linux-x86_64) printf '%s\n' --zig --target x86_64-unknown-linux-gnu --compatibility manylinux2014 ;;
        linux-aarch64) printf '%s\n' --zig --target aarch64-unknown-linux-gnu --compatibility manylinux2014 ;;
        # rustc warns that it cannot find Xcode's SDK: zig brings the
        # system libraries' stubs itself.
        macos) printf '%s\n' --zig --target universal2-apple-darwin ;;
        # zig's linker would need maturin's export list, which names the
        # module by its dotted path; mingw-w64's exports what rustc marks.
        windows) printf '%s\n' --target x86_64-pc-windows-gnu ;;
        *) echo "unknown platform $1 (known: ${PLATFORMS[*]})" >&2; return 1 ;;
    esac
}

built=()
for request in "${requests[@]}"; do
    platform=${request%%:*}
    versions=("${SUPPORTED_PYTHONS[@]}")
    [ "$platform" = "$request" ] || IFS=, read -r -a versions <<<"${request#*:}"
    mapfile -t args < <(platform_args "$platform")
    case $platform in
        linux-aarch64) rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 ;;
        macos) rustup target add x86_64-apple-darwin aarch64-apple-darwin >/dev/null 2>&1 ;;
        windows)
            rustup target add x86_64-pc-windows-gnu >/dev/null 2>&1
            source scripts/debian-root.sh
            install_host_packages gcc-mingw-w64-x86-64
            ;;
    esac
    interpreters=()
    for version in "${versions[@]}"; do
        interpreters+=(-i "python$version")
    done
    echo "== $platform wheels for CPython ${versions[*]}"
    start=$SECONDS
    log=$(mktemp)
    if ! maturin build --release "${args[@]}" "${interpreters[@]}" --out "$out" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        exit 1
    fi
    # Progress without cargo's line per crate.
    grep -E '^(📦|💥|warning: invoking)' "$log" || true
    mapfile -t -O ${#built[@]} built < <(sed -n 's/^📦 Built wheel .* to //p' "$log")
    rm -f "$log"
    echo "   ($((SECONDS - start)) s)"
done

echo "== wheels built"
printf '%s\n' "${built[@]##*/}"

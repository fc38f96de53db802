#!/usr/bin/env bash
# Runs the core crate's tests for Windows under wine (Debian's wine 8 and
# mingw-w64), in a private wine prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
export SAFEMMAP_WINEPREFIX=${SAFEMMAP_WINEPREFIX:-/tmp/safemmap-wine}

if ! command -v wine >/dev/null || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        wine wine64 gcc-mingw-w64-x86-64 >/dev/null
fi
rustup target add x86_64-pc-windows-gnu >/dev/null 2>&1

if [ ! -d "$SAFEMMAP_WINEPREFIX/drive_c/windows/system32" ]; then
    WINEPREFIX=$SAFEMMAP_WINEPREFIX WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" \
        wineboot -i >/dev/null 2>&1
fi
x86_64-w64-mingw32-gcc -shared -O2 -o "$SAFEMMAP_WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
    scripts/wine/bcryptprimitives.c -ladvapi32

cargo test -p safemmap --target x86_64-pc-windows-gnu

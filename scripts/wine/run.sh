#!/usr/bin/env bash
# Cargo's runner for x86_64-pc-windows-gnu: runs a test executable under
# wine, in the prefix scripts/test-windows.sh prepared.
export WINEPREFIX=${SAFEMMAP_WINEPREFIX:-/tmp/safemmap-wine}
export WINEDEBUG=-all
exec wine "$@"

# Sourced by the other scripts: the interpreters safemmap supports, where
# each comes from, and one way to run each.
#
#   python_for 3.14            # the interpreter's path (in its environment)
#   in_env 3.14 cmd ...        # run cmd where that interpreter lives
#   run_python 3.14 args ...   # run .venvs/py3.14's python (made by build.sh)
#
# 3.9-3.13 are pyenv's (or on PATH) on this machine. 3.14 and 3.15 are
# Debian sid's packages in a root made by debian-root.sh (cached outside the
# clone); their venvs are made inside that root, so their paths are valid
# only there, and every use of them goes through in_env.
SUPPORTED_PYTHONS=(3.9 3.10 3.11 3.12 3.13 3.14 3.15)
ROOT_PYTHONS=(3.14 3.15)

source "$(dirname "${BASH_SOURCE[0]}")/debian-root.sh"

comes_from_root() {
    local version
    for version in "${ROOT_PYTHONS[@]}"; do
        [ "$version" = "$1" ] && return 0
    done
    return 1
}

# The sid root holding every ROOT_PYTHONS interpreter with its venv module,
# headers and CPython's own tests (made the first time, about 70 s).
python_root() {
    local version packages=()
    for version in "${ROOT_PYTHONS[@]}"; do
        packages+=("python$version-venv" "python$version-dev" "libpython$version-testsuite")
    done
    debian_root "$(dpkg --print-architecture)" "${packages[@]}"
}

# Inside the root, cargo builds into a target directory of its own: build
# scripts linked there need sid's newer C library and cannot run outside.
in_env() {
    local version=$1; shift
    if comes_from_root "$version"; then
        in_root "$(python_root)" \
            env CARGO_TARGET_DIR="$(git rev-parse --show-toplevel)/target/debian-sid" "$@"
    else
        "$@"
    fi
}

python_for() {
    local version=$1 root
    if comes_from_root "$version"; then
        echo "/usr/bin/python$version"
        return
    fi
    root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
    for candidate in "$root"/versions/"$version".*/bin/python"$version"; do
        [ -x "$candidate" ] && { echo "$candidate"; return; }
    done
    command -v "python$version" || { echo "no Python $version found" >&2; return 1; }
}

# Stops with one line when an interpreter cannot be had; the root ones are
# made here if need be (which needs root and mmdebstrap from apt).
check_python() {
    if comes_from_root "$1"; then
        python_root >/dev/null || { echo "missing: Python $1 (the Debian sid root could not be made)" >&2; return 1; }
    else
        python_for "$1" >/dev/null 2>&1 ||
            { echo "missing: Python $1 (install it with: pyenv install $1)" >&2; return 1; }
    fi
}

run_python() {
    local version=$1; shift
    in_env "$version" ".venvs/py$version/bin/python" "$@"
}

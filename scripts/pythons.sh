# Sourced by the other scripts: the interpreters safemmap supports, and
# where to find each (pyenv's, or one on PATH).
SUPPORTED_PYTHONS=(3.9 3.10 3.11 3.12 3.13)

python_for() {
    local version=$1 root
    root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
    for candidate in "$root"/versions/"$version".*/bin/python"$version"; do
        [ -x "$candidate" ] && { echo "$candidate"; return; }
    done
    command -v "python$version" || { echo "no Python $version found" >&2; return 1; }
}

#!/usr/bin/env bash
# The own tests of real libraries that import mmap themselves, run with
# safemmap swapped in the way a user would (python -m safemmap run -m pytest):
# smmap (GitPython's map manager) and dulwich's pack, index and repository
# tests, both pure Python, from their source releases on PyPI at pinned
# versions, cached outside the clone. The swapcheck plugin fails the run
# unless `import mmap` gave safemmap and each library's modules hold safemmap,
# never the stdlib's mmap.
# Usage: scripts/test-libraries.sh PYTHON (a venv's, with safemmap and pytest)
set -euo pipefail
python=${1:?usage: scripts/test-libraries.sh PYTHON}
# Absolute, for the libraries' directories (not resolved: a venv's python is a link).
[[ $python == /* ]] || python=$PWD/$python
cd "$(dirname "$0")/.."
SMMAP=5.0.3
DULWICH=1.2.21
URLLIB3=2.8.0 # dulwich's one dependency
cache=${XDG_CACHE_HOME:-$HOME/.cache}/safemmap/libraries
plugin=$PWD/tests/libraries
mkdir -p "$cache"

# The unpacked source release of $1 at version $2 (downloaded the first time).
source_of() {
    local dir=$cache/$1-$2
    if [ ! -d "$dir" ]; then
        "$python" -m pip download --quiet --disable-pip-version-check \
            --no-deps --no-binary :all: "$1==$2" -d "$cache" >&2
        tar -xzf "$cache/$1-$2.tar.gz" -C "$cache"
    fi
    echo "$dir"
}

# Runs pytest in a library's source tree, with safemmap swapped in.
swapped_pytest() {
    local dir=$1 package=$2
    shift 2
    (cd "$dir" && PYTHONPATH=$plugin:$dir "$python" -m safemmap run -m pytest -q \
        -p no:cacheprovider -p swapcheck --swap-check="$package" "$@")
}

"$python" -m pip install --quiet --disable-pip-version-check "urllib3==$URLLIB3"

echo "== smmap $SMMAP"
swapped_pytest "$(source_of smmap "$SMMAP")" smmap smmap/test

echo "== dulwich $DULWICH: packs, pack indexes, object stores, repositories"
swapped_pytest "$(source_of dulwich "$DULWICH")" dulwich \
    tests/test_pack.py tests/test_sha256_pack.py tests/test_midx.py tests/test_bitmap.py \
    tests/test_object_store.py tests/test_repository.py tests/test_gc.py

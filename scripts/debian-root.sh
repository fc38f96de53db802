# Sourced by the scripts that test on interpreters this machine lacks: a
# Debian sid root per architecture, made once with mmdebstrap and cached
# outside the clone, and a way to run a command inside it that leaves no
# mount behind.
#
#   root=$(debian_root amd64 python3.14-venv ...)   # made or reused
#   in_root "$root" python3.14 -c '...'             # run inside it
#
# Inside, the project sits at the same path as outside, and Rust (~/.rustup,
# ~/.cargo), the CA bundle and pip's configuration are the host's, so
# maturin and pip work as they do here.

SAFEMMAP_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/safemmap

# The first Debian mirror in the machine's apt sources.
debian_mirror() {
    local uri
    uri=$(grep -hoE '^URIs: *[^ ]+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
    uri=${uri#URIs: }
    [ -n "$uri" ] || uri=$(grep -hoE '^deb +[^ ]+/debian/? ' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}')
    echo "${uri:-http://deb.debian.org/debian}"
}

# Prints the path of a sid root for ARCH holding PACKAGES, making it first
# if no root with exactly these packages exists yet.
debian_root() {
    local arch=$1; shift
    local packages="gcc,libc6-dev,ca-certificates,mount,$(IFS=,; echo "$*")"
    local root="$SAFEMMAP_CACHE/roots/sid-$arch-$(echo "$packages" | sha1sum | cut -c1-12)"
    if [ ! -e "$root/.complete" ]; then
        install_host_packages mmdebstrap
        [ "$arch" = "$(dpkg --print-architecture)" ] || enable_emulation "$arch"
        rm -rf "$root"
        mkdir -p "$(dirname "$root")"
        echo "making a Debian sid root for $arch (once; cached in $root)" >&2
        mmdebstrap --quiet --variant=apt --arch="$arch" --include="$packages" \
            --aptopt='Acquire::Check-Valid-Until "false"' \
            sid "$root" "$(debian_mirror)" >&2
        touch "$root/.complete"
    fi
    echo "$root"
}

# Runs a command inside ROOT, in the current directory, in a private mount
# namespace (so every mount ends with the command).
in_root() {
    local root=$1; shift
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    [ ! -f /etc/pip.conf ] || cp /etc/pip.conf "$root/etc/pip.conf"
    local project binds=()
    project=$(git rev-parse --show-toplevel)
    for dir in "$project" "$HOME/.rustup" "$HOME/.cargo" "$SAFEMMAP_CACHE"; do
        [ -d "$dir" ] && binds+=("$dir")
    done
    unshare --mount --propagation private -- bash -c '
        root=$1; shift; count=$1; shift
        for dir in "${@:1:count}"; do
            mkdir -p "$root$dir" && mount --rbind "$dir" "$root$dir"
        done
        shift "$count"
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        mount --rbind /sys "$root/sys"
        exec chroot "$root" env PATH="$HOME/.cargo/bin:/usr/local/bin:/usr/bin:/bin" \
            bash -c "cd \"\$0\" && exec \"\$@\"" "$PWD" "$@"
    ' in_root "$root" "${#binds[@]}" "${binds[@]}" "$@"
}

# Installs Debian packages on this machine when their commands are missing.
install_host_packages() {
    local missing=()
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "missing: Debian packages ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
        return 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Lets this machine run ARCH's programs under qemu-user (binfmt_misc).
enable_emulation() {
    install_host_packages qemu-user-static binfmt-support
    mountpoint -q /proc/sys/fs/binfmt_misc ||
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    local emulator
    case $1 in
        arm64) emulator=qemu-aarch64 ;;
        *) echo "no emulator known for $1" >&2; return 1 ;;
    esac
    update-binfmts --enable "$emulator" >/dev/null 2>&1 || true
    [ -e "/proc/sys/fs/binfmt_misc/$emulator" ] || {
        echo "missing: binfmt_misc support for $emulator (needs root and a kernel with binfmt_misc)" >&2
        return 1
    }
}

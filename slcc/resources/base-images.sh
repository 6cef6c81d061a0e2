#!/usr/bin/env bash
# Create local base images offline (no registry needed), idempotently.
#
#   bash slcc/resources/base-images.sh busybox   -> slcc-test/busybox:1 (from Debian busybox-static)
#   bash slcc/resources/base-images.sh debian    -> debian:bookworm-slim (debootstrap + docker import)
#   bash slcc/resources/base-images.sh all
#
# An image that already exists locally is left alone. Set SLCC_FORCE=1 to rebuild.
# Environment: SLCC_BUSYBOX_IMAGE, SLCC_DEBIAN_IMAGE, SLCC_DEBIAN_SUITE, SLCC_DEBIAN_MIRROR.
set -euo pipefail

BUSYBOX_IMAGE="${SLCC_BUSYBOX_IMAGE:-slcc-test/busybox:1}"
DEBIAN_IMAGE="${SLCC_DEBIAN_IMAGE:-debian:bookworm-slim}"
DEBIAN_SUITE="${SLCC_DEBIAN_SUITE:-bookworm}"
DEBIAN_MIRROR="${SLCC_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
FORCE="${SLCC_FORCE:-0}"

CLEANUP=()
cleanup() { local p; for p in "${CLEANUP[@]}"; do [ -n "$p" ] && rm -rf -- "$p"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "base-images: $*"; }
die() { echo "base-images: ERROR: $*" >&2; exit 1; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

need_docker() {
    timeout 15 docker info >/dev/null 2>&1 \
        || die "docker does not answer; start the engine first (bash slcc/resources/engine.sh up)"
}

apt_install() { # apt_install PKG...
    [ "$(id -u)" = 0 ] || die "need root to apt-get install $*"
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* yourself"
    log "apt-get install $*"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1; then
        apt-get update -q >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null \
            || die "apt-get install $* failed"
    fi
}

# Architectures of the busybox image: the host's, plus the other one for multi-platform tests
# (run under QEMU user emulation, see emulation.sh). The foreign busybox-static .deb is fetched
# once with a private apt state (the host's apt configuration is not changed) and kept in
# BUSYBOX_DEB_DIR, so later runs work offline.
BUSYBOX_ARCHES="${SLCC_BUSYBOX_ARCHES:-amd64 arm64}"
BUSYBOX_DEB_DIR="${SLCC_BUSYBOX_DEB_DIR:-/var/cache/slcc/busybox-static}"
PLATFORMS_LABEL=org.slcc.platforms

host_arch() { dpkg --print-architecture 2>/dev/null || { case "$(uname -m)" in x86_64) echo amd64;; aarch64) echo arm64;; *) uname -m;; esac; }; }

image_platforms() { docker image inspect --format "{{index .Config.Labels \"$PLATFORMS_LABEL\"}}" "$1" 2>/dev/null || true; }

host_busybox() {
    local cand
    for cand in /bin/busybox /usr/bin/busybox; do
        if [ -x "$cand" ] && file_is_static "$cand"; then echo "$cand"; return 0; fi
    done
    apt_install busybox-static >&2
    file_is_static /bin/busybox || die "/bin/busybox is not statically linked (install busybox-static)"
    echo /bin/busybox
}

foreign_busybox() { # foreign_busybox ARCH DIR -> DIR/busybox, or return 1 (offline and not cached)
    local arch=$1 out=$2 deb apt_dir version
    deb=$(ls "$BUSYBOX_DEB_DIR"/busybox-static_*_"$arch".deb 2>/dev/null | head -n 1 || true)
    if [ -z "$deb" ]; then
        command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] || return 1
        apt_dir=$(mktemp -d)
        CLEANUP+=("$apt_dir")
        mkdir -p "$BUSYBOX_DEB_DIR" "$apt_dir/lists/partial" "$apt_dir/archives/partial"
        local opts=(-q -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch"
                    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir")
        log "fetching busybox-static:$arch (once; kept in $BUSYBOX_DEB_DIR)"
        timeout 300 apt-get "${opts[@]}" update >"$apt_dir/update.log" 2>&1 || return 1
        # The host's busybox version when it came from a .deb, so both variants match.
        version=$(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null || true)
        (cd "$BUSYBOX_DEB_DIR" && { { [ -n "$version" ] && apt-get "${opts[@]}" download "busybox-static:$arch=$version"; } \
            || apt-get "${opts[@]}" download "busybox-static:$arch"; }) >"$apt_dir/download.log" 2>&1 || return 1
        deb=$(ls "$BUSYBOX_DEB_DIR"/busybox-static_*_"$arch".deb | head -n 1)
    fi
    dpkg-deb -x "$deb" "$out/deb" && cp "$out/deb/bin/busybox" "$out/busybox" && rm -rf "$out/deb"
}

busybox_root() { # busybox_root BUSYBOX DIR: a root filesystem with busybox and its applet symlinks
    mkdir -p "$2/bin"
    cp "$1" "$2/bin/busybox"
    local applet
    # Like `busybox --install -s /bin`, but made on the host: no foreign binary has to run.
    for applet in $("$HOST_BUSYBOX" --list); do
        [ "$applet" = busybox ] || ln -sf /bin/busybox "$2/bin/$applet"
    done
}

build_busybox() { # build_busybox CONTEXT "PLATFORM..."; leaves CONTEXT/ok on success
    rm -f "$1/ok"
    docker buildx build --builder default --load --provenance=false --platform "${2// /,}" \
        --progress=plain -t "$BUSYBOX_IMAGE" "$1" >"$1/build.log" 2>&1 && echo ok >"$1/ok"
}

make_busybox() {
    need_docker
    local want="" arch have
    for arch in $BUSYBOX_ARCHES; do want="${want:+$want }linux/$arch"; done
    have=$(image_platforms "$BUSYBOX_IMAGE")
    if [ "$FORCE" != 1 ] && image_exists "$BUSYBOX_IMAGE" && [ "$have" = "$want" ]; then
        log "$BUSYBOX_IMAGE exists ($have)"; return 0
    fi
    local t0=$SECONDS ctx host platforms=""
    HOST_BUSYBOX=$(host_busybox)
    host=$(host_arch)
    ctx=$(mktemp -d)
    CLEANUP+=("$ctx")
    for arch in $BUSYBOX_ARCHES; do
        mkdir -p "$ctx/$arch"
        if [ "$arch" = "$host" ]; then
            cp "$HOST_BUSYBOX" "$ctx/$arch/busybox"
        elif ! foreign_busybox "$arch" "$ctx/$arch"; then
            log "WARNING: no busybox-static for $arch (offline?); $BUSYBOX_IMAGE gets no linux/$arch variant"
            rm -rf "${ctx:?}/$arch"; continue
        fi
        busybox_root "$ctx/$arch/busybox" "$ctx/$arch/root"
        platforms="${platforms:+$platforms }linux/$arch"
    done
    if [ "$FORCE" != 1 ] && image_exists "$BUSYBOX_IMAGE" && [ "$have" = "$platforms" ]; then
        log "$BUSYBOX_IMAGE exists ($have)"; return 0
    fi
    cat >"$ctx/Dockerfile" <<EOF
FROM scratch
ARG TARGETARCH
COPY \${TARGETARCH}/root/ /
LABEL $PLATFORMS_LABEL="$platforms"
CMD ["/bin/sh"]
EOF
    log "building $BUSYBOX_IMAGE for $platforms"
    # One image index with a variant per platform, loaded into the containerd image store.
    if ! build_busybox "$ctx" "$platforms" && [ "$platforms" != "linux/$host" ]; then
        # The classic image store cannot hold an index: the host's variant only.
        log "WARNING: multi-platform load failed (containerd image store off?); building linux/$host only"
        platforms="linux/$host"
        sed -i "s|^LABEL .*|LABEL $PLATFORMS_LABEL=\"$platforms\"|" "$ctx/Dockerfile"
        build_busybox "$ctx" "$platforms" || { cat "$ctx/build.log" >&2; die "building $BUSYBOX_IMAGE failed"; }
    elif [ ! -s "$ctx/ok" ]; then
        cat "$ctx/build.log" >&2; die "building $BUSYBOX_IMAGE failed"
    fi
    log "built $BUSYBOX_IMAGE ($platforms) in $((SECONDS - t0))s"
}

# busybox (dynamic) from the 'busybox' package would not run in FROM scratch.
file_is_static() {
    # ELF without a program interpreter == static.
    if command -v readelf >/dev/null 2>&1; then
        LC_ALL=C readelf -h "$1" >/dev/null 2>&1 \
            && ! LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter'
    else
        LC_ALL=C ldd "$1" 2>&1 | grep -qE 'not a dynamic executable|statically linked'
    fi
}

make_debian() {
    need_docker
    if [ "$FORCE" != 1 ] && image_exists "$DEBIAN_IMAGE"; then
        log "$DEBIAN_IMAGE exists"; return 0
    fi
    # A pull would be cheapest, but usually no public registry is reachable; try it quickly.
    if timeout 20 docker pull -q "$DEBIAN_IMAGE" >/dev/null 2>&1; then
        log "pulled $DEBIAN_IMAGE"; return 0
    fi
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    [ "$(id -u)" = 0 ] || die "debootstrap needs root"
    local t0=$SECONDS root
    root=$(mktemp -d /var/tmp/slcc-debootstrap.XXXXXX)
    CLEANUP+=("$root")
    log "debootstrap --variant=minbase $DEBIAN_SUITE from $DEBIAN_MIRROR (log: $root.log)"
    debootstrap --variant=minbase "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >"$root.log" 2>&1 \
        || { tail -n 30 "$root.log" >&2; die "debootstrap failed; read $root.log"; }
    log "debootstrap done in $((SECONDS - t0))s"
    # Slim it down like the official -slim images: no apt lists, caches, docs or logs.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
        "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* \
        "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
    rm -rf "$root"/usr/share/locale/*
    # Like the official -slim images: keep docs/man/locales out of later apt installs too.
    cat >"$root/etc/dpkg/dpkg.cfg.d/slcc-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    # apt over plain HTTP (works from build containers even behind a TLS-intercepting proxy).
    {
        printf 'deb %s %s main\n' "$DEBIAN_MIRROR" "$DEBIAN_SUITE"
        printf 'deb %s %s-updates main\n' "$DEBIAN_MIRROR" "$DEBIAN_SUITE"
        if [ "$DEBIAN_MIRROR" = http://deb.debian.org/debian ]; then
            printf 'deb http://deb.debian.org/debian-security %s-security main\n' "$DEBIAN_SUITE"
        fi
    } >"$root/etc/apt/sources.list"
    local t1=$SECONDS
    tar --numeric-owner -C "$root" -c . \
        | docker import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            - "$DEBIAN_IMAGE" >/dev/null \
        || die "docker import failed"
    rm -f "$root.log"
    log "imported $DEBIAN_IMAGE in $((SECONDS - t1))s (total $((SECONDS - t0))s)"
}

case "${1:-}" in
    busybox) make_busybox ;;
    debian) make_debian ;;
    all) make_busybox; make_debian ;;
    *) die "usage: $0 busybox|debian|all" ;;
esac

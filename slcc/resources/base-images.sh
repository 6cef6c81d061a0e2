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

build_image() { # build_image CONTEXT TAG
    if docker buildx version >/dev/null 2>&1; then
        docker buildx build --builder default --load --progress=plain -t "$2" "$1"
    else
        DOCKER_BUILDKIT=1 docker build -t "$2" "$1"
    fi
}

make_busybox() {
    need_docker
    if [ "$FORCE" != 1 ] && image_exists "$BUSYBOX_IMAGE"; then
        log "$BUSYBOX_IMAGE exists"; return 0
    fi
    local bb=""
    for cand in /bin/busybox /usr/bin/busybox; do
        if [ -x "$cand" ] && file_is_static "$cand"; then bb=$cand; break; fi
    done
    if [ -z "$bb" ]; then
        apt_install busybox-static
        bb=/bin/busybox
    fi
    file_is_static "$bb" || die "$bb is not statically linked (install busybox-static)"
    local t0=$SECONDS ctx
    ctx=$(mktemp -d)
    CLEANUP+=("$ctx")
    cp "$bb" "$ctx/busybox"
    cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh"]
EOF
    log "building $BUSYBOX_IMAGE from $bb"
    build_image "$ctx" "$BUSYBOX_IMAGE" >"$ctx/build.log" 2>&1 \
        || { cat "$ctx/build.log" >&2; die "building $BUSYBOX_IMAGE failed"; }
    log "built $BUSYBOX_IMAGE in $((SECONDS - t0))s"
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

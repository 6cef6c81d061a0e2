#!/usr/bin/env bash
# QEMU user emulation for multi-platform flavors: lets BuildKit run linux/arm64 RUN steps (and
# `docker run --platform linux/arm64`) on an x86_64 host, idempotently.
#
#   bash slcc/resources/emulation.sh up       install/register if needed (root), then check
#   bash slcc/resources/emulation.sh status   what the kernel has registered
#
# Uses Debian's qemu-user-static + binfmt-support from the host's own suite. Their binfmt
# entries carry the F (fix-binary) flag: the kernel opens the interpreter when it is
# registered, so it also works inside containers, whose root has no /usr/libexec/qemu-binfmt.
# Nothing to do on a non-x86_64 host (and nothing is installed there).
set -euo pipefail

BINFMT=/proc/sys/fs/binfmt_misc
ENTRY="$BINFMT/qemu-aarch64"

log() { echo "emulation: $*"; }
die() { echo "emulation: ERROR: $*" >&2; exit 1; }

registered() { # enabled, with the fix-binary flag
    [ -r "$ENTRY" ] && grep -qx enabled "$ENTRY" && grep -q '^flags: .*F' "$ENTRY"
}

mount_binfmt() {
    [ -e "$BINFMT/register" ] && return 0
    mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null \
        || die "cannot mount binfmt_misc on $BINFMT (needs root, or a privileged container)"
}

install_qemu() {
    [ "$(id -u)" = 0 ] || die "need root to install qemu-user-static and binfmt-support"
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install qemu-user-static (binfmt with flag F) yourself"
    log "apt-get install qemu-user-static binfmt-support"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        qemu-user-static binfmt-support >/dev/null 2>&1; then
        apt-get update -q >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            qemu-user-static binfmt-support >/dev/null || die "apt-get install qemu-user-static binfmt-support failed"
    fi
}

cmd_up() {
    if [ "$(uname -m)" != x86_64 ]; then
        log "host is $(uname -m): no emulation set up (only x86_64 hosts get linux/arm64 emulation)"; return 0
    fi
    [ "$(id -u)" = 0 ] && mount_binfmt
    if registered; then log "linux/arm64 emulation is registered"; return 0; fi
    [ -x /usr/bin/qemu-aarch64-static ] && command -v update-binfmts >/dev/null 2>&1 || install_qemu
    mount_binfmt
    # Without systemd nothing runs binfmt-support's service: register the entry ourselves.
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || update-binfmts --import qemu-aarch64 >/dev/null 2>&1 || true
    registered || die "qemu-aarch64 is not registered in $BINFMT with flag F; see update-binfmts --display qemu-aarch64"
    log "linux/arm64 emulation registered ($(sed -n 's/^interpreter //p' "$ENTRY"))"
}

cmd_status() {
    if registered; then
        log "linux/arm64: registered ($(sed -n 's/^interpreter //p;s/^flags: /flags /p' "$ENTRY" | paste -sd' '))"
    else
        log "linux/arm64: not registered (run: bash slcc/resources/emulation.sh up)"
    fi
}

case "${1:-}" in
    up) cmd_up ;;
    status) cmd_status ;;
    *) die "usage: $0 up|status" ;;
esac
